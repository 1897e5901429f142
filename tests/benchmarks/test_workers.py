"""The benchmarks' rlvr workers build their stage configs from a spec: a renamed or moved
config class fails here, not in the middle of a benchmark run."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

COMMON = {
    "model": "unused-model-dir", "train_file": "train.jsonl", "train_n": 8, "seed": 0,
    "steps": 2, "lr": 1e-4, "threads": 1,
}  # fmt: skip
SPECS: dict[str, tuple[dict[str, Any], str]] = {
    "_rlvr_worker": (
        {
            "engine": "hf",
            "group": 2,
            "max_new_tokens": 4,
            "prompts": 2,
            "reward_workers": 0,
            "temperature": 1.0,
        },
        "GRPOConfig",
    ),
    "_dpo_rlvr_worker": (
        {"batch": 2, "beta": 0.1, "loss": "sigmoid", "max_length": 64, "precompute": True},
        "DPOConfig",
    ),
    "_rm_rlvr_worker": (
        {"batch": 2, "eval_file": "eval.jsonl", "eval_n": 4, "max_length": 64},
        "RewardModelConfig",
    ),
}


@pytest.mark.parametrize("worker", sorted(SPECS))
def test_a_worker_builds_its_stage_config(
    worker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    module = importlib.import_module(worker)
    extra, kind = SPECS[worker]
    spec = {**COMMON, **extra, "out_dir": str(tmp_path / "run")}
    cfg = module.build_config(spec)
    assert type(cfg).__name__ == kind
    assert cfg.run.output_dir / cfg.run.name == tmp_path / "run"
    sys.modules.pop(worker, None)
