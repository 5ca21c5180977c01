#!/usr/bin/env python3
"""Make a folder of SHREC-format picks (a ``kind: submission``) by running the example picker
(examples/external_picker/picker.py) outside the workflow on a finished run's tomograms.

    python examples/open_benchmark/make_submission.py RESULTS OUT

RESULTS is a run's folder (``results/default``): its ``config.yaml`` gives the training,
validation and test tomograms, the classes and the seed; ``data/model_<i>/`` holds the
tomograms in the SHREC layout. The picker is trained on the training and validation
tomograms, then picks every test tomogram into ``OUT/model_<i>.txt``. The job manifests are
the workflow's (tomobench.methods.external, docs/EXTERNAL_PICKERS.md) without the potentials,
which this picker does not read; the scratch folder (manifests, model) is ``OUT/.work``,
removed at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tomobench.methods import external

PICKER = Path(__file__).resolve().parent.parent / "external_picker" / "picker.py"


def manifests(results: Path, work: Path, out: Path) -> tuple[dict, dict[int, dict]]:
    """The train manifest and one pick manifest per test tomogram id."""
    config = yaml.safe_load((results / "config.yaml").read_text())
    tomograms, potential = config["tomograms"], config["potential"]
    data = results / "data"
    classes = external.class_table(
        config["structures"]["classes"],
        fiducial_radius_nm=sum(potential["gold_diameter_nm"]) / 4.0,
        vesicle_radius_nm=sum(potential["vesicle_diameter_nm"]) / 4.0)
    common = {
        "method": "ExamplePicker", "run": config["name"], "classes": classes,
        "training": {i: str(data / f"model_{i}") for i in tomograms["training"]},
        "validation": {i: str(data / f"model_{i}") for i in tomograms["validation"]},
        "threads": 1, "device": "cpu", "seed": config["seed"], "model_dir": str(work / "model"),
    }
    train = external.job_manifest(stage="train", tomograms=[], **common)
    picks = {i: external.job_manifest(
        stage="pick", output=str(out / f"model_{i}.txt"),
        tomograms=[external.tomogram_entry(i, data / f"model_{i}" / "reconstruction.mrc")],
        **common) for i in tomograms["test"]}
    return train, picks


def run_picker(stage: str, manifest: dict, path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    subprocess.run([sys.executable, str(PICKER), stage, str(path)], check=True)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    results, out = Path(argv[1]), Path(argv[2])
    work = out / ".work"
    (work / "model").mkdir(parents=True, exist_ok=True)
    train, picks = manifests(results, work, out)
    run_picker("train", train, work / "train.json")
    for i, manifest in picks.items():
        run_picker("pick", manifest, work / f"model_{i}.json")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
