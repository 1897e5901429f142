"""Reward-model trainer: a smoke run with its audit, micro-batch invariance of the step,
resume, the held-out split and the pairs it drops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rlvr.backends.torch_backend import TorchBackend
from rlvr.config import load_config
from rlvr.config.sections import LoRAConfig, ModelConfig, OptimConfig
from rlvr.data.preference import arithmetic_pref
from rlvr.data.types import PreferencePair
from rlvr.models.lora import apply_lora
from rlvr.models.reward_head import (
    RewardModelError,
    load_reward_backbone,
    load_reward_model,
    score_texts,
)
from rlvr.trainers.reward_model import (
    RewardModelConfig,
    encode_preference,
    pair_step,
    split_by_prompt,
    train,
)
from tests.rlvr.trainers.conftest import write_config


def rm_data(tmp_path: Path, model: Path, name: str = "rm", **train_cfg: Any) -> dict[str, Any]:
    options = {"ops": ["+", "-"]}
    return {
        "stage": "reward_model",
        "model": {"path": str(model)},
        "data": {
            "synthetic": "arithmetic-pref",
            "n": 48,
            "seed": 0,
            "options": {**options, "split": "train"},
        },
        "eval_data": {
            "synthetic": "arithmetic-pref",
            "n": 16,
            "seed": 1,
            "options": {**options, "split": "test"},
        },
        "optim": {"lr": 1e-3},
        "train": {
            "max_steps": 4,
            "batch_size": 8,
            "micro_batch_size": 4,
            "eval_every": 2,
            "log_every": 1,
            "save_every": 2,
            **train_cfg,
        },
        "run": {"name": name, "output_dir": str(tmp_path / "runs")},
    }


def rm_config(tmp_path: Path, data: dict[str, Any]) -> RewardModelConfig:
    return load_config(write_config(tmp_path / "rm.yaml", data))


def test_smoke_run_trains_the_head_and_body_and_audits(tmp_path: Path, tiny_model: Path) -> None:
    result = train(rm_config(tmp_path, rm_data(tmp_path, tiny_model)))
    assert result.steps == 4 and 0 <= result.eval_accuracy <= 1
    run = tmp_path / "runs/rm"
    model = AutoModelForSequenceClassification.from_pretrained(result.final)
    assert model.config.num_labels == 1
    assert model.config.pad_token_id == AutoTokenizer.from_pretrained(result.final).pad_token_id
    base = load_file(str(tiny_model / "model.safetensors"))
    after = load_file(str(Path(result.final) / "model.safetensors"))
    assert "score.weight" in after and "lm_head.weight" not in after
    changed = [k for k, v in after.items() if k in base and not torch.equal(v, base[k])]
    assert len(changed) > 10
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert [r["step"] for r in rows if "eval/accuracy" in r] == [2, 4]
    split = json.loads((run / "manifest.json").read_text())["split"]
    assert split["how"] == "eval_data" and split["held_out_pairs"] == 16
    assert split["train_pairs"] == 48 and split["held_out_prompts_seen_in_training"] == 0
    audit = json.loads((run / "audit/audit.json").read_text())
    assert audit["n"] == 16 and audit["accuracy"] == result.eval_accuracy
    assert list(result.audit_warnings) == audit["warnings"]
    for name in ("audit.md", "audit.png", "audit_pairs.jsonl"):
        assert (run / "audit" / name).stat().st_size > 0


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_step_is_the_same_for_any_micro_batch_split_and_shared_prompt(tiny_model: Path) -> None:
    torch.manual_seed(0)
    model, tokenizer, _ = load_reward_backbone(ModelConfig(str(tiny_model)))
    pairs = [
        PreferencePair(f"What is {7 * i} + 1?", f"{7 * i + 1}.", f"{i}", margin=0.1 * i)
        for i in range(6)
    ]
    enc, dropped = encode_preference(tokenizer, pairs, max_len=64)
    assert dropped == {"same_ids": 0, "too_long": 0} and enc.margins is not None
    backend = TorchBackend(model, OptimConfig(), total_steps=1)
    results = []
    # the shared-prompt pass (default) and the plain one, whole batch and micro-batches
    for micro, share in ((6, False), (6, True), (4, True), (1, True), (4, False)):
        backend.zero_grad()
        stats = pair_step(
            backend, enc, list(range(6)), pad_id=3, micro=micro, center=0.01, share_prefix=share
        )
        results.append((stats, _grads(model)))
    (s0, g0), *rest = results
    for stats, grads in rest:
        assert stats == pytest.approx(s0, rel=1e-5)
        for name, g in g0.items():
            torch.testing.assert_close(grads[name], g, rtol=1e-4, atol=1e-6)


def test_resumed_run_matches_an_uninterrupted_one(tmp_path: Path, tiny_model: Path) -> None:
    whole = train(rm_config(tmp_path, rm_data(tmp_path, tiny_model, name="whole")))
    half = rm_data(tmp_path, tiny_model, name="halves", max_steps=2)
    train(rm_config(tmp_path, half))
    resumed = train(rm_config(tmp_path, {**half, "train": {**half["train"], "max_steps": 4}}))
    assert resumed.steps == 4
    a = load_file(str(Path(whole.final) / "model.safetensors"))
    b = load_file(str(Path(resumed.final) / "model.safetensors"))
    for name, t in a.items():
        torch.testing.assert_close(b[name], t, rtol=1e-5, atol=1e-6)
    assert resumed.eval_accuracy == whole.eval_accuracy


def test_held_out_split_keeps_prompts_apart(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    pairs = [PreferencePair(f"q{i % 40}", "a", "b", id=str(i)) for i in range(400)]
    train_rows, held = split_by_prompt(tokenizer, pairs, 0.2)
    assert {p.prompt for p in train_rows}.isdisjoint({p.prompt for p in held})
    assert 20 < len(held) < 160 and len(train_rows) + len(held) == 400


def test_pairs_without_a_preference_or_too_long_are_dropped(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    pairs = [
        PreferencePair("q", "1 + 1 = 2.", "1 + 1 = 3."),
        PreferencePair("q", "caf\u00e9", "cafe\u0301"),  # NFC-normalised: the same ids
        PreferencePair("q", "1 " * 50, "2"),
    ]
    enc, dropped = encode_preference(tokenizer, pairs, max_len=40)
    assert dropped == {"same_ids": 1, "too_long": 1}
    assert enc.pairs == pairs[:1] and enc.margins is None


def test_unpaired_rows_and_a_dataset_left_empty_are_refused(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = rm_data(tmp_path, tiny_model)
    data["data"]["options"]["unpaired"] = True
    with pytest.raises(ValueError, match="data: reward-model training needs pairwise rows"):
        train(rm_config(tmp_path, data))
    data = rm_data(tmp_path, tiny_model, max_len=4)
    with pytest.raises(ValueError, match=r"no training pairs left .*'too_long': 48"):
        train(rm_config(tmp_path, data))


def test_lora_run_trains_adapters_and_head_and_loads_merged(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = rm_data(tmp_path, tiny_model, max_steps=2, eval_every=2)
    data["model"]["lora"] = {"r": 4, "alpha": 8, "save_merged": True}
    result = train(rm_config(tmp_path, data))
    final = Path(result.final)
    assert (final / "adapter_config.json").is_file() and not (final / "config.json").exists()
    adapters = load_file(str(final / "adapter_model.safetensors"))
    assert any("lora_A" in k for k in adapters) and any("score" in k for k in adapters)
    # the adapters merge into their base for scoring; the merged copy is a plain reward model
    pairs = arithmetic_pref(16, seed=1, ops=["+", "-"], split="test")
    scores = []
    for path in (final, final / "merged"):
        model, tokenizer = load_reward_model(str(path))
        scores.append(
            score_texts(model, tokenizer, [p.prompt for p in pairs], [p.chosen for p in pairs])
        )
    assert scores[0] == pytest.approx(scores[1], abs=1e-4)
    audit = json.loads((tmp_path / "runs/rm/audit/audit_pairs.jsonl").read_text().splitlines()[0])
    assert audit["chosen_reward"] == pytest.approx(scores[0][0], abs=1e-4)
    # resuming a LoRA run continues from its adapters
    resumed = train(rm_config(tmp_path, {**data, "train": {**data["train"], "max_steps": 3}}))
    assert resumed.steps == 3


def test_causal_lm_adapters_are_not_a_reward_model(tmp_path: Path, tiny_model: Path) -> None:
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    lora = apply_lora(base, LoRAConfig(r=2), where="tiny")
    lora.save_pretrained(tmp_path / "adapters")
    with pytest.raises(RewardModelError, match=r"adapters of a causal LM \(CAUSAL_LM\)"):
        load_reward_model(str(tmp_path / "adapters"))


def test_head_layers_on_a_frozen_body_train_only_the_top_and_resume(
    tmp_path: Path, tiny_model: Path
) -> None:
    head = {"layers": 2, "freeze_body": True}
    whole = train(
        rm_config(tmp_path, {**rm_data(tmp_path, tiny_model, name="whole"), "head": head})
    )
    base = load_file(str(tiny_model / "model.safetensors"))
    after = load_file(str(Path(whole.final) / "model.safetensors"))
    depth = AutoModelForCausalLM.from_pretrained(tiny_model).config.num_hidden_layers
    plain = AutoModelForSequenceClassification.from_pretrained(whole.final)
    assert plain.config.num_hidden_layers == depth + 2  # any HF tool loads the grown model
    for name, t in base.items():  # the body as loaded: embeddings and its blocks
        if name.startswith("model.") and not name.startswith("model.norm"):
            assert torch.equal(after[name], t), name
    top = [k for k in after if k.startswith(f"model.layers.{depth}.")]
    assert top and any(after[k].abs().sum() > 0 for k in top if "o_proj" in k)
    assert not torch.equal(after["model.norm.weight"], base["model.norm.weight"])
    # a resumed run holds the grown blocks already: it adds none and freezes the same
    half = {**rm_data(tmp_path, tiny_model, name="halves", max_steps=2), "head": head}
    train(rm_config(tmp_path, half))
    resumed = train(rm_config(tmp_path, {**half, "train": {**half["train"], "max_steps": 4}}))
    b = load_file(str(Path(resumed.final) / "model.safetensors"))
    assert b.keys() == after.keys()
    for name, t in after.items():
        torch.testing.assert_close(b[name], t, rtol=1e-5, atol=1e-6)


def test_head_options_refused_where_they_cannot_apply(tmp_path: Path, tiny_model: Path) -> None:
    lora = {"model": {"path": str(tiny_model), "lora": {"r": 4}}, "head": {"layers": 1}}
    with pytest.raises(RewardModelError, match=r"without model\.lora"):
        train(rm_config(tmp_path, {**rm_data(tmp_path, tiny_model, name="lora"), **lora}))
    first = train(rm_config(tmp_path, rm_data(tmp_path, tiny_model, name="plain", max_steps=1)))
    again = {**rm_data(tmp_path, tiny_model, name="again"), "head": {"layers": 1}}
    again["model"] = {"path": first.final}
    with pytest.raises(RewardModelError, match=r"already a reward model; set head\.layers: 0"):
        train(rm_config(tmp_path, again))
    with pytest.raises(ValueError, match="layers must be a non-negative int, got -1"):
        rm_config(tmp_path, {**rm_data(tmp_path, tiny_model), "head": {"layers": -1}})
