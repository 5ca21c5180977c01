"""The Snakemake workflow as a whole: lint, dry runs, the tiny end-to-end run and its outputs,
reproducibility, no-op reruns, targeted reruns and config validation errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import yaml

from tomobench.classes import class_id
from tomobench.methods.learning import KINDS
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations, read_picks
from tomobench.workflow_support import code_dependencies

from .conftest import REPO_ROOT, planned_jobs, requires_structures, snakemake

CONFIGS = ["config.yaml", "test.yaml", "shrec2021.yaml"]


def test_lint_is_clean(tmp_path):
    result = snakemake(
        tmp_path, "--lint", configfile=REPO_ROOT / "config" / "test.yaml", check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).parent / "snakefmt"
    if not snakefmt.exists():
        pytest.skip("snakefmt is not installed (pip install -e '.[dev]')")
    targets = [REPO_ROOT / "Snakefile", REPO_ROOT / "workflow" / "rules"]
    result = subprocess.run(
        [str(snakefmt), "--check", *map(str, targets)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config_name", CONFIGS)
def test_dry_run_of_each_config(tmp_path, config_name):
    result = snakemake(tmp_path, "-n", configfile=REPO_ROOT / "config" / config_name)
    jobs = planned_jobs(result)
    config = yaml.safe_load((REPO_ROOT / "config" / config_name).read_text())
    assert jobs["reconstruct"] == config["tomograms"]["count"]
    scored = len(config["methods"]) + 2  # + the oracle and random controls
    assert jobs["evaluate_picks"] == scored * len(config["tomograms"]["test"])
    assert jobs["pick_control"] == 2 * len(config["tomograms"]["test"])


def test_default_config_runs_all_seven_paper_methods(tmp_path):
    """The default run has the paper's seven methods (six learned kinds, TM and TM-F) and DoG."""
    path = REPO_ROOT / "config" / "config.yaml"
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path))
    methods = yaml.safe_load(path.read_text())["methods"]
    learned = {"deepfinder", "mc_ds_net", "urfinder", "u_clstm", "yopo", "cfn"}
    assert {params["kind"] for params in methods.values()} == learned | {"tm", "tm_f", "dog"}
    assert {"URFinder", "DeepFinder", "U-CLSTM", "MC-DS-Net", "YOPO", "CFN", "TM", "TM-F"
            } <= methods.keys()
    assert jobs["train_learning"] == 6


def test_cluster_profile_dry_run(tmp_path):
    pytest.importorskip(
        "snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm not installed"
    )
    result = snakemake(
        tmp_path,
        "-n",
        "--workflow-profile",
        str(REPO_ROOT / "profiles" / "slurm"),
        configfile=REPO_ROOT / "config" / "test.yaml",
    )
    assert "slurm_partition=cpu" in result.stdout and "gpu=1" not in result.stdout


def test_default_config_is_used_without_configfile(tmp_path):
    result = snakemake(tmp_path, "-n", "datasets")
    assert "results/default/" in result.stdout


def test_configfile_replaces_the_default(tmp_path):
    """A --configfile replaces config/config.yaml: its methods alone are planned."""
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    config["methods"] = {"DoG": config["methods"]["DoG"]}
    path = tmp_path / "one_method.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path))
    assert jobs["evaluate_picks"] == 1 + 2  # DoG and the two controls
    assert "train_learning" not in jobs and "match_templates" not in jobs


@pytest.mark.parametrize(
    ("key_path", "value", "expected"),
    [
        (("tomograms", "voxel_size_nm"), -1.0, "voxel_size_nm"),
        (("scene", "orientation_sampling"), "random", "orientation_sampling"),
        (("tomograms", "test"), [9], "tomograms.test"),
        (("methods", "DoG", "kind"), "magic", "kind"),
        (("methods", "DoG", "threshhold_sigma"), 3.0, "threshhold_sigma"),
    ],
)
def test_invalid_config_value_names_the_key(tmp_path, key_path, value, expected):
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    node = config
    for key in key_path[:-1]:
        node = node[key]
    node[key_path[-1]] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", configfile=path, check=False)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


def test_code_dependencies_follow_imports():
    files = code_dependencies(REPO_ROOT / "workflow" / "scripts" / "record_config.py")
    assert any(f.endswith("tomobench/workflow_support.py") for f in files)
    evaluate = code_dependencies(REPO_ROOT / "workflow" / "scripts" / "evaluate.py")
    assert any("evaluation" in f for f in evaluate)
    assert not any("simulation" in f for f in evaluate)


# --- the tiny configuration end to end -------------------------------------------------------


@requires_structures
@pytest.mark.slow
def test_tiny_run_outputs(tiny_run):
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    run = tiny_run / "results" / config["name"]
    size_xy = config["tomograms"]["size_xy_voxels"]
    size_z = config["tomograms"]["size_z_voxels"]
    voxel_nm = config["tomograms"]["voxel_size_nm"]
    simulation_voxel_nm = voxel_nm / config["tomograms"]["binning"]
    for i in range(config["tomograms"]["count"]):
        model = run / "data" / f"model_{i}"
        for volume in ("reconstruction", "grandmodel", "class_mask", "occupancy_mask"):
            data, voxel = read_mrc(model / f"{volume}.mrc")
            assert data.shape == (size_z, size_xy, size_xy), volume
            assert voxel == pytest.approx(voxel_nm)
        projections, voxel = read_mrc(model / "projections.mrc")
        assert projections.shape == (config["tilt_series"]["tilt_count"], 2 * size_xy, 2 * size_xy)
        assert voxel == pytest.approx(simulation_voxel_nm)
        with mrcfile.open(model / "projections.mrc", header_only=True) as stack:
            assert stack.header.ispg == 0  # MRC2014: an image stack, not a volume
        locations = read_particle_locations(model / "particle_locations.txt")
        occupancy, _ = read_mrc(model / "occupancy_mask.mrc")
        classes, _ = read_mrc(model / "class_mask.mrc")
        assert len(locations) > 0
        for line, row in enumerate(locations.itertuples(index=False), start=1):
            ids = occupancy[occupancy == line]
            assert ids.size > 0, f"particle on line {line} has no occupancy voxels"
            assert np.all(classes[occupancy == line] == class_id(row.class_name))
        parameters = json.loads((model / "acquisition_parameters.json").read_text())
        low, high = config["microscope"]["defocus_um"]
        assert low <= parameters["defocus_um"] <= high
        assert (model / "alignment_simulated.txt").stat().st_size > 0
        assert (model / "scene_parameters.json").is_file()

    for method in config["methods"]:
        for i in config["tomograms"]["test"]:
            picks = read_picks(run / "picks" / method / f"model_{i}.txt")
            assert len(picks) > 0, method
            scores = json.loads((run / "evaluation" / method / f"model_{i}.json").read_text())
            localization = scores["localization"]
            for key in ("recall", "precision", "F1"):
                assert 0.0 <= localization[key] <= 1.0
    best_recall = max(
        json.loads((run / "evaluation" / m / f"model_{i}.json").read_text())["localization"][
            "recall"
        ]
        for m in config["methods"]
        for i in config["tomograms"]["test"]
    )
    assert best_recall > 0.3, "no picker found a real share of the particles"
    for table in ("table3_localization", "table4_classification"):
        text = (run / "paper" / f"{table}.csv").read_text()
        for method in config["methods"]:
            assert method in text, (table, method)
    assert (run / "paper" / "figure9_cumulative_f1.png").stat().st_size > 1000
    for method, params in config["methods"].items():
        if params["kind"] in KINDS:  # learned: curves and tuned post-processing
            report = json.loads((run / "models" / method / "training.json").read_text())
            assert report["tuned_inference"] and report["history"], method
            assert (run / "models" / method / "training.png").stat().st_size > 10_000
    for table in ("table1_structures", "table3_localization_vs_paper"):
        assert "<table>" in (run / "paper" / f"{table}.html").read_text()
    assert (run / "config.yaml").is_file()


@requires_structures
@pytest.mark.slow
def test_tiny_run_controls_and_intervals(tiny_run):
    """Every listed centre lies in its own occupancy id; the oracle control reads 1 in Tables 3,
    4 and 6, chance stays far below; every method row carries its interval; Table 2 exists."""
    import pandas as pd

    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    run = tiny_run / "results" / config["name"]
    for i in range(config["tomograms"]["count"]):
        model = run / "data" / f"model_{i}"
        occupancy, _ = read_mrc(model / "occupancy_mask.mrc")
        locations = read_particle_locations(model / "particle_locations.txt")
        for line, row in enumerate(locations.itertuples(index=False), start=1):
            if row.class_name != "vesicle":
                assert occupancy[row.z, row.y, row.x] == line, (i, line, row.class_name)
    paper = run / "paper"
    table3 = pd.read_csv(paper / "table3_localization.csv", index_col=0)
    table4 = pd.read_csv(paper / "table4_classification.csv", index_col=0)
    table6 = pd.read_csv(paper / "table6_size_group_f1.csv", index_col=0)
    oracle, chance = "oracle (control)", "random (control)"
    assert table3.loc[oracle, ["F1", "Recall", "Precision"]].tolist() == [1.0, 1.0, 1.0]
    classes = [c for c in table4.columns if not c.endswith(("_lo", "_hi"))]
    assert (table4.loc[oracle, classes].dropna() == 1.0).all()
    groups = [c for c in table6.columns if not c.endswith(("_lo", "_hi"))]
    assert (table6.loc[oracle, groups].dropna() == 1.0).all()
    assert table3.loc[chance, "F1"] < 0.5
    for method in [*config["methods"], chance]:
        low, value, high = table3.loc[method, ["F1_lo", "F1", "F1_hi"]]
        assert low <= value <= high
    assert "| oracle (control) |" in (paper / "table3_localization.md").read_text()
    table2 = pd.read_csv(paper / "table2_particle_counts.csv", index_col=0)
    test_locations = read_particle_locations(
        run / "data" / f"model_{config['tomograms']['test'][0]}" / "particle_locations.txt")
    assert table2["Total"].sum() == len(test_locations)


@requires_structures
@pytest.mark.slow
def test_finished_run_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "-n", configfile=REPO_ROOT / "config" / "test.yaml")
    assert planned_jobs(result) == {}, result.stdout


@requires_structures
@pytest.mark.slow
def test_method_parameter_change_reruns_only_that_method(tiny_run, tmp_path):
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    config["methods"]["DoG"]["threshold_sigma"] = 9.5
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(snakemake(tiny_run, "-n", configfile=path))
    assert jobs.get("pick_dog") == len(config["tomograms"]["test"])
    assert jobs.get("evaluate_picks") == len(config["tomograms"]["test"])
    for rule in (
        "simulate_scene",
        "simulate_tilt_series",
        "reconstruct",
        "match_templates",
        "pick_template_matching",
        "train_learning",
        "pick_learning",
    ):
        assert rule not in jobs, (rule, jobs)


@requires_structures
@pytest.mark.slow
def test_module_edit_reruns_rules_that_import_it(tiny_run):
    module = REPO_ROOT / "src" / "tomobench" / "methods" / "dog.py"
    original = module.read_text()
    stat = module.stat()
    try:
        module.write_text(original + "\n# edited by test_module_edit_reruns_rules_that_import_it\n")
        jobs = planned_jobs(
            snakemake(tiny_run, "-n", configfile=REPO_ROOT / "config" / "test.yaml")
        )
    finally:
        module.write_text(original)
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "pick_dog" in jobs
    for rule in ("simulate_scene", "reconstruct", "train_learning"):
        assert rule not in jobs, (rule, jobs)


@requires_structures
@pytest.mark.slow
def test_copick_target_and_report_of_the_tiny_run(tiny_run):
    """The run as a copick project reopens with identical coordinates and scores the same; the
    HTML report builds with the tables inline."""
    copick = pytest.importorskip("copick", reason="copick not installed ('formats' extra)")
    from tomobench.cli import main

    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    run = tiny_run / "results" / config["name"]
    snakemake(tiny_run, "copick", configfile=REPO_ROOT / "config" / "test.yaml")
    project = run / "copick" / "copick_config.json"
    root = copick.from_file(str(project))
    spacing_A = 10.0 * config["tomograms"]["voxel_size_nm"]
    for i in range(config["tomograms"]["count"]):
        truth = read_particle_locations(run / "data" / f"model_{i}" / "particle_locations.txt")
        copick_run = root.get_run(f"model_{i}")
        for name, group in truth.groupby("class_name"):
            (points,) = copick_run.get_picks(object_name=name, user_id="ground-truth")
            order = np.argsort(points.instance_ids())
            xyz = points.numpy()[0][order] / spacing_A
            assert np.array_equal(xyz, group[["x", "y", "z"]].to_numpy(float)), (i, name)
    for i in config["tomograms"]["test"]:
        for method in config["methods"]:
            out = tiny_run / "copick_scores" / method
            assert main(["evaluate", "--truth", str(project), "--picks", str(project),
                         "--picks-user", method, "--runs", f"model_{i}", "--out", str(out),
                         "--mode", config["evaluation"]["mode"], "--no-plots"]) == 0
            ours = json.loads((out / f"model_{i}.json").read_text())["localization"]
            workflow = json.loads(
                (run / "evaluation" / method / f"model_{i}.json").read_text())["localization"]
            assert ours == workflow, method
    report = tiny_run / "report.html"
    snakemake(tiny_run, "--report", str(report), configfile=REPO_ROOT / "config" / "test.yaml")
    text = report.read_text()
    assert "Paper tables" in text and "table3_localization_vs_paper.html" in text


def _report_object(text: str, name: str):
    """The JSON value the Snakemake report assigns to the JavaScript variable ``name``."""
    import re

    decoder = json.JSONDecoder()
    for match in re.finditer(rf"\b{name}\s*=\s*", text):
        try:
            value, _ = decoder.raw_decode(text, match.end())
        except json.JSONDecodeError:
            continue
        if value:
            return value
    raise AssertionError(f"no {name} in the report")


def _embedded_text(result: dict) -> str:
    import base64

    return base64.b64decode(result["data_uri"].split("base64,", 1)[1]).decode("utf-8")


@requires_structures
@pytest.mark.slow
def test_report_lists_the_paper_first_with_captions_ranked_rows_and_true_landing_text(
        tiny_run):
    """The report of the tiny run: the paper's tables and figures two clicks away (a category
    with one subcategory opens its list directly), every entry labelled, its HTML page carrying
    its caption; Table 3 ranked by F1 with the controls last, split into tables of at most
    seven value columns; the landing text names the run's methods and scoring mode."""
    import html
    import re

    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    report = tiny_run / "report_structure.html"
    snakemake(tiny_run, "--report", str(report), configfile=REPO_ROOT / "config" / "test.yaml")
    text = report.read_text()
    categories = _report_object(text, "categories")
    results = _report_object(text, "results")
    paper = f"results/{config['name']}/paper"
    tables = categories["Paper tables"]
    figures = categories["Paper figures"]
    assert len(tables) == 1 and len(figures) == 1  # one click lists them all
    (table_paths,) = tables.values()
    (figure_paths,) = figures.values()
    assert {Path(p).stem for p in figure_paths} == {
        "figure4_central_slice", "figure9_cumulative_f1", "figure10_f1_vs_weight",
        "figure11_confusion_matrices"}
    assert f"{paper}/table3_localization.html" in table_paths
    assert f"{paper}/table3_localization_vs_paper.html" in table_paths
    assert len(table_paths) == 13  # Table 1 once, Tables 2-7 ours and beside the paper
    for path in table_paths:
        labels = results[path]["labels"]
        assert set(labels) == {"table", "topic", "numbers"}, path
    assert results[f"{paper}/table3_localization.html"]["labels"]["numbers"] == "tomobench"
    for path in figure_paths:
        assert set(results[path]["labels"]) == {"figure", "topic"}, path
        page = _embedded_text(results[path])
        number = re.search(r"figure(\d+)_", path).group(1)
        assert '<img src="data:image/png;base64,' in page
        assert f"<strong>Figure {number}" in page  # its caption, under the figure
    table3 = _embedded_text(results[f"{paper}/table3_localization.html"])
    assert "<strong>Table 3: localization.</strong>" in table3
    parts = re.findall(r"<table>.*?</table>", table3, re.S)
    assert len(parts) == 2  # RR ... F1, CZII: 12 value columns in two tables
    for part in parts:
        header = re.search(r"<thead>(.*?)</thead>", part, re.S).group(1)
        assert header.count('class="number"') <= 7
    rows = re.findall(r'<tr><td class="text">(.*?)</td>', parts[0])
    methods = [html.unescape(r) for r in rows]
    assert methods[-2:] == ["oracle (control)", "random (control)"]
    csv = (tiny_run / paper / "table3_localization.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in csv[1:]] == methods  # same order as the CSV
    import pandas as pd

    f1 = pd.read_csv(tiny_run / paper / "table3_localization.csv", index_col=0)["F1"]
    assert f1.iloc[:-2].is_monotonic_decreasing
    landing = _report_object(text, "workflow_desc")
    for method, params in config["methods"].items():
        assert f"<strong>{method}</strong>" in landing and params["kind"] in landing
    assert config["evaluation"]["mode"] in landing
    assert "style networks" not in landing and "exactly as the organisers" not in landing


@requires_structures
@pytest.mark.slow
def test_same_seed_gives_byte_identical_outputs(tiny_run, tmp_path_factory):
    """A second run of the tiny config in a fresh directory, on one core instead of two,
    reproduces every data file, the learned weights and the learned pickers' picks."""
    config_path = REPO_ROOT / "config" / "test.yaml"
    config = yaml.safe_load(config_path.read_text())
    second = tmp_path_factory.mktemp("tiny_run_again")
    learned = ("DeepFinder", "MC-DS-Net")
    targets = [
        f"results/{config['name']}/picks/{method}/model_{i}.txt"
        for method in ("DoG", *learned)
        for i in config["tomograms"]["test"]
    ]
    snakemake(second, "datasets", *targets, configfile=config_path, cores=1)
    first_run = tiny_run / "results" / config["name"]
    second_run = second / "results" / config["name"]
    compared = 0
    for path in [
        *sorted((second_run / "data").rglob("*")),
        *sorted((second_run / "picks").rglob("*")),
        *[second_run / "models" / method / "checkpoint.pt" for method in learned],
    ]:
        if path.is_file():
            twin = first_run / path.relative_to(second_run)
            assert path.read_bytes() == twin.read_bytes(), path.relative_to(second_run)
            compared += 1
    assert compared >= 8 * config["tomograms"]["count"] + 2 + 3 * len(config["tomograms"]["test"])
