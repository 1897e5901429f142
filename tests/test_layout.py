"""The layering of DESIGN.md and the size limits of STYLE.md, enforced.

- `sandboxes` imports only the standard library (the docker SDK only in its docker backend).
- `verifiers` never imports torch (nor any other heavy ML stack) and never imports `rlvr`.
- `rlvr` never imports `recipes`.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ML_STACK = {"torch", "transformers", "vllm", "deepspeed", "ray", "datasets", "accelerate", "numpy"}
FUNCTION_LIMIT = 100
MODULE_LIMIT = 600
RECIPE_LIMIT = 150


def imported_roots(path: Path) -> set[str]:
    """Top-level module names a file imports (absolute imports only)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def import_violations(root: Path) -> list[str]:
    """Every import that breaks the layering, as `path: imports X` lines."""
    found = []
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted((root / "sandboxes").rglob("*.py")):
        allowed = stdlib | {"sandboxes"} | ({"docker"} if path.stem == "docker_backend" else set())
        found += [f"{path.relative_to(root)}: imports {m}" for m in imported_roots(path) - allowed]
    for path in sorted((root / "verifiers").rglob("*.py")):
        banned = ML_STACK | {"rlvr", "recipes"}
        found += [f"{path.relative_to(root)}: imports {m}" for m in imported_roots(path) & banned]
    for path in sorted((root / "rlvr").rglob("*.py")):
        if "recipes" in imported_roots(path):
            found.append(f"{path.relative_to(root)}: imports recipes")
    return found


def test_layers_import_only_downwards() -> None:
    assert import_violations(ROOT) == []


def test_layout_check_catches_torch_in_verifiers(tmp_path: Path) -> None:
    for package in ("sandboxes", "verifiers", "rlvr"):
        shutil.copytree(ROOT / package, tmp_path / package)
    (tmp_path / "verifiers" / "sneaky.py").write_text("import torch\n")
    (tmp_path / "sandboxes" / "sneaky.py").write_text("from sympy import Integer\n")
    (tmp_path / "rlvr" / "sneaky.py").write_text("from recipes import math_tiny\n")
    assert import_violations(tmp_path) == [
        "sandboxes/sneaky.py: imports sympy",
        "verifiers/sneaky.py: imports torch",
        "rlvr/sneaky.py: imports recipes",
    ]


def test_verifiers_import_without_torch() -> None:
    """Transitive imports count too: importing every verifier must not load torch."""
    code = (
        "import sys, verifiers, sandboxes\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'rlvr') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _python_files() -> list[Path]:
    files = []
    for package in ("rlvr", "verifiers", "sandboxes", "recipes", "benchmarks"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_size_limits(path: Path) -> None:
    source = path.read_text()
    limit = RECIPE_LIMIT if path.parent.name == "recipes" else MODULE_LIMIT
    assert source.count("\n") <= limit, f"{path.name} has over {limit} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= FUNCTION_LIMIT, f"{node.name} is {length} lines"
