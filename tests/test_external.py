"""External pickers (kind: command) and submissions (kind: submission): command rendering and
fingerprints, the job wrapper's one-line failures, validation of picks, STAR import, and the
whole-config checks that run before any job."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import pandas as pd
import pytest

from tomobench.config_checks import _check_methods
from tomobench.errors import InputError
from tomobench.formats.relion import TomogramGeometry, read_particle_star, write_particle_star
from tomobench.methods import external

SHAPE = (40, 64, 64)  # z, y, x
CLASSES = ["1BXN", "3H84", "vesicle", "fiducial"]


# --- commands -------------------------------------------------------------------------------


def test_render_command_quotes_every_value():
    command = external.render_command(
        "picker pick {manifest} --out={output}",
        {"manifest": "a b/m.json", "output": "x; rm -rf y"})
    assert command == "picker pick 'a b/m.json' --out='x; rm -rf y'"


@pytest.mark.parametrize("template, stage, problem", [
    ("picker {manifest} {oops}", "pick", "unknown placeholder {oops}"),
    ("picker {output} {manifest", "pick", "expected '}'"),
    ("picker {output}", "train", "unknown placeholder {output}"),
    ("picker --fixed", "pick", "must receive {manifest} or {output}"),
])
def test_bad_command_templates_name_the_key(template, stage, problem):
    with pytest.raises(InputError, match="config key methods.X.pick") as error:
        external.check_command(template, stage, "methods.X.pick")
    assert problem in str(error.value)


def test_literal_braces_and_known_placeholders_pass():
    external.check_command("awk '{{print $1}}' {manifest} > {output}", "pick", "k")
    assert external.render_command("awk '{{print}}' {output}", {"output": "o"}) == \
        "awk '{print}' o"


def test_fingerprint_holds_the_named_files_content(tmp_path):
    script = tmp_path / "picker.py"
    script.write_text("print(1)\n")
    template = "python3 picker.py pick {manifest} --config=picker.py missing.py"
    first = external.command_fingerprint(template, tmp_path)
    assert list(first["files"]) == ["picker.py"]
    assert first["command"] == template
    script.write_text("print(2)\n")
    assert external.command_fingerprint(template, tmp_path) != first
    assert external.command_fingerprint(None, tmp_path) == {}


# --- the job wrapper: one line per failure --------------------------------------------------


def _run_wrapper(tmp_path, command, **kwargs):
    log = tmp_path / "job.log"
    script = external.wrapper_script(command, what="method M, tomogram model_2", stage="pick",
                                     log=str(log), **kwargs)
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=tmp_path,
                            capture_output=True, text=True)
    return result, log


def test_wrapper_runs_the_command_with_its_log_and_threads(tmp_path):
    result, log = _run_wrapper(tmp_path, "echo threads=$OMP_NUM_THREADS; echo err >&2; "
                               "echo 'fiducial 1 2 3' > out/picks.txt",
                               threads=3, output="out/picks.txt")
    assert result.returncode == 0, result.stderr
    assert log.read_text().split() == ["threads=3", "err"]
    assert (tmp_path / "out" / "picks.txt").is_file()


@pytest.mark.parametrize("command, kwargs, problem", [
    ("echo oops >&2; exit 3", {}, "pick command exited with status 3 (log: "),
    ("true", {"output": "never.txt"}, "pick command wrote no picks file never.txt (log: "),
    ("sleep 30", {"timeout_min": 0.02}, "pick command exceeded timeout_min = 0.02 min (log: "),
])
def test_wrapper_failures_are_one_line(tmp_path, command, kwargs, problem):
    if "timeout_min" in kwargs and shutil.which("timeout") is None:
        pytest.skip("coreutils timeout is not installed")
    result, log = _run_wrapper(tmp_path, command, **kwargs)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tomobench: error: method M, tomogram model_2: ")
    assert problem in lines[0] and str(log) in lines[0]


# --- validation of picks --------------------------------------------------------------------


def _check(rows, **kwargs):
    return external.check_rows([(f"p.txt:{k}", r) for k, r in enumerate(rows, start=1)],
                               shape_zyx=SHAPE, allowed_classes=CLASSES,
                               where="method M, tomogram model_2", log="l.log", **kwargs)


def test_valid_picks_by_name_or_id_become_a_submission():
    picks = _check([["1bxn", "1", "2", "3", "0.5"], ["4", 63.4, 0, 39], ["15", -0.4, 10, 10]])
    assert picks["class_name"].tolist() == ["1BXN", "1BXN", "fiducial"]
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [[1, 2, 3], [63.4, 0, 39],
                                                          [-0.4, 10, 10]]
    assert picks["score"].iloc[0] == 0.5 and math.isnan(picks["score"].iloc[1])


@pytest.mark.parametrize("row, problem", [
    (["4CR2", 1, 2, 3], "p.txt:2: unknown class '4CR2' (this run's classes: 1BXN, 3H84"),
    (["1BXN", "nan", 2, 3], "p.txt:2: non-finite x coordinate nan"),
    (["1BXN", 1, "inf", 3], "p.txt:2: non-finite y coordinate inf"),
    (["1BXN", 1, 2, 40], "p.txt:2: z = 40 is outside the volume (0..39 voxels"),
    (["1BXN", 63.5, 2, 3], "p.txt:2: x = 63.5 is outside the volume"),
    (["1BXN", 1, 2], "p.txt:2: expected '<class> <x> <y> <z> [score]'"),
    (["1BXN", 1, 2, "three"], "p.txt:2: coordinates or score are not numbers"),
])
def test_bad_picks_name_method_tomogram_line_and_log(row, problem):
    with pytest.raises(external.PickError) as error:
        _check([["3H84", 5, 5, 5], row])
    message = str(error.value)
    assert message.startswith("method M, tomogram model_2: ")
    assert problem in message and message.endswith("(log: l.log)")
    assert "\n" not in message


def test_empty_picks_fail_only_where_particles_exist():
    with pytest.raises(external.PickError, match="no picks, but the tomogram holds particles"):
        _check([])
    assert _check([], particles_exist=False).empty


def test_missing_or_binary_picks_file(tmp_path):
    with pytest.raises(external.PickError, match="picks file not found"):
        external.text_pick_rows(tmp_path / "none.txt", "w")
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"1BXN 1 2 3\n\xff\xfe\n")
    with pytest.raises(external.PickError, match=r"b.txt:2: not UTF-8 text"):
        external.text_pick_rows(binary, "w")


@pytest.mark.parametrize("version", [4, 5])
def test_star_picks_round_trip_to_voxels(tmp_path, version):
    geometry = TomogramGeometry(name="model_2", shape_zyx=SHAPE, voxel_size_nm=1.0, binning=2.0)
    picks = pd.DataFrame({"class_name": ["1BXN", "fiducial"], "x": [3.0, 60.0],
                          "y": [4.0, 1.0], "z": [5.0, 38.0], "score": [0.9, 0.2]})
    path = tmp_path / "picks.star"
    write_particle_star(path, picks, geometry, relion_version=version)
    back = read_particle_star(path, geometry.shape_zyx, geometry.voxel_size_nm)
    assert back["class_name"].tolist() == ["1BXN", "fiducial"]
    assert back[["x", "y", "z", "score"]].to_numpy() == pytest.approx(
        picks[["x", "y", "z", "score"]].to_numpy())
    rows = external.star_pick_rows(path, geometry, "w")
    assert rows[1][0].endswith("picks.star: particle 2")


# --- whole-config checks --------------------------------------------------------------------


def _config(methods, test=(2,), training=(0,)):
    return {"methods": methods, "structures": {"classes": ["1BXN", "3H84"]},
            "tomograms": {"count": 3, "training": list(training), "validation": [1],
                          "test": list(test), "size_z_voxels": 40, "size_xy_voxels": 64}}


def test_submission_missing_file_names_the_expected_file(tmp_path):
    folder = tmp_path / "subm"
    folder.mkdir()
    (folder / "model_2.txt").write_text("1BXN 1 2 3\n")
    _check_methods(_config({"S": {"kind": "submission", "path": str(folder),
                                  "format": "shrec"}}))
    with pytest.raises(InputError) as error:
        _check_methods(_config({"S": {"kind": "submission", "path": str(folder),
                                      "format": "star"}}))
    assert f"config key methods.S.path: {folder / 'model_2.star'} not found" in str(error.value)
    with pytest.raises(InputError, match="model_3.txt not found"):
        _check_methods(_config({"S": {"kind": "submission", "path": str(folder),
                                      "format": "shrec"}}, test=(2, 3)))
    with pytest.raises(InputError, match="methods.S.path: submission folder .* not found"):
        _check_methods(_config({"S": {"kind": "submission", "path": str(tmp_path / "no"),
                                      "format": "shrec"}}))
    with pytest.raises(InputError, match="methods.S.user: required for format copick"):
        _check_methods(_config({"S": {"kind": "submission", "path": "c.json",
                                      "format": "copick"}}))


def test_command_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = {"kind": "command", "pick": "p {manifest}", "train": "t {manifest} {model_dir}"}
    _check_methods(_config({"C": good}))
    with pytest.raises(InputError, match="config key methods.C.train: unknown placeholder"):
        _check_methods(_config({"C": {**good, "train": "t {output}"}}))
    with pytest.raises(InputError, match="tomograms.training: empty, but methods.C.train"):
        _check_methods(_config({"C": good}, training=()))
    with pytest.raises(InputError, match="methods.C.conda: environment file env.yaml not found"):
        _check_methods(_config({"C": {**good, "conda": "env.yaml"}}))
    (tmp_path / "env.yaml").write_text("dependencies: [python]\n")
    _check_methods(_config({"C": {**good, "conda": "env.yaml"}}))


def test_manifest_layout():
    manifest = external.job_manifest(
        stage="pick", method="M", run="test",
        tomograms=[{"id": 2, "name": "model_2", "path": "t.mrc", "voxel_size_nm": 1.0,
                    "shape_zyx": list(SHAPE)}],
        training={0: "results/test/data/model_0"}, validation={1: "results/test/data/model_1"},
        classes=[], threads=2, device="cpu", seed=7, model_dir=None, output="o.picks")
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["training"] == [{"id": 0, "name": "model_0",
                                     "folder": "results/test/data/model_0"}]
    assert manifest["output_format"] == "shrec" and manifest["tomobench_manifest"] == 1
