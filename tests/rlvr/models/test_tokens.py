"""Token plumbing: the shared-prefix forward gives the plain forward's log-probs and gradients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.models.tokens import TokenBatch, pad_pairs, token_logprobs, token_logprobs_entropy


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


def _lean(
    model: Any, batch: TokenBatch, start: int, *, share: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    lp, logits = token_logprobs(
        model, batch, temperature=0.7, start=start, share_prefix=share, keep_logits=False
    )
    assert logits is None
    (lp * batch.completion_mask[:, start:]).sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return lp.detach(), grads


@pytest.mark.parametrize("share", [False, True], ids=["plain", "shared-prefix"])
@pytest.mark.parametrize("chunk", [512 * 40, 512 * 7], ids=["40-positions", "7-positions"])
def test_log_probs_without_logits_match_values_and_gradients(
    tiny_model: Path, share: bool, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the LM head deferred and applied in checkpointed chunks: same numbers as the plain path
    monkeypatch.setattr("rlvr.models.tokens.CHUNK_ELEMENTS", chunk)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).train()
    batch = _grouped_batch()
    start = batch.completion_start
    plain = _logprobs_and_grads(model, batch, start, share=share)
    lean = _lean(model, batch, start, share=share)
    torch.testing.assert_close(lean[0], plain[0], rtol=0, atol=1e-5)
    assert lean[1].keys() == plain[2].keys()
    for name, grad in plain[2].items():
        torch.testing.assert_close(lean[1][name], grad, rtol=1e-4, atol=1e-5, msg=name)
    # the head is the model's own again afterwards
    assert "forward" not in vars(model.get_output_embeddings())
    with torch.no_grad():
        again = token_logprobs(model, batch, temperature=0.7, start=start)[0]
    torch.testing.assert_close(again, plain[0], rtol=0, atol=1e-6)


def test_the_lean_path_never_holds_the_whole_logits(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rlvr.models.tokens.CHUNK_ELEMENTS", 512 * 5)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = _grouped_batch()
    start = batch.completion_start
    outputs: list[tuple[int, ...]] = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda _m, _args, out: outputs.append(tuple(out.shape))
    )
    with torch.no_grad():
        token_logprobs(model, batch, start=start, keep_logits=False)
    hook.remove()
    # logits (512 wide) only for the first-use check (2 positions of one row) and in chunks of
    # at most 5 positions; the deferred calls pass the 128-wide hidden states through
    logits = [shape for shape in outputs if shape[-1] == 512]
    assert logits[:2] == [(1, 2, 512), (1, 2, 512)]
    chunks = logits[2:]
    assert chunks and all(len(shape) == 2 and shape[0] <= 5 for shape in chunks)
    assert sum(shape[0] for shape in chunks) == batch.input_ids.shape[0] * (
        batch.input_ids.shape[1] - start
    )
    assert {shape[-1] for shape in outputs} == {512, 128}


class _ScaledLogits(torch.nn.Module):
    """A model that rescales its logits after the LM head (as some architectures do)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.inner.get_output_embeddings()  # type: ignore[no-any-return]

    def forward(self, **kwargs: Any) -> Any:
        out = self.inner(**kwargs)
        out.logits = out.logits * 2.0
        return out


def test_a_model_that_changes_its_logits_after_the_head_keeps_the_plain_path(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rlvr.models.tokens.CHUNK_ELEMENTS", 512 * 5)
    model = _ScaledLogits(AutoModelForCausalLM.from_pretrained(tiny_model).eval())
    batch = _grouped_batch()
    start = batch.completion_start
    with torch.no_grad():
        plain = token_logprobs(model, batch, start=start)[0]
        lean = token_logprobs(model, batch, start=start, keep_logits=False)[0]
    torch.testing.assert_close(lean, plain, rtol=0, atol=1e-6)


def test_logits_that_fit_in_one_chunk_take_the_plain_path(tiny_model: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = _grouped_batch()
    start = batch.completion_start
    calls: list[tuple[int, ...]] = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda _m, _args, out: calls.append(tuple(out.shape))
    )
    with torch.no_grad():
        lp, logits = token_logprobs(model, batch, start=start, keep_logits=False)
    hook.remove()
    assert logits is None
    assert calls == [(batch.input_ids.shape[0], batch.input_ids.shape[1] - start + 1, 512)]
    with torch.no_grad():
        torch.testing.assert_close(lp, token_logprobs(model, batch, start=start)[0])


@pytest.mark.parametrize("share", [False, True], ids=["plain", "shared-prefix"])
def test_log_probs_and_entropy_without_logits_match_the_plain_path(
    tiny_model: Path, share: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).train()
    batch = _grouped_batch()
    start = batch.completion_start
    mask = batch.completion_mask[:, start:]

    def run(chunk: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        monkeypatch.setattr("rlvr.models.tokens.CHUNK_ELEMENTS", chunk)
        model.zero_grad()
        lp, ent = token_logprobs_entropy(
            model, batch, mask=mask, temperature=0.7, start=start, share_prefix=share,
            entropy_grad=True,
        )  # fmt: skip
        (((lp + 0.1 * ent) * mask).sum()).backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        return lp.detach(), ent.detach(), grads

    plain, lean = run(1 << 30), run(512 * 6)
    torch.testing.assert_close(lean[0], plain[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(lean[1], plain[1], rtol=0, atol=1e-5)
    assert bool((lean[1][mask == 0] == 0).all()) and bool((lean[1][mask == 1] > 0).all())
    for name, grad in plain[2].items():
        torch.testing.assert_close(lean[2][name], grad, rtol=1e-4, atol=1e-5, msg=name)
    # without entropy_grad the entropy is a statistic: no gradient flows through it
    lp, ent = token_logprobs_entropy(model, batch, mask=mask, start=start, entropy_grad=False)
    assert lp.requires_grad and not ent.requires_grad


def test_the_chunk_size_comes_from_the_environment_when_set(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = _grouped_batch()
    start = batch.completion_start
    sizes: list[int] = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda _m, _args, out: sizes.append(out.shape[0]) if out.dim() == 2 else None
    )
    monkeypatch.setenv("RLVR_LOGIT_CHUNK_ELEMENTS", str(512 * 3))
    with torch.no_grad():
        token_logprobs(model, batch, start=start, keep_logits=False)
    hook.remove()
    assert sizes and max(sizes) == 3
    monkeypatch.setenv("RLVR_LOGIT_CHUNK_ELEMENTS", "many")
    with pytest.raises(ValueError, match="RLVR_LOGIT_CHUNK_ELEMENTS must be a positive integer"):
        token_logprobs(model, batch, start=start, keep_logits=False)
