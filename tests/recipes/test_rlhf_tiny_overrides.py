"""The RLHF recipe's override order: with `--smoke` the toy sizes win (fast)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _recipe():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("rlhf_tiny", ROOT / "recipes/rlhf_tiny.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_sizes_override_the_recipes_full_size_budgets() -> None:
    recipe = _recipe()
    common = ["run.output_dir=out"]
    extra = ("run.name=sft-math-tiny", *recipe.SFT)
    got = recipe.overrides(common, recipe.SMOKE_SFT, extra, True)
    # later overrides win: the smoke step budget must come after the recipe's 3000 steps
    assert got.index("train.max_steps=4") > got.index("train.max_steps=3000")
    assert got[: len(common)] == common


def test_full_run_leaves_the_toy_sizes_out() -> None:
    recipe = _recipe()
    got = recipe.overrides(["run.output_dir=out"], recipe.SMOKE_SFT, tuple(recipe.SFT), False)
    assert got == ["run.output_dir=out", *recipe.SFT]
