"""Time a SHREC 2021-sized evaluation: 512³ occupancy mask, ~1,600 particles, ~2,000 picks.

Prints the median wall time (s) of several full evaluations (read both ground-truth files, score
the localisation and classification, CZII metric, 1000-resample bootstrap intervals), the share
of the bootstrap, and, for comparison, of the organisers'
approach of grey-dilating the whole mask (scipy.ndimage.grey_dilation, 6-connected cross) before
looking picks up. Run: ``.venv/bin/python benchmarks/evaluation.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.classes import SCORED_PROTEINS
from tomobench.evaluation.shrec import evaluate_submission
from tomobench.evaluation.truth import dilate_occupancy, load_ground_truth_folder
from tomobench.mrc import write_mrc
from tomobench.particles import write_particle_locations, write_picks
from tomobench.seeding import rng


def make_release(folder: Path, n_particles: int = 1600, n_picks: int = 2000) -> Path:
    """Write a 512³ SHREC-like ground truth (spheres in the z 166-345 slab) and a submission."""
    generator = rng(2021, "benchmark", "evaluation")
    occupancy = np.zeros((512, 512, 512), dtype=np.int16)
    rows = []
    for k in range(1, n_particles + 1):
        radius = int(generator.integers(3, 9))
        z = int(generator.integers(166 + radius, 346 - radius))
        y, x = (int(v) for v in generator.integers(radius, 512 - radius, size=2))
        zz, yy, xx = np.ogrid[-radius:radius + 1, -radius:radius + 1, -radius:radius + 1]
        ball = zz**2 + yy**2 + xx**2 <= radius**2
        box = occupancy[z - radius:z + radius + 1, y - radius:y + radius + 1,
                        x - radius:x + radius + 1]
        box[ball & (box == 0)] = k
        name = SCORED_PROTEINS[k % len(SCORED_PROTEINS)]
        rows.append((name, x, y, z, 0.0, 0.0, 0.0))
    truth = pd.DataFrame(rows, columns=["class_name", "x", "y", "z", "a1", "a2", "a3"])
    write_mrc(folder / "occupancy_mask.mrc", occupancy, 1.0)
    write_particle_locations(folder / "particle_locations.txt", truth)
    hits = truth.sample(n=min(n_picks * 3 // 4, n_particles), random_state=1)
    jitter = generator.normal(scale=1.5, size=(len(hits), 3))
    picks = pd.DataFrame({"class_name": hits["class_name"].to_numpy(),
                          "x": hits["x"].to_numpy() + jitter[:, 0],
                          "y": hits["y"].to_numpy() + jitter[:, 1],
                          "z": hits["z"].to_numpy() + jitter[:, 2]})
    extra = n_picks - len(picks)
    noise = pd.DataFrame({"class_name": generator.choice(SCORED_PROTEINS, size=extra),
                          "x": generator.uniform(0, 511, extra),
                          "y": generator.uniform(0, 511, extra),
                          "z": generator.uniform(166, 345, extra)})
    path = folder / "picks.txt"
    write_picks(path, pd.concat([picks, noise], ignore_index=True))
    return path


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        picks = make_release(folder)

        def full_evaluation():
            truth = load_ground_truth_folder(folder)
            return evaluate_submission(truth, picks, mode="published")

        result = full_evaluation()
        truth = load_ground_truth_folder(folder)
        loc = result["localization"]
        print(f"512^3 mask, {len(truth.class_names)} particles, {loc['lines']} picks: "
              f"TP {loc['TP']} FP {loc['FP']} FN {loc['FN']} F1 {loc['F1']:.4f}")
        evaluation_s = median_seconds(full_evaluation, args.repeats)
        scoring_s = median_seconds(
            lambda: evaluate_submission(truth, picks, mode="published"), args.repeats)
        no_bootstrap_s = median_seconds(
            lambda: evaluate_submission(truth, picks, bootstrap_resamples=0, mode="published"),
            args.repeats)
        dilation_s = median_seconds(lambda: dilate_occupancy(truth.occupancy),
                                    max(1, args.repeats // 2))
        print(f"full evaluation (read mask + list, score, CZII): median {evaluation_s:.3f} s "
              f"over {args.repeats} runs")
        print(f"scoring only (ground truth in memory):            median {scoring_s:.4f} s")
        print(f"  of which 1000-resample bootstrap intervals:     median "
              f"{scoring_s - no_bootstrap_s:.4f} s")
        print(f"whole-volume grey dilation (organisers' step):   median {dilation_s:.3f} s "
              f"({dilation_s / scoring_s:.0f}x the point-lookup scoring)")


if __name__ == "__main__":
    main()
