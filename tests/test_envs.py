"""The conda environment of the rules (envs/tomobench.yaml) provides every package they import."""

from __future__ import annotations

import ast
import re
import sys

import yaml

from .conftest import REPO_ROOT

#: import name -> conda-forge package name, where they differ
CONDA_NAMES = {"skimage": "scikit-image", "yaml": "pyyaml", "torch": "pytorch",
               "matplotlib": "matplotlib-base", "snakemake": "snakemake-minimal"}
#: optional GPU imports and the interactive viewer (commented in the env file)
OPTIONAL = {"cupy", "cupyx", "napari"}


def third_party_imports() -> set[str]:
    """Top-level modules imported by the package and the workflow scripts, stdlib excluded."""
    names = set()
    for path in [*(REPO_ROOT / "src").rglob("*.py"), *(REPO_ROOT / "workflow").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"tomobench", "__future__"}


def test_conda_env_lists_every_imported_package():
    text = (REPO_ROOT / "envs" / "tomobench.yaml").read_text()
    env = yaml.safe_load(text)
    packages = {re.split(r"[<>=!~ ]", spec)[0] for spec in env["dependencies"]
                if isinstance(spec, str)}
    imports = third_party_imports()
    assert {"numpy", "torch", "gemmi", "mrcfile"} <= imports  # the scan sees the imports
    missing = {name for name in imports - OPTIONAL if CONDA_NAMES.get(name, name) not in packages}
    assert not missing, f"envs/tomobench.yaml lacks {sorted(missing)}"
    assert {"snakemake-minimal", "jsonschema", "python"} <= packages
    assert all(f"# - {name}" in text for name in OPTIONAL - {"cupyx"})
    # No path to the package: Snakemake copies the file elsewhere (see its header).
    assert not any(isinstance(spec, dict) for spec in env["dependencies"])
