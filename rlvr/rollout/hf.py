"""Rollouts with a transformers model: the embedded default engine.

The engine shares the trainer's model object, so `update_weights` has nothing to copy: the next
`generate` call always sees the current weights.

Implementation details:
  1. Prompts are left-padded and generated in batches of `batch_size` completions.
  2. A completion ends at the first EOS id of the generation config (`<|endoftext|>` or
     `<|im_end|>` for the tiny models); that token is kept, everything after it is dropped.
     `finish_reason` is `stop` when it ended on EOS, `length` when it hit `max_new_tokens`.
  3. Sampling log-probabilities are those of the distribution each token was drawn from:
     `log_softmax` of the logits after temperature and top-p (the trainer recomputes the same at
     the sampling temperature, so with `top_p = 1` the two agree up to numerics; their gap is the
     train/inference mismatch). Greedy decoding reports the raw (temperature 1) log-probabilities.
  4. The decoding loop is rlvr's own (`decode`): it builds the KV cache itself
     (`rlvr.models.kv_cache`), calls the model forward directly and applies only what
     `SamplingParams` says (temperature, top-p), never the model's own generation-config
     defaults such as a repetition penalty, which the trainer's log-probabilities would not
     see. It draws each token by inverting the row's cumulative distribution at one uniform
     number (`sample_rows`: the same distribution as `torch.multinomial`, about 20x faster on
     CPU), asks the model for the last position's logits only, and keeps each sampled token's
     log-probability. Greedy output is identical to stock `generate` (tested), so the loop
     depends on no part of `generate`'s contract with custom decoding loops, which changed
     between transformers releases.
  5. Each prompt goes through the prefill once: `decode` repeats each one's KV cache and first
     logits `n` times (`repeats`), so the `n` completions of a prompt share one prefill; the
     samples equal those of decoding each prompt repeated `n` times for the same seed (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlvr.data.types import RolloutGroup, Sample
from rlvr.models.kv_cache import forward_cached, new_cache
from rlvr.models.tokens import render_prompt


@dataclass(frozen=True)
class SamplingParams:
    """How completions are drawn."""

    max_new_tokens: int = 32
    """Tokens generated per completion at most."""
    temperature: float = 1.0
    """Sampling temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    seed: int | None = None
    """Seed torch's generator before each `generate` call, for reproducible rollouts."""
    stop: tuple[str, ...] = ()
    """Stop strings: a completion also ends (`stop`) once its text contains one of them, and
    keeps the token that completed it. Only the vllm engine honours them; `HFEngine` raises."""


def eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Token ids that end a completion: the generation config's, else the tokenizer's EOS."""
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("neither the generation config nor the tokenizer defines an EOS token")
    return [eos] if isinstance(eos, int) else list(eos)


@dataclass(frozen=True)
class Decoded:
    """What `decode` returns."""

    sequences: torch.Tensor
    """Prompt ids followed by the new tokens (pad after a row finished), `[B*repeats, P + T]`."""
    logprobs: torch.Tensor
    """Sampling log-probability of each new token (0 after a row finished), `[B*repeats, T]`."""


def sample_rows(probs: torch.Tensor) -> torch.Tensor:
    """One index per row of `probs` `[B, V]` (non-negative, rows need not sum to 1), `[B]`.

    Inverse-CDF sampling: the first index whose cumulative mass (float64) exceeds a uniform
    number scaled to the row's total, so a zero-probability index is never drawn.
    """
    cdf = probs.double().cumsum(dim=-1)  # [B, V]
    u = torch.rand(probs.shape[0], 1, dtype=torch.float64, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def nucleus(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """`scores` `[B, V]` with every token outside the top-p nucleus set to -inf.

    The nucleus is the smallest set of most likely tokens whose probability mass reaches
    `top_p`; the most likely token always stays.
    """
    if top_p >= 1.0:
        return scores
    ranked, order = scores.sort(dim=-1, descending=True)  # [B, V]
    probs = ranked.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # [B, V]: mass of the more likely tokens
    drop = mass_before >= top_p
    drop[:, 0] = False
    return scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))


@torch.no_grad()
def decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    max_new_tokens: int,
    eos: Sequence[int],
    pad_id: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    repeats: int = 1,
) -> Decoded:
    """Sample (or, at `temperature` 0, greedily pick) up to `max_new_tokens` after each prompt.

    `input_ids` and `attention_mask` `[B, P]` are left-padded. Each prompt row runs through the
    prefill once; its cache and first logits are then repeated `repeats` times, so the result
    has `B * repeats` rows, row `b * repeats + r` being the r-th completion of prompt `b`. A row
    finishes at an EOS id; the loop ends when every row has finished or `max_new_tokens` is
    reached.
    """
    if max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be positive, got {max_new_tokens}")
    greedy = temperature == 0
    width = input_ids.shape[1]
    positions = (attention_mask.cumsum(dim=1) - 1).clamp_(min=0)  # [B, P]
    cache = new_cache(model)
    logits = forward_cached(
        model,
        cache,
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        logits_to_keep=1,
    )[:, -1].float()  # [B, V]
    if repeats > 1:
        input_ids, attention_mask, positions, logits = (
            t.repeat_interleave(repeats, dim=0)
            for t in (input_ids, attention_mask, positions, logits)
        )
        cache.batch_repeat_interleave(repeats)
    batch = input_ids.shape[0]
    eos_t = torch.tensor(list(eos), device=input_ids.device)
    # whole-length buffers read through growing views (the mask is copied: the attention mask
    # code is slower on a strided one)
    seq = input_ids.new_full((batch, width + max_new_tokens), pad_id)  # [B, P + T]
    seq[:, :width] = input_ids
    mask = attention_mask.new_ones((batch, width + max_new_tokens))  # [B, P + T]
    mask[:, :width] = attention_mask
    last_position = positions[:, -1:]  # [B, 1]
    logprobs = torch.zeros(batch, max_new_tokens, device=input_ids.device)  # [B, T]
    done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)  # [B]
    steps = 0
    while True:
        if greedy:
            base = logits
            nxt = logits.argmax(dim=-1)  # [B]
        else:
            base = nucleus(logits / temperature, top_p)  # [B, V]
            nxt = sample_rows(torch.softmax(base, dim=-1))
        lp = base.gather(-1, nxt[:, None]).squeeze(-1) - torch.logsumexp(base, dim=-1)
        seq[:, width + steps] = torch.where(done, pad_id, nxt)
        logprobs[:, steps] = torch.where(done, 0.0, lp)
        steps += 1
        done = done | torch.isin(nxt, eos_t)
        if steps == max_new_tokens or bool(done.all()):
            break
        logits = forward_cached(
            model,
            cache,
            input_ids=seq[:, width + steps - 1 : width + steps],
            attention_mask=mask[:, : width + steps].contiguous(),
            position_ids=last_position + steps,
            logits_to_keep=1,
        )[:, -1].float()  # [B, V]
    return Decoded(seq[:, : width + steps], logprobs[:, :steps])


class HFEngine:
    """`generate(samples, n=G, sampling=...) -> list[RolloutGroup]` on a transformers model."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, batch_size: int = 64
    ) -> None:
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set one before generating")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos = eos_ids(model, tokenizer)

    def update_weights(self, model: PreTrainedModel) -> None:
        """Point the engine at `model` (the trainer's own object: nothing to copy)."""
        self.model = model

    @torch.no_grad()
    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        """Sample `n` completions for each sample, in input order."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if sampling.stop:
            raise ValueError("the hf engine does not support stop strings; use the vllm engine")
        groups: list[RolloutGroup] = []
        per_call = max(1, self.batch_size // n)
        for start in range(0, len(samples), per_call):
            groups.extend(self._generate_batch(samples[start : start + per_call], n, sampling))
        return groups

    def _generate_batch(
        self, samples: Sequence[Sample], n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        texts = [render_prompt(self.tokenizer, s.prompt) for s in samples]
        self.tokenizer.padding_side = "left"
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        was_training = self.model.training
        self.model.eval()
        out = decode(
            self.model,
            enc["input_ids"],
            enc["attention_mask"],
            max_new_tokens=sampling.max_new_tokens,
            eos=self.eos,
            pad_id=self.tokenizer.pad_token_id,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repeats=n,
        )
        self.model.train(was_training)
        width = enc["input_ids"].shape[1]
        new_tokens = out.sequences[:, width:]  # [B*n, T]
        return self._to_groups(samples, enc, new_tokens.cpu(), out.logprobs.cpu(), n)

    def _to_groups(
        self,
        samples: Sequence[Sample],
        enc: dict[str, torch.Tensor],
        new_tokens: torch.Tensor,
        logprobs: torch.Tensor,
        n: int,
    ) -> list[RolloutGroup]:
        eos = set(self.eos)
        rows = new_tokens.tolist()  # [B*n][T]
        row_lps = logprobs.tolist()  # [B*n][T]
        ends = [next((t + 1 for t, tok in enumerate(r) if tok in eos), len(r)) for r in rows]
        ids = [tuple(r[:end]) for r, end in zip(rows, ends, strict=True)]
        texts = self.tokenizer.batch_decode([list(t) for t in ids], skip_special_tokens=True)
        prompt_ids = [
            tuple(row[mask].tolist())
            for row, mask in zip(
                enc["input_ids"].cpu(), enc["attention_mask"].cpu().bool(), strict=True
            )
        ]
        groups = []
        for i, sample in enumerate(samples):
            span = range(i * n, (i + 1) * n)
            groups.append(
                RolloutGroup(
                    sample,
                    prompt_ids[i],
                    tuple(ids[r] for r in span),
                    tuple(tuple(row_lps[r][: ends[r]]) for r in span),
                    tuple(str(texts[r]) for r in span),
                    tuple("stop" if ids[r] and ids[r][-1] in eos else "length" for r in span),
                )
            )
        return groups
