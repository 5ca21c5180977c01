"""Peak memory of every job of a finished run against the memory its rule asks for (mem_mb).

Runs ``snakemake -n --forceall`` in the run's working directory to list each job's ``mem_mb``
and benchmark TSV, reads the peak resident memory (``max_rss``) the job recorded there, and
prints per rule: jobs, largest peak (MB), its request (MB) and the largest peak/request ratio.
A ratio near or above 1 means the memory model of tomobench.resources is too
small for that rule (a SLURM job would be killed). Run after a complete run, e.g.:

    .venv/bin/snakemake --cores 2 --directory /tmp/run --configfile config/config.yaml
    .venv/bin/python benchmarks/memory_requests.py /tmp/run --configfile config/config.yaml
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]


def planned_jobs(workdir: Path, configfile: Path) -> list[dict]:
    """``{rule, benchmark, mem_mb}`` of every job of the run (a forced dry run)."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--snakefile",
         str(REPO_ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
         str(configfile)],
        capture_output=True, text=True, check=True)
    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", result.stdout):
        rule = re.match(r"rule (\w+):", block)
        benchmark = re.search(r"^\s+benchmark: (\S+)$", block, re.M)
        memory = re.search(r"\bmem_mb=(\d+)", block)
        if rule and benchmark and memory:
            jobs.append({"rule": rule.group(1), "benchmark": benchmark.group(1),
                         "mem_mb": int(memory.group(1))})
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="working directory of a finished run")
    parser.add_argument("--configfile", type=Path, required=True)
    args = parser.parse_args()
    rows = []
    for job in planned_jobs(args.workdir.resolve(), args.configfile.resolve()):
        path = args.workdir / job["benchmark"]
        if path.is_file():
            peak_mb = float(pd.read_csv(path, sep="\t")["max_rss"].max())
            rows.append({**job, "peak_mb": peak_mb, "ratio": peak_mb / job["mem_mb"]})
    table = pd.DataFrame(rows)
    if table.empty:
        sys.exit(f"no benchmark TSVs of a finished run under {args.workdir}")
    worst = table.loc[table.groupby("rule")["ratio"].idxmax()]
    worst = worst.assign(jobs=table.groupby("rule").size().loc[worst["rule"]].to_numpy())
    print(worst[["rule", "jobs", "peak_mb", "mem_mb", "ratio"]]
          .sort_values("ratio", ascending=False).to_string(index=False, float_format="%.2f"))


if __name__ == "__main__":
    main()
