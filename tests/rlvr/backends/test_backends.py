"""Backend plumbing: rank sharding, launch checks, the DeepSpeed config and its lazy import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlvr.backends import Dist, launch
from rlvr.config.sections import BackendConfig, OptimConfig


def test_shards_cover_every_row_once() -> None:
    for n in range(7):
        rows = [i for rank in range(3) for i in Dist(rank, 3).shard(n)]
        assert rows == list(range(n))
    assert list(Dist(1, 2).shard(5)) == [2, 3, 4]


def test_torch_backend_refuses_several_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"backend\.kind=deepspeed"):
        launch(BackendConfig())


def test_deepspeed_only_options_are_rejected_for_torch() -> None:
    with pytest.raises(ValueError, match="DeepSpeed options"):
        BackendConfig(bf16=True)
    with pytest.raises(ValueError, match="zero_stage 3"):
        BackendConfig(kind="deepspeed", zero_stage=2, offload_params=True)


def test_importing_the_trainers_does_not_import_deepspeed() -> None:
    code = (
        "import sys, rlvr.trainers.sft, rlvr.trainers.grpo; assert 'deepspeed' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_missing_deepspeed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlvr.backends import deepspeed as ds_backend

    monkeypatch.setitem(sys.modules, "deepspeed", None)
    with pytest.raises(ImportError, match=r"rlvr\[deepspeed\]"):
        ds_backend._import_deepspeed()


def test_deepspeed_config_leaves_accumulation_and_averaging_to_the_trainer() -> None:
    from rlvr.backends.deepspeed import ds_config

    zero3 = BackendConfig(kind="deepspeed", zero_stage=3)
    cfg = ds_config(zero3, OptimConfig(grad_clip=0.5), 4, on_gpu=False)
    assert cfg["managed_gradient_accumulation"] is False
    assert cfg["gradient_accumulation_steps"] == 1 and cfg["train_batch_size"] == 4
    assert cfg["gradient_clipping"] == 0.5 and cfg["zero_optimization"]["stage"] == 3
    assert "optimizer" not in cfg  # the client torch AdamW
    offload = ds_config(
        BackendConfig(kind="deepspeed", zero_stage=2, offload_optimizer=True),
        OptimConfig(),
        1,
        on_gpu=True,
    )
    assert offload["optimizer"]["type"] == "AdamW"
    assert offload["zero_optimization"]["offload_optimizer"] == {"device": "cpu"}
    assert offload["zero_optimization"]["overlap_comm"] is True
    assert cfg["zero_optimization"]["contiguous_gradients"] is False


def test_micro_batches_are_as_many_on_every_rank() -> None:
    for n in range(1, 10):
        for world in (1, 2, 3):
            parts = [Dist(rank, world).micro_batches(n, 2) for rank in range(world)]
            assert len({len(p) for p in parts}) == 1, (n, world)
            real = [i for p in parts for rows, pad in p if not pad for i in range(n)[rows]]
            assert real == list(range(n))
            assert all(rows.stop - rows.start == 1 for p in parts for rows, pad in p if pad)
    # 8 rows over 3 ranks (2/3/3), micro 2: rank 0 pads its second pass with its first row
    assert Dist(0, 3).micro_batches(8, 2) == [(slice(0, 2), False), (slice(0, 1), True)]
    assert Dist(0, 2).micro_batches(1, 4) == [(slice(0, 1), True)]  # empty share: row 0
