"""Train a learning kind on a finished run's tomograms, pick its test tomograms and score them.

Reads ``<run>/data/model_<i>/`` (training, validation and test ids as in the run's config),
trains the kind with the given ``training`` overrides at the given thread count, picks every
test tomogram and prints the training and picking times, the SHREC localisation F1 (with
precision and recall), the per-class F1 over the 13 scored classes (12 proteins + fiducial,
lightest first) and the number of classes with F1 > 0, pooled over the test tomograms
(``corrected`` mode, as ``tomobench evaluate``). ``--picks DIR`` writes the picks as
``DIR/model_<i>.txt`` for ``tomobench evaluate``.

Usage: ``.venv/bin/python benchmarks/learned_pickers.py --run results/default --kind urfinder
[--training '{"steps": 600}'] [--inference '{}'] [--threads 2] [--picks DIR] [--out report.json]``
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import yaml

from tomobench.classes import SIZE_ORDER
from tomobench.evaluation.bootstrap import Units, point_estimates
from tomobench.evaluation.shrec import load_ground_truth_folder, score_picks
from tomobench.methods.learning import TOMOGRAM_FILES, load_tomogram, pick, train
from tomobench.mrc import read_mrc
from tomobench.particles import write_picks

FILES = {"reconstruction": "reconstruction.mrc", "class_mask": "class_mask.mrc",
         "occupancy_mask": "occupancy_mask.mrc", "grandmodel": "grandmodel.mrc",
         "particle_locations": "particle_locations.txt"}
SCORED = (*SIZE_ORDER, "fiducial")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="results/default")
    parser.add_argument("--kind", required=True)
    parser.add_argument("--training", default="{}", help="YAML/JSON dict of training keys")
    parser.add_argument("--inference", default="{}", help="YAML/JSON dict of inference keys")
    parser.add_argument("--train", default=None, help="comma-separated ids (default: config)")
    parser.add_argument("--validation", default=None)
    parser.add_argument("--test", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--picks", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run = Path(args.run)
    roles = yaml.safe_load((run / "config.yaml").read_text())["tomograms"] \
        if (run / "config.yaml").is_file() else {}

    def ids(given, role):
        return [int(i) for i in given.split(",") if i] if given is not None else roles[role]

    def load(i):
        assert set(FILES) == set(TOMOGRAM_FILES)
        return load_tomogram({k: run / f"data/model_{i}" / f for k, f in FILES.items()},
                             name=f"model_{i}")

    training = [load(i) for i in ids(args.train, "training")]
    validation = [load(i) for i in ids(args.validation, "validation")]
    start = time.perf_counter()
    checkpoint, report = train(args.kind, yaml.safe_load(args.training), training, validation,
                               seed=args.seed, threads=args.threads)
    train_s = time.perf_counter() - start
    units, pick_s = [], []
    for i in ids(args.test, "test"):
        volume, _ = read_mrc(run / f"data/model_{i}/reconstruction.mrc")
        start = time.perf_counter()
        picks = pick(checkpoint, volume, yaml.safe_load(args.inference), threads=args.threads)
        pick_s.append(time.perf_counter() - start)
        if args.picks:
            Path(args.picks).mkdir(parents=True, exist_ok=True)
            write_picks(Path(args.picks) / f"model_{i}.txt", picks)
        truth = load_ground_truth_folder(run / f"data/model_{i}")
        units.append(Units.from_json(score_picks(truth, picks, mode="corrected")["units"]))
    estimates = point_estimates(Units.concatenate(units))
    per_class = [estimates.get(f"class:{c}", float("nan")) for c in SCORED]
    per_class = [0.0 if np.isnan(v) else v for v in per_class]
    print(f"{args.kind}: train {train_s:.0f} s ({report['parameters']} parameters, best step "
          f"{report['best_step']}), pick {np.sum(pick_s):.0f} s for {len(pick_s)} tomograms; "
          f"tuned {report['tuned_inference']}")
    print(f"  localisation F1 {estimates['F1']:.3f} (precision {estimates['precision']:.3f}, "
          f"recall {estimates['recall']:.3f}); mean class F1 {np.mean(per_class):.3f}; "
          f"classes with F1 > 0: {sum(v > 0 for v in per_class)} of {len(SCORED)}")
    print("  " + " ".join(f"{c}:{v:.2f}" for c, v in zip(SCORED, per_class, strict=True)))
    print("  validation loss", [(h["step"], round(h.get("validation_loss", np.nan), 4))
                                for h in report["history"]])
    if args.out:
        Path(args.out).write_text(json.dumps({"report": report, "estimates": estimates,
                                              "train_s": train_s, "pick_s": pick_s},
                                             default=str, indent=1))


if __name__ == "__main__":
    main()
