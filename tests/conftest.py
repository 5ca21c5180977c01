"""Shared test helpers: repository paths, the offline structure folder, running snakemake and
the session's tiny end-to-end run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _structures_dir() -> Path | None:
    candidates = [
        os.environ.get("TOMOBENCH_STRUCTURES"),
        REPO_ROOT.parent / "shared" / "structures",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "atomic").is_dir():
            return Path(candidate).resolve()
    return None


#: The offline structure set (``../shared/structures``), or None when absent.
STRUCTURES_DIR = _structures_dir()

requires_structures = pytest.mark.skipif(
    STRUCTURES_DIR is None,
    reason="../shared/structures is absent: real PDB structures are needed "
    "(set TOMOBENCH_STRUCTURES)",
)


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, check=True,
              snakefile: Path | None = None, cores: int = 2):
    """Run snakemake on the repository's Snakefile (or ``snakefile``) in ``workdir`` with
    ``cores`` cores; return the completed process."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile or REPO_ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run of ``config/test.yaml`` (working directory), made once per session and
    shared by every slow workflow test; tests copy it before changing anything."""
    if STRUCTURES_DIR is None:
        pytest.skip("../shared/structures is absent (needed for real protein structures)")
    workdir = tmp_path_factory.mktemp("tiny_run")
    snakemake(workdir, configfile=REPO_ROOT / "config" / "test.yaml")
    return workdir
