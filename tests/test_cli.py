"""The tomobench command line: evaluate (files, folders, modes), export-star, error handling."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import starfile

from tomobench.cli import main
from tomobench.mrc import write_mrc
from tomobench.particles import write_particle_locations


@pytest.fixture()
def truth_folder(tmp_path):
    """A 32³ ground truth: two 1BXN, one 3H84 and a vesicle (ids = line numbers)."""
    folder = tmp_path / "model_0"
    folder.mkdir()
    rows = [("vesicle", 6, 6, 6, 3), ("1BXN", 20, 20, 10, 3), ("1BXN", 10, 24, 20, 3),
            ("3H84", 24, 8, 24, 2)]
    occupancy = np.zeros((32, 32, 32), dtype=np.int16)
    for k, (_, x, y, z, r) in enumerate(rows, start=1):
        zz, yy, xx = np.ogrid[:32, :32, :32]
        occupancy[(zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= r * r] = k
    write_mrc(folder / "occupancy_mask.mrc", occupancy, 1.0)
    write_particle_locations(folder / "particle_locations.txt", pd.DataFrame(
        [(n, x, y, z, 0.0, 0.0, 0.0) for n, x, y, z, _ in rows],
        columns=["class_name", "x", "y", "z", "a1", "a2", "a3"]))
    return folder


def test_evaluate_writes_json_text_csv_png(tmp_path, truth_folder, capsys):
    picks = tmp_path / "picks.txt"
    picks.write_text("1bxn 20 20 10 0.9\n3H84 10 24 20 0.8\n1BXN 1 1 30\n")
    out = tmp_path / "out"
    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(picks),
                 "--out", str(out)]) == 0
    result = json.loads((out / "picks.json").read_text())
    loc = result["localization"]
    # default mode corrected, as the workflow: the vesicle is not in N (published: N = 4)
    assert result["mode"] == "corrected"
    assert (loc["RR"], loc["N"], loc["TP"], loc["FP"], loc["FN"]) == (3, 3, 2, 1, 1)
    assert result["classification"]["per_class"]["1BXN"]["TP"] == 1
    assert "CZII" in (out / "picks.txt").read_text()
    confusion = pd.read_csv(out / "picks_confusion.csv", index_col=0)
    assert confusion.loc["1BXN", "3H84"] == 1 and confusion.loc["3H84", "background"] == 1
    assert (out / "picks_confusion.png").stat().st_size > 1000
    assert pd.read_csv(out / "summary.csv")["TP"].tolist() == [2]
    assert "TP 2" in capsys.readouterr().out


def test_evaluate_folder_of_submissions_and_corrected_mode(tmp_path, truth_folder):
    submissions = tmp_path / "subs"
    (submissions / "teamA").mkdir(parents=True)
    (submissions / "teamA" / "run.txt").write_text("1BXN 20 20 10\nfiducial 6 6 6\n")
    (submissions / "b.txt").write_text("3H84 24 8 24\n")
    out = tmp_path / "out"
    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(submissions),
                 "--out", str(out), "--mode", "corrected", "--no-plots"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["submission"].tolist() == ["b", "teamA/run"]
    team = json.loads((out / "teamA" / "run.json").read_text())["localization"]
    assert (team["N"], team["RR"], team["ignored"]) == (3, 1, 1)  # pick on the vesicle ignored
    assert not (out / "b_confusion.png").exists()


@pytest.mark.parametrize("picks_text, message", [
    ("1BXN 1 2\n", "picks.txt:1"),
    ("1BXN 1 2 3\n1BXN a 2 3\n", "picks.txt:2"),
])
def test_malformed_submission_is_one_error_line_exit_2(tmp_path, truth_folder, capsys,
                                                       picks_text, message):
    picks = tmp_path / "picks.txt"
    picks.write_text(picks_text)
    code = main(["evaluate", "--truth", str(truth_folder), "--picks", str(picks),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "picks.json").exists()


def test_missing_inputs_and_bad_options_exit_2(tmp_path, truth_folder, capsys):
    assert main(["evaluate", "--truth", str(tmp_path / "nope"), "--picks", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--truth", str(truth_folder), "--picks", "x.txt", "--out", "o",
              "--mode", "lenient"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and len(err.strip().splitlines()) == 1


def test_export_star(tmp_path):
    picks = tmp_path / "model_9.txt"
    picks.write_text("1BXN 1 2 3 0.5\nfiducial 4 5 6 0.9\n")
    out = tmp_path / "picks.star"
    assert main(["export-star", "--picks", str(picks), "--out", str(out),
                 "--voxel-size-nm", "1.0", "--volume-shape", "10", "8", "8"]) == 0
    blocks = starfile.read(out)
    assert list(blocks["particles"]["rlnCenteredCoordinateXAngst"]) == [-30.0, 0.0]
    assert set(blocks["particles"]["rlnTomoName"]) == {"model_9"}


def test_console_script_help_and_traceback_free_error(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "tomobench.cli", "evaluate", "--help"],
                               capture_output=True, text=True, check=True).stdout
    for option in ("--truth", "--picks", "--out", "--mode", "--slab-offset", "--czii-beta"):
        assert option in help_text
    run = subprocess.run([sys.executable, "-m", "tomobench.cli", "export-star", "--picks",
                          str(tmp_path / "none.txt"), "--out", str(tmp_path / "x.star")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "not found" in run.stderr


# --- refused inputs: one line naming the input, exit status 2, no traceback, no output --------


def _refused(capsys, argv: list[str]) -> str:
    """Run ``main(argv)``; assert exit status 2 and one stderr line; return that line."""
    try:
        code = main(argv)
    except SystemExit as exit_info:  # argparse refuses before main returns
        code = exit_info.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture()
def picks_file(tmp_path):
    path = tmp_path / "picks.txt"
    path.write_text("1BXN 20 20 10 0.9\n3H84 10 24 20 0.8\n1BXN 1 1 30\n")
    return path


@pytest.mark.parametrize("option, value, message", [
    ("--seed", "-3", "argument --seed: must be >= 0, got -3"),
    ("--seed", "1.5", "argument --seed: expected an integer, got '1.5'"),
    ("--bootstrap-resamples", "-5", "argument --bootstrap-resamples: must be >= 0, got -5"),
    ("--czii-beta", "nan", "argument --czii-beta: must be a finite number > 0, got nan"),
    ("--czii-radius-fraction", "inf", "argument --czii-radius-fraction: must be a finite"),
    ("--voxel-size-nm", "0", "argument --voxel-size-nm: must be a finite number > 0"),
    ("--slab-offset", "-1", "argument --slab-offset: must be >= 0"),
])
def test_evaluate_refuses_bad_numbers(tmp_path, truth_folder, picks_file, capsys, option, value,
                                      message):
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks",
                             str(picks_file), "--out", str(out), option, value])
    assert message in line
    assert not out.exists()


def test_evaluate_refuses_a_non_positive_volume_shape(tmp_path, truth_folder, picks_file, capsys):
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks",
                             str(picks_file), "--out", str(out), "--volume-shape", "0", "32", "32"])
    assert "argument --volume-shape: must be >= 1, got 0" in line and not out.exists()


@pytest.mark.parametrize("value, what", [(np.nan, "a non-finite value (nan)"),
                                         (1.5, "a non-integer value (1.5)"),
                                         (-2.0, "a negative id (-2.0)")])
def test_evaluate_refuses_a_float_mask_with_nan_or_fractions(tmp_path, truth_folder, picks_file,
                                                             capsys, value, what):
    import mrcfile

    with mrcfile.open(truth_folder / "occupancy_mask.mrc") as handle:
        mask = handle.data.astype(np.float32)
    mask[1, 2, 3] = value
    write_mrc(truth_folder / "occupancy_mask.mrc", mask, 1.0)
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks",
                             str(picks_file), "--out", str(out)])
    assert "occupancy_mask.mrc: occupancy mask holds " + what in line
    assert "(z, y, x) = (1, 2, 3)" in line and not out.exists()


def test_evaluate_accepts_a_float_mask_of_integral_ids(tmp_path, truth_folder, picks_file):
    import mrcfile

    with mrcfile.open(truth_folder / "occupancy_mask.mrc") as handle:
        mask = handle.data.astype(np.float32)
    write_mrc(truth_folder / "occupancy_mask.mrc", mask, 1.0)
    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(picks_file),
                 "--out", str(tmp_path / "out"), "--bootstrap-resamples", "0", "--no-plots"]) == 0
    assert json.loads((tmp_path / "out" / "picks.json").read_text())["localization"]["TP"] == 2


def test_evaluate_refuses_a_truth_file_that_is_not_a_ground_truth(tmp_path, truth_folder,
                                                                  picks_file, capsys):
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(picks_file), "--picks", str(picks_file),
                             "--out", str(out)])
    assert f"--truth {picks_file}: a file, but a folder is expected" in line
    assert not out.exists()


def test_evaluate_takes_the_folder_of_a_ground_truth_file(tmp_path, truth_folder, picks_file,
                                                          capsys):
    args = ["--picks", str(picks_file), "--bootstrap-resamples", "0", "--no-plots"]
    assert main(["evaluate", "--truth", str(truth_folder), "--out", str(tmp_path / "a"),
                 *args]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--truth", str(truth_folder / "particle_locations.txt"),
                 "--out", str(tmp_path / "b"), *args]) == 0
    err = capsys.readouterr().err
    assert err == (f"tomobench evaluate: note: --truth {truth_folder / 'particle_locations.txt'} "
                   f"is a file; using its folder {truth_folder}\n")
    assert (json.loads((tmp_path / "a" / "picks.json").read_text())["localization"]
            == json.loads((tmp_path / "b" / "picks.json").read_text())["localization"])


@pytest.mark.parametrize("out_kind", ["file", "below a file"])
def test_evaluate_refuses_out_on_a_file(tmp_path, truth_folder, picks_file, capsys, out_kind):
    existing = tmp_path / "existing"
    existing.write_text("keep me\n")
    out = existing if out_kind == "file" else existing / "sub"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks",
                             str(picks_file), "--out", str(out)])
    assert line.startswith(f"tomobench evaluate: error: --out {out}: ")
    assert ("an existing file, but a folder is expected" in line if out_kind == "file"
            else f"{existing} is a file, not a folder" in line)
    assert existing.read_text() == "keep me\n"


@pytest.mark.parametrize("name, content, message", [
    ("picks.dat", b"\x00\x01\x02binary\xff", "picks.dat: unknown submission kind (binary"),
    ("picks.csv", b"class,x,y\n1BXN,1,2\n", "picks.csv:1: the header must name class,x,y,z"),
    ("picks.csv", b"# comment\nclass,x,y,z\n1BXN,1,2,3\n1BXN,1,two,3\n",
     "picks.csv:4: could not convert string to float: 'two'"),
    ("picks.csv", b"class,x,y,z\n1BXN,1,2\n", "picks.csv:2: 3 fields, the header has 4"),
    ("picks.csv", b"class,x,y,z\n1BXN,1,inf,3\n", "picks.csv:2: non-finite coordinate"),
    ("picks.star", b"data_particles\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n"
                   b"_rlnCoordinateZ #3\n1 2 3\n",
     "picks.star: no rlnClassNumber column"),
    ("picks.star", b"data_particles\n\nloop_\n_rlnClassNumber #1\n_rlnCoordinateX #2\n"
                   b"_rlnCoordinateY #3\n_rlnCoordinateZ #4\n1 1 2 3\n",
     "picks.star: RELION 4 coordinates (rlnCoordinateX, unbinned tilt-series pixels) need "
     "rlnTomoTiltSeriesPixelSize"),
    ("picks.star", b"data_particles\n\nloop_\n_rlnTomoName #1\n_rlnClassNumber #2\n"
                   b"_rlnCenteredCoordinateXAngst #3\n_rlnCenteredCoordinateYAngst #4\n"
                   b"_rlnCenteredCoordinateZAngst #5\nA 1 0 0 0\nB 1 0 0 0\n",
     "picks.star: picks of 2 tomograms (A, B); give one tomogram per file"),
])
def test_evaluate_refuses_bad_submission_files(tmp_path, truth_folder, capsys, name, content,
                                               message):
    picks = tmp_path / name
    picks.write_bytes(content)
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks", str(picks),
                             "--out", str(out)])
    assert message in line, line
    assert not out.exists()


def test_evaluate_refuses_two_submissions_of_one_name(tmp_path, truth_folder, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "a.txt").write_text("1BXN 20 20 10\n")
    (folder / "a.csv").write_text("class,x,y,z\n1BXN,20,20,10\n")
    out = tmp_path / "out"
    line = _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks", str(folder),
                             "--out", str(out)])
    assert "a.csv and a.txt would both be reported as 'a'; rename one" in line
    assert not out.exists()


def test_evaluate_reads_every_submission_before_writing(tmp_path, truth_folder, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "a.txt").write_text("1BXN 20 20 10\n")
    (folder / "b.txt").write_text("1BXN 20 20\n")
    out = tmp_path / "out"
    assert "b.txt:1" in _refused(capsys, ["evaluate", "--truth", str(truth_folder), "--picks",
                                          str(folder), "--out", str(out)])
    assert not out.exists()


# --- warnings: one stderr line each, still scored ---------------------------------------------


def test_empty_submission_and_unknown_classes_warn_and_score(tmp_path, truth_folder, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "empty.txt").write_text("# nothing picked\n")
    (folder / "odd.txt").write_text("1BXN 20 20 10\nribosome 10 24 20\nRibosome 1 1 1\n"
                                    "xyz 24 8 24\n")
    out = tmp_path / "out"
    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(folder),
                 "--out", str(out), "--bootstrap-resamples", "0", "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"tomobench evaluate: warning: {folder / 'empty.txt'}: empty submission (no picks): "
        "it scores recall 0",
        f"tomobench evaluate: warning: {folder / 'odd.txt'}: 3 picks with class names not in "
        "the SHREC class table ('Ribosome', 'ribosome', 'xyz'): scored for localization, never "
        "as the right class",
    ]
    empty = json.loads((out / "empty.json").read_text())["localization"]
    odd = json.loads((out / "odd.json").read_text())["localization"]
    assert (empty["RR"], empty["TP"], empty["FN"]) == (0, 0, 3)
    assert (odd["RR"], odd["TP"], odd["FP"]) == (4, 3, 1)


def test_summary_line_has_per_class_f1(tmp_path, truth_folder, picks_file, capsys):
    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(picks_file),
                 "--out", str(tmp_path / "out"), "--bootstrap-resamples", "0", "--no-plots"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    per_class = json.loads((tmp_path / "out" / "picks.json").read_text())[
        "classification"]["per_class"]
    assert line.endswith(f"| class F1 1BXN {per_class['1BXN']['F1']:.3f} "
                         f"3H84 {per_class['3H84']['F1']:.3f}")
    assert "class F1 1BXN 0.667 3H84 0.000" in line


# --- STAR and CSV submissions score as the SHREC text they came from --------------------------


def _scores(path) -> dict:
    result = json.loads(path.read_text())
    return {key: result[key] for key in ("localization", "classification", "czii",
                                         "confidence_intervals", "units")}


@pytest.fixture()
def data_folder(truth_folder):
    """The truth folder with a 1 nm reconstruction of 32³ from 0.5 nm tilt series (binning 2)."""
    write_mrc(truth_folder / "reconstruction.mrc", np.zeros((32, 32, 32), np.float32), 1.0)
    (truth_folder / "acquisition_parameters.json").write_text(json.dumps(
        {"pixel_size_nm": 0.5, "voltage_kv": 300.0, "spherical_aberration_mm": 2.7}))
    return truth_folder


@pytest.mark.parametrize("relion", ["4", "5"])
def test_star_export_evaluates_as_the_shrec_text(tmp_path, data_folder, capsys, relion):
    picks = tmp_path / "picks.txt"
    # ties at .5 and a pick on the far face: rounding must survive the round trip
    picks.write_text("1BXN 20 20 10 0.9\n3H84 10 24 20 0.8\n1BXN 1 1 30\nfiducial 6 6 6\n"
                     "3H84 24 8 24\n1BXN 20.5 19.5 10 0.3\n3H84 31 31 31\n")
    star = tmp_path / "picks.star"
    assert main(["export-star", "--picks", str(picks), "--data", str(data_folder),
                 "--out", str(star), "--relion", relion]) == 0
    assert ("rlnCoordinateX" if relion == "4" else "rlnCenteredCoordinateXAngst") in \
        starfile.read(star)["particles"].columns
    common = ["--truth", str(data_folder), "--bootstrap-resamples", "200", "--no-plots"]
    assert main(["evaluate", "--picks", str(picks), "--out", str(tmp_path / "text"),
                 *common]) == 0
    assert main(["evaluate", "--picks", str(star), "--out", str(tmp_path / "star"),
                 *common]) == 0
    assert _scores(tmp_path / "star" / "picks.json") == _scores(tmp_path / "text" / "picks.json")
    assert "warning" not in capsys.readouterr().err


def test_csv_submission_evaluates_as_the_shrec_text(tmp_path, truth_folder):
    text = tmp_path / "picks.txt"
    text.write_text("1BXN 20 20 10 0.9\n3H84 10 24 20 0.8\n1BXN 1 1 30\n")
    csv = tmp_path / "csv" / "picks.csv"
    csv.parent.mkdir()
    csv.write_text("# any columns order, case-insensitive, extras ignored\n"
                   "X,y,z,Class,score,note\n20,20,10,1BXN,0.9,a\n10,24,20,3H84,0.8,b\n"
                   "1,1,30,1BXN,,c\n")
    common = ["--truth", str(truth_folder), "--bootstrap-resamples", "200", "--no-plots"]
    assert main(["evaluate", "--picks", str(text), "--out", str(tmp_path / "a"), *common]) == 0
    assert main(["evaluate", "--picks", str(csv.parent), "--out", str(tmp_path / "b"),
                 *common]) == 0  # a folder: *.csv found
    assert _scores(tmp_path / "b" / "picks.json") == _scores(tmp_path / "a" / "picks.json")


def test_submission_kind_by_content(tmp_path):
    from tomobench.formats.submissions import submission_kind

    cases = {"a.list": "1BXN 1 2 3\n", "b.list": "# c\nclass,x,y,z\n1BXN,1,2,3\n",
             "c.list": "\n# relion\ndata_particles\n", "d.TXT": "class,x,y,z\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    assert [submission_kind(tmp_path / n) for n in cases] == ["shrec", "csv", "star", "shrec"]


# --- the other subcommands ---------------------------------------------------------------------


def test_export_star_refuses_bad_paths_and_numbers(tmp_path, data_folder, picks_file, capsys):
    out = tmp_path / "picks.star"
    base = ["export-star", "--picks", str(picks_file), "--data", str(data_folder)]
    assert "argument --amplitude-contrast: must be between 0 and 1" in _refused(
        capsys, [*base, "--out", str(out), "--amplitude-contrast", "2"])
    assert "argument --binning: must be a finite number > 0" in _refused(
        capsys, [*base, "--out", str(out), "--binning", "-1"])
    assert "argument --relion: invalid choice: 3" in _refused(
        capsys, [*base, "--out", str(out), "--relion", "3"])
    assert f"--out {tmp_path}: a folder, but a file name is expected" in _refused(
        capsys, [*base, "--out", str(tmp_path)])
    assert f"--picks {tmp_path}: a folder, but a file is expected" in _refused(
        capsys, ["export-star", "--picks", str(tmp_path), "--data", str(data_folder),
                 "--out", str(out)])
    assert f"--data {picks_file}: a file, but the tomogram's folder" in _refused(
        capsys, ["export-star", "--picks", str(picks_file), "--data", str(picks_file),
                 "--out", str(out)])
    assert "argument --volume-shape: must be >= 1, got -4" in _refused(
        capsys, ["export-star", "--picks", str(picks_file), "--voxel-size-nm", "1",
                 "--volume-shape", "-4", "8", "8", "--out", str(out)])
    assert not out.exists()


def test_export_portal_refuses_bad_paths(tmp_path, picks_file, capsys):
    existing = tmp_path / "existing"
    existing.write_text("x")
    assert f"--out {existing}: an existing file, but a folder is expected" in _refused(
        capsys, ["export-portal", "--picks", str(picks_file), "--out", str(existing)])
    assert f"--picks {tmp_path / 'none.txt'}: file not found" in _refused(
        capsys, ["export-portal", "--picks", str(tmp_path / "none.txt"),
                 "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists() and existing.read_text() == "x"


def test_export_copick_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "thesis.tex").write_text("precious")
    assert f"--out {keep}: a folder that is neither empty nor a copick project" in _refused(
        capsys, ["export-copick", "--results", str(run), "--out", str(keep)])
    assert f"--out {tmp_path}: would replace the run folder {run}" in _refused(
        capsys, ["export-copick", "--results", str(run), "--out", str(tmp_path)])
    assert f"--results {tmp_path / 'nope'}: not found" in _refused(
        capsys, ["export-copick", "--results", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "p")])
    assert (keep / "thesis.tex").read_text() == "precious"


def test_issue_cases_are_traceback_free_in_a_process(tmp_path, truth_folder, picks_file):
    """The issue's reproductions, through the console entry point."""
    out = tmp_path / "out"
    with_nan = tmp_path / "nan_truth"
    with_nan.mkdir()
    (with_nan / "particle_locations.txt").write_text(
        (truth_folder / "particle_locations.txt").read_text())
    mask = np.zeros((32, 32, 32), np.float32)
    mask[0, 0, 0] = np.nan
    write_mrc(with_nan / "occupancy_mask.mrc", mask, 1.0)
    for extra in (["--truth", str(truth_folder), "--seed", "-3"],
                  ["--truth", str(with_nan)],
                  ["--truth", str(truth_folder), "--out", str(picks_file)]):
        argv = ["evaluate", "--picks", str(picks_file), "--out", str(out), *extra]
        run = subprocess.run([sys.executable, "-m", "tomobench.cli", *argv],
                             capture_output=True, text=True)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_exports_warn_on_an_empty_file(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert main(["export-star", "--picks", str(empty), "--out", str(tmp_path / "e.star"),
                 "--voxel-size-nm", "1", "--volume-shape", "4", "4", "4"]) == 0
    assert capsys.readouterr().err == (f"tomobench export-star: warning: {empty}: no particles "
                                       "in this file\n")
    assert starfile.read(tmp_path / "e.star", always_dict=True)
    assert main(["export-portal", "--picks", str(empty), "--out", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().err == (f"tomobench export-portal: warning: {empty}: no "
                                       "particles in this file\n")


def test_evaluate_names_a_missing_truth(tmp_path, picks_file, capsys):
    line = _refused(capsys, ["evaluate", "--truth", str(tmp_path / "gone.json"), "--picks",
                             str(picks_file), "--out", str(tmp_path / "out")])
    assert f"--truth {tmp_path / 'gone.json'}: not found (expected a ground-truth folder" in line
