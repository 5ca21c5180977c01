"""Train one learning kind on a finished run's tomograms, pick its test tomograms and score them.

Reads ``<run>/data/model_<i>/`` (the tomograms and ground truth a ``make run`` wrote), trains
on ``--train`` with ``--val`` for model selection and post-processing tuning, picks each
``--test`` tomogram and prints the training and picking times, the SHREC localisation F1
(corrected mode, test tomograms pooled) and the per-class F1.

Usage: ``.venv/bin/python benchmarks/learning_default.py --run results/default --kind yopo
[--training '{"steps": 300}'] [--inference '{}'] [--threads 2] [--out result.json]``

``--compare <run>/evaluation/<Method>`` also scores that method's evaluations of the same test
tomograms (pooled alike) and prints both with 95 % bootstrap intervals (1000 resamples of the
pooled units); ``--load-checkpoint`` picks with a saved checkpoint instead of training.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from tomobench.evaluation.bootstrap import Units, bootstrap_intervals, point_estimates
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import load_ground_truth_folder
from tomobench.methods.learning import load_tomogram, pick, train
from tomobench.mrc import read_mrc

FILES = {"reconstruction": "reconstruction.mrc", "class_mask": "class_mask.mrc",
         "occupancy_mask": "occupancy_mask.mrc", "grandmodel": "grandmodel.mrc",
         "particle_locations": "particle_locations.txt"}
#: The 12 proteins by molecular weight, then the gold fiducials (Table 6 order).
ORDER = "1S3X 3QM1 3GL1 3H84 2CG9 3D2F 1U6G 3CF3 1BXN 1QVR 4CR2 5MRC fiducial".split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run's results folder")
    parser.add_argument("--kind", required=True)
    parser.add_argument("--training", default="{}", help="training keys (YAML/JSON)")
    parser.add_argument("--inference", default="{}", help="inference keys (YAML/JSON)")
    parser.add_argument("--train", default="0,1,2")
    parser.add_argument("--val", default="3")
    parser.add_argument("--test", default="4,5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--out", default=None, help="write the report and estimates (JSON)")
    parser.add_argument("--checkpoint", default=None, help="save the trained checkpoint here")
    parser.add_argument("--load-checkpoint", default=None, help="pick with this checkpoint")
    parser.add_argument("--compare", default=None,
                        help="an evaluation folder (model_<i>.json) to score alongside")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    def load(index: str):
        folder = Path(args.run) / "data" / f"model_{index}"
        return load_tomogram({k: folder / f for k, f in FILES.items()}, name=f"model_{index}")

    start = time.perf_counter()
    if args.load_checkpoint:
        checkpoint = torch.load(args.load_checkpoint, map_location="cpu", weights_only=True)
        report = {"best_step": checkpoint["best_step"], "history": [],
                  "tuned_inference": checkpoint["tuned_inference"]}
    else:
        training = [load(i) for i in args.train.split(",")]
        validation = [load(i) for i in args.val.split(",") if i]
        checkpoint, report = train(args.kind, yaml.safe_load(args.training), training,
                                   validation, seed=args.seed, threads=args.threads)
    train_s = time.perf_counter() - start
    if args.checkpoint:
        torch.save(checkpoint, args.checkpoint)
    units, pick_s = [], []
    for index in args.test.split(","):
        folder = Path(args.run) / "data" / f"model_{index}"
        volume, _ = read_mrc(folder / "reconstruction.mrc")
        start = time.perf_counter()
        picks = pick(checkpoint, volume, yaml.safe_load(args.inference), threads=args.threads)
        pick_s.append(time.perf_counter() - start)
        scored = score_picks(load_ground_truth_folder(folder), picks, mode="corrected")
        units.append(Units.from_json(scored["units"]))
    estimates = point_estimates(Units.concatenate(units))
    per_class = [estimates.get(f"class:{c}", float("nan")) for c in ORDER]
    print(f"RESULT kind={args.kind} train_s={train_s:.0f} pick_s={sum(pick_s):.0f} "
          f"({', '.join(f'{s:.0f}' for s in pick_s)}) best_step={report['best_step']} "
          f"tuned={report['tuned_inference']}")
    print(f"  localization F1 {estimates['F1']:.3f} precision {estimates['precision']:.3f} "
          f"recall {estimates['recall']:.3f}; mean class F1 "
          f"{np.mean([0 if v != v else v for v in per_class]):.3f}; classes with F1 > 0: "
          f"{sum(1 for v in per_class if v > 0)} of {len(ORDER)}")
    print("  " + " ".join(f"{c}:{v:.2f}" for c, v in zip(ORDER, per_class, strict=True)))
    print("  history", [(h["step"], round(h["training_loss"], 3),
                         round(h.get("validation_loss", float("nan")), 3))
                        for h in report["history"]])
    pooled = Units.concatenate(units)
    rows = [("this run", pooled)]
    if args.compare:
        rows.append((args.compare, Units.concatenate([
            Units.from_json(json.loads((Path(args.compare) / f"model_{i}.json").read_text())[
                "units"]) for i in args.test.split(",")])))
    for label, pooled_units in rows:
        point = point_estimates(pooled_units)
        ci = bootstrap_intervals(pooled_units, 1000, np.random.default_rng(args.seed))
        f1_ci, class_ci = ci["localization"]["F1"], ci["size_group_f1"]["all"]
        print(f"  {label}: localization F1 {point['F1']:.3f} [{f1_ci[0]:.3f}, {f1_ci[1]:.3f}]; "
              f"mean protein-class F1 {point['group:all']:.3f} [{class_ci[0]:.3f}, "
              f"{class_ci[1]:.3f}] (95 % bootstrap, tomograms {args.test} pooled)")
    if args.out:
        Path(args.out).write_text(json.dumps({"report": report, "estimates": estimates,
                                              "train_s": train_s, "pick_s": pick_s},
                                             default=str))


if __name__ == "__main__":
    main()
