"""The layering of DESIGN.md and the size limits of STYLE.md, enforced.

- `sandboxes` imports only the standard library (the docker SDK only in its docker backend).
- `verifiers` never imports torch (nor any other heavy ML stack) and never imports `rlvr`.
- `rlvr` never imports `recipes`.
- Inside `rlvr`, each package imports only the packages below it (`RLVR_LAYERS`), so there is
  no cycle between packages; `algorithms` and `rewards` import no heavy ML stack beyond torch
  (algorithms) or none at all (rewards); no module sits loose at the root of `rlvr`; no two
  modules import each other, directly or around a loop (lazy imports count).
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
RLVR_LAYERS: dict[str, set[str]] = {
    "config": set(),
    "algorithms": set(),
    "data": {"config"},
    "backends": {"config"},
    "models": {"config", "data", "algorithms"},
    "rewards": {"config", "data"},
    "runs": {"config", "backends"},
    "rollout": {"config", "data", "models", "rewards", "backends", "algorithms"},
    "distributed": {"config", "data", "models", "rewards", "rollout", "backends"},
    "evaluate": {
        "config", "data", "models", "rewards", "rollout", "distributed", "runs", "backends",
    },
    "monitors": {"config", "data", "runs", "algorithms"},
    "trainers": {
        "config", "data", "models", "rewards", "rollout", "distributed", "runs", "backends",
        "algorithms", "evaluate", "monitors",
    },
    "cli": {
        "config", "data", "models", "rewards", "rollout", "distributed", "runs", "backends",
        "algorithms", "evaluate", "monitors", "trainers",
    },
}  # fmt: skip
"""Package of `rlvr` -> the packages of `rlvr` it may import (besides itself)."""
NO_ML_STACK = {"rewards": ML_STACK, "algorithms": ML_STACK - {"torch"}}
"""Package of `rlvr` -> heavy libraries it must not import."""
MODULE_EXCEPTIONS: dict[str, tuple[set[str], set[str]]] = {
    "rlvr/rewards/learned.py": ({"models"}, {"torch"}),
}
"""Module -> (rlvr packages, heavy libraries) it may import beyond its package's rules. The
learned reward source scores completions with a reward model (torch, `rlvr.models`); the
`rlvr.rewards` package does not import it, so the package itself stays torch-free."""
FUNCTION_LIMIT = 100
MODULE_LIMIT = 600
RECIPE_LIMIT = 150


def imported_rlvr_packages(path: Path) -> set[str]:
    """The `rlvr` packages a file imports (`rlvr.X...` -> X), lazy imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update(n.split(".")[1] for n in names if n.startswith("rlvr.") and n.count(".") >= 1)
    return found


def rlvr_violations(root: Path) -> list[str]:
    """Imports inside `rlvr` that break `RLVR_LAYERS` or `NO_ML_STACK`, and loose modules."""
    found = [
        f"{path.relative_to(root)}: loose module at the root of rlvr"
        for path in sorted((root / "rlvr").glob("*.py"))
        if path.name != "__init__.py"
    ]
    for package, allowed in RLVR_LAYERS.items():
        for path in sorted((root / "rlvr" / package).rglob("*.py")):
            extra_packages, extra_heavy = MODULE_EXCEPTIONS.get(
                path.relative_to(root).as_posix(), (set(), set())
            )
            bad = imported_rlvr_packages(path) - allowed - extra_packages - {package}
            found += [f"{path.relative_to(root)}: imports rlvr.{m}" for m in sorted(bad)]
            heavy = imported_roots(path) & NO_ML_STACK.get(package, set()) - extra_heavy
            found += [f"{path.relative_to(root)}: imports {m}" for m in sorted(heavy)]
    return found


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


def test_rlvr_packages_import_only_the_packages_below_them() -> None:
    packages = {p.name for p in (ROOT / "rlvr").iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RLVR_LAYERS), "every rlvr package needs a place in RLVR_LAYERS"
    assert rlvr_violations(ROOT) == []


def _rlvr_module(root: Path, dotted: str) -> Path | None:
    path = root.joinpath(*dotted.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def module_imports(root: Path) -> dict[Path, set[Path]]:
    """Module of `rlvr` -> the modules of `rlvr` it imports, lazy imports included. A package's
    `__init__.py` importing its own modules (a face that picks an implementation) is left out."""
    graph: dict[Path, set[Path]] = {}
    for path in sorted((root / "rlvr").rglob("*.py")):
        edges: set[Path | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] == "rlvr":
                    for alias in node.names:
                        edges.add(
                            _rlvr_module(root, f"{node.module}.{alias.name}")
                            or _rlvr_module(root, node.module)
                        )
            elif isinstance(node, ast.Import):
                edges.update(
                    _rlvr_module(root, a.name) for a in node.names if a.name.startswith("rlvr.")
                )
        own = path.parent if path.name == "__init__.py" else None
        graph[path] = {
            e for e in edges if e is not None and e != path and (own is None or e.parent != own)
        }
    return graph


def import_cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """The groups of modules that import each other, directly or around a loop."""
    reach = {start: set() for start in graph}
    for start in graph:
        todo = list(graph[start])
        while todo:
            module = todo.pop()
            if module not in reach[start]:
                reach[start].add(module)
                todo.extend(graph.get(module, ()))
    cycles, seen = [], set()
    for start in graph:
        if start in reach[start] and start not in seen:
            group = sorted(m for m in reach[start] if start in reach.get(m, set()))
            seen.update(group)
            cycles.append(group)
    return cycles


def test_no_import_cycle_between_modules() -> None:
    cycles = import_cycles(module_imports(ROOT))
    assert [[str(p.relative_to(ROOT)) for p in group] for group in cycles] == []


def test_cycle_check_finds_a_loop(tmp_path: Path) -> None:
    package = tmp_path / "rlvr" / "cli"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from rlvr.cli.main import main\n")
    (package / "main.py").write_text("def main():\n    from rlvr.cli.sub import add\n")
    (package / "sub.py").write_text("from rlvr.cli.main import main\n")
    cycles = import_cycles(module_imports(tmp_path))
    assert [[p.name for p in group] for group in cycles] == [["main.py", "sub.py"]]


def test_package_rules_catch_an_upward_import_and_a_loose_module(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rlvr", tmp_path / "rlvr")
    (tmp_path / "rlvr" / "rollout" / "sneaky.py").write_text("from rlvr.trainers import grpo\n")
    (tmp_path / "rlvr" / "rewards" / "sneaky.py").write_text("def f():\n    import torch\n")
    (tmp_path / "rlvr" / "helpers.py").write_text("")
    assert rlvr_violations(tmp_path) == [
        "rlvr/helpers.py: loose module at the root of rlvr",
        "rlvr/rewards/sneaky.py: imports torch",
        "rlvr/rollout/sneaky.py: imports rlvr.trainers",
    ]


def test_every_package_docstring_says_what_lives_there() -> None:
    for init in sorted((ROOT / "rlvr").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 12, f"{init.relative_to(ROOT)} needs a docstring"


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


def test_rewards_package_imports_without_torch() -> None:
    """`rlvr.rewards` (its runtime, workers and contract checks) never loads torch; only the
    learned reward source does, and the package does not import it."""
    code = (
        "import sys, rlvr.rewards, rlvr.rewards.runtime, rlvr.rewards.verify\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert 'rlvr.rewards.learned' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


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
