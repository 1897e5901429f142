"""DeepSpeed backend for the dpo stage: 2-process ZeRO runs match the one-process torch run
(losses, gradient norms, implicit rewards and the saved weights), reference copy or cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from rlvr.config import load_config
from rlvr.trainers import dpo
from tests.rlvr.backends._launch import launch, metrics
from tests.rlvr.backends.test_deepspeed import assert_same_run
from tests.rlvr.trainers.conftest import write_config
from tests.rlvr.trainers.test_dpo import dpo_data

pytest.importorskip("deepspeed")

DPO_KEYS = ("train/loss", "train/grad_norm", "train/rewards/margins", "train/logps/chosen")


def pair(tmp_path: Path, model: Path, stage: int, algo: dict[str, Any]) -> tuple[dict, dict]:
    runs = []
    for name, backend in (("ds", {"kind": "deepspeed", "zero_stage": stage}), ("torch", {})):
        data = dpo_data(tmp_path, model, name, eval_data=None)
        data["data"] = {**data["data"], "n": 16}
        data["algo"] = algo
        data["backend"] = backend
        data["train"].update({"micro_batch_size": 2, "save_every": 2})
        runs.append(data)
    return runs[0], runs[1]


@pytest.mark.parametrize(
    ("stage", "algo"),
    [
        pytest.param(2, {"loss": "sigmoid", "beta": 0.1}, marks=pytest.mark.slow),
        pytest.param(3, {"loss": "kto", "unpair": True, "precompute_reference": True},
                     marks=pytest.mark.slow),
        pytest.param(2, {"loss": "sigmoid", "beta": 0.1, "chunk": "2048"},
                     marks=pytest.mark.slow),
    ],
    ids=["zero2-dpo", "zero3-kto-cached", "zero2-dpo-chunked-lm-head"],
)  # fmt: skip
def test_dpo_two_ranks_match_torch(
    tmp_path: Path,
    tiny_model: Path,
    stage: int,
    algo: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "chunk" in algo:  # the LM head in chunks of 4 positions, in this process and the ranks
        monkeypatch.setenv("RLVR_LOGIT_CHUNK_ELEMENTS", algo["chunk"])
        algo = {k: v for k, v in algo.items() if k != "chunk"}
    ds, torch_run = pair(tmp_path, tiny_model, stage, algo)
    dpo.train(load_config(write_config(tmp_path / "torch.yaml", torch_run)))
    launch(write_config(tmp_path / "ds.yaml", ds), 2)
    keys = DPO_KEYS if algo["loss"] != "kto" else ("train/loss", "train/grad_norm", "train/kl")
    assert_same_run(tmp_path, "ds", keys)


@pytest.mark.slow
def test_lora_under_zero3_matches_torch(tmp_path: Path, tiny_model: Path) -> None:
    ds, torch_run = pair(tmp_path, tiny_model, 3, {"loss": "sigmoid", "beta": 0.1})
    for data in (ds, torch_run):
        data["model"]["lora"] = {"r": 4, "alpha": 8}
    dpo.train(load_config(write_config(tmp_path / "torch.yaml", torch_run)))
    launch(write_config(tmp_path / "ds.yaml", ds), 2)
    for key in DPO_KEYS:
        torch.testing.assert_close(
            metrics(tmp_path / "runs/ds", key), metrics(tmp_path / "runs/torch", key),
            rtol=1e-4, atol=1e-6, msg=key,
        )  # fmt: skip
    adapters = [load_file(str(tmp_path / f"runs/{n}/final/adapter_model.safetensors"))
                for n in ("ds", "torch")]  # fmt: skip
    assert adapters[0].keys() == adapters[1].keys() and adapters[0]
    for key, value in adapters[0].items():
        torch.testing.assert_close(value, adapters[1][key], rtol=1e-4, atol=1e-6, msg=key)
