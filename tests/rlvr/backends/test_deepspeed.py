"""DeepSpeed backend: 2-process ZeRO-2/ZeRO-3 SFT and GRPO steps on CPU match the torch backend.

Each test launches `rlvr train` in two processes (gloo, `DS_ACCELERATOR=cpu`) and compares the
logged losses, gradient norms and the saved HF-format final model with a one-process torch run of
the same config. GRPO runs that must match set `rollout.data_parallel: false` (every rank samples
the whole batch, as one process does); with it on, each rank samples its own prompts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlvr.config import load_config
from rlvr.trainers import grpo, sft
from tests.rlvr.backends._launch import launch, metrics, weights
from tests.rlvr.trainers.conftest import write_config

pytest.importorskip("deepspeed")

RTOL, ATOL = 1e-4, 1e-6


def sft_data(tmp_path: Path, model: Path, name: str, backend: dict) -> dict:
    return {
        "stage": "sft",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 32, "seed": 0},
        "optim": {"lr": 1e-3, "grad_clip": 0.5},
        "backend": backend,
        "train": {
            "max_steps": 2,
            "batch_size": 8,
            "micro_batch_size": 2,
            "log_every": 1,
            "save_every": 2,
        },
        "reward": {"workers": 0},
        "run": {"name": name, "output_dir": str(tmp_path / "runs")},
    }


def grpo_data(tmp_path: Path, model: Path, name: str, backend: dict) -> dict:
    return {
        "stage": "grpo",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 16, "seed": 0},
        "algo": {
            "preset": "grpo",
            "group_size": 4,
            "prompts_per_step": 2,
            "num_iterations": 2,
            "micro_batch_size": 2,
        },
        "rollout": {"max_new_tokens": 6, "data_parallel": False},
        "optim": {"lr": 1e-3},
        "backend": backend,
        "train": {"max_steps": 2, "save_every": 2, "random_reward": True},
        "reward": {"workers": 0},
        "run": {"name": name, "output_dir": str(tmp_path / "runs")},
    }


def assert_same_run(
    tmp_path: Path, name: str, keys: tuple[str, ...], *, weight_atol: float = 1e-5
) -> None:
    ref, got = tmp_path / "runs/torch", tmp_path / f"runs/{name}"
    for key in keys:
        expected = metrics(ref, key)
        assert len(expected) == 2, key
        torch.testing.assert_close(metrics(got, key), expected, rtol=RTOL, atol=ATOL, msg=key)
    before, after = weights(ref / "final"), weights(got / "final")
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=RTOL, atol=weight_atol, msg=key)
    assert (got / "checkpoints/step-00000002/deepspeed").is_dir()


def run_pair(tmp_path: Path, data: dict, torch_data: dict, ranks: int = 2) -> None:
    """The torch run in this process, then the DeepSpeed run on `ranks` ranks."""
    trainer = sft if data["stage"] == "sft" else grpo
    trainer.train(load_config(write_config(tmp_path / "torch.yaml", torch_data)))
    launch(write_config(tmp_path / "ds.yaml", data), ranks)


SFT_KEYS = ("train/loss", "train/grad_norm", "train/token_accuracy")
GRPO_KEYS = ("train/loss", "train/grad_norm", "train/kl", "train/entropy", "reward/mean")


@pytest.mark.parametrize(
    "stage", [2, pytest.param(3, marks=pytest.mark.slow)], ids=["zero2", "zero3"]
)
def test_sft_two_ranks_match_torch(tmp_path: Path, tiny_model: Path, stage: int) -> None:
    backend = {"kind": "deepspeed", "zero_stage": stage}
    run_pair(
        tmp_path,
        sft_data(tmp_path, tiny_model, "ds", backend),
        sft_data(tmp_path, tiny_model, "torch", {}),
    )
    assert_same_run(tmp_path, "ds", SFT_KEYS)


@pytest.mark.parametrize(
    "stage", [pytest.param(2, marks=pytest.mark.slow), 3], ids=["zero2", "zero3"]
)
def test_grpo_two_ranks_match_torch(tmp_path: Path, tiny_model: Path, stage: int) -> None:
    backend = {"kind": "deepspeed", "zero_stage": stage}
    run_pair(
        tmp_path,
        grpo_data(tmp_path, tiny_model, "ds", backend),
        grpo_data(tmp_path, tiny_model, "torch", {}),
    )
    assert_same_run(tmp_path, "ds", GRPO_KEYS)


def zero3_grpo_pair(tmp_path: Path, model: Path, **sections: dict) -> tuple[dict, dict]:
    """GRPO configs of a ZeRO-3 run and its torch reference, each section updated alike."""
    backend = {"kind": "deepspeed", "zero_stage": 3}
    pair = grpo_data(tmp_path, model, "ds", backend), grpo_data(tmp_path, model, "torch", {})
    for data in pair:
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
    return pair


@pytest.mark.vllm
@pytest.mark.parametrize("ranks", [1, 2], ids=["one-rank", "two-ranks"])
def test_zero3_gathers_weights_for_the_vllm_engine(
    tmp_path: Path, tiny_model: Path, ranks: int
) -> None:
    # ZeRO-3: the parameters are partitioned, so the sync must gather them; the parity probe
    # after each sync would stop the run on a partial or stale copy. On two ranks every rank
    # gathers the full weights for its own engine (vLLM's external_launcher); with
    # data_parallel off both sample the whole batch
    pytest.importorskip("vllm")
    data, torch_data = zero3_grpo_pair(
        tmp_path, tiny_model, algo={"num_iterations": 1}, rollout={"engine": "vllm"}
    )
    run_pair(tmp_path, data, torch_data, ranks)
    gaps = metrics(tmp_path / "runs/ds", "sync/parity_gap")
    assert len(gaps) == 2 and max(gaps) < 1e-4
    assert_same_run(tmp_path, "ds", ("train/loss", "train/grad_norm", "reward/mean"))


def test_grpo_two_ranks_sample_their_own_prompts(tmp_path: Path, tiny_model: Path) -> None:
    # data-parallel generation (the default): rank r samples its half with its own seed, so the
    # run differs from the one-process run but every rank trains on the same gathered batch
    data = grpo_data(tmp_path, tiny_model, "ds", {"kind": "deepspeed", "zero_stage": 2})
    data["rollout"]["data_parallel"] = True
    launch(write_config(tmp_path / "ds.yaml", data), 2)
    losses = metrics(tmp_path / "runs/ds", "train/loss")
    lengths = metrics(tmp_path / "runs/ds", "completion/length_mean")
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert len(lengths) == 2 and all(x > 0 for x in lengths)
    before, after = weights(tiny_model), weights(tmp_path / "runs/ds/final")
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
def test_grpo_two_ranks_drive_ray_actors_from_rank_zero(tmp_path: Path, tiny_model: Path) -> None:
    # rank 0 starts the Ray cluster, drives the rollout and reward actors and broadcasts the
    # round; ZeRO-3 gathers on both ranks for the weight broadcast
    pytest.importorskip("ray")
    ray = {"kind": "ray", "rollout_workers": 1, "reward_workers": 1}
    data, torch_data = zero3_grpo_pair(tmp_path, tiny_model, distributed=ray)
    run_pair(tmp_path, data, torch_data)
    assert metrics(tmp_path / "runs/ds", "sync/count") == [1, 2]
    assert_same_run(tmp_path, "ds", GRPO_KEYS)
