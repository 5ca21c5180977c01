"""Preflight of a SLURM run: every job the workflow is about to submit must be able to start.

SLURM (with its default ``EnforcePartLimits=NO``) accepts a job that asks for more CPUs than any
node of its partition has, or more wall time than the partition allows, and leaves it PENDING
for ever (reason ``PartitionConfig`` / ``PartitionTimeLimit``) while Snakemake waits. Before the
first submission the workflow therefore asks SLURM itself: ``sbatch --test-only`` with each
distinct request (partition, account, CPUs, memory, GPUs, wall time, constraint, QOS) exactly as
the executor plugin (snakemake-executor-plugin-slurm) will submit it, and compares the wall time
with the partition's time limit, which ``--test-only`` does not check.
"""

from __future__ import annotations

import math
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tomobench.errors import InputError

#: ``run(arguments) -> (return code, stdout + stderr)``; replaced by a fake in unit tests.
Runner = Callable[[Sequence[str]], tuple[int, str]]


def run_command(arguments: Sequence[str]) -> tuple[int, str]:
    """Run a SLURM client command; ``(return code, stdout + stderr)``."""
    try:
        result = subprocess.run(list(arguments), capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return 127, f"{arguments[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, f"{shlex.join(arguments)}: no answer within 60 s"
    return result.returncode, (result.stdout + result.stderr).strip()


@dataclass(frozen=True)
class SlurmRequest:
    """What one job asks SLURM for.

    ``partition`` may be a comma-separated list (the job may start in any of them); ``None``
    for partition, account, memory or wall time means the cluster's default.
    """

    partition: str | None
    account: str | None
    cpus: int
    mem_mb: int | None
    gpus: int = 0
    gpu_model: str | None = None
    runtime_min: int | None = None
    constraint: str | None = None
    qos: str | None = None

    def describe(self) -> str:
        """Human-readable summary, e.g. ``2 CPUs, 4000 MB, 1 GPU, 60 min, partition cpu``."""
        parts = [f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}"]
        if self.mem_mb is not None:
            parts.append(f"{self.mem_mb} MB")
        if self.gpus:
            model = f" {self.gpu_model}" if self.gpu_model else ""
            parts.append(f"{self.gpus}{model} GPU{'s' if self.gpus != 1 else ''}")
        if self.runtime_min is not None:
            parts.append(f"{self.runtime_min} min")
        parts.append(f"partition {self.partition or '(cluster default)'}")
        if self.account:
            parts.append(f"account {self.account}")
        if self.constraint:
            parts.append(f"constraint {self.constraint}")
        if self.qos:
            parts.append(f"QOS {self.qos}")
        return ", ".join(parts)

    def sbatch_arguments(self) -> list[str]:
        """``sbatch`` options of this request (as the executor plugin writes them)."""
        arguments = ["--ntasks=1", f"--cpus-per-task={self.cpus}"]
        if self.partition:
            arguments.append(f"--partition={self.partition}")
        if self.account:
            arguments.append(f"--account={self.account}")
        if self.mem_mb is not None:
            arguments.append(f"--mem={self.mem_mb}")
        if self.gpus:
            model = f"{self.gpu_model}:" if self.gpu_model else ""
            arguments.append(f"--gpus={model}{self.gpus}")
        if self.runtime_min is not None:
            arguments.append(f"--time={self.runtime_min}")
        if self.constraint:
            arguments.append(f"--constraint={self.constraint}")
        if self.qos:
            arguments.append(f"--qos={self.qos}")
        return arguments


def _optional_int(value) -> int | None:
    return None if value in (None, "") else int(value)


def request_from_resources(
    resources: Mapping, threads: int, partitions: Sequence[str] = ()
) -> SlurmRequest:
    """The request of a job with Snakemake ``resources`` and ``threads``.

    Mirrors the plugin: ``cpus_per_task`` when set, else the rule's threads; ``mem_mb``;
    ``gpu`` (+ ``gpu_model``); ``runtime`` (minutes); ``slurm_partition`` — or, when the job
    names none, any of ``partitions`` (the plugin's partition file, if one is given).
    """
    cpus = _optional_int(resources.get("cpus_per_task")) or int(threads)
    partition = resources.get("slurm_partition") or (",".join(partitions) or None)
    return SlurmRequest(
        partition=partition,
        account=resources.get("slurm_account") or None,
        cpus=max(1, cpus),
        mem_mb=_optional_int(resources.get("mem_mb")),
        gpus=_optional_int(resources.get("gpu")) or 0,
        gpu_model=resources.get("gpu_model") or None,
        runtime_min=_optional_int(resources.get("runtime")),
        constraint=resources.get("constraint") or None,
        qos=resources.get("qos") or None,
    )


def slurm_minutes(text: str) -> float:
    """Minutes of a SLURM time limit (``[days-]hours:minutes:seconds``, ``minutes``,
    ``minutes:seconds``, ``UNLIMITED``/``infinite`` = inf)."""
    text = text.strip()
    if text.lower() in ("unlimited", "infinite", "n/a", ""):
        return math.inf
    days, _, clock = text.rpartition("-")
    fields = [int(field) for field in clock.split(":")]
    if len(fields) == 1:
        hours, minutes, seconds = 0, fields[0], 0
    elif len(fields) == 2:
        hours, minutes, seconds = 0, fields[0], fields[1]
    else:
        hours, minutes, seconds = fields[-3:]
    return (int(days or 0) * 24 + hours) * 60 + minutes + seconds / 60


def partition_time_limits(run: Runner = run_command) -> tuple[dict[str, float], str | None]:
    """``({partition: time limit in minutes}, default partition)`` from ``sinfo``."""
    code, output = run(["sinfo", "--noheader", "--format=%P|%l"])
    if code != 0:
        raise InputError(f"SLURM: sinfo failed, cannot check the partitions: {output}")
    limits: dict[str, float] = {}
    default = None
    for line in output.splitlines():
        if "|" not in line:
            continue
        name, limit = line.strip().split("|", 1)
        if name.endswith("*"):
            name = name[:-1]
            default = name
        limits[name] = slurm_minutes(limit)
    return limits, default


def _time_problem(request: SlurmRequest, limits: dict[str, float], default: str | None):
    if request.runtime_min is None:
        return None
    names = request.partition.split(",") if request.partition else [default]
    allowed = [limits[name] for name in names if name in limits]
    if allowed and request.runtime_min > max(allowed):
        return (
            f"the wall time {request.runtime_min} min exceeds the partition's time limit "
            f"of {max(allowed):g} min"
        )
    return None


def unschedulable_requests(
    requests: Mapping[SlurmRequest, Sequence[str]], run: Runner = run_command
) -> list[str]:
    """One message per request that SLURM could never start, naming its rules and the reason.

    ``requests`` maps each distinct request to the rule names of its jobs (one entry per job).
    """
    if not requests:
        return []
    limits, default = partition_time_limits(run)
    problems = []
    for request, rules in requests.items():
        code, output = run(
            ["sbatch", "--test-only", "--job-name=tomobench-preflight", "--output=/dev/null",
             *request.sbatch_arguments(), "--wrap=true"]
        )
        reason = None if code == 0 else output.splitlines()[-1] if output else f"exit {code}"
        reason = reason or _time_problem(request, limits, default)
        if reason:
            counts = {rule: list(rules).count(rule) for rule in sorted(set(rules))}
            jobs = ", ".join(f"{rule} ({n} job{'s' if n != 1 else ''})" for rule, n in
                             counts.items())
            problems.append(f"{jobs}: asks for {request.describe()}; SLURM: {reason}")
    return problems


def check_schedulable(
    requests: Mapping[SlurmRequest, Sequence[str]], run: Runner = run_command
) -> None:
    """Raise ``InputError`` listing every request SLURM could never start (nothing submitted)."""
    problems = unschedulable_requests(requests, run)
    if problems:
        raise InputError(
            "SLURM could never start these jobs, so none was submitted:\n  "
            + "\n  ".join(problems)
            + "\nLower the rule's threads or the config sizes its memory derives from, set "
            "device: cpu when the cluster has no GPU, or choose a partition, account and "
            "runtime that fit (profiles/slurm/config.yaml, default-resources)."
        )
