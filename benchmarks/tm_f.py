"""TM-F as published: its scores and per-class pick counts beside the paper's (§3.7, Tables 3-6).

Re-extracts TM-F (and TM) from a finished run's template-matching searches with each filtering
order — the default (``class_order: null``, the paper's order, ``tomobench.classes.TM_F_ORDER``)
and the Table-1 sphericity order used before — scores the picks of every test tomogram as the
SHREC evaluation does (the config's ``evaluation.mode``, the tomograms pooled) and prints

* localisation F1, mean class F1 (the twelve proteins and the fiducials) and the size-group F1,
  beside the paper's TM-F (0.576; 0.204 / 0.527 / 0.842) and TM (0.372; 0.233 / 0.542 / 0.903);
* per class: picks, picks that hit a particle of their own class, particles of the class labelled
  correctly (confusion-matrix TP), true particles, class F1; beside the paper's TM and TM-F counts
  per class and its TM-F class F1. The paper's test tomogram holds 1,571 particles, ours fewer,
  so the counts are also given per true particle of the class (the paper's Table 2).

Nothing is written: the run folder is only read.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/tm_f.py --results results/default \\
        --config config/config.yaml [--models 4 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tomobench.classes import PAPER_TM_FIDUCIALS, SIZE_GROUPS, SIZE_ORDER, TABLE1
from tomobench.evaluation.bootstrap import Units, point_estimates
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import load_ground_truth_folder
from tomobench.methods.template_matching import extract_picks, load_class_search
from tomobench.mrc import read_mrc

#: The order of the overlap filter before the paper's was implemented: symmetric complexes
#: (1BXN, 2CG9, 3CF3, 3H84) by Table 1 sphericity, then the rest by sphericity.
SPHERICITY_ORDER = ["1BXN", "2CG9", "3CF3", "3H84", "3QM1", "1S3X", "3GL1", "3D2F", "1U6G",
                    "1QVR", "5MRC", "4CR2"]
#: Paper, Table 2 (test tomogram particles per class) and Table 4 (class F1 of TM-F and TM).
PAPER_PARTICLES = {"1S3X": 122, "3QM1": 120, "3GL1": 123, "3H84": 144, "2CG9": 125, "3D2F": 140,
                   "1U6G": 143, "3CF3": 139, "1BXN": 135, "1QVR": 127, "4CR2": 115, "5MRC": 121,
                   "fiducial": 11}
PAPER_F1 = {
    "TM-F": dict(zip([*SIZE_ORDER, "fiducial"], [0.040, 0.189, 0.200, 0.282, 0.308, 0.439, 0.129,
                                                 0.592, 0.962, 0.513, 0.827, 0.857, 0.900],
                     strict=True)),
    "TM": dict(zip([*SIZE_ORDER, "fiducial"], [0.054, 0.197, 0.266, 0.302, 0.345, 0.452, 0.133,
                                               0.615, 0.966, 0.545, 0.950, 0.857, 0.900],
                   strict=True)),
}
PAPER_SUMMARY = {"TM-F": (0.576, 0.204, 0.527, 0.842), "TM": (0.372, 0.233, 0.542, 0.903)}


def load_searches(folder: Path, classes: list[str]):
    """The merged class searches of one tomogram (all rotation chunks of each class)."""
    searches = []
    for name in classes:
        jsons = sorted(folder.glob(f"{name}_chunk*.json"))
        if not jsons:
            raise SystemExit(f"{folder}: no search of {name}")
        searches.append(load_class_search(
            jsons, [p.with_name(p.stem + "_scores.mrc") for p in jsons],
            [p.with_name(p.stem + "_angles.mrc") for p in jsons]))
    return searches


def per_class_rows(truth, picks: pd.DataFrame, result: dict) -> pd.DataFrame:
    """Picks, own-class hits, confusion TP and true particles per class of one tomogram."""
    xyz = np.rint(picks[["z", "y", "x"]].to_numpy(dtype=float)).astype(np.int64)
    xyz = np.clip(xyz, 0, np.asarray(truth.volume_shape) - 1)
    hit = truth.ids_at(xyz)
    hit_class = np.array([truth.class_names[h - 1] if h > 0 else "" for h in hit], dtype=object)
    matrix = result["classification"]
    labels, counts = matrix["labels"], np.asarray(matrix["matrix"])
    rows = {}
    for name in [*SIZE_ORDER, "fiducial"]:
        mine = picks["class_name"].to_numpy() == name
        index = labels.index(name) if name in labels else None
        rows[name] = {
            "picks": int(mine.sum()),
            "on_own_class": int(np.count_nonzero(mine & (hit_class == name))),
            "labelled_right": int(counts[index, index]) if index is not None else 0,
            "particles": truth.class_names.count(name),
        }
    return pd.DataFrame(rows).T


def evaluate(run: Path, models: list[str], classes: list[str], kind: str, params: dict,
             mode: str):
    """Pooled metrics and per-class counts of one extraction over the test tomograms."""
    units, tables = [], []
    for model in models:
        searches = load_searches(run / "template_matching" / f"model_{model}", classes)
        tomogram, _ = read_mrc(run / "data" / f"model_{model}" / "reconstruction.mrc")
        picks, _ = extract_picks(searches, tomogram, kind, dict(params))
        truth = load_ground_truth_folder(run / "data" / f"model_{model}")
        result = score_picks(truth, picks, mode=mode)
        units.append(Units.from_json(result["units"]))
        tables.append(per_class_rows(truth, picks, result))
    metrics = point_estimates(Units.concatenate(units))
    return metrics, sum(tables[1:], tables[0])


def report(label: str, paper: str, metrics: dict, table: pd.DataFrame) -> None:
    print(f"\n== {label} ==")
    loc, small, medium, large = PAPER_SUMMARY[paper]
    groups = " / ".join(f"{metrics.get(f'group:{g}', float('nan')):.3f}" for g in SIZE_GROUPS)
    print(f"localisation F1 {metrics['F1']:.3f} (paper {paper} {loc:.3f}); mean class F1 "
          f"{metrics['group:all']:.3f}; size groups {groups} "
          f"(paper {small:.3f} / {medium:.3f} / {large:.3f})")
    print(f"{'class':8} {'picks':>5} {'own':>4} {'TP':>4} {'true':>4} {'F1':>6} | "
          f"{'picks/true':>10} | paper: {'TM':>4} {'TM-F':>4} {'picks/true':>10} {'F1':>6}")
    for name in [*reversed(SIZE_ORDER), "fiducial"]:
        row = table.loc[name]
        f1 = metrics.get(f"class:{name}", float("nan"))
        record = TABLE1.get(name)
        tm = record.paper_tm_picks if record else PAPER_TM_FIDUCIALS
        tm_f = record.paper_tm_f_picks if record else PAPER_TM_FIDUCIALS
        ratio = row.picks / row.particles if row.particles else float("nan")
        print(f"{name:8} {row.picks:5d} {row.on_own_class:4d} {row.labelled_right:4d} "
              f"{row.particles:4d} {f1:6.3f} | {ratio:10.2f} | {'':7}{tm:4d} {tm_f:4d} "
              f"{(tm if paper == 'TM' else tm_f) / PAPER_PARTICLES[name]:10.2f} "
              f"{PAPER_F1[paper][name]:6.3f}")
    print(f"{'total':8} {table.picks.sum():5d} {table.on_own_class.sum():4d} "
          f"{table.labelled_right.sum():4d} {table.particles.sum():4d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="run folder (results/<name>)")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=None, help="test tomogram ids")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    models = [str(m) for m in (args.models or config["tomograms"]["test"])]
    classes = list(config["structures"]["classes"])
    methods = config["methods"]
    tm_f = next(dict(m) for m in methods.values() if m["kind"] == "tm_f")
    tm = next(dict(m) for m in methods.values() if m["kind"] == "tm")
    for params in (tm_f, tm):
        params.pop("kind")
    mode = config.get("evaluation", {}).get("mode", "published")
    print(f"run {args.results}, test tomograms {models}, evaluation mode {mode}")
    runs = [
        ("TM-F, paper order (class_order: null)", "TM-F", "tm_f", {**tm_f, "class_order": None}),
        ("TM-F, Table-1 sphericity order (the previous default)", "TM-F", "tm_f",
         {**tm_f, "class_order": SPHERICITY_ORDER}),
        ("TM", "TM", "tm", tm),
    ]
    for label, paper, kind, params in runs:
        metrics, table = evaluate(args.results, models, classes, kind, params, mode)
        report(label, paper, metrics, table)


if __name__ == "__main__":
    main()
