"""The import rule of docs/ARCHITECTURE.md where a test can hold it: the scoring package
(``tomobench.evaluation``) imports shared facts only, so the stages may import it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tomobench"
#: The "shared facts" group of docs/ARCHITECTURE.md.
SHARED_FACTS = {"classes", "optics", "fourier", "io", "mrc", "particles", "orientation",
                "seeding", "atomic", "errors", "backend", "methods.kinds"}


def tomobench_imports(path: Path) -> set[str]:
    """``tomobench.<...>`` modules ``path`` imports anywhere (functions included), without the
    ``tomobench.`` prefix."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.removeprefix("tomobench.") for n in names if n.startswith("tomobench.")}


def test_the_import_scan_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from tomobench.io import x\n\ndef f():\n    import tomobench.paper.tables\n")
    assert tomobench_imports(module) == {"io", "paper.tables"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "evaluation").glob("*.py")),
                         ids=lambda p: p.name)
def test_scoring_imports_shared_facts_only(path):
    for name in tomobench_imports(path):
        allowed = name.startswith("evaluation") or name in SHARED_FACTS \
            or name.split(".")[0] in SHARED_FACTS
        assert allowed, f"{path.name} imports tomobench.{name}"
