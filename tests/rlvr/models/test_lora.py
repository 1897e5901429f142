"""LoRA through peft: only adapters train, the reference is the adapter-disabled base (no copy),
adapters are saved and merged on request, and SFT, DPO and GRPO each train them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.config import load_config
from rlvr.config.sections import BackendConfig, LoRAConfig, ModelConfig
from rlvr.models.loading import load_policy
from rlvr.models.lora import (
    as_reference,
    check_lora_backend,
    is_adapter_dir,
    is_lora,
    reference,
)
from rlvr.trainers import dpo, grpo, sft
from tests.rlvr.trainers.conftest import write_config
from tests.rlvr.trainers.test_dpo import dpo_data
from tests.rlvr.trainers.test_grpo import grpo_data

pytest.importorskip("peft")

LORA = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}


def lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]


def test_only_adapters_train_and_the_reference_is_the_base(tiny_model: Path) -> None:
    model, _ = load_policy(ModelConfig(str(tiny_model), lora=LoRAConfig(**LORA)))
    assert is_lora(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)  # as if trained
    assert reference(model, lambda: pytest.fail("no copy under LoRA")) is None
    ids = torch.tensor([[5, 6, 7, 8]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad(), as_reference(model, None) as frozen:
        off = frozen(input_ids=ids).logits
    assert model.training  # back to its mode
    torch.testing.assert_close(off, base(input_ids=ids).logits)
    assert not torch.allclose(model(input_ids=ids).logits, off)


def test_unknown_target_and_zero3_are_one_line_errors(tiny_model: Path) -> None:
    bad = ModelConfig(str(tiny_model), lora=LoRAConfig(target_modules=("q_proj", "attn_qkv")))
    with pytest.raises(ValueError, match=r"'attn_qkv' matches no module of .*; its linear mod"):
        load_policy(bad)
    zero3 = BackendConfig(kind="deepspeed", zero_stage=3)
    with pytest.raises(ValueError, match=r"model\.lora\.save_merged with DeepSpeed ZeRO-3 is not"):
        check_lora_backend(LoRAConfig(save_merged=True), backend=zero3)
    check_lora_backend(LoRAConfig(), backend=zero3)
    check_lora_backend(LoRAConfig(save_merged=True), backend=BackendConfig(kind="deepspeed"))


def test_dpo_lora_starts_at_log_2_and_saves_adapters_and_merged(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = dpo_data(tmp_path, tiny_model, "lora", model={"lora": {**LORA, "save_merged": True}})
    data["optim"] = {"lr": 1e-2}
    result = dpo.train(load_config(write_config(tmp_path / "dpo.yaml", data)))
    rows = lines(tmp_path / "runs/lora")
    assert next(r["train/loss"] for r in rows if "train/loss" in r) == pytest.approx(math.log(2))
    assert is_adapter_dir(result.final) and result.merged is not None
    merged = AutoModelForCausalLM.from_pretrained(result.merged)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged.state_dict()[q], base.state_dict()[q])
    k = "model.layers.0.self_attn.k_proj.weight"  # not a target: unchanged
    assert torch.equal(merged.state_dict()[k], base.state_dict()[k])
    # the adapter directory loads as the merged model for a next stage without LoRA
    loaded, _ = load_policy(ModelConfig(result.final))
    assert not is_lora(loaded)
    torch.testing.assert_close(loaded.state_dict()[q], merged.state_dict()[q])


def test_sft_lora_resumes_its_adapters(tmp_path: Path, tiny_model: Path) -> None:
    data = {
        "stage": "sft",
        "model": {"path": str(tiny_model), "lora": LORA},
        "data": {"synthetic": "arithmetic", "n": 32, "seed": 0},
        "optim": {"lr": 1e-2},
        "train": {"max_steps": 2, "batch_size": 8, "log_every": 1, "save_every": 2},
        "reward": {"workers": 0},
        "run": {"name": "sft-lora", "output_dir": str(tmp_path / "runs")},
    }
    sft.train(load_config(write_config(tmp_path / "sft.yaml", data)))
    data["train"]["max_steps"] = 3
    data["run"]["accept_contract_change"] = True
    result = sft.train(load_config(write_config(tmp_path / "sft.yaml", data)))
    assert result.steps == 3 and is_adapter_dir(result.final)
    losses = [r["train/loss"] for r in lines(tmp_path / "runs/sft-lora") if "train/loss" in r]
    assert len(losses) == 3 and losses[2] < losses[0]


def test_grpo_lora_logs_drift_against_the_adapter_free_base(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = grpo_data(tmp_path, tiny_model, name="grpo-lora", kl_every=1)
    data["model"]["lora"] = LORA
    data["algo"].update({"kl_coef": 0.01, "num_iterations": 1})
    data["train"].update({"max_steps": 2, "eval_every": 2})
    result = grpo.train(load_config(write_config(tmp_path / "grpo.yaml", data)))
    assert is_adapter_dir(result.final)
    kls = [r["train/kl"] for r in lines(tmp_path / "runs/grpo-lora") if "train/kl" in r]
    assert len(kls) == 2 and kls[0] == pytest.approx(0.0, abs=1e-6) and math.isfinite(kls[1])


def test_asking_whether_a_model_has_adapters_does_not_import_peft() -> None:
    code = (
        "import sys, torch\n"
        "from rlvr.models.lora import is_lora\n"
        "assert not is_lora(torch.nn.Linear(2, 2))\n"
        "print('peft' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
