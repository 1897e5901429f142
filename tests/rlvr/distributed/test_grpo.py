"""The GRPO stage on Ray (1 rollout actor, 2 reward actors) against the same run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rlvr.config import load_config
from rlvr.distributed.cluster import RayCluster
from rlvr.trainers.grpo import train
from tests.rlvr.trainers.test_grpo import VOLATILE, grpo_config, grpo_data

ROOT = Path(__file__).resolve().parents[3]


def _stream(path: Path) -> list[dict]:  # type: ignore[type-arg]
    rows = [json.loads(x) for x in path.read_text().splitlines() if x]
    return [
        {k: v for k, v in r.items() if not any(t in k for t in VOLATILE) and k != "sync/count"}
        for r in rows
    ]


def test_ray_run_reaches_the_local_metrics_stream(
    ray_cluster: RayCluster, tmp_path: Path, tiny_model: Path
) -> None:
    local = grpo_data(tmp_path, tiny_model, "local", max_steps=3)
    on_ray = {
        **grpo_data(tmp_path, tiny_model, "ray", max_steps=3),
        "distributed": {
            "kind": "ray",
            "rollout_workers": 1,
            "reward_workers": 2,
            # Ray gives a fractional-CPU actor one torch thread; with the trainer's count its
            # sampling log-probs are bit-identical (otherwise about 1e-6 apart).
            "rollout_threads": torch.get_num_threads(),
        },
    }
    train(grpo_config(tmp_path, local))
    result = train(grpo_config(tmp_path, on_ray))
    assert result.steps == 3
    want = _stream(tmp_path / "runs/local/metrics.jsonl")
    got = _stream(tmp_path / "runs/ray/metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in want]
    assert got == want
    syncs = [json.loads(x) for x in (tmp_path / "runs/ray/metrics.jsonl").read_text().splitlines()]
    assert [r.get("sync/count") for r in syncs if "train/loss" in r] == [1, 2, 3]
    assert ray_cluster.ray.is_initialized(), "the fixture's cluster is the caller's: left running"


def test_ray_recipe_loads_with_its_distributed_section() -> None:
    cfg = load_config(ROOT / "recipes/configs/grpo/math_tiny_ray.yaml")
    assert cfg.distributed.kind == "ray"
    assert (cfg.distributed.rollout_workers, cfg.distributed.reward_workers) == (1, 2)
