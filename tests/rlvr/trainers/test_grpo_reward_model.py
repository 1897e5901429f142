"""GRPO with `reward.model`: a learned reward scored in the trainer process beside the verifier,
with the hf and vllm engines and on two DeepSpeed ranks; a causal LM is refused before training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rlvr.config.sections import ModelConfig
from rlvr.models.reward_head import RewardModelError, load_reward_backbone
from rlvr.trainers.grpo import train
from tests.rlvr.backends._launch import launch, metrics
from tests.rlvr.trainers.conftest import write_config
from tests.rlvr.trainers.test_grpo import grpo_config, grpo_data

MODEL_KEYS = ("reward/model_mean", "reward/model_std", "reward/model_verifier_corr")


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    torch.manual_seed(0)
    model, tokenizer, _ = load_reward_backbone(ModelConfig(str(tiny_model)))
    out = tmp_path_factory.mktemp("rm") / "rm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _data(tmp_path: Path, model: Path, rm: Path, name: str, **reward: Any) -> dict[str, Any]:
    data = grpo_data(tmp_path, model, name, max_steps=2, eval_every=2, save_every=2)
    data["algo"]["num_iterations"] = 1
    data["reward"] = {"workers": 0, "model": {"path": str(rm), "batch_size": 4, **reward}}
    data.pop("eval_data")
    return data


def _rows(run: Path) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "reward/model_mean" in r]


def test_learned_reward_is_mixed_in_and_logged(
    tmp_path: Path, tiny_model: Path, reward_dir: Path
) -> None:
    train(grpo_config(tmp_path, _data(tmp_path, tiny_model, reward_dir, "rm", weight=0.5)))
    run = tmp_path / "runs/rm"
    rows = _rows(run)
    assert len(rows) == 2
    for row in rows:
        assert all(key in row for key in (*MODEL_KEYS, "reward/model_s", "reward/total_mean"))
        # the verifier's own reward stays what reward/mean reports; whitened learned
        # rewards (mean 0) leave the total's mean where the verifier's is
        assert row["reward/total_mean"] == pytest.approx(row["reward/mean"], abs=1e-5)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["reward_model"] == {"path": str(reward_dir), "ids": True}


def test_a_causal_lm_as_reward_model_is_refused(tmp_path: Path, tiny_model: Path) -> None:
    data = _data(tmp_path, tiny_model, tiny_model, "causal")
    with pytest.raises(RewardModelError, match=r"no scalar reward head.*stage: reward_model"):
        train(grpo_config(tmp_path, data))
    assert not (tmp_path / "runs/causal/checkpoints").exists()


@pytest.mark.vllm
@pytest.mark.slow
def test_learned_reward_with_the_vllm_engine(
    tmp_path: Path, tiny_model: Path, reward_dir: Path
) -> None:
    pytest.importorskip("vllm")
    data = _data(tmp_path, tiny_model, reward_dir, "vllm")
    data["rollout"] = {"max_new_tokens": 8, "engine": "vllm"}
    train(grpo_config(tmp_path, data))
    rows = _rows(tmp_path / "runs/vllm")
    assert len(rows) == 2 and all(r["reward/model_std"] > 0 for r in rows)


@pytest.mark.slow
def test_learned_reward_on_two_deepspeed_ranks_matches_one_process(
    tmp_path: Path, tiny_model: Path, reward_dir: Path
) -> None:
    pytest.importorskip("deepspeed")
    torch_data = _data(tmp_path, tiny_model, reward_dir, "torch")
    torch_data["rollout"]["data_parallel"] = False
    train(grpo_config(tmp_path, torch_data))
    ds = {**torch_data, "backend": {"kind": "deepspeed", "zero_stage": 2}}
    ds["run"] = {**torch_data["run"], "name": "ds"}
    launch(write_config(tmp_path / "ds.yaml", ds), 2)
    for key in (*MODEL_KEYS, "train/loss"):
        expected = metrics(tmp_path / "runs/torch", key)
        assert len(expected) == 2, key
        got = metrics(tmp_path / "runs/ds", key)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6, msg=key)
