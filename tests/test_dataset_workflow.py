"""dataset.source shrec / copick end to end: the benchmark run on an export of the tiny run
(read only) gives every method's picks and Table 3 byte for byte, and leaves the export as it
was."""

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, planned_jobs, snakemake

pytestmark = pytest.mark.slow


def _checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _set_writable(folder: Path, writable: bool) -> None:
    """chmod -R a-w (or u+w back, so pytest can clean up)."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        if writable:
            os.chmod(path, mode | stat.S_IWUSR)
        else:
            os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _run_on_source(tmp_path, dataset: dict, name: str) -> Path:
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    config["name"] = name
    config["dataset"] = dataset
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    snakemake(workdir, configfile=path)
    return workdir / "results" / name


def _table_rows(path: Path) -> dict[str, str]:
    return {line.split(",")[0]: line for line in path.read_text().splitlines()}


def _same_picks_and_table3(simulated: Path, other: Path, methods) -> None:
    for method in methods:
        for pick in sorted((simulated / "picks" / method).glob("*.txt")):
            assert (other / "picks" / method / pick.name).read_bytes() == pick.read_bytes(), (
                f"{method} {pick.name}")
    table3 = "paper/table3_localization.csv"
    assert (other / table3).read_text() == (simulated / table3).read_text()


def test_shrec_source_on_the_exported_run_gives_the_same_picks(tiny_run, tmp_path):
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    simulated = tiny_run / "results" / config["name"]
    export = tmp_path / "shrec"
    shutil.copytree(simulated / "data", export)  # its data/ folder is the SHREC layout
    before = _checksums(export)
    _set_writable(export, False)
    try:
        run = _run_on_source(tmp_path, {"source": "shrec", "path": str(export)}, "from_shrec")
    finally:
        _set_writable(export, True)
    assert _checksums(export) == before
    methods = [*config["methods"], "oracle", "random"]
    _same_picks_and_table3(simulated, run, methods)
    # nothing was copied: the pickers read the export in place, and the record has its files
    assert not (run / "data").exists()
    record = yaml.safe_load((run / "inputs.json").read_text())
    recorded = {Path(f["path"]).relative_to(export.resolve()).as_posix(): f["sha256"]
                for f in record["files"]}
    assert recorded and all(before[key] == digest for key, digest in recorded.items())
    assert "model_2/reconstruction.mrc" in recorded
    # a changed input reruns what reads it, and the record (Snakemake compares modification
    # times, and for small files content checksums: a touched but unchanged file reruns nothing)
    from tomobench.mrc import read_mrc, write_mrc

    changed = export / "model_2" / "reconstruction.mrc"
    volume, voxel_size_nm = read_mrc(changed)
    write_mrc(changed, volume * 2, voxel_size_nm)
    config_path = tmp_path / "from_shrec.yaml"
    jobs = planned_jobs(snakemake(tmp_path / "work", "-n", configfile=config_path))
    assert {"record_inputs", "pick_dog", "match_templates", "pick_learning"} <= set(jobs)
    assert "train_learning" not in jobs  # model_2 is the test tomogram only


#: What a copick project does not record, and what the run then uses (README, config/README):
#: template matching's defocus (the middle of microscope.defocus_um) and the random control's
#: ice slab (the z extent of the occupancy mask). Every other method's picks are the same.
COPICK_DIFFERS = {"TM", "TM-F", "random"}


def test_copick_source_on_the_exported_run_gives_the_same_picks(tiny_run, tmp_path):
    from tomobench.formats.copick_project import export_run_folder

    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    simulated = tiny_run / "results" / config["name"]
    export = tmp_path / "copick"
    project = export_run_folder(simulated, export)
    before = _checksums(export)
    _set_writable(export, False)
    runs = [f"model_{i}" for i in range(config["tomograms"]["count"])]
    try:
        run = _run_on_source(tmp_path, {"source": "copick", "path": str(project),
                                        "copick": {"runs": runs}}, "from_copick")
    finally:
        _set_writable(export, True)
    assert _checksums(export) == before
    same = [m for m in [*config["methods"], "oracle", "random"] if m not in COPICK_DIFFERS]
    for method in same:
        for pick in sorted((simulated / "picks" / method).glob("*.txt")):
            assert (run / "picks" / method / pick.name).read_bytes() == pick.read_bytes(), (
                f"{method} {pick.name}")
    table3 = "paper/table3_localization.csv"
    ours, theirs = _table_rows(simulated / table3), _table_rows(run / table3)
    assert ours.keys() == theirs.keys()
    for label, line in ours.items():
        if not any(label.startswith(m) for m in COPICK_DIFFERS):
            assert theirs[label] == line, label
    # the converted tomograms and ground truth are the exported ones, byte for byte in data
    from tomobench.mrc import read_mrc

    for key in ("reconstruction", "class_mask", "occupancy_mask", "grandmodel"):
        assert (read_mrc(run / "data" / "model_2" / f"{key}.mrc")[0]
                == read_mrc(simulated / "data" / "model_2" / f"{key}.mrc")[0]).all(), key
    acquisition = yaml.safe_load((run / "data" / "model_2" / "acquisition_parameters.json")
                                 .read_text())
    assert acquisition["defocus_um"] == sum(config["microscope"]["defocus_um"]) / 2
    assert "microscope.defocus_um" in acquisition["derived"]["defocus_um"]
    record = yaml.safe_load((run / "inputs.json").read_text())
    assert any(f["path"].endswith("wbp.zarr/0/.zarray") for f in record["files"])
