"""DeepSpeed backend options on CPU: resuming a checkpoint, ZeRO stages 0 and 1, three ranks,
bf16, offloading, and the options refused.

Runs are launched as in test_deepspeed.py (`rlvr train` in N processes, gloo,
`DS_ACCELERATOR=cpu`) and compared with the torch backend in this process, or with an
uninterrupted DeepSpeed run for resuming.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rlvr.config import ConfigError, load_config
from rlvr.config.sections import BackendConfig
from rlvr.trainers import grpo, sft
from tests.rlvr.backends._launch import launch, metrics, weights
from tests.rlvr.backends.test_deepspeed import (
    GRPO_KEYS,
    SFT_KEYS,
    assert_same_run,
    grpo_data,
    run_pair,
    sft_data,
)
from tests.rlvr.trainers.conftest import write_config

pytest.importorskip("deepspeed")

RESUME_KEYS = (*SFT_KEYS, "train/lr")


def ds_backend(stage: int, **options: bool) -> dict:
    return {"kind": "deepspeed", "zero_stage": stage, **options}


def resume_data(tmp_path: Path, model: Path, name: str, stage: int, max_steps: int) -> dict:
    data = sft_data(tmp_path, model, name, ds_backend(stage))
    data["optim"]["warmup_steps"] = 4  # a different lr at each step: the schedule must resume
    data["train"]["max_steps"] = max_steps
    data["run"]["accept_contract_change"] = True  # the resumed half raises its step budget
    return data


@pytest.mark.parametrize(
    "stage", [2, pytest.param(3, marks=pytest.mark.slow)], ids=["zero2", "zero3"]
)
def test_resumed_run_equals_uninterrupted_run(tmp_path: Path, tiny_model: Path, stage: int) -> None:
    # 4 steps straight, against 2 steps (checkpoint at step 2) and the same run resumed to 4
    # with max_steps raised: steps 3 and 4 need the restored AdamW moments and LR schedule
    def run(name: str, max_steps: int) -> None:
        data = resume_data(tmp_path, tiny_model, name, stage, max_steps)
        launch(write_config(tmp_path / f"{name}-{max_steps}.yaml", data), 2)

    run("straight", 4)
    run("resumed", 2)
    checkpoints = tmp_path / "runs/resumed/checkpoints"
    assert (checkpoints / "latest").read_text().strip() == "step-00000002"
    run("resumed", 4)
    straight, resumed = tmp_path / "runs/straight", tmp_path / "runs/resumed"
    # resumed, not restarted: steps 1-2 are logged once, and step 3 starts from the checkpoint
    assert metrics(resumed, "step") == [1, 2, 3, 4]
    assert (checkpoints / "step-00000004/deepspeed").is_dir()
    for key in RESUME_KEYS:
        expected = metrics(straight, key)
        assert len(expected) == 4, key
        torch.testing.assert_close(metrics(resumed, key), expected, rtol=1e-5, atol=1e-6, msg=key)
    before, after = weights(straight / "final"), weights(resumed / "final")
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize(
    "stage", [0, pytest.param(1, marks=pytest.mark.slow)], ids=["zero0", "zero1"]
)
def test_sft_zero_stages_0_and_1_match_torch(tmp_path: Path, tiny_model: Path, stage: int) -> None:
    # stage 0 steps the client AdamW directly: the backend clips and keeps the norm there
    run_pair(
        tmp_path,
        sft_data(tmp_path, tiny_model, "ds", ds_backend(stage)),
        sft_data(tmp_path, tiny_model, "torch", {}),
    )
    assert_same_run(tmp_path, "ds", SFT_KEYS)


@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3], ids=["zero2", "zero3"])
@pytest.mark.parametrize("trainer", ["sft", "grpo"])
def test_three_ranks_with_uneven_shards_match_torch(
    tmp_path: Path, tiny_model: Path, stage: int, trainer: str
) -> None:
    # 8 rows over 3 ranks: shares of 2, 3 and 3 rows in micro-batches of 2, so rank 0 pads
    # its second micro-batch (ZeRO collectives run in every forward/backward)
    build = sft_data if trainer == "sft" else grpo_data
    data = build(tmp_path, tiny_model, "ds", ds_backend(stage))
    module = sft if trainer == "sft" else grpo
    module.train(
        load_config(write_config(tmp_path / "torch.yaml", build(tmp_path, tiny_model, "torch", {})))
    )
    launch(write_config(tmp_path / "ds.yaml", data), 3, timeout=180)
    # averaging over 3 ranks rounds (x / 3), and AdamW's near-sign update turns that into up to
    # ~2.4e-5 on a weight whose gradient is near 0 (the same without padding: one micro-batch
    # per rank); 1e-4 is a tenth of one step's lr
    keys = SFT_KEYS if trainer == "sft" else GRPO_KEYS
    assert_same_run(tmp_path, "ds", keys, weight_atol=1e-4)


@pytest.mark.slow
def test_bf16_on_cpu_runs_close_to_fp32(tmp_path: Path, tiny_model: Path) -> None:
    sft.train(
        load_config(
            write_config(tmp_path / "torch.yaml", sft_data(tmp_path, tiny_model, "torch", {}))
        )
    )
    data = sft_data(tmp_path, tiny_model, "bf16", ds_backend(2, bf16=True))
    launch(write_config(tmp_path / "bf16.yaml", data), 1)
    fp32, bf16 = (
        metrics(tmp_path / "runs/torch", "train/loss"),
        metrics(tmp_path / "runs/bf16", "train/loss"),
    )
    assert len(bf16) == 2 and all(math.isfinite(x) for x in bf16)
    assert bf16[0] == pytest.approx(fp32[0], rel=0.02)
    assert {w.dtype for w in weights(tmp_path / "runs/bf16/final").values()} == {torch.bfloat16}


@pytest.mark.slow
def test_offload_params_on_cpu_matches_torch(tmp_path: Path, tiny_model: Path) -> None:
    # parameters already live in CPU memory: ZeRO-3's offload path runs and changes nothing
    run_pair(
        tmp_path,
        sft_data(tmp_path, tiny_model, "ds", ds_backend(3, offload_params=True)),
        sft_data(tmp_path, tiny_model, "torch", {}),
    )
    assert_same_run(tmp_path, "ds", SFT_KEYS)


def test_bf16_at_zero_stage_0_is_refused(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(ValueError, match=r"bf16 needs zero_stage 1, 2 or 3: .*zero-gradient"):
        BackendConfig(kind="deepspeed", zero_stage=0, bf16=True)
    data = sft_data(tmp_path, tiny_model, "bf16", ds_backend(0, bf16=True))
    with pytest.raises(ConfigError, match="bf16 needs zero_stage 1, 2 or 3"):
        load_config(write_config(tmp_path / "bf16.yaml", data))


@pytest.mark.skipif(torch.cuda.is_available(), reason="offloading is refused without CUDA only")
def test_offload_optimizer_is_refused_without_cuda(tmp_path: Path, tiny_model: Path) -> None:
    from rlvr.backends.deepspeed import check_device

    offload = BackendConfig(kind="deepspeed", zero_stage=2, offload_optimizer=True)
    check_device(offload, on_gpu=True)
    data = sft_data(tmp_path, tiny_model, "offload", ds_backend(2, offload_optimizer=True))
    cfg = load_config(write_config(tmp_path / "offload.yaml", data))
    with pytest.raises(ValueError, match=r"offload_optimizer is for GPU runs: .*CPU Adam"):
        sft.train(cfg)
    assert not (tmp_path / "runs/offload").exists()
