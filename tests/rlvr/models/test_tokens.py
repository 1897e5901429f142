"""Token plumbing: the shared-prefix forward gives the plain forward's log-probs and gradients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.models.tokens import TokenBatch, pad_pairs, token_logprobs


def _grouped_batch(groups: int = 4, g: int = 4) -> TokenBatch:
    """`groups` prompts of different lengths, `g` completions of 1..8 tokens each."""
    gen = torch.Generator().manual_seed(0)
    pairs = []
    for k in range(groups):
        prompt = torch.randint(10, 500, (10 + k,), generator=gen).tolist()
        for _ in range(g):
            n = int(torch.randint(1, 9, (1,), generator=gen))
            pairs.append((prompt, torch.randint(10, 500, (n,), generator=gen).tolist()))
    return pad_pairs(pairs, pad_id=0)


def _logprobs_and_grads(
    model: Any, batch: TokenBatch, start: int, *, share: bool
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    lp, logits = token_logprobs(model, batch, temperature=0.7, start=start, share_prefix=share)
    (lp * batch.completion_mask[:, start:]).sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return lp.detach(), logits.detach(), grads


@pytest.mark.parametrize("rows", [slice(None), slice(2, 11)], ids=["whole", "cut-groups"])
def test_shared_prefix_equals_the_plain_forward(tiny_model: Path, rows: slice) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).train()
    full = _grouped_batch()
    batch, start = full[rows], full.completion_start
    plain = _logprobs_and_grads(model, batch, start, share=False)
    shared = _logprobs_and_grads(model, batch, start, share=True)
    torch.testing.assert_close(shared[0], plain[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(shared[1], plain[1], rtol=0, atol=1e-5)
    assert shared[2].keys() == plain[2].keys()
    for name, grad in plain[2].items():
        torch.testing.assert_close(shared[2][name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_shared_prefix_runs_the_prefix_once_per_group(tiny_model: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = _grouped_batch()
    seen: list[tuple[int, ...]] = []
    hook = model.model.embed_tokens.register_forward_hook(
        lambda _m, args, _out: seen.append(tuple(args[0].shape))
    )
    with torch.no_grad():
        token_logprobs(model, batch, start=batch.completion_start, share_prefix=True)
    hook.remove()
    width = batch.input_ids.shape[1]
    start = batch.completion_start
    assert seen == [(4, start), (16, width - start)]


def test_prefix_sharing_needs_equal_rows(tiny_model: Path) -> None:
    # no two neighbouring rows share their head: the plain forward runs (one pass)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = pad_pairs([([5, 6, 7], [8]), ([5, 6, 9], [8, 9])], pad_id=0)
    calls: list[int] = []
    hook = model.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        a = token_logprobs(model, batch, start=3, share_prefix=True)[0]
        b = token_logprobs(model, batch, start=3)[0]
    hook.remove()
    assert len(calls) == 2 and torch.equal(a, b)
