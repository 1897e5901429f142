"""Rollouts with transformers `generate`: the embedded default engine.

The engine shares the trainer's model object, so `update_weights` has nothing to copy: the next
`generate` call always sees the current weights.

Implementation details:
  1. Prompts are left-padded and generated in batches of `batch_size`; each prompt is repeated
     `n` times through `num_return_sequences`.
  2. A completion ends at the first EOS id of the generation config (`<|endoftext|>` or
     `<|im_end|>` for the tiny models); that token is kept, everything after it is dropped.
     `finish_reason` is `stop` when it ended on EOS, `length` when it hit `max_new_tokens`.
  3. Sampling log-probabilities are `log_softmax` of the raw logits (temperature 1, before
     top-p), i.e. the policy's own log-probability of each sampled token, which is what the
     trainer recomputes; temperature and top-p only shape which token is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlvr.data.types import Prompt, RolloutGroup, Sample


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


def render_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> str:
    """Text of a prompt: chat messages go through the chat template, strings stay as they are."""
    if isinstance(prompt, str):
        return prompt
    text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    return str(text)


def eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Token ids that end a completion: the generation config's, else the tokenizer's EOS."""
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("neither the generation config nor the tokenizer defines an EOS token")
    return [eos] if isinstance(eos, int) else list(eos)


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
        greedy = sampling.temperature == 0
        was_training = self.model.training
        self.model.eval()
        out = self.model.generate(  # type: ignore[operator]
            **enc,
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None,
            num_return_sequences=n,
            return_dict_in_generate=True,
            output_logits=True,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.eos,
        )
        self.model.train(was_training)
        width = enc["input_ids"].shape[1]
        new_tokens = out.sequences[:, width:]  # [B*n, T]
        logits = torch.stack(out.logits, dim=1).float()  # [B*n, T, V]
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1))
        return self._to_groups(samples, enc, new_tokens.cpu(), logprobs.squeeze(-1).cpu(), n)

    def _to_groups(
        self,
        samples: Sequence[Sample],
        enc: dict[str, torch.Tensor],
        new_tokens: torch.Tensor,
        logprobs: torch.Tensor,
        n: int,
    ) -> list[RolloutGroup]:
        is_eos = torch.isin(new_tokens, torch.tensor(self.eos))  # [B*n, T]
        groups = []
        for i, sample in enumerate(samples):
            mask = enc["attention_mask"][i].bool().cpu()
            prompt_ids = tuple(enc["input_ids"][i].cpu()[mask].tolist())
            ids: list[tuple[int, ...]] = []
            lps: list[tuple[float, ...]] = []
            texts: list[str] = []
            reasons: list[str] = []
            for row in range(i * n, (i + 1) * n):
                stops = is_eos[row].nonzero()
                end = int(stops[0]) + 1 if len(stops) else new_tokens.shape[1]
                token_ids = tuple(new_tokens[row, :end].tolist())
                ids.append(token_ids)
                lps.append(tuple(logprobs[row, :end].tolist()))
                texts.append(str(self.tokenizer.decode(list(token_ids), skip_special_tokens=True)))
                reasons.append("stop" if len(stops) else "length")
            groups.append(
                RolloutGroup(
                    sample, prompt_ids, tuple(ids), tuple(lps), tuple(texts), tuple(reasons)
                )
            )
        return groups
