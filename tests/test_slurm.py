"""SLURM: the preflight (tomobench.slurm) against a scripted scheduler, the cluster profile's
job requests in dry runs, and, marked ``slurm``, a live single-node cluster
(tests/slurm/cluster.sh, started by .ci/run) running part of the tiny DAG through the shipped
profile, checked against sacct and against a local run of the same targets."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tomobench.errors import InputError
from tomobench.slurm import (
    SlurmRequest,
    check_schedulable,
    request_from_resources,
    slurm_minutes,
    unschedulable_requests,
)

from .conftest import REPO_ROOT, requires_structures
from .test_workflow import snakemake

TEST_CONFIG = REPO_ROOT / "config" / "test.yaml"
PROFILE = REPO_ROOT / "profiles" / "slurm"

# --- the preflight against a scripted scheduler ----------------------------------------------


class FakeSlurm:
    """sinfo/sbatch --test-only of a cluster with one 2-CPU, 8000 MB node without GPUs in
    partition ``cpu`` (default, 1 day) and a ``short`` partition (30 min); records calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, arguments):
        self.calls.append(list(arguments))
        if arguments[0] == "sinfo":
            return 0, "cpu*|1-00:00:00\nshort|30:00\n"
        options = dict(a.split("=", 1) for a in arguments if a.startswith("--") and "=" in a)
        if options.get("--partition", "cpu") not in ("cpu", "short", "cpu,short"):
            return 1, "sbatch: error: invalid partition specified: gpu\n" \
                      "allocation failure: Invalid partition name specified"
        if "--gpus" in options:
            return 1, "sbatch: error: Invalid generic resource (gres) specification"
        if int(options["--cpus-per-task"]) > 2 or int(options.get("--mem", 0)) > 8000:
            return 1, "allocation failure: Requested node configuration is not available"
        return 0, "sbatch: Job 7 to start at 2026-01-01T00:00:00 using 1 processors on nodes vm"


def test_request_follows_the_rule_threads_and_resources():
    request = request_from_resources({"mem_mb": 1500, "runtime": 60, "slurm_partition": "cpu",
                                      "slurm_account": "lab", "gpu": 0}, threads=2)
    assert request == SlurmRequest("cpu", "lab", cpus=2, mem_mb=1500, runtime_min=60)
    assert request.sbatch_arguments() == [
        "--ntasks=1", "--cpus-per-task=2", "--partition=cpu", "--account=lab", "--mem=1500",
        "--time=60"]
    explicit = request_from_resources({"cpus_per_task": 4, "gpu": 1, "gpu_model": "a100"}, 2,
                                      partitions=["cpu", "gpu"])
    assert (explicit.cpus, explicit.gpus, explicit.partition) == (4, 1, "cpu,gpu")
    assert "--gpus=a100:1" in explicit.sbatch_arguments()
    assert explicit.describe() == "4 CPUs, 1 a100 GPU, partition cpu,gpu"


@pytest.mark.parametrize(("text", "minutes"), [
    ("30:00", 30), ("45", 45), ("2:00:00", 120), ("1-00:00:00", 1440), ("1-12", 1452),
    ("UNLIMITED", float("inf")), ("infinite", float("inf")), ("0:30", 0.5)])
def test_slurm_time_limits_in_minutes(text, minutes):
    assert slurm_minutes(text) == minutes


def test_preflight_names_every_job_that_could_never_start():
    fake = FakeSlurm()
    fits = SlurmRequest("cpu", None, cpus=2, mem_mb=4000, runtime_min=60)
    too_many_cpus = SlurmRequest("cpu", None, cpus=4, mem_mb=1000)
    gpu = SlurmRequest(None, None, cpus=1, mem_mb=1000, gpus=1)
    too_long = SlurmRequest("short", None, cpus=1, mem_mb=1000, runtime_min=240)
    problems = unschedulable_requests({
        fits: ["reconstruct"] * 3,
        too_many_cpus: ["simulate_scene", "simulate_scene", "reconstruct"],
        gpu: ["train_learning"],
        too_long: ["match_templates"],
    }, run=fake)
    assert problems == [
        "reconstruct (1 job), simulate_scene (2 jobs): asks for 4 CPUs, 1000 MB, partition cpu;"
        " SLURM: allocation failure: Requested node configuration is not available",
        "train_learning (1 job): asks for 1 CPU, 1000 MB, 1 GPU, partition (cluster default);"
        " SLURM: sbatch: error: Invalid generic resource (gres) specification",
        "match_templates (1 job): asks for 1 CPU, 1000 MB, 240 min, partition short;"
        " SLURM: the wall time 240 min exceeds the partition's time limit of 30 min",
    ]
    assert sum(call[:2] == ["sbatch", "--test-only"] for call in fake.calls) == 4
    with pytest.raises(InputError, match="none was submitted:\n  reconstruct"):
        check_schedulable({too_many_cpus: ["reconstruct"]}, run=fake)
    check_schedulable({fits: ["reconstruct"]}, run=fake)
    check_schedulable({}, run=fake)


def test_preflight_default_partition_time_limit_and_sinfo_failure():
    fake = FakeSlurm()
    day_and_more = SlurmRequest(None, None, cpus=1, mem_mb=None, runtime_min=1441)
    [problem] = unschedulable_requests({day_and_more: ["train_learning"]}, run=fake)
    assert problem.endswith("exceeds the partition's time limit of 1440 min")
    with pytest.raises(InputError, match="sinfo failed"):
        unschedulable_requests({day_and_more: ["x"]}, run=lambda args: (1, "no controller"))


# --- the profile's job requests (dry runs, no scheduler needed) --------------------------------


def job_resources(result) -> list[tuple[str, dict]]:
    """(rule, resources) of every job a dry run prints (threads as a resource)."""
    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", result.stdout):
        head = re.match(r"rule (\w+):", block)
        if not head:
            continue
        resources = {}
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        for item in (line.group(1).split(", ") if line else []):
            key, _, value = item.partition("=")
            resources[key] = value
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources["threads"] = threads.group(1) if threads else "1"
        jobs.append((head.group(1), resources))
    return jobs


def dry_run_with_profile(tmp_path, *args, config: dict | None = None):
    pytest.importorskip("snakemake_executor_plugin_slurm",
                        reason="snakemake-executor-plugin-slurm is not installed")
    path = TEST_CONFIG
    if config is not None:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--workflow-profile", str(PROFILE), *args,
                       configfile=path)
    return job_resources(result)


GPU_RULES = {"compute_potential", "simulate_tilt_series", "match_templates", "train_learning",
             "pick_learning"}


def test_cluster_profile_asks_for_what_each_rule_declares(tmp_path):
    jobs = dry_run_with_profile(tmp_path)
    assert {"simulate_scene", "train_learning", "evaluate_picks"} <= {rule for rule, _ in jobs}
    for rule, resources in jobs:
        if rule == "all":
            continue
        assert "cpus_per_task" not in resources, rule
        assert resources.get("gpu", "0") == "0", rule  # test.yaml: device cpu
        assert int(resources["mem_mb"]) <= 4000, (rule, resources)
        assert resources["slurm_partition"] == "cpu" and resources["runtime"] == "240", rule
    threads = {rule: int(r["threads"]) for rule, r in jobs}
    assert threads["train_learning"] == 1 and threads["simulate_scene"] == 2


def test_cluster_profile_gpus_only_with_device_cuda(tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    for device, expected in (("cuda", "1"), ("auto", "0")):
        config["device"] = device
        (tmp_path / device).mkdir()
        jobs = dry_run_with_profile(tmp_path / device, config=config)
        gpu = {rule: r.get("gpu", "0") for rule, r in jobs if rule != "all"}
        assert {gpu[rule] for rule in GPU_RULES} == {expected}, (device, gpu)
        assert {value for rule, value in gpu.items() if rule not in GPU_RULES} == {"0"}, gpu


def test_site_keys_can_come_from_the_command_line(tmp_path):
    jobs = dry_run_with_profile(tmp_path, "--default-resources", "slurm_partition=short",
                                "slurm_account=lab42", "runtime=30")
    remote = [r for rule, r in jobs if rule != "all"]
    assert remote and all(
        (r["slurm_partition"], r["slurm_account"], r["runtime"]) == ("short", "lab42", "30")
        for r in remote)
    assert all(int(r["mem_mb"]) < 4000 for r in remote)  # the rules' own memory stays


# --- the live cluster --------------------------------------------------------------------------

#: A real slice of the tiny DAG: potentials, scenes, tilt series, reconstructions, template
#: matching + TM picks + their evaluation, DeepFinder training, Table 1 (a cluster job) and
#: Table 5 (a local rule).
TARGETS = [
    "results/test/evaluation/TM/model_2.json",
    "results/test/models/DeepFinder/checkpoint.pt",
    "results/test/paper/table1_structures.csv",
    "results/test/paper/table5_size_groups.csv",
]
REQUIRED_RULES = {"simulate_scene", "simulate_tilt_series", "reconstruct", "match_templates",
                  "pick_template_matching", "evaluate_picks", "train_learning",
                  "table1_structures"}


def slurm_unavailable() -> str | None:
    """Why the live cluster test cannot run here, or None."""
    if os.environ.get("TOMOBENCH_SLURM_UNAVAILABLE"):
        return os.environ["TOMOBENCH_SLURM_UNAVAILABLE"]
    for command in ("sbatch", "sinfo", "sacct"):
        if shutil.which(command) is None:
            return f"{command} not found (start one with tests/slurm/cluster.sh)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed"
    state = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True,
                           text=True, timeout=30)
    if state.returncode != 0:
        return f"sinfo failed: {state.stderr.strip()}"
    if not {"idle", "mix"} & set(state.stdout.split()):
        return f"no idle SLURM node (sinfo: {state.stdout.strip() or 'none'})"
    return None


def requires_slurm(function):
    reason = slurm_unavailable()
    return pytest.mark.skipif(reason is not None, reason=f"no SLURM cluster: {reason}")(function)


def sacct_jobs(run_id: str, since: datetime.datetime) -> list[dict]:
    """sacct rows (JobID, State, ExitCode, AllocCPUS, ReqMem, Partition, Account, Comment) of
    the jobs named ``run_id`` (the executor names every job of a run after its run id)."""
    fields = ["JobID", "State", "ExitCode", "AllocCPUS", "ReqMem", "Partition", "Account",
              "Comment"]
    result = subprocess.run(
        ["sacct", "-X", "--parsable2", "--noheader", f"--name={run_id}",
         f"--starttime={since:%Y-%m-%dT%H:%M:%S}", f"--format={','.join(fields)}%200"],
        capture_output=True, text=True, check=True)
    return [dict(zip(fields, line.split("|"), strict=True)) for line in result.stdout.splitlines()]


def compared_files(run: Path) -> dict[str, bytes]:
    """Every output file of a run but logs, benchmark TSVs and the timing table (Table 7)."""
    skipped = ("logs/", "benchmarks/", "paper/table7_timings")
    return {
        str(path.relative_to(run)): path.read_bytes()
        for path in sorted(run.rglob("*"))
        if path.is_file() and not str(path.relative_to(run)).startswith(skipped)
    }


@pytest.fixture(scope="module")
def cluster_and_local_runs(tmp_path_factory):
    local = tmp_path_factory.mktemp("local_run")
    snakemake(local, *TARGETS, configfile=TEST_CONFIG)
    cluster = tmp_path_factory.mktemp("slurm_run")
    since = datetime.datetime.now() - datetime.timedelta(minutes=1)
    started = time.monotonic()
    result = snakemake(cluster, *TARGETS, "--workflow-profile", str(PROFILE),
                       "--slurm-init-seconds-before-status-checks", "5",
                       configfile=TEST_CONFIG)
    seconds = time.monotonic() - started
    run_id = re.search(r"SLURM run ID: (\S+)", result.stdout + result.stderr).group(1)
    return local, cluster, result, sacct_jobs(run_id, since), seconds


@pytest.mark.slurm
@pytest.mark.slow
@requires_structures
@requires_slurm
def test_profile_runs_the_dag_through_slurm(cluster_and_local_runs):
    local, cluster, result, jobs, seconds = cluster_and_local_runs
    print(f"SLURM run of {len(jobs)} jobs: {seconds:.0f} s")
    for job in jobs:
        print("sacct:", " ".join(f"{k}={v}" for k, v in job.items()))
    assert jobs and {job["State"] for job in jobs} == {"COMPLETED"}, jobs
    rules = {re.match(r"rule_(\w+?)(_wildcards_|$)", job["Comment"]).group(1) for job in jobs}
    assert REQUIRED_RULES <= rules, rules
    assert not rules & {"table_size_groups", "record_config"}  # local rules stay local
    assert {(job["Partition"], job["Account"]) for job in jobs} == {("cpu", "tomobench")}
    train = [job for job in jobs if job["Comment"].startswith("rule_train_learning")]
    assert {job["AllocCPUS"] for job in train} == {"1"}  # the rule's threads
    submitted = len(re.findall(r"has been submitted with SLURM jobid", result.stdout +
                               result.stderr))
    assert submitted == len(jobs)
    # SLURM's own logs stay under results/ (and are deleted for successful jobs).
    assert {path.name for path in cluster.iterdir()} <= {"results", ".snakemake", "resources"}


@pytest.mark.slurm
@pytest.mark.slow
@requires_structures
@requires_slurm
def test_cluster_outputs_equal_a_local_run(cluster_and_local_runs):
    local, cluster, *_ = cluster_and_local_runs
    local_files = compared_files(local / "results" / "test")
    cluster_files = compared_files(cluster / "results" / "test")
    assert sorted(cluster_files) == sorted(local_files)
    assert len(local_files) > 40
    different = [name for name in local_files if local_files[name] != cluster_files[name]]
    assert different == []


@pytest.mark.slurm
@requires_structures
@requires_slurm
def test_unschedulable_jobs_fail_before_any_submission(tmp_path):
    """The issue's case: more CPUs than the node has (a profile's cpus_per_task), and a GPU on
    a cluster without one (what ``device: cuda`` asks for)."""
    cpus = int(subprocess.run(["sinfo", "--noheader", "--format=%c"], capture_output=True,
                              text=True, check=True).stdout.split()[0])
    started = time.monotonic()
    result = snakemake(tmp_path, "--workflow-profile", str(PROFILE),
                       "--set-resources", f"simulate_scene:cpus_per_task={cpus + 2}",
                       "train_learning:gpu=1", configfile=TEST_CONFIG,
                       check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert time.monotonic() - started < 120, "the preflight must not wait for the queue"
    assert "SLURM could never start these jobs, so none was submitted" in output
    assert re.search(rf"simulate_scene \(3 jobs\): asks for {cpus + 2} CPUs", output), output
    assert re.search(r"train_learning \(1 job\): asks for 1 CPU, \d+ MB, 1 GPU.*; SLURM: .*gres",
                     output), output
    assert "has been submitted with SLURM jobid" not in output
