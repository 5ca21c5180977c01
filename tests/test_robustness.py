"""Bad input and faults (issue 16): every case gets a clear error or a correct result.

A clear error is one line naming the config key, the file or the line, with the documented exit
status; a correct result is checked for what it must contain. In every case nothing is written
outside the run's output folder (``results/<name>/``, or ``--out`` of ``tomobench evaluate``;
Snakemake's own ``.snakemake/`` state aside) and no input changes. Most cases use the Python API
or a dry run; the few that need a finished run reuse the session's tiny run (``slow``).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gemmi
import mrcfile
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from snakemake.utils import validate as fill_schema_defaults

from tests import synthetic as syn
from tomobench.backend import cupy_available
from tomobench.cli import main
from tomobench.config_checks import check_config, validate_config
from tomobench.errors import InputError
from tomobench.methods.learning import load_tomogram, save_checkpoint, train
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import write_particle_locations
from tomobench.structures.compute import structure_potential
from tomobench.structures.potential import PotentialOptions

from .conftest import REPO_ROOT, STRUCTURES_DIR, planned_jobs, requires_structures, snakemake

SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
TEST_CONFIG = REPO_ROOT / "config" / "test.yaml"


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file below ``root`` except Snakemake's state."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and ".snakemake" not in path.relative_to(root).parts
    }


def _written(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Files created, changed or deleted between two ``_tree`` snapshots."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _one_line(text: str) -> str:
    """The single message line of ``text`` (Snakemake's profile notice aside)."""
    lines = [line for line in text.strip().splitlines()
             if line.strip() and not line.startswith("Using workflow specific profile")]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# --------------------------------------------------------------------------- configuration


def _test_config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


def _set(*keys_and_value):
    """An edit setting ``config[k1][k2]... = value``."""
    *keys, value = keys_and_value

    def edit(config):
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = copy.deepcopy(value)

    return edit


def _resolve(config: dict) -> list[str]:
    """What common.smk does before any job: schema (one line), defaults, whole-config check."""
    validate_config(config, yaml.safe_load(SCHEMA_PATH.read_text()))
    fill_schema_defaults(config, str(SCHEMA_PATH))
    return check_config(config, check_device=True)


@dataclass(frozen=True)
class ConfigCase:
    id: str
    edit: Callable[[dict], None]
    #: fragment of the one-line error (it must also name ``key``); None: a correct result
    message: str | None
    key: str = ""
    #: for a correct result: a check of the resolved config and the warnings
    check: Callable[[dict, list[str]], bool] | None = None


def _integral(config, warnings):
    t = config["tomograms"]
    return (type(t["count"]) is int and type(t["size_xy_voxels"]) is int and t["count"] == 3
            and config["methods"]["DeepFinder"]["training"]["widths"] == [4, 8]
            and all(type(w) is int for w in config["methods"]["DeepFinder"]["training"]["widths"])
            and type(config["tilt_series"]["tilt_count"]) is int and type(config["seed"]) is int)


def _integral_floats(config):
    config["tomograms"]["count"] = 3.0
    config["tomograms"]["size_xy_voxels"] = 64.0
    config["methods"]["DeepFinder"]["training"]["widths"] = [4.0, 8]
    config["tilt_series"]["tilt_count"] = 21.0
    config["seed"] = 7.0


def _method_named(name):
    def edit(config):
        config["methods"][name] = {"kind": "dog"}
    return edit


CONFIG_CASES = [
    ConfigCase("integral-floats-normalised", _integral_floats, None, check=_integral),
    ConfigCase("count-3.5", _set("tomograms", "count", 3.5), "is not of type 'integer'",
               "tomograms.count"),
    ConfigCase("name-dotdot", _set("name", ".."), "does not match", "config key name:"),
    ConfigCase("name-dot", _set("name", "."), "does not match", "config key name:"),
    ConfigCase("name-slash", _set("name", "a/b"), "does not match", "config key name:"),
    ConfigCase("method-dotdot", _method_named(".."), "'..' does not match", "config key methods"),
    ConfigCase("method-slash", _method_named("x/y"), "'x/y' does not match",
               "config key methods"),
    ConfigCase("tilt-count-1", _set("tilt_series", "tilt_count", 1), "minimum of 3",
               "tilt_series.tilt_count"),
    ConfigCase("tilt-count-5-warns", _set("tilt_series", "tilt_count", 5), None,
               check=lambda c, w: len(w) == 1 and "tilt_series.tilt_count" in w[0]
               and "30.0 deg step" in w[0]),
    ConfigCase("tilt-range-reversed", _set("tilt_series", "tilt_range_deg", [60, -60]),
               "first angle 60 must be below the last -60", "tilt_series.tilt_range_deg"),
    ConfigCase("defocus-reversed", _set("microscope", "defocus_um", [3.0, 2.0]),
               "minimum 3.0 > maximum 2.0", "microscope.defocus_um"),
    ConfigCase("dose-reversed", _set("tilt_series", "dose_e_per_A2", [120, 100]),
               "minimum 120 > maximum 100", "tilt_series.dose_e_per_A2"),
    ConfigCase("proteins-reversed", _set("scene", "proteins_per_tomogram", [18, 14]),
               "minimum 18 > maximum 14", "scene.proteins_per_tomogram"),
    ConfigCase("vesicles-reversed", _set("potential", "vesicle_diameter_nm", [24, 20]),
               "0 < min <= max", "potential.vesicle_diameter_nm"),
    ConfigCase("gold-reversed", _set("potential", "gold_diameter_nm", [6, 4]),
               "0 < min <= max", "potential.gold_diameter_nm"),
    ConfigCase("ice-thicker-than-volume", _set("scene", "ice_thickness_nm", 60),
               "does not fit tomograms.size_z_voxels = 40", "scene.ice_thickness_nm"),
    ConfigCase("search-voxel-not-multiple",
               _set("template_matching", "search_voxel_size_nm", 1.5),
               "not an integer multiple", "template_matching.search_voxel_size_nm"),
    ConfigCase("training-patch-not-aligned",
               _set("methods", "MC-DS-Net", "training", "patch_voxels", 30),
               "must be a multiple of 4", "methods.MC-DS-Net.training.patch_voxels"),
    ConfigCase("inference-patch-not-aligned",
               _set("methods", "DeepFinder", "inference", "patch_voxels", [40, 63, 64]),
               "must be a multiple of 2", "methods.DeepFinder.inference.patch_voxels"),
    ConfigCase("training-patch-too-large",
               _set("methods", "DeepFinder", "training", "patch_voxels", 48),
               "exceeds the tomogram shape", "methods.DeepFinder.training.patch_voxels"),
    ConfigCase("training-list-empty", _set("tomograms", "training", []),
               "needs training tomograms", "tomograms.training"),
    ConfigCase("test-overlaps-training", _set("tomograms", "test", [0, 2]),
               "also used for training", "tomograms.test"),
    ConfigCase("test-id-missing", _set("tomograms", "test", [5]), "does not exist",
               "tomograms.test"),
    ConfigCase("amplitude-profile-missing",
               _set("tilt_series", "amplitude_profile", "no_such_profile.txt"),
               "no_such_profile.txt: amplitude profile not found",
               "tilt_series.amplitude_profile"),
    ConfigCase("dog-radius-missing", _set("structures", "classes", ["1BXN", "4V94"]),
               "no radius for classes ['4V94']", "methods.DoG.radii_nm"),
    ConfigCase("fixed-threshold-missing", _set("methods", "TM", "threshold", "fixed"),
               "required when threshold is 'fixed'", "methods.TM.fixed_threshold"),
    ConfigCase("unknown-learning-key",
               _set("methods", "DeepFinder", "training", "epochs", 3),
               "'epochs' was unexpected", "methods.DeepFinder.training"),
    ConfigCase("device-cuda-without-gpu", _set("device", "cuda"), "no usable CUDA GPU",
               "config key device"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda case: case.id)
def test_config_case(case, tmp_path, monkeypatch):
    """Schema and whole-config checks (the Python API common.smk calls before any job)."""
    if case.id == "device-cuda-without-gpu" and cupy_available():
        pytest.skip("this machine has a usable GPU")
    monkeypatch.chdir(tmp_path)  # relative paths (amplitude profile) resolve here
    config = _test_config()
    case.edit(config)
    before = _tree(tmp_path)
    if case.message is None:
        warnings = _resolve(config)
        assert case.check(config, warnings), (config, warnings)
    else:
        with pytest.raises(InputError) as error:
            _resolve(config)
        message = str(error.value)
        assert "\n" not in message and message.startswith("config key"), message
        assert case.message in message and case.key in message, message
    assert _tree(tmp_path) == before


WORKFLOW_CASES = [
    ("integral-float-count", _set("tomograms", "count", 3.0), None),
    ("name-dotdot", _set("name", ".."), "config key name: '..' does not match"),
    ("ice-thicker-than-volume", _set("scene", "ice_thickness_nm", 60),
     "config key scene.ice_thickness_nm"),
    ("search-voxel-not-multiple", _set("template_matching", "search_voxel_size_nm", 1.5),
     "config key template_matching.search_voxel_size_nm"),
]


@pytest.mark.parametrize("case_id, edit, message", WORKFLOW_CASES,
                         ids=[case[0] for case in WORKFLOW_CASES])
def test_workflow_reports_config_errors_before_any_job(tmp_path, case_id, edit, message):
    """Through snakemake itself: one line, exit status 1, before the DAG; or the right DAG."""
    config = _test_config()
    edit(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    before = _tree(tmp_path)
    result = snakemake(tmp_path, "-n", configfile=path, check=False)
    if message is None:
        assert result.returncode == 0, result.stderr[-3000:]
        assert planned_jobs(result)["reconstruct"] == 3
    else:
        assert result.returncode == 1
        line = _one_line(result.stdout + result.stderr)
        assert line.startswith("tomobench: error: ") and message in line, line
    assert _written(before, _tree(tmp_path)) == set()


def test_missing_configfile_is_one_line_through_make(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), "run", f"CONFIG={missing}",
         "SNAKEMAKE_ARGS=-n"], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"CONFIG={missing}: config file not found" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make ``folder`` refuse new files, also for root (immutable flag); skip if impossible."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is not available here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def test_read_only_output_folder_is_one_line_naming_it(tmp_path):
    results = tmp_path / "results" / "test"
    results.mkdir(parents=True)
    with _read_only(results):
        result = snakemake(tmp_path, "results/test/config.yaml", configfile=TEST_CONFIG,
                           check=False)
    assert result.returncode == 1
    lines = [x for x in (result.stdout + result.stderr).splitlines() if "tomobench:" in x]
    assert len(lines) == 1 and lines[0].startswith(
        "tomobench: error: results/test: folder is not writable"), result.stderr
    assert "Traceback" not in result.stderr
    assert list(results.iterdir()) == []


# --------------------------------------------------------------------------- structures


def _map(path: Path, density: np.ndarray, voxel_size_angstrom: float) -> Path:
    """An MRC density map with an arbitrary header voxel size (0 included)."""
    with mrcfile.new(path, overwrite=True) as handle:
        handle.set_data(density.astype(np.float32))
        handle.voxel_size = voxel_size_angstrom
    return path


def _structure_case(tmp_path: Path, case: str) -> tuple[Path, str]:
    """Write the bad structure file of ``case``; return it and the class it claims to be."""
    density, voxel_nm = read_mrc(STRUCTURES_DIR / "maps_10A" / "4cr2.mrc")
    atomic = STRUCTURES_DIR / "atomic"
    if case in ("map-nan", "map-inf"):
        density = density.copy()
        density[5, 5, 5] = np.nan if case == "map-nan" else np.inf
        return _map(tmp_path / f"{case}.mrc", density, voxel_nm * 10), "4CR2"
    if case.startswith("map-voxel-"):
        angstrom = {"map-voxel-0": 0.0, "map-voxel-1A": 1.0, "map-voxel-100A": 100.0}[case]
        return _map(tmp_path / f"{case}.mrc", density, angstrom), "4CR2"
    if case == "pdb-coordinates":
        lines = (atomic / "1s3x.pdb").read_text().splitlines()
        first = next(k for k, line in enumerate(lines) if line.startswith("ATOM"))
        lines[first + 5] = lines[first + 5][:30] + "  xx.xxx  xx.xxx  xx.xxx" + \
            lines[first + 5][54:]
        (tmp_path / "bad.pdb").write_text("\n".join(lines) + "\n")
        return tmp_path / "bad.pdb", "1S3X"
    if case == "cif-coordinates":
        structure = gemmi.read_structure(str(atomic / "1s3x.pdb"))
        document = structure.make_mmcif_document()
        table = document.sole_block().find("_atom_site.", ["Cartn_y"])
        table[3][0] = "abc"
        document.write_file(str(tmp_path / "bad.cif"))
        return tmp_path / "bad.cif", "1S3X"
    if case == "pdb-wrong-class":
        return atomic / "1s3x.pdb", "1BXN"
    if case == "pdb-truncated":
        text = (atomic / "1s3x.pdb").read_text()
        (tmp_path / "cut.pdb").write_text(text[: len(text) // 2])
        return tmp_path / "cut.pdb", "1S3X"
    raise ValueError(case)


STRUCTURE_CASES = [
    ("map-nan", r"map-nan.mrc: density map has 1 NaN or infinite voxels"),
    ("map-inf", r"map-inf.mrc: density map has 1 NaN or infinite voxels"),
    ("map-voxel-0", r"map-voxel-0.mrc: header voxel size 0 Å is not positive"),
    ("map-voxel-1A", r"map-voxel-1A.mrc: the molecule reaches"),
    ("map-voxel-100A", r"map-voxel-100A.mrc: the molecule reaches"),
    ("pdb-coordinates", r"bad.pdb:\d+: coordinates '  xx.xxx  xx.xxx  xx.xxx' are not numbers"),
    ("cif-coordinates", r"bad.cif: _atom_site row 4: Cartn_y 'abc' is not a number"),
    ("pdb-wrong-class", r"1s3x.pdb: \d+ atoms of 42.\d+ kDa, implausible for 1BXN"),
    ("pdb-truncated", r"cut.pdb: PDB file does not end with an END record"),
]


@requires_structures
@pytest.mark.parametrize("case, message", STRUCTURE_CASES, ids=[c[0] for c in STRUCTURE_CASES])
def test_structure_case(tmp_path, case, message):
    path, pdb_id = _structure_case(tmp_path, case)
    before = _tree(tmp_path)
    with pytest.raises(InputError, match=message) as error:
        structure_potential(path, pdb_id, PotentialOptions(voxel_size_nm=0.5, oversampling=1))
    assert "\n" not in str(error.value)
    assert _tree(tmp_path) == before


@requires_structures
def test_plausible_structures_still_pass():
    """The checks accept the shipped structures they were calibrated on (no false alarms)."""
    options = PotentialOptions(voxel_size_nm=1.0, oversampling=1)
    for path, pdb_id in ((STRUCTURES_DIR / "atomic" / "1s3x.pdb", "1S3X"),
                         (STRUCTURES_DIR / "maps_10A" / "4cr2.mrc", "4CR2")):
        potential, info = structure_potential(path, pdb_id, options)
        assert np.isfinite(potential).all() and info["molecular_weight_kda"] > 40


# --------------------------------------------------------------------------- tomobench evaluate


@pytest.fixture()
def evaluation_inputs(tmp_path):
    """A 20x32x32 ground truth with three particles and a picks folder; returns their folders."""
    truth = tmp_path / "truth"
    truth.mkdir()
    occupancy = np.zeros((20, 32, 32), dtype=np.int16)
    occupancy[8:12, 8:12, 8:12] = 1
    occupancy[8:12, 20:24, 20:24] = 2
    occupancy[8:12, 8:12, 28:32] = 3  # touches the x = 31 face
    write_mrc(truth / "occupancy_mask.mrc", occupancy, 1.0)
    write_particle_locations(truth / "particle_locations.txt", pd.DataFrame(
        [("1BXN", 10, 10, 10, 0.0, 0.0, 0.0), ("3H84", 22, 22, 10, 0.0, 0.0, 0.0),
         ("1S3X", 30, 10, 10, 0.0, 0.0, 0.0)],
        columns=["class_name", "x", "y", "z", "a1", "a2", "a3"]))
    picks = tmp_path / "picks"
    picks.mkdir()
    return truth, picks


def _evaluate(truth, picks, out, capsys, *extra):
    code = main(["evaluate", "--truth", str(truth), "--picks", str(picks), "--out", str(out),
                 "--no-plots", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _cli_case(case, truth, picks, tmp_path):
    """Prepare ``case``; return (--truth, --picks, --out)."""
    out = tmp_path / "out"
    if case == "binary-submission":
        (picks / "sub.txt").write_bytes(b"1BXN 10 10 10\n\xff\xfe\x00\x01binary")
        return truth, picks / "sub.txt", out
    if case == "binary-truth-list":
        (truth / "particle_locations.txt").write_bytes(b"\x89PNG\r\n\x1a\n")
        (picks / "sub.txt").write_text("1BXN 10 10 10\n")
        return truth, picks / "sub.txt", out
    if case == "coordinate-overflow":
        (picks / "sub.txt").write_text("1S3X 1e19 10 10\n1S3X 100 10 10\n3H84 -1e19 22 10\n")
        return truth, picks / "sub.txt", out
    if case == "out-is-picks-folder":
        (picks / "sub.txt").write_text("1BXN 10 10 10\n")
        return truth, picks / "sub.txt", picks
    if case == "out-inside-picks-folder":
        (picks / "sub.txt").write_text("1BXN 10 10 10\n")
        return truth, picks, picks / "scores"
    if case == "out-is-truth-folder":
        (picks / "particle_locations.txt").write_text("1BXN 10 10 10\n")
        return truth, picks / "particle_locations.txt", truth
    if case == "name-collision":
        (picks / "a").mkdir()
        (picks / "a" / "b.txt").write_text("1BXN 10 10 10\n")
        (picks / "a_b.txt").write_text("3H84 22 22 10\n")
        return truth, picks, out
    if case == "truth-list-in-picks-folder":
        (picks / "sub.txt").write_text("1BXN 10 10 10\n")
        shutil.copy(truth / "particle_locations.txt", picks / "particle_locations.txt")
        return truth, picks, out
    if case == "truth-list-too-short":
        lines = (truth / "particle_locations.txt").read_text().splitlines(keepends=True)
        (truth / "particle_locations.txt").write_text("".join(lines[:2]))
        (picks / "sub.txt").write_text("1BXN 10 10 10\n")
        return truth, picks / "sub.txt", out
    if case == "non-finite-coordinate":
        (picks / "sub.txt").write_text("1BXN 10 nan 10\n")
        return truth, picks / "sub.txt", out
    raise ValueError(case)


CLI_ERROR_CASES = [
    ("binary-submission", "sub.txt:2: not UTF-8 text (byte 0xff at column 1)"),
    ("binary-truth-list", "particle_locations.txt:1: not UTF-8 text (byte 0x89 at column 1)"),
    ("out-is-picks-folder", "would replace the input"),
    ("out-inside-picks-folder", "lies in the picks folder"),
    ("out-is-truth-folder", "would replace the input"),
    ("truth-list-too-short", "2 particles, but"),
    ("non-finite-coordinate", "sub.txt:1: non-finite coordinate"),
]


@pytest.mark.parametrize("case, message", CLI_ERROR_CASES, ids=[c[0] for c in CLI_ERROR_CASES])
def test_evaluate_cli_error_case(evaluation_inputs, tmp_path, capsys, case, message):
    truth, picks, out = _cli_case(case, *evaluation_inputs, tmp_path)
    before = _tree(tmp_path)
    code, stdout, stderr = _evaluate(truth, picks, out, capsys)
    assert code == 2 and stdout == ""
    line = _one_line(stderr)
    assert line.startswith("tomobench evaluate: error: ") and message in line, line
    assert _written(before, _tree(tmp_path)) == set()


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv").set_index("submission")


@pytest.mark.parametrize("case", ["coordinate-overflow", "name-collision",
                                  "truth-list-in-picks-folder"])
def test_evaluate_cli_correct_case(evaluation_inputs, tmp_path, capsys, case):
    truth, picks, out = _cli_case(case, *evaluation_inputs, tmp_path)
    before = _tree(tmp_path)
    code, stdout, _ = _evaluate(truth, picks, out, capsys)
    assert code == 0
    assert all(p.startswith("out/") for p in _written(before, _tree(tmp_path)))
    rows = _rows(out)
    if case == "coordinate-overflow":
        # The organisers' rule: round, clip to the volume, count RO, score the clipped point.
        # x = 1e19 and x = 100 land on x = 31 (particle 3), x = -1e19 on x = 0 (background).
        row = rows.loc["sub"]
        assert (row["TP"], row["FP"], row["MH"], row["RO"]) == (1, 1, 1, 3)
    elif case == "name-collision":
        assert sorted(rows.index) == ["a/b", "a_b"]
        assert (out / "a" / "b.json").is_file() and (out / "a_b.json").is_file()
        assert rows.loc["a/b", "TP"] == 1 and rows.loc["a_b", "TP"] == 1
    else:
        assert list(rows.index) == ["sub"]
        assert f"skipped {picks / 'particle_locations.txt'}" in stdout


def test_evaluate_cli_binary_input_has_no_traceback(evaluation_inputs, tmp_path):
    truth, picks, out = _cli_case("binary-submission", *evaluation_inputs, tmp_path)
    result = subprocess.run([sys.executable, "-m", "tomobench.cli", "evaluate", "--truth",
                             str(truth), "--picks", str(picks), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "not UTF-8 text" in _one_line(result.stderr)


# --------------------------------------------------------------------------- workflow faults


def _copy_run(source: Path, destination: Path) -> Path:
    """Copy a finished working directory with its .snakemake state and timestamps."""
    shutil.copytree(source, destination, symlinks=True)
    return destination


def _clone(destination: Path) -> Path:
    """A second copy of the workflow (another clone path): Snakefile, rules, scripts, config."""
    destination.mkdir(parents=True)
    for part in ("Snakefile", "workflow", "config", "profiles", "envs"):
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part)
        else:
            shutil.copy2(source, destination / part)
    return destination / "Snakefile"


@requires_structures
@pytest.mark.slow
def test_relocated_run_has_nothing_to_do(tiny_run, tmp_path):
    """A finished run copied to another folder, and run from another clone, is up to date."""
    moved = _copy_run(tiny_run, tmp_path / "elsewhere" / "run")
    result = snakemake(moved, "-n", configfile=TEST_CONFIG)
    assert planned_jobs(result) == {}, result.stdout[-3000:]
    clone = _clone(tmp_path / "second_clone")
    result = snakemake(moved, "-n", configfile=clone.parent / "config" / "test.yaml",
                       snakefile=clone)
    assert planned_jobs(result) == {}, result.stdout[-3000:]


@requires_structures
@pytest.mark.slow
@pytest.mark.parametrize("deleted, rerun", [
    ("picks/DoG/model_2.txt", {"pick_dog", "evaluate_picks"}),
    ("potentials/vesicle_0.mrc", {"compute_vesicle_potential", "simulate_scene"}),
    ("models/DeepFinder/checkpoint.pt", {"train_learning", "pick_learning"}),
    ("evaluation/TM/model_2.txt", {"evaluate_picks"}),
    ("template_matching/model_2/1BXN_chunk0_scores.mrc", {"match_templates"}),
])
def test_deleted_intermediate_is_rebuilt(tiny_run, tmp_path, deleted, rerun):
    """A deleted intermediate is rebuilt with what depends on it (not 'Nothing to be done')."""
    run = _copy_run(tiny_run, tmp_path / "run")
    (run / "results" / "test" / deleted).unlink()
    jobs = planned_jobs(snakemake(run, "-n", configfile=TEST_CONFIG))
    assert rerun <= set(jobs), jobs


@pytest.mark.slow
def test_hard_kill_leaves_a_lock_that_unlock_releases(tmp_path):
    """After kill -9 Snakemake names --unlock (README troubleshooting); then the run works."""
    target = "results/test/config.yaml"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"),
               "--directory", str(tmp_path), "--cores", "1", target,
               "--configfile", str(TEST_CONFIG)]
    process = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    locks = tmp_path / ".snakemake" / "locks"
    try:
        for _ in range(1200):
            if process.poll() is not None or (locks.is_dir() and any(locks.iterdir())):
                break
            time.sleep(0.1)
        assert process.poll() is None, "snakemake ended before it took its lock"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    locked = snakemake(tmp_path, target, configfile=TEST_CONFIG, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(tmp_path, "--unlock", configfile=TEST_CONFIG)
    snakemake(tmp_path, target, configfile=TEST_CONFIG)
    assert yaml.safe_load((tmp_path / target).read_text())["name"] == "test"


# --------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def tiny_tomograms(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    tomograms = []
    for key in range(2):
        syn.synthetic_tomogram(root / f"model_{key}", (32, 48, 48), {"5MRC": 5.0, "3QM1": 3.0},
                               8, seed=3, key=key, noise=0.3)
        tomograms.append(load_tomogram(syn.tomogram_paths(root / f"model_{key}")))
    return tomograms


TINY_TRAINING = {"widths": [4, 8], "patch_voxels": 24, "batch_size": 2, "steps": 4,
                 "validation_interval": 2, "validation_patches": 2}


def _train_to(folder: Path, tomograms) -> tuple[Path, dict]:
    checkpoint, report = train("deepfinder", TINY_TRAINING, tomograms[:1], tomograms[1:],
                               seed=11, threads=1)
    save_checkpoint(folder / "checkpoint.pt", checkpoint)
    return folder / "checkpoint.pt", report


def test_identical_trainings_give_identical_weights_and_report_threads(tiny_tomograms,
                                                                        tmp_path):
    first, first_report = _train_to(tmp_path, tiny_tomograms)
    second, second_report = _train_to(tmp_path / "again", tiny_tomograms)
    assert first_report == second_report and first_report["torch_threads"] == 1
    for name, tensor in torch.load(first, weights_only=True)["state_dict"].items():
        assert torch.equal(tensor, torch.load(second, weights_only=True)["state_dict"][name])


def test_identical_trainings_give_identical_checkpoint_bytes(tiny_tomograms, tmp_path):
    first, _ = _train_to(tmp_path, tiny_tomograms)
    second, _ = _train_to(tmp_path / "again", tiny_tomograms)
    assert first.read_bytes() == second.read_bytes()
