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
