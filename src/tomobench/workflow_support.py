"""Helpers shared by the Snakemake workflow: script logging, code dependencies."""

from __future__ import annotations

import ast
import functools
import hashlib
import logging
import os
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent


def script_logger(snakemake, name: str = "tomobench") -> logging.Logger:
    """Route Python logging and stderr of a workflow script to ``snakemake.log[0]``.

    Returns the logger to report progress on (one line per step, flushed immediately).
    """
    log_path = Path(snakemake.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the script
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=True,
    )
    return logging.getLogger(name)


def _imported_tomobench_modules(source_path: Path) -> set[str]:
    tree = ast.parse(source_path.read_text(), filename=str(source_path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "tomobench")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "tomobench":
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            package = _module_name(source_path).rsplit(".", node.level)[0]
            base = f"{package}.{node.module}" if node.module else package
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def _module_name(path: Path) -> str:
    relative = path.resolve().relative_to(PACKAGE_ROOT.parent)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_file(name: str) -> Path | None:
    relative = Path(*name.split("."))
    for candidate in (
        PACKAGE_ROOT.parent / f"{relative}.py",
        PACKAGE_ROOT.parent / relative / "__init__.py",
    ):
        if candidate.is_file():
            return candidate
    return None


def code_dependencies(script_path: str | os.PathLike) -> list[str]:
    """Return the package source files ``script_path`` imports, transitively (sorted).

    A static AST scan: every ``import tomobench...`` / ``from tomobench... import`` in the
    script and, recursively, in the modules it reaches (parent packages' ``__init__`` files
    included). Snakemake gets these files as inputs so editing a module reruns exactly
    the rules whose scripts import it.
    """
    pending = list(_imported_tomobench_modules(Path(script_path)))
    seen: dict[str, Path] = {}
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix in seen:
                continue
            module_file = _module_file(prefix)
            if module_file is None:
                continue
            seen[prefix] = module_file
            pending.extend(_imported_tomobench_modules(module_file))
    return sorted({str(p) for p in seen.values()})


@functools.cache
def code_hash(script_path: str | os.PathLike) -> str:
    """SHA-256 of a workflow script and the package modules it imports (:func:`code_dependencies`).

    Each file enters with a location-independent name (``scripts/<file>``,
    ``tomobench/<module path>``) and its bytes, so the hash changes exactly when one of those
    files changes, not when the project, the results or the installed package move. The
    workflow passes it as a rule parameter: Snakemake's params trigger then reruns the rules
    whose code changed, and a finished run copied elsewhere has nothing to do.
    """
    script = Path(script_path)
    files = [(f"scripts/{script.name}", script)] + [
        (Path(p).relative_to(PACKAGE_ROOT.parent).as_posix(), Path(p))
        for p in code_dependencies(script)
    ]
    digest = hashlib.sha256()
    for name, path in files:
        content = path.read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()
