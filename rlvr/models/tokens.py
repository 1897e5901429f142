"""Token plumbing shared by the engines and trainers: render prompts, encode prompt/completion
pairs, pad, score tokens.

Implementation details:
  1. Prompt and completion are tokenized separately and concatenated, so training sees exactly
     the ids generation produces (a joint encode could merge tokens across the boundary).
  2. Batches are right-padded. `completion_mask[b, t]` marks position `t` as a completion token
     of row `b`; the log-probability of that token comes from the logits at `t - 1`.
  3. `token_logprobs(..., start=batch.completion_start)` asks the model for the logits of the
     completion window only (`logits_to_keep`), so the LM head and the log-softmax skip the
     prompt positions shared by every row.
  4. `share_prefix=True` (GRPO: the G completions of a prompt are consecutive rows with the
     same prompt) runs columns `0..start-1` once per run of rows equal there, with the KV
     cache kept, then runs columns `start..L-1` of every row on top of its run's cache
     (`batch_select_indices`, differentiable), so gradients reach the shared prefix from all
     of its rows. Right padding keeps every prefix column a real token, so positions are
     the column indices in both passes. With G = 8 and prompts about 40% of the row, this
     skips about a third of the forward and backward work.
  5. `keep_logits=False` (callers that need log-probabilities only: DPO, references, old
     policies) does not hold a `[B, W, V]` logits tensor when it is larger than one chunk of
     `CHUNK_ELEMENTS`. The LM head is deferred during the model's forward (it passes its
     input, the last hidden states, through), then applied to chunks of `CHUNK_ELEMENTS / V`
     positions, each under activation checkpointing, so the backward pass recomputes a
     chunk's logits instead of keeping them. With a 152k-row vocabulary the logits are most
     of a preference step's memory; this keeps one chunk of them at a time. Smaller batches
     take the plain path, as does any model where the lean path would not be exact: the
     first use on a model checks that the deferred head gives the logits the model gives (a
     model that rescales or caps its logits after the head keeps the plain path), and a head
     whose weights ZeRO-3 partitions is never deferred (ranks would call it a different
     number of times).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedTokenizerBase

from rlvr.algorithms.kl import entropy_from_logits
from rlvr.data.types import Prompt
from rlvr.models.kv_cache import forward_cached, new_cache


def render_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> str:
    """Text of a prompt: chat messages go through the chat template, strings stay as they are."""
    if isinstance(prompt, str):
        return prompt
    text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    return str(text)


@dataclass(frozen=True)
class TokenBatch:
    """Right-padded prompt+completion ids. Shapes `[B, L]`."""

    input_ids: torch.Tensor
    """Token ids, padded with the pad id."""
    attention_mask: torch.Tensor
    """1 on real tokens, 0 on padding."""
    completion_mask: torch.Tensor
    """1 on completion tokens (the ones a loss is taken on), 0 elsewhere."""

    @property
    def completion_start(self) -> int:
        """First column holding a completion token in any row (at least 1; 1 if none)."""
        cols = self.completion_mask.any(dim=0).nonzero()
        return max(1, int(cols[0])) if len(cols) else 1

    def to(self, device: torch.device | str) -> TokenBatch:
        """The same batch on `device`."""
        return TokenBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.completion_mask.to(device),
        )

    def __getitem__(self, rows: slice) -> TokenBatch:
        return TokenBatch(
            self.input_ids[rows], self.attention_mask[rows], self.completion_mask[rows]
        )


def encode_pairs(
    tokenizer: object,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    *,
    eos_id: int | None,
    max_len: int | None = None,
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids) per row; `eos_id` is appended to each completion if given.

    Rows longer than `max_len` keep their prompt and lose completion tokens from the end.
    """
    texts = [render_prompt(tokenizer, p) for p in prompts]  # type: ignore[arg-type]
    enc_p = tokenizer(texts, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    enc_c = tokenizer(list(completions), add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    pairs = []
    for p_ids, c_ids in zip(enc_p, enc_c, strict=True):
        c_ids = [*c_ids, eos_id] if eos_id is not None else list(c_ids)
        if max_len is not None:
            c_ids = c_ids[: max(0, max_len - len(p_ids))]
        pairs.append((list(p_ids), c_ids))
    return pairs


def pad_pairs(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], *, pad_id: int) -> TokenBatch:
    """Right-pad (prompt, completion) id pairs into a `TokenBatch`."""
    width = max(len(p) + len(c) for p, c in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(pairs), width), dtype=torch.long)
    comp = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (p, c) in enumerate(pairs):
        n_p, n = len(p), len(p) + len(c)
        ids[row, :n] = torch.tensor([*p, *c], dtype=torch.long)
        attn[row, :n] = 1
        comp[row, n_p:n] = 1
    return TokenBatch(ids, attn, comp)


CHUNK_ELEMENTS = 1 << 24
"""Logit elements per chunk of the lean path (implementation detail 5): 64 MiB of float32.
The environment variable `RLVR_LOGIT_CHUNK_ELEMENTS` overrides it (e.g. to bound memory more
tightly, or to exercise the path on a small vocabulary)."""


def _chunk_elements() -> int:
    """`CHUNK_ELEMENTS`, or `RLVR_LOGIT_CHUNK_ELEMENTS` when set."""
    value = os.environ.get("RLVR_LOGIT_CHUNK_ELEMENTS")
    if not value:
        return CHUNK_ELEMENTS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"RLVR_LOGIT_CHUNK_ELEMENTS must be a positive integer, got {value!r}")
    return int(value)


@overload
def token_logprobs(
    model: torch.nn.Module,
    batch: TokenBatch,
    *,
    temperature: float = ...,
    start: int = ...,
    share_prefix: bool = ...,
    keep_logits: Literal[True] = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def token_logprobs(
    model: torch.nn.Module,
    batch: TokenBatch,
    *,
    temperature: float = ...,
    start: int = ...,
    share_prefix: bool = ...,
    keep_logits: Literal[False],
) -> tuple[torch.Tensor, None]: ...


def token_logprobs(
    model: torch.nn.Module,
    batch: TokenBatch,
    *,
    temperature: float = 1.0,
    start: int = 1,
    share_prefix: bool = False,
    keep_logits: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of the tokens at columns `start..L-1` and the logits that gave them.

    Args:
        model: A causal LM whose forward accepts `logits_to_keep` and a KV cache
            (`rlvr.models.kv_cache`).
        batch: The token batch.
        temperature: Logits are divided by it first (the sampling temperature).
        start: First target column, >= 1; `batch.completion_start` skips the shared prompt.
        share_prefix: Run columns `0..start-1` once per run of consecutive rows whose ids there
            are equal (the G completions of a prompt) and continue every row from that run's
            cache (implementation detail 4). Same values up to float rounding, gradients
            included.
        keep_logits: False returns None for the logits and computes the log-probabilities
            without holding them (implementation detail 5); same values, gradients included.

    Returns:
        logprobs `[B, L-start]` of `input_ids[:, start:]`, and logits `[B, L-start, V]`
        (positions `start-1 .. L-2`) or None. Align masks with `batch.completion_mask[:, start:]`.
    """
    width = batch.input_ids.shape[1]
    if not 1 <= start < width:
        raise ValueError(f"start must be in [1, {width - 1}], got {start}")
    runs = _prefix_runs(batch, start) if share_prefix else None
    head = (
        None
        if keep_logits
        else _lean_head(model, batch, positions=(width - start) * batch.input_ids.shape[0])
    )
    if head is not None:
        with _deferred(head):
            hidden = _last_hidden(model, batch, start, runs)  # [B, L-start, H]
        targets = batch.input_ids[:, start:]  # [B, L-start]
        return _chunked_logprobs(head, hidden, targets, temperature), None
    if runs is None:
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=width - start + 1,
        )
        logits = out.logits[:, :-1].float()  # [B, L-start, V]
    else:
        logits = _shared_prefix_logits(model, batch, start, runs)  # [B, L-start, V]
    if temperature != 1.0:
        logits = logits / temperature
    targets = batch.input_ids[:, start:].unsqueeze(-1)  # [B, L-start, 1]
    # gather - logsumexp: never materialises a second [B, L-1, V] tensor
    logprobs = logits.gather(-1, targets).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return logprobs, (logits if keep_logits else None)


def token_logprobs_entropy(
    model: torch.nn.Module,
    batch: TokenBatch,
    *,
    mask: torch.Tensor,
    temperature: float = 1.0,
    start: int = 1,
    share_prefix: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`token_logprobs` and the per-token softmax entropy of the same (tempered) logits, both
    `[B, L-start]`, without holding the logits where the lean path applies (implementation
    detail 5). The entropy is 0 where `mask` `[B, L-start]` is 0, and carries gradients only
    with `entropy_grad` (an entropy bonus)."""
    width = batch.input_ids.shape[1]
    if not 1 <= start < width:
        raise ValueError(f"start must be in [1, {width - 1}], got {start}")
    runs = _prefix_runs(batch, start) if share_prefix else None
    head = _lean_head(model, batch, positions=(width - start) * batch.input_ids.shape[0])
    if head is None:
        logprobs, logits = token_logprobs(
            model, batch, temperature=temperature, start=start, share_prefix=share_prefix
        )
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            entropy = entropy_from_logits(logits, mask)
        return logprobs, entropy
    with _deferred(head):
        hidden = _last_hidden(model, batch, start, runs)  # [B, L-start, H]
    both = _chunked_logprobs(head, hidden, batch.input_ids[:, start:], temperature, entropy=True)
    entropy = both[..., 1] if entropy_grad else both[..., 1].detach()
    return both[..., 0], entropy * mask.to(entropy.dtype)


def _last_hidden(
    model: torch.nn.Module, batch: TokenBatch, start: int, runs: torch.Tensor | None
) -> torch.Tensor:
    """With the LM head deferred: the hidden states it would get for positions `start-1 ..
    L-2`, `[B, L-start, H]`, by the plain or the shared-prefix pass."""
    if runs is None:
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=batch.input_ids.shape[1] - start + 1,
        )
        return out.logits[:, :-1]  # type: ignore[no-any-return]
    return _shared_prefix_logits(model, batch, start, runs, upcast=False)


class _Head:
    """A model's LM head (`[V, H]` weight) and a switch that makes it pass its input through."""

    def __init__(self, module: torch.nn.Module, weight: torch.Tensor) -> None:
        self.module = module
        self.vocab, self.hidden = int(weight.shape[0]), int(weight.shape[1])
        self.deferred = False


@contextmanager
def _deferred(head: _Head) -> Iterator[None]:
    """While active, the model's forward gets its last hidden states back as "logits"."""
    module = head.module
    own = module.__dict__.get("forward")  # a wrapper's instance-level forward, if any
    original = module.forward

    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return x if head.deferred else original(x, *args, **kwargs)

    module.forward = forward
    head.deferred = True
    try:
        yield
    finally:
        head.deferred = False
        if own is None:
            del module.forward  # the class's forward again
        else:
            module.forward = own


def _chunk_logprobs(
    module: torch.nn.Module,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    entropy: bool,
) -> torch.Tensor:
    """Log-probabilities `[n]` of `targets` `[n]` from hidden states `[n, H]`; with `entropy`,
    `[n, 2]`: log-probability and softmax entropy of each position."""
    logits: torch.Tensor = module(hidden).float()  # [n, V]
    if temperature != 1.0:
        logits = logits / temperature
    if not entropy:
        return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
    logp = torch.log_softmax(logits, dim=-1)  # [n, V]
    chosen = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return torch.stack([chosen, -(logp.exp() * logp).sum(-1)], dim=-1)


def _chunked_logprobs(
    head: _Head,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    entropy: bool = False,
) -> torch.Tensor:
    """`[B, W]` log-probabilities (with `entropy`: `[B, W, 2]`, entropy second), the LM head
    applied to one chunk of positions at a time."""
    rows, width, size = hidden.shape
    flat, flat_targets = hidden.reshape(-1, size), targets.reshape(-1)  # [B*W, H], [B*W]
    step = max(1, _chunk_elements() // head.vocab)
    grad = torch.is_grad_enabled() and flat.requires_grad
    parts = []
    for i in range(0, flat.shape[0], step):
        args = (head.module, flat[i : i + step], flat_targets[i : i + step], temperature, entropy)
        if grad:  # the backward pass recomputes this chunk's logits
            parts.append(checkpoint(_chunk_logprobs, *args, use_reentrant=False))
        else:
            parts.append(_chunk_logprobs(*args))
    both = torch.cat(parts)
    return both.view(rows, width, 2) if entropy else both.view(rows, width)


_LEAN_OK: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
"""Per model: whether the deferred head gives its logits (checked on first use)."""


def _output_head(model: Any) -> torch.nn.Module | None:
    """The LM head of `model`, through DistributedDataParallel, peft and DeepSpeed wrappers."""
    get = getattr(model, "get_output_embeddings", None)
    if callable(get):
        head = get()
        return head if isinstance(head, torch.nn.Module) else None
    inner = getattr(model, "module", None)
    return None if inner is None else _output_head(inner)


def _lean_head(model: Any, batch: TokenBatch, *, positions: int) -> _Head | None:
    """The deferrable LM head of `model`, or None where the lean path would not be exact or
    would not save memory (the logits of all `positions` fit in one chunk)."""
    module = _output_head(model)
    weight = getattr(module, "weight", None)
    if module is None or not isinstance(weight, torch.Tensor) or hasattr(weight, "ds_id"):
        return None
    if weight.dim() != 2 or positions * weight.shape[0] <= _chunk_elements():
        return None
    ok = _LEAN_OK.get(model)
    if ok is None:
        ok = _LEAN_OK[model] = _lean_matches(model, _Head(module, weight), batch)
    return _Head(module, weight) if ok else None


def _lean_matches(model: Any, head: _Head, batch: TokenBatch) -> bool:
    """Whether the LM head applied to the deferred hidden states gives the model's logits, on
    the last two positions of the batch's first row."""
    ids, mask = batch.input_ids[:1], batch.attention_mask[:1]
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask, logits_to_keep=2).logits.float()
        with _deferred(head):
            hidden = model(input_ids=ids, attention_mask=mask, logits_to_keep=2).logits
        if hidden.shape[-1] != head.hidden:
            return False  # something other than the head made the logits
        lean = head.module(hidden).float()
    return lean.shape == plain.shape and torch.allclose(lean, plain, rtol=1e-4, atol=1e-5)


def _prefix_runs(batch: TokenBatch, start: int) -> torch.Tensor | None:
    """Run index of each row (`[B]`) over columns `0..start-1`, or None when no run is longer
    than one row or those columns hold padding (then there is nothing to share)."""
    head, head_mask = batch.input_ids[:, :start], batch.attention_mask[:, :start]  # [B, S]
    if not bool(head_mask.all()):
        return None
    same = (head[1:] == head[:-1]).all(dim=1)  # [B-1]
    if not bool(same.any()):
        return None
    return torch.cat([same.new_zeros(1, dtype=torch.long), (~same).long().cumsum(0)])


def _shared_prefix_logits(
    model: torch.nn.Module, batch: TokenBatch, start: int, runs: torch.Tensor, upcast: bool = True
) -> torch.Tensor:
    """Logits of positions `start-1 .. L-2`, `[B, L-start, V]`, with the prefix run once per run
    (in float32 with `upcast`; with the LM head deferred, its inputs `[B, L-start, H]`)."""
    first_rows = torch.cat([runs.new_zeros(1), (runs[1:] != runs[:-1]).nonzero()[:, 0] + 1])
    cache = new_cache(model)
    head = forward_cached(
        model,
        cache,
        input_ids=batch.input_ids[first_rows, :start],  # [R, S]
        attention_mask=batch.attention_mask[first_rows, :start],
        logits_to_keep=1,
    )
    cache.batch_select_indices(runs)  # each row continues from its run's keys and values
    tail = forward_cached(
        model,
        cache,
        input_ids=batch.input_ids[:, start:],  # [B, L-start]
        attention_mask=batch.attention_mask,
        logits_to_keep=batch.input_ids.shape[1] - start,
    )
    last_head = head[:, -1:][runs]  # [B, 1, V]: predicts column `start`
    both = torch.cat([last_head, tail[:, :-1]], dim=1)
    return both.float() if upcast else both
