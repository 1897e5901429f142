"""rlvr's own KV cache: built from the model's config, passed by the installed keyword."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM
from transformers.modeling_outputs import CausalLMOutputWithPast

from rlvr.models.kv_cache import CACHE_KEYWORD, forward_cached, model_config, new_cache


class Engine(torch.nn.Module):
    """Like DeepSpeed's engine: its own `config` (a dict) and the model as `module`."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module
        self.config = {"zero_optimization": {"stage": 3}}

    def forward(self, **inputs: object) -> object:
        return self.module(**inputs)


class Parallel(torch.nn.Module):
    """Like DistributedDataParallel: no `config` at all."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module


def test_keyword_is_the_one_the_installed_outputs_use() -> None:
    names = {f.name for f in fields(CausalLMOutputWithPast)}
    assert CACHE_KEYWORD in names and CACHE_KEYWORD in {"cache", "past_key_values"}


def test_config_is_found_through_wrappers(tiny_model: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model_config(model) is model.config
    assert model_config(Engine(model)) is model.config
    assert model_config(Parallel(Engine(model))) is model.config


def test_cached_decoding_equals_one_full_forward(tiny_model: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = torch.tensor([[3, 17, 42, 9, 5, 11]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask).logits  # [1, 6, V]
        cache = new_cache(Engine(model))
        head = forward_cached(model, cache, input_ids=ids[:, :4], attention_mask=mask[:, :4])
        tail = forward_cached(model, cache, input_ids=ids[:, 4:], attention_mask=mask)
    assert cache.get_seq_length() == 6
    torch.testing.assert_close(torch.cat([head, tail], dim=1), full, atol=1e-5, rtol=0)
