"""Shared test helpers: repository paths and the offline structure folder."""

from __future__ import annotations

import os
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
