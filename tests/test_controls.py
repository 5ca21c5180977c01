"""Benchmark controls: the ground truth scores 1 on real simulated scenes, chance scores chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tomobench.classes import SCORED_PROTEINS
from tomobench.errors import InputError
from tomobench.evaluation.controls import (
    check_oracle,
    oracle_picks,
    random_chance_level,
    random_picks,
)
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import GroundTruth, load_ground_truth
from tomobench.mrc import write_mrc
from tomobench.particles import write_particle_locations, write_picks
from tomobench.seeding import rng
from tomobench.simulation.scene import (
    SceneGeometry,
    SceneParameters,
    build_scene,
    final_ground_truth,
)

from .conftest import STRUCTURES_DIR, requires_structures


def write_truth(folder, geometry, scene):
    _, class_mask, occupancy, locations = final_ground_truth(scene, geometry)
    write_mrc(folder / "occupancy_mask.mrc", occupancy, geometry.voxel_size_nm)
    write_particle_locations(folder / "particle_locations.txt", locations)
    truth = load_ground_truth(folder / "particle_locations.txt", folder / "occupancy_mask.mrc")
    return truth, locations


def evaluate(truth: GroundTruth, picks: pd.DataFrame, mode: str, tmp_path):
    from tomobench.evaluation.shrec import evaluate_submission

    path = tmp_path / f"picks_{mode}.txt"
    write_picks(path, picks)
    return evaluate_submission(truth, path, mode=mode, bootstrap_resamples=200)


@pytest.fixture(scope="module")
def real_potentials():
    """The twelve scored SHREC proteins at 0.5 nm (complex64 cubes) and two gold beads."""
    from tomobench.structures.compute import structure_potential
    from tomobench.structures.gold import gold_potential
    from tomobench.structures.potential import PotentialOptions
    from tomobench.structures.sources import resolve_structure_source

    options = PotentialOptions(voxel_size_nm=0.5, oversampling=1, assembly="shrec")
    proteins = {}
    for name in SCORED_PROTEINS:
        path = resolve_structure_source(name, str(STRUCTURES_DIR), "/nonexistent", "atomic")
        proteins[name], _ = structure_potential(path, name, options)
    gold = [gold_potential(0, k, 0.5, (5.0, 7.0), oversampling=1)[0] for k in range(2)]
    return proteins, gold


@requires_structures
@pytest.mark.slow
def test_ground_truth_as_picks_scores_one_for_every_class(real_potentials, tmp_path):
    """The perfect submission scores F1 = 1 and every class F1 = 1 in both evaluation modes on
    a crowded scene of all twelve proteins (rings 1BXN, 1QVR, 3CF3 and the open dimer 2CG9
    included)."""
    proteins, gold = real_potentials
    geometry = SceneGeometry(96, 48, 1.0, 2, 40)
    parameters = SceneParameters((160, 160), (3, 3), (0, 0), max_placement_attempts=100)
    scene = build_scene(geometry, parameters, proteins, [], gold, 2021, 0)
    truth, locations = write_truth(tmp_path, geometry, scene)
    assert set(SCORED_PROTEINS) <= set(locations["class_name"])
    for mode in ("published", "corrected"):
        result = evaluate(truth, oracle_picks(locations), mode, tmp_path)
        check_oracle(result, "scene")
        assert result["localization"]["F1"] == 1.0
        per_class = result["classification"]["per_class"]
        assert all(per_class[name]["F1"] == 1.0 for name in [*SCORED_PROTEINS, "fiducial"])


def test_oracle_check_fails_loudly_on_an_inconsistent_ground_truth(tmp_path):
    geometry = SceneGeometry(32, 24, 1.0, 2, 16)
    g = np.arange(13) - 6
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    ball = ((zz**2 + yy**2 + xx**2 <= 16) * (2.0 + 0.2j)).astype(np.complex64)
    parameters = SceneParameters((6, 6), (0, 0), (0, 0), max_placement_attempts=50)
    scene = build_scene(geometry, parameters, {"3QM1": ball}, [], [], 1, 0)
    truth, locations = write_truth(tmp_path, geometry, scene)
    check_oracle(evaluate(truth, oracle_picks(locations), "corrected", tmp_path), "ok")
    shifted = oracle_picks(locations).assign(x=lambda f: f["x"] + 6)  # off every particle
    with pytest.raises(InputError, match="oracle control .* is not perfect"):
        check_oracle(evaluate(truth, shifted, "corrected", tmp_path), "model_0")


def _crowded_blob_scene(seed: int, vesicles: int):
    geometry = SceneGeometry(64, 32, 1.0, 2, 24)
    g = np.arange(15) - 7
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    r = np.sqrt(zz**2 + yy**2 + xx**2)
    proteins = {name: ((r <= radius) * (2.0 + 0.2j)).astype(np.complex64)
                for name, radius in (("1S3X", 3), ("3H84", 4.5), ("1BXN", 6))}
    shell = np.arange(41) - 20
    zz, yy, xx = np.meshgrid(shell, shell, shell, indexing="ij")
    rv = np.sqrt(zz**2 + yy**2 + xx**2)
    vesicle = (((rv >= 16) & (rv <= 19)) * (1.0 + 0.1j)).astype(np.complex64)
    parameters = SceneParameters((90, 90), (0, 0), (vesicles, vesicles),
                                 max_placement_attempts=100)
    return geometry, build_scene(geometry, parameters, proteins, [vesicle], [], seed, 0)


@pytest.mark.parametrize("mode", ["published", "corrected"])
def test_random_control_scores_its_analytic_chance_level(tmp_path, mode):
    geometry, scene = _crowded_blob_scene(3, vesicles=1)
    truth, locations = write_truth(tmp_path, geometry, scene)
    slab = (geometry.z_offset, geometry.z_offset + geometry.ice_voxels)
    expected = random_chance_level(truth, slab, mode)
    assert 0.05 < expected["F1"] < 0.6  # a crowded slab: chance is far from 0 and from 1
    # one seeded control, as the workflow makes it: its 95 % interval holds the chance level
    control = random_picks(locations, truth.volume_shape, slab, rng(2021, "control", 0))
    result = evaluate(truth, control, mode, tmp_path)
    low, high = result["confidence_intervals"]["localization"]["F1"]
    assert low <= expected["F1"] <= high
    # and over many draws its mean F1 is the chance level
    f1 = [score_picks(truth, random_picks(locations, truth.volume_shape, slab, rng(5, k)),
                      mode=mode)["localization"]["F1"] for k in range(150)]
    assert np.mean(f1) == pytest.approx(expected["F1"], abs=3 * np.std(f1) / np.sqrt(150) + 0.01)


def test_random_picks_follow_the_slab_count_and_class_frequencies():
    locations = pd.DataFrame({"class_name": ["1S3X"] * 300 + ["5MRC"] * 100 + ["vesicle"] * 5,
                              "x": 1, "y": 1, "z": 1})
    picks = random_picks(locations, (100, 64, 64), (30, 70), rng(0))
    assert len(picks) == 400
    assert picks["z"].between(30, 69).all() and picks["x"].between(0, 63).all()
    assert (picks["class_name"] == "1S3X").mean() == pytest.approx(0.75, abs=0.06)
    assert "vesicle" not in set(picks["class_name"])
    with pytest.raises(InputError, match="ice slab"):
        random_picks(locations, (100, 64, 64), (30, 170), rng(0))
