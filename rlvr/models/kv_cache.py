"""The KV cache, owned by rlvr rather than handed over by `generate`.

The HF rollout engine and the shared-prefix loss both run a model forward pass with a cache that
rlvr builds, passes in and then edits (`batch_repeat_interleave`, `batch_select_indices`). Owning
the cache keeps them working across transformers releases that differ in what `generate` hands
a custom decoding loop and in what a model output calls its cache.

Library internals still used here, and why:
  1. `transformers.DynamicCache(config=...)`: the public cache class. Building it from the
     model's config gives sliding-window and hybrid models their per-layer cache types, which
     a hand-rolled cache would have to reimplement for every architecture.
  2. `DynamicCache.batch_repeat_interleave` / `batch_select_indices`: public methods, in place,
     differentiable (`index_select` / `repeat_interleave` on the stored tensors). They are what
     lets one prefill serve G completions.
  3. The keyword a model forward takes its cache by: `past_key_values` up to transformers 5.23,
     `cache` from 5.24 (the old name is accepted with a warning until 5.40). It is read once from
     the fields of `CausalLMOutputWithPast`, which were renamed in the same release, so no
     version number is compared and a model wrapper (DeepSpeed, peft) that forwards keywords
     needs no inspection. Since the cache is edited in place, no model output is read for it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch
from transformers import DynamicCache, PretrainedConfig
from transformers.modeling_outputs import CausalLMOutputWithPast

CACHE_KEYWORD = (
    "cache" if "cache" in {f.name for f in fields(CausalLMOutputWithPast)} else "past_key_values"
)
"""The keyword every transformers model forward takes its KV cache by, in this installation."""


def model_config(model: Any) -> PretrainedConfig:
    """The transformers config of `model`, or of the model a wrapper holds as `module`.

    DeepSpeed's engine has a `config` of its own (its JSON config), so a wrapper is recognised
    by its config not being a transformers one.
    """
    try:
        config = model.config
    except AttributeError:  # a wrapper without one (DistributedDataParallel)
        config = None
    if isinstance(config, PretrainedConfig):
        return config
    return model_config(model.module)


def new_cache(model: Any) -> DynamicCache:
    """An empty KV cache laid out for `model` (sliding and hybrid layers too; wrappers too)."""
    return DynamicCache(config=model_config(model))


def forward_cached(
    model: Any,
    cache: DynamicCache,
    *,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    logits_to_keep: int = 0,
) -> torch.Tensor:
    """Logits of `model` on `input_ids` `[B, S]`, reading and extending `cache` in place.

    `logits_to_keep` = k > 0 keeps the last k positions' logits (`[B, k, V]`); 0 keeps all.
    """
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        logits_to_keep=logits_to_keep,
        **{CACHE_KEYWORD: cache},
    )
    return out.logits  # type: ignore[no-any-return]
