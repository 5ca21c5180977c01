"""External pickers through the workflow, on a copy of the tiny run: the example picker
(examples/external_picker, kind: command) is scored in Table 3 exactly as `tomobench evaluate`
scores its picks; bad outputs fail their job with one line and leave nothing behind while the
other methods finish; a submission of a built-in method's picks (SHREC text, RELION STAR, a
copick project) reproduces that method's Table 3 row; editing the picker reruns that method only."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO_ROOT, planned_jobs, requires_structures, snakemake

TEST_CONFIG = REPO_ROOT / "config" / "test.yaml"
#: Table 3's point columns (the intervals are drawn per method name, so a copy's differ).
POINT_COLUMNS = ["RR", "TP", "FP", "FN", "MH", "RO", "AD", "Recall", "Precision", "Miss rate",
                 "F1", "CZII F-beta"]


def _copy_run(tiny_run: Path, target: Path) -> Path:
    """A copy of the finished tiny run (outputs, timestamps and .snakemake metadata) with the
    examples folder beside it, where the overlays' relative paths point."""
    shutil.copytree(tiny_run, target, symlinks=True)
    shutil.copytree(REPO_ROOT / "examples", target / "examples")
    return target


def _run(workdir: Path, *overlays: Path, args=(), check=True):
    """snakemake on config/test.yaml + overlays, with this interpreter's bin/ first on PATH
    (the example picker's `python3` needs numpy, scipy and mrcfile)."""
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    try:
        return snakemake(workdir, *args, "--configfile", str(TEST_CONFIG),
                         *map(str, overlays), check=check)
    finally:
        os.environ["PATH"] = path


def _table3(workdir: Path) -> pd.DataFrame:
    return pd.read_csv(workdir / "results" / "test" / "paper" / "table3_localization.csv",
                       index_col=0)


@requires_structures
@pytest.mark.slow
def test_example_picker_row_is_its_picks_scored_by_hand(tiny_run, tmp_path):
    from tomobench.cli import main

    workdir = _copy_run(tiny_run, tmp_path / "run")
    overlay = workdir / "examples" / "external_picker" / "overlay.yaml"
    _run(workdir, overlay)
    run = workdir / "results" / "test"
    config = yaml.safe_load(TEST_CONFIG.read_text())
    (test_id,) = config["tomograms"]["test"]
    picks = run / "picks" / "ExamplePicker" / f"model_{test_id}.txt"
    assert picks.stat().st_size > 0
    assert (run / "models" / "ExamplePicker" / "model" / "picker_model.json").is_file()
    assert not (run / "work" / "ExamplePicker" / f"model_{test_id}.picks").exists()  # temp
    gold = config["potential"]["gold_diameter_nm"]
    main(["evaluate", "--truth", str(run / "data" / f"model_{test_id}"), "--picks", str(picks),
          "--out", str(tmp_path / "by_hand"), "--fiducial-radius-nm", str(sum(gold) / 4)])
    by_hand = pd.read_csv(tmp_path / "by_hand" / "summary.csv", index_col=0).iloc[0]
    row = _table3(workdir).loc["ExamplePicker"]
    for table_column, column in (("RR", "RR"), ("TP", "TP"), ("FP", "FP"), ("FN", "FN"),
                                 ("MH", "MH"), ("RO", "RO"), ("AD", "AD"),
                                 ("Recall", "recall"), ("Precision", "precision"),
                                 ("Miss rate", "miss_rate"), ("F1", "F1"),
                                 ("CZII F-beta", "czii_fbeta_micro")):
        assert row[table_column] == pytest.approx(by_hand[column], rel=1e-5, abs=1e-9), column
    assert row["F1_lo"] <= row["F1"] <= row["F1_hi"]
    table7 = pd.read_csv(run / "paper" / "table7_timings.csv", index_col=0)
    for column in ("Training (s)", "Inference (s)", "Training CPU (s)", "Peak memory (MB)"):
        assert table7.loc["ExamplePicker", column] > 0, column
    for table in ("table4_classification", "table6_size_group_f1"):
        assert "ExamplePicker" in (run / "paper" / f"{table}.csv").read_text(), table

    # editing the picker's script reruns that method (and the tables) only
    script = workdir / "examples" / "external_picker" / "picker.py"
    script.write_text(script.read_text() + "\n# edited\n")
    jobs = planned_jobs(_run(workdir, overlay, args=("-n",)))
    assert jobs.get("train_command") == 1 and jobs.get("pick_command") == 1, jobs
    for rule in ("pick_dog", "pick_learning", "train_learning", "pick_template_matching",
                 "reconstruct", "command_manifest"):
        assert rule not in jobs, (rule, jobs)


@requires_structures
@pytest.mark.slow
def test_bad_outputs_fail_their_job_with_one_line(tiny_run, tmp_path):
    workdir = _copy_run(tiny_run, tmp_path / "run")
    bad = {
        "Crashes": "echo broken {manifest} >&2; exit 3",
        "NoFile": "echo nothing to {output}",
        "BadClass": "echo 'XXXX 10 10 10' > {output}",
        "Outside": "echo '1BXN 10 10 99' > {output}",
        "NotFinite": "printf '1BXN 1 2 3\\n1BXN nan 2 3\\n' > {output}",
        "Empty": ": > {output}",
        "Slow": "sleep 120; echo {output}",
    }
    methods = {name: {"kind": "command", "pick": command} for name, command in bad.items()}
    methods["Slow"]["timeout_min"] = 0.05
    methods["Fine"] = {"kind": "command", "pick": "echo '1BXN 20 20 20 1.0' > {output}"}
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(yaml.safe_dump({"methods": methods}))
    result = _run(workdir, overlay, args=("--keep-going", "evaluate"), check=False)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if line.startswith("tomobench: error:")]
    expected = {
        "Crashes": "pick command exited with status 3 (log: results/test/logs/pick_command/"
                   "Crashes_model_2.log)",
        "NoFile": "pick command wrote no picks file results/test/work/NoFile/model_2.picks",
        "BadClass": "results/test/work/BadClass/model_2.picks:1: unknown class 'XXXX'",
        "Outside": "model_2.picks:1: z = 99 is outside the volume (0..39 voxels",
        "NotFinite": "model_2.picks:2: non-finite x coordinate nan",
        "Empty": "no picks, but the tomogram holds particles",
        "Slow": "pick command exceeded timeout_min = 0.05 min",
    }
    for method, problem in expected.items():
        mine = [line for line in errors if f"method {method}, tomogram model_2: " in line]
        assert len(mine) == 1, (method, errors)
        assert problem in mine[0], (method, mine[0])
        assert f"(log: results/test/logs/pick_command/{method}_model_2.log)" in mine[0]
        assert not (workdir / "results" / "test" / "picks" / method).exists(), method
        assert not (workdir / "results" / "test" / "work" / method / "model_2.picks").exists()
    assert "broken" in (workdir / "results/test/logs/pick_command/Crashes_model_2.log").read_text()
    # the other methods' results are there
    assert (workdir / "results" / "test" / "evaluation" / "Fine" / "model_2.json").is_file()
    assert (workdir / "results" / "test" / "evaluation" / "DoG" / "model_2.json").is_file()


@requires_structures
@pytest.mark.slow
def test_submission_of_builtin_picks_gives_its_row(tiny_run, tmp_path):
    from tomobench.formats.relion import geometry_from_folder, write_particle_star
    from tomobench.particles import read_picks

    workdir = _copy_run(tiny_run, tmp_path / "run")
    run = workdir / "results" / "test"
    config = yaml.safe_load(TEST_CONFIG.read_text())
    shrec, star = workdir / "submitted" / "shrec", workdir / "submitted" / "star"
    shrec.mkdir(parents=True)
    star.mkdir(parents=True)
    for i in config["tomograms"]["test"]:
        picks = run / "picks" / "DoG" / f"model_{i}.txt"
        shutil.copy(picks, shrec / picks.name)
        write_particle_star(star / f"model_{i}.star", read_picks(picks),
                            geometry_from_folder(run / "data" / f"model_{i}"))
    submissions = {
        "DoG-copy": {"kind": "submission", "path": "submitted/shrec", "format": "shrec"},
        "DoG-star": {"kind": "submission", "path": "submitted/star", "format": "star"},
    }
    try:
        import copick
    except ImportError:  # the 'formats' extra is optional
        copick = None
    if copick is not None:  # the run as a copick project; DoG's points under its user id
        from tomobench.cli import main
        from tomobench.formats.copick_project import SESSION, _user_id

        assert main(["export-copick", "--results", str(run), "--out",
                     str(workdir / "submitted" / "copick")]) == 0
        submissions["DoG-copick"] = {"kind": "submission", "format": "copick",
                                     "path": "submitted/copick/copick_config.json",
                                     "user": _user_id("DoG"), "session": SESSION}
    overlay = tmp_path / "submissions.yaml"
    overlay.write_text(yaml.safe_dump({"methods": submissions}))
    jobs = planned_jobs(_run(workdir, overlay, args=("-n",)))
    assert jobs.get("pick_submission") == len(submissions) and "pick_dog" not in jobs, jobs
    _run(workdir, overlay)
    table3 = _table3(workdir)
    for copy in submissions:
        assert table3.loc[copy, POINT_COLUMNS].tolist() == \
            table3.loc["DoG", POINT_COLUMNS].tolist(), copy
    first = f"model_{config['tomograms']['test'][0]}.txt"
    assert (run / "picks" / "DoG-copy" / first).read_text() == \
        (run / "picks" / "DoG" / first).read_text()

    # a test tomogram without its file: one line before any job runs
    (shrec / f"model_{config['tomograms']['test'][0]}.txt").unlink()
    result = _run(workdir, overlay, args=("-n",), check=False)
    assert result.returncode == 1
    assert (f"tomobench: error: config key methods.DoG-copy.path: submitted/shrec/model_"
            f"{config['tomograms']['test'][0]}.txt not found") in result.stderr


def _job_inputs(result, rule: str) -> str:
    """The ``input:`` line of ``rule``'s job in a dry run's listing."""
    text = result.stdout + result.stderr
    match = re.search(rf"^rule {rule}:\n(?:    .*\n)*?    input: (.*)$", text, re.M)
    assert match is not None, (rule, text[-3000:])
    return match.group(1)


@requires_structures
@pytest.mark.slow
def test_open_benchmark_overlay_command_and_submission_in_every_table(tiny_run, tmp_path):
    """examples/open_benchmark/overlay.yaml on the tiny run, with the submission's folder made
    as its README says (make_submission.py: the example picker outside the workflow): both
    methods are inputs of every table and figure job, have intervals in Tables 3 and 4, rows
    in Table 7, and the same picker gives the same Table 3 row either way."""
    workdir = _copy_run(tiny_run, tmp_path / "run")
    run = workdir / "results" / "test"
    maker = workdir / "examples" / "open_benchmark" / "make_submission.py"
    spec = importlib.util.spec_from_file_location("make_submission", maker)
    make_submission = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_submission)
    submitted = workdir / "submitted" / "example"
    assert make_submission.main(["make_submission.py", str(run), str(submitted)]) == 0
    config = yaml.safe_load(TEST_CONFIG.read_text())
    test_ids = config["tomograms"]["test"]
    assert sorted(p.name for p in submitted.iterdir()) == [f"model_{i}.txt" for i in test_ids]

    overlay = yaml.safe_load((workdir / "examples/open_benchmark/overlay.yaml").read_text())
    assert {e["kind"] for e in overlay["methods"].values()} == {"command", "submission"}
    overlay["methods"]["ExampleSubmission"]["path"] = "submitted/example"
    overlay_file = tmp_path / "open_benchmark_test.yaml"
    overlay_file.write_text(yaml.safe_dump(overlay))

    dry = _run(workdir, overlay_file, args=("-n",))
    jobs = planned_jobs(dry)
    assert jobs.get("train_command") == 1 and jobs.get("pick_submission") == len(test_ids), jobs
    evaluations = [f"results/test/evaluation/{method}/model_{i}.json"
                   for method in ("ExamplePicker", "ExampleSubmission") for i in test_ids]
    for rule in ("table_localization", "table_class_f1", "table_size_group_f1",
                 "figure_cumulative_f1", "figure_f1_vs_weight", "figure_confusion_matrices"):
        inputs = _job_inputs(dry, rule)
        assert all(path in inputs for path in evaluations), (rule, inputs)
    picks = [f"results/test/picks/{method}/model_{test_ids[0]}.txt"
             for method in ("ExamplePicker", "ExampleSubmission")]
    assert all(path in _job_inputs(dry, "figure_central_slice") for path in picks)
    assert "benchmarks/train_command/ExamplePicker.tsv" in _job_inputs(dry, "table_timings")

    _run(workdir, overlay_file)
    table3 = _table3(workdir)
    table4 = pd.read_csv(run / "paper" / "table4_classification.csv", index_col=0)
    table7 = pd.read_csv(run / "paper" / "table7_timings.csv", index_col=0)
    for method in ("ExamplePicker", "ExampleSubmission"):
        row = table3.loc[method]
        assert row["F1_lo"] <= row["F1"] <= row["F1_hi"], method
        assert table4.loc[method, "1BXN_lo"] <= table4.loc[method, "1BXN"] \
            <= table4.loc[method, "1BXN_hi"], method
        assert method in table7.index, method
    # the same picker on the same tomograms, in the workflow or outside it
    assert table3.loc["ExampleSubmission", POINT_COLUMNS].tolist() == \
        table3.loc["ExamplePicker", POINT_COLUMNS].tolist()
    assert table7.loc["ExamplePicker", "Inference (s)"] > 0
    assert pd.isna(table7.loc["ExampleSubmission", "Inference (s)"])  # made elsewhere: N/A
    for number, stem in ((9, "cumulative_f1"), (10, "f1_vs_weight")):
        assert (run / "paper" / f"figure{number}_{stem}.png").stat().st_size > 0


@requires_structures
def test_open_benchmark_overlay_plans_both_methods_on_the_default_benchmark(tmp_path):
    """`make run CONFIG="config/config.yaml examples/open_benchmark/overlay.yaml"`, planned: the
    committed submission covers the default test tomograms, and both methods are inputs of
    every table and figure job."""
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    overlay = tmp_path / "examples" / "open_benchmark" / "overlay.yaml"
    dry = snakemake(tmp_path, "-n", "--configfile", str(REPO_ROOT / "config" / "config.yaml"),
                    str(overlay))
    test_ids = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())[
        "tomograms"]["test"]
    jobs = planned_jobs(dry)
    assert jobs.get("pick_submission") == len(test_ids) == jobs.get("pick_command"), jobs
    evaluations = [f"results/default/evaluation/{method}/model_{i}.json"
                   for method in ("ExamplePicker", "ExampleSubmission") for i in test_ids]
    for rule in ("table_localization", "table_class_f1", "table_size_group_f1",
                 "figure_cumulative_f1", "figure_f1_vs_weight", "figure_confusion_matrices"):
        inputs = _job_inputs(dry, rule)
        assert all(path in inputs for path in evaluations), (rule, inputs)
    assert "benchmarks/train_command/ExamplePicker.tsv" in _job_inputs(dry, "table_timings")
