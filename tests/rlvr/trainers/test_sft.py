"""SFT smoke test: a few steps on the tiny model change the weights and lower the loss."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from rlvr.config import load_config
from rlvr.trainers.sft import SFTConfig, train
from tests.rlvr.trainers.conftest import write_config


def sft_config(tmp_path: Path, model: Path, **train_overrides: object) -> SFTConfig:
    data = {
        "stage": "sft",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 64, "seed": 0},
        "eval_data": {"synthetic": "arithmetic", "n": 8, "seed": 99},
        "optim": {"lr": 3e-3},
        "train": {
            "max_steps": 6,
            "batch_size": 16,
            "micro_batch_size": 8,
            "eval_every": 3,
            "log_every": 1,
            "save_every": 3,
            **train_overrides,
        },
        "generation": {"max_new_tokens": 8},
        "reward": {"workers": 1},
        "run": {"name": "sft", "output_dir": str(tmp_path / "runs")},
    }
    return load_config(write_config(tmp_path / "sft.yaml", data))


def test_sft_trains_and_saves_hf_checkpoint(tmp_path: Path, tiny_model: Path) -> None:
    result = train(sft_config(tmp_path, tiny_model))
    assert result.steps == 6 and result.eval_accuracy is not None
    before = AutoModelForCausalLM.from_pretrained(tiny_model)
    after = AutoModelForCausalLM.from_pretrained(result.final)
    changed = [
        name
        for (name, p), q in zip(before.named_parameters(), after.parameters(), strict=True)
        if not torch.equal(p, q)
    ]
    assert "lm_head.weight" in changed and len(changed) > 10
    lines = [json.loads(x) for x in (tmp_path / "runs/sft/metrics.jsonl").read_text().splitlines()]
    losses = [x["train/loss"] for x in lines if "train/loss" in x]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert [x["step"] for x in lines if "eval/accuracy" in x] == [3, 6]


def test_sft_stops_at_target_accuracy(tmp_path: Path, tiny_model: Path) -> None:
    result = train(sft_config(tmp_path, tiny_model, target_accuracy=0.0))
    assert result.steps == 3
