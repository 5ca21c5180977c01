"""Bootstrap confidence intervals: exact point estimates, coverage, shrinking, determinism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from tomobench.classes import SHREC_CLASS_NAMES
from tomobench.evaluation.bootstrap import (
    Units,
    bootstrap_intervals,
    point_estimates,
    spearman_with_weight,
)
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import GroundTruth
from tomobench.seeding import rng

PROTEINS = SHREC_CLASS_NAMES[1:14]


def grid_truth(n_side: int, seed: int = 0) -> GroundTruth:
    """``n_side**2`` cubic particles of random classes (4V94, vesicles and gold included) on a
    grid in a slab: occupancy id k = row k."""
    generator = np.random.default_rng(seed)
    names = list(PROTEINS) + ["vesicle", "fiducial"]
    shape = (12, 8 * n_side, 8 * n_side)
    occupancy = np.zeros(shape, dtype=np.int32)
    classes, centres = [], []
    for k in range(n_side * n_side):
        y, x = 8 * (k // n_side) + 4, 8 * (k % n_side) + 4
        occupancy[4:9, y - 2:y + 3, x - 2:x + 3] = k + 1
        classes.append(names[int(generator.integers(len(names)))])
        centres.append((6, y, x))
    return GroundTruth(tuple(classes), np.array(centres), occupancy, 0, shape, 1.0)


def noisy_picks(truth: GroundTruth, seed: int) -> pd.DataFrame:
    """A picker with misses, duplicates, wrong classes and false positives."""
    generator = np.random.default_rng(seed)
    rows = []
    for name, (z, y, x) in zip(truth.class_names, truth.centres_zyx, strict=True):
        for _ in range(int(generator.choice([0, 1, 1, 1, 2]))):
            label = name if generator.random() < 0.7 else str(generator.choice(PROTEINS))
            rows.append((label, x + generator.integers(-1, 2), y, z))
    for _ in range(len(truth.class_names) // 3):  # picks on background
        rows.append((str(generator.choice(PROTEINS)), 0, 0, 0))
    order = generator.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["class_name", "x", "y", "z"])


@pytest.mark.parametrize("mode", ["published", "corrected"])
def test_unit_weights_reproduce_the_scorer_exactly(mode):
    truth = grid_truth(9)
    result = score_picks(truth, noisy_picks(truth, 1), mode=mode)
    estimates = point_estimates(Units.from_json(result["units"]))
    for metric in ("recall", "precision", "F1"):
        assert estimates[metric] == pytest.approx(result["localization"][metric], abs=1e-12)
    for name, stats in result["classification"]["per_class"].items():
        if name != "background":
            expected = stats["F1"]
            got = estimates[f"class:{name}"]
            assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)


def test_intervals_contain_the_estimate_shrink_with_particles_and_are_seeded():
    widths = []
    for n_side in (8, 24):
        truth = grid_truth(n_side, seed=2)
        result = score_picks(truth, noisy_picks(truth, 3), mode="corrected")
        units = Units.from_json(result["units"])
        intervals = bootstrap_intervals(units, 1000, rng(7, "bootstrap"))
        again = bootstrap_intervals(units, 1000, rng(7, "bootstrap"))
        assert intervals == again
        for metric in ("recall", "precision", "F1"):
            low, high = intervals["localization"][metric]
            assert low <= result["localization"][metric] <= high
        for name, (low, high) in intervals["per_class_f1"].items():
            assert low <= result["classification"]["per_class"][name]["F1"] <= high
        assert set(intervals["size_group_f1"]) == {"small", "medium", "large", "all",
                                                   "spearman_weight"}
        widths.append(np.diff(intervals["localization"]["F1"])[0])
    # 9x the particles: intervals ~3x narrower
    assert widths[1] < 0.5 * widths[0]


def test_coverage_of_the_f1_interval():
    """Over independent tomograms of the same picker, the 95 % interval of one tomogram covers
    the F1 of a very large tomogram (the 'true' F1) in roughly 95 % of cases."""
    big = grid_truth(60, seed=11)
    true_f1 = score_picks(big, noisy_picks(big, 12), mode="corrected")["localization"]["F1"]
    covered = 0
    trials = 60
    for trial in range(trials):
        truth = grid_truth(10, seed=100 + trial)
        units = Units.from_json(score_picks(truth, noisy_picks(truth, 200 + trial),
                                            mode="corrected")["units"])
        low, high = bootstrap_intervals(units, 400, rng(1, trial))["localization"]["F1"]
        covered += low <= true_f1 <= high
    assert 0.8 <= covered / trials <= 1.0


def test_spearman_with_weight_ranks_with_ties_and_flags_undefined_rows():
    proteins = ["1S3X", "3GL1", "1BXN", "5MRC"]  # increasing molecular weight
    rows = np.array([[0.1, 0.2, 0.3, 0.9],     # rises with weight: +1
                     [0.9, 0.3, 0.2, 0.1],     # falls: -1
                     [0.0, 0.0, 1.0, 1.0],     # ties get the average rank
                     [0.5, 0.5, 0.5, 0.5],     # constant: undefined
                     [0.1, np.nan, 0.3, 0.4]])  # a missing class: undefined
    rho = spearman_with_weight(rows, proteins)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0)
    assert rho[2] == pytest.approx(scipy.stats.spearmanr(rows[2], [1, 2, 3, 4]).statistic)
    assert np.isnan(rho[3]) and np.isnan(rho[4])


def test_units_of_several_tomograms_add_up():
    parts = []
    for seed in (1, 2):
        truth = grid_truth(6, seed=seed)
        parts.append(Units.from_json(score_picks(truth, noisy_picks(truth, seed))["units"]))
    combined = Units.concatenate(parts)
    assert len(combined.class_id) == sum(len(p.class_id) for p in parts)
    assert combined.false_positive_lines == sum(p.false_positive_lines for p in parts)
    assert Units.from_json(combined.to_json()).to_json() == combined.to_json()


def test_zero_resamples_gives_no_intervals():
    truth = grid_truth(4)
    units = Units.from_json(score_picks(truth, noisy_picks(truth, 0))["units"])
    assert bootstrap_intervals(units, 0, rng(0))["localization"] == {}
