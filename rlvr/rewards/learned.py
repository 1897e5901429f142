"""A learned reward model as a reward source beside the verifiers (`reward.model`).

It scores completions in the trainer process, batched, on the trainer's device; never in the
verifier worker processes. This module imports torch and transformers, so `rlvr.rewards` does
not import it: the trainers that use it do (`from rlvr.rewards.learned import LearnedReward`).

Implementation details:
  1. Each completion is scored as the reward-model trainer tokenises a pair side: the prompt,
     the completion without its stop token, then the reward model's EOS (where the model
     learned to put its score). When the reward model's tokenizer is the policy's (same
     vocabulary, special tokens and chat template), the sampled ids are used as they are;
     otherwise the prompt is rendered with the reward model's tokenizer and the completion
     text re-tokenised, which the reward source says once, when it is built.
  2. A completion that hit the token limit gets the EOS too: the score is read where the model
     was trained to read it (the verifier terms see the truncated text as it is).
  3. `normalize: batch` whitens the scores over the step's completions (all ranks' rows:
     every rank scores its share and the scores are gathered first) before the weight
     applies; `none` weights the raw scores. `group` first subtracts each prompt's mean over
     its unmasked samples, then divides by the step's standard deviation of the centred
     scores: a reward model's scores carry a per-prompt offset (one prompt's correct answers
     all score high, another's all low) that says nothing about which sample is better, and
     whitened over the batch it pushes down every sample of a low-offset prompt, its correct
     answers too. A prompt with one unmasked sample contributes 0.
  4. Rows the reward runtime masked (infrastructure failures) stay masked; their learned
     reward is computed and logged but they stay out of the loss.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rlvr.config.sections import LearnedRewardConfig
from rlvr.data.types import Prompt, RolloutGroup
from rlvr.models.reward_head import load_reward_model, score_rows
from rlvr.models.tokens import render_prompt

NORM_EPS = 1e-6
"""Added to the standard deviation when whitening."""


@dataclass(frozen=True)
class Completion:
    """One sampled completion, as the reward model needs it."""

    prompt: Prompt
    """The row's prompt (text or chat messages)."""
    prompt_ids: tuple[int, ...]
    """Prompt ids under the policy's tokenizer."""
    completion_ids: tuple[int, ...]
    """Completion ids as sampled (the stop token included when it stopped)."""
    text: str
    """Decoded completion (special tokens skipped)."""
    stopped: bool
    """True when it ended on a stop token, False when it hit the token limit."""


def completions(groups: Sequence[RolloutGroup]) -> list[Completion]:
    """Every completion of `groups`, prompt-major (the layout of `Rollouts.scores`)."""
    return [
        Completion(g.sample.prompt, g.prompt_ids, ids, text, reason == "stop")
        for g in groups
        for ids, text, reason in zip(g.completion_ids, g.texts, g.finish_reasons, strict=True)
    ]


def same_tokenizer(a: Any, b: Any) -> bool:
    """True when `a` and `b` encode and render alike: vocabulary, EOS and chat template."""
    return bool(
        a.get_vocab() == b.get_vocab()
        and a.eos_token_id == b.eos_token_id
        and a.chat_template == b.chat_template
    )


class LearnedReward:
    """A reward model loaded once per run; `score` gives the raw score of each completion."""

    def __init__(self, cfg: LearnedRewardConfig, *, policy_tokenizer: Any, device: Any) -> None:
        """Load the reward model at `cfg.path` onto `device`.

        Raises:
            ModelNotFoundError: `cfg.path` holds no model.
            RewardModelError: it is a causal LM without a scalar head (the message says how to
                train one).
        """
        self.cfg = cfg
        model, self.tokenizer = load_reward_model(cfg.path)
        self.model = model.to(device).requires_grad_(False)
        self.from_ids = same_tokenizer(self.tokenizer, policy_tokenizer)
        """Score the policy's own ids (detail 1); False: re-tokenise the text."""
        self._special = set(policy_tokenizer.all_special_ids)
        if not self.from_ids:
            print(
                f"reward.model: the tokenizer of {cfg.path} differs from the policy's; "
                "completions are re-tokenised from their text for it"
            )

    def _ids(self, c: Completion) -> tuple[list[int], list[int]]:
        eos = self.tokenizer.eos_token_id
        if self.from_ids:
            ids = list(c.completion_ids)
            if c.stopped and ids and ids[-1] in self._special:
                ids = ids[:-1]
            return list(c.prompt_ids), [*ids, eos]
        prompt = render_prompt(self.tokenizer, c.prompt)
        p_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c_ids = self.tokenizer(c.text, add_special_tokens=False)["input_ids"]
        return list(p_ids), [*c_ids, eos]

    def score(self, rows: Sequence[Completion]) -> list[float]:
        """Raw scores of `rows` (`[n]`, in order); an empty completion is scored as EOS alone."""
        if not rows:
            return []
        pairs = [self._ids(c) for c in rows]
        return score_rows(
            self.model,
            pairs,
            pad_id=int(self.tokenizer.pad_token_id),
            batch_size=self.cfg.batch_size,
        )

    def mix(
        self,
        scores: torch.Tensor,
        raw: torch.Tensor,
        verifier: torch.Tensor,
        mask: torch.Tensor,
        group_size: int,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """`scores` plus the weighted (normalised) learned rewards, and `reward/model_*` metrics.

        Args:
            scores: The rewards so far, `[N]`.
            raw: The learned rewards of the same rows, `[N]`.
            verifier: The summed verifier rewards, `[N]` (for their correlation).
            mask: False where the reward runtime masked a row, `[N]` (detail 4).
            group_size: Samples per prompt; rows are prompt-major (`normalize: group`).
        """
        norm = normalise(raw, mask, self.cfg.normalize, group_size)
        kept = raw[mask]
        metrics = {
            "reward/model_mean": float(kept.mean()) if len(kept) else 0.0,
            "reward/model_std": float(kept.std()) if len(kept) > 1 else 0.0,
            "reward/model_min": float(kept.min()) if len(kept) else 0.0,
            "reward/model_max": float(kept.max()) if len(kept) else 0.0,
            "reward/model_verifier_corr": correlation(kept, verifier[mask]),
        }
        total = scores + self.cfg.weight * norm
        metrics["reward/total_mean"] = float(total[mask].mean()) if len(kept) else 0.0
        return total, metrics


def normalise(raw: torch.Tensor, mask: torch.Tensor, how: str, group_size: int = 1) -> torch.Tensor:
    """`raw` whitened over the unmasked rows (`batch`), centred per prompt and scaled over the
    batch (`group`, prompt-major rows of `group_size`), or unchanged (`none`) (detail 3)."""
    if how == "none":
        return raw
    if how == "group":
        if len(raw) % group_size:
            raise ValueError(f"{len(raw)} rows do not split into groups of {group_size}")
        m = mask.view(-1, group_size).to(raw.dtype)  # [P, G]
        x = torch.where(mask, raw, torch.zeros_like(raw)).view(-1, group_size)
        mean = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        centred = ((x - mean) * m).view(-1)  # masked rows and lone samples: 0
        shared = (m.sum(1, keepdim=True) > 1).expand_as(m).reshape(-1) & mask
        if int(shared.sum()) < 2:
            return centred
        return centred / (centred[shared].std() + NORM_EPS)
    kept = raw[mask]
    if len(kept) < 2:
        return raw - kept.mean() if len(kept) else raw
    return (raw - kept.mean()) / (kept.std() + NORM_EPS)


def correlation(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two `[N]` tensors; 0 when either is constant or N < 2."""
    if len(x) < 2:
        return 0.0
    xc, yc = x.double() - x.double().mean(), y.double() - y.double().mean()
    denom = float(xc.norm() * yc.norm())
    return float((xc * yc).sum()) / denom if denom > 0 else 0.0


def timed_score(reward: LearnedReward, rows: Sequence[Completion]) -> tuple[list[float], float]:
    """`reward.score(rows)` and the seconds it took."""
    start = time.perf_counter()
    scores = reward.score(rows)
    return scores, time.perf_counter() - start
