"""Overhead the workflow adds to an external picker (``kind: command``), per pick job.

Takes a finished run's working directory (e.g. a copy of ``config/test.yaml``'s), adds
``--methods`` command methods whose pick command does nothing but write one valid pick, and
runs Snakemake for their submissions (``picks/<method>/model_<i>.txt``: manifest ->
pick_command -> check_command_picks, per test tomogram). Prints

- the command run directly (``bash -c``, median of ``--repeats``),
- the per-job wall times of the three rules from their benchmark TSVs (what Table 7 sees:
  ``pick_command`` is the command plus the wrapper), and the overhead per pick job =
  manifest + check + (pick_command − direct command),
- the whole Snakemake invocation (start-up, DAG, scheduling) per pick job.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/external_overhead.py --workdir <run copy>
--configfile config/test.yaml [--methods 4]``. Timings depend on the machine's load: report
``os.getloadavg()`` (printed) with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
NOOP = "echo '{klass} 20 20 20 1.0' > {{output}}"


def direct_seconds(command: str, repeats: int, workdir: Path) -> float:
    """Median wall time of ``bash -c command`` (placeholders filled with a scratch file)."""
    out = workdir / "noop_direct.txt"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(["bash", "-c", command.format(output=out)], check=True)
        times.append(time.perf_counter() - start)
    out.unlink(missing_ok=True)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a finished run's folder")
    parser.add_argument("--configfile", type=Path, default=REPO_ROOT / "config" / "test.yaml")
    parser.add_argument("--methods", type=int, default=4, help="no-op command methods")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    config = yaml.safe_load(args.configfile.read_text())
    klass = config["structures"]["classes"][0]
    command = NOOP.format(klass=klass)
    names = [f"Noop{k}" for k in range(args.methods)]
    overlay = args.workdir / "noop_overlay.yaml"
    overlay.write_text(yaml.safe_dump(
        {"methods": {n: {"kind": "command", "pick": command} for n in names}}))
    run = args.workdir / "results" / config["name"]
    tests = config["tomograms"]["test"]
    targets = [str(run.relative_to(args.workdir) / "picks" / n / f"model_{i}.txt")
               for n in names for i in tests]
    print(f"load average before: {os.getloadavg()}")
    direct = direct_seconds(command, args.repeats, args.workdir)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"),
         "--directory", str(args.workdir), "--cores", str(args.cores), *targets,
         "--configfile", str(args.configfile), str(overlay)],
        cwd=args.workdir, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
    invocation = time.perf_counter() - start
    jobs = len(targets)

    def seconds(rule: str, pattern: str) -> list[float]:
        return [float(pd.read_csv(run / "benchmarks" / rule / pattern.format(n=n, i=i),
                                  sep="\t")["s"].mean()) for n in names for i in tests]

    manifest = seconds("command_manifest", "{n}_model_{i}.tsv")
    pick = seconds("pick_command", "{n}_model_{i}.tsv")
    check = seconds("check_command_picks", "{n}_model_{i}.tsv")
    per_job = [m + (p - direct) + c for m, p, c in zip(manifest, pick, check, strict=True)]
    print(f"load average after: {os.getloadavg()}")
    print(f"pick jobs: {jobs} ({args.methods} methods x {len(tests)} test tomograms), "
          f"--cores {args.cores}")
    print(f"command run directly: {direct * 1000:.1f} ms (median of {args.repeats})")
    print(f"command_manifest: {statistics.median(manifest):.2f} s per job (median)")
    print(f"pick_command: {statistics.median(pick):.2f} s per job (command + wrapper)")
    print(f"check_command_picks: {statistics.median(check):.2f} s per job")
    print(f"overhead per pick job (manifest + check + wrapper): "
          f"{statistics.median(per_job):.2f} s (median; CPU-seconds of Snakemake's own "
          "scheduling not included)")
    print(f"whole snakemake invocation: {invocation:.1f} s = {invocation / jobs:.2f} s per pick "
          "job (start-up, DAG, three jobs per pick job, --cores jobs at a time)")


if __name__ == "__main__":
    main()
