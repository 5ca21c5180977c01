"""The Snakemake workflow as a whole: lint, dry runs, the tiny end-to-end run and its outputs,
reproducibility, no-op reruns, targeted reruns and config validation errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tomobench.classes import class_id
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations, read_picks
from tomobench.workflow_support import code_dependencies

from .conftest import REPO_ROOT, STRUCTURES_DIR, requires_structures

CONFIGS = ["config.yaml", "test.yaml", "shrec2021.yaml"]


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, check=True):
    """Run snakemake on the repository's Snakefile in ``workdir``; return the completed process."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO_ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
    ]
    env = dict(os.environ)
    if STRUCTURES_DIR is not None:
        env["TOMOBENCH_STRUCTURES"] = str(STRUCTURES_DIR)
    # --configfile takes several values: it goes last, after any target.
    configfile_args = [] if configfile is None else ["--configfile", str(configfile)]
    result = subprocess.run(
        [*command, *args, *configfile_args], capture_output=True, text=True, env=env, cwd=workdir
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


def planned_jobs(result) -> dict[str, int]:
    """Rule name -> job count from a dry run's job-stats table ('Nothing to be done' -> {})."""
    counts = {}
    text = result.stdout + result.stderr
    table = re.search(r"Job stats:\n(.*?)\n\n", text, re.S)
    if table is None:
        return counts
    for line in table.group(1).splitlines()[2:]:
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit() and fields[0] != "total":
            counts[fields[0]] = int(fields[1])
    return counts


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
    assert jobs["evaluate_picks"] == len(config["methods"]) * len(config["tomograms"]["test"])


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
    assert jobs["evaluate_picks"] == 1
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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if STRUCTURES_DIR is None:
        pytest.skip("../shared/structures is absent (needed for real protein structures)")
    workdir = tmp_path_factory.mktemp("tiny_run")
    snakemake(workdir, configfile=REPO_ROOT / "config" / "test.yaml")
    return workdir


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
    assert (run / "config.yaml").is_file()


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
def test_same_seed_gives_byte_identical_outputs(tiny_run, tmp_path_factory):
    """A second run of the tiny config in a fresh directory reproduces every data file."""
    config_path = REPO_ROOT / "config" / "test.yaml"
    config = yaml.safe_load(config_path.read_text())
    second = tmp_path_factory.mktemp("tiny_run_again")
    targets = [
        f"results/{config['name']}/picks/DoG/model_{i}.txt" for i in config["tomograms"]["test"]
    ]
    snakemake(second, "datasets", *targets, configfile=config_path)
    first_run = tiny_run / "results" / config["name"]
    second_run = second / "results" / config["name"]
    compared = 0
    for path in sorted((second_run / "data").rglob("*")) + sorted(
        (second_run / "picks").rglob("*")
    ):
        if path.is_file():
            twin = first_run / path.relative_to(second_run)
            assert path.read_bytes() == twin.read_bytes(), path.relative_to(second_run)
            compared += 1
    assert compared >= 8 * config["tomograms"]["count"]
