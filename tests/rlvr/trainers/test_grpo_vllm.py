"""GRPO with `rollout.engine: vllm`: weights synced after training steps, parity probed, a
skipped sync stopped by the probe (marker `vllm`), and a clear error without vLLM."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.rollout.vllm import StaleWeightsError, VLLMEngine
from rlvr.trainers.grpo import train
from tests.rlvr.trainers.test_grpo import grpo_config, grpo_data


def _vllm_data(tmp_path: Path, model: Path, name: str, **vllm: object) -> dict[str, Any]:
    data = grpo_data(tmp_path, model, name, max_steps=3, random_reward=True)
    data["algo"]["num_iterations"] = 1
    data["rollout"] = {"max_new_tokens": 8, "engine": "vllm", "vllm": vllm}
    data.pop("eval_data")
    return data


def _train_rows(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    lines = (tmp_path / "runs" / name / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "train/loss" in row]


@pytest.mark.vllm
def test_vllm_rollouts_train_and_stay_in_sync(tmp_path: Path, tiny_model: Path) -> None:
    pytest.importorskip("vllm")
    result = train(grpo_config(tmp_path, _vllm_data(tmp_path, tiny_model, "every")))
    rows = _train_rows(tmp_path, "every")
    assert [r["sync/count"] for r in rows] == [1, 2, 3]
    assert all(r["sync/parity_gap"] < 1e-4 for r in rows)
    # sampled on the weights the trainer holds: engine and trainer log-probs agree
    assert all(r["train/logprob_gap"] < 1e-3 for r in rows)
    before = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    after = AutoModelForCausalLM.from_pretrained(result.final).state_dict()
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])


@pytest.mark.vllm
def test_sync_every_k_steps(tmp_path: Path, tiny_model: Path) -> None:
    pytest.importorskip("vllm")
    data = _vllm_data(tmp_path, tiny_model, "every2", sync_every=2, parity_every=1)
    train(grpo_config(tmp_path, data))
    rows = _train_rows(tmp_path, "every2")
    assert ["sync/count" in r for r in rows] == [False, True, False]
    # step 2 sampled from the step-0 weights after one update: the gap shows the staleness
    assert rows[1]["train/logprob_gap"] > rows[0]["train/logprob_gap"]


@pytest.mark.vllm
def test_a_skipped_sync_stops_the_run(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("vllm")

    def no_sync(self: VLLMEngine, model: torch.nn.Module, *, weights: object = None) -> None:
        self.last_sync_s = 0.0

    monkeypatch.setattr(VLLMEngine, "update_weights", no_sync)
    with pytest.raises(StaleWeightsError, match="stale"):
        train(grpo_config(tmp_path, _vllm_data(tmp_path, tiny_model, "skipped")))


def test_missing_vllm_fails_before_the_run_writes(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` now raises ImportError
    with pytest.raises(ImportError, match=r"`vllm` extra"):
        train(grpo_config(tmp_path, _vllm_data(tmp_path, tiny_model, "missing")))
    assert not (tmp_path / "runs" / "missing").exists()
