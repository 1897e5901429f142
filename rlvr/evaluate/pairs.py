"""Verifier-labelled on-policy preference pairs (`rlvr pairs`): InstructGPT's comparison data
with the rows' verifiers as the labeller.

A reward model trained on pairs written apart from the policy (`arithmetic-pref`) can rank them
well and still rank the policy's own completions badly; pairs drawn from the policy itself
teach it the distinction that matters for RL on that policy.

Implementation details:
  1. Sampling goes through the rollout engine (`rlvr.rollout.HFEngine`), N completions per
     prompt from one prefill, seeded, as `rlvr sample` does; each completion is scored by its
     row's own verifier in the reward runtime.
  2. A completion is correct when its verdict scores 1, wrong when it scores below 1 (a partial
     score, e.g. some code tests passing, counts as wrong). Masked completions (a verifier or
     machine failure) are never used, and repeated texts count once.
  3. Per prompt with at least one correct and one wrong completion, `pair_indices` takes up to
     `pairs_per_prompt` (correct, wrong) pairs, all distinct, in an order that uses every
     completion of the larger side once before any completion of it repeats.
  4. Rows are in the pairwise preference format (`rlvr.data.preference.pair_row`), keeping the
     prompt's `reference` and `verifier`, so the `reward_model` and `dpo` stages read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlvr.config.sections import ModelConfig
from rlvr.data.preference import PreferencePair, PreferenceRows, write_preference_jsonl
from rlvr.data.types import Sample
from rlvr.models.loading import load_policy
from rlvr.rewards import RewardRuntime
from rlvr.rollout import HFEngine, SamplingParams


def pair_indices(
    texts: Sequence[str], correct: Sequence[bool | None], pairs_per_prompt: int
) -> list[tuple[int, int]]:
    """Up to `pairs_per_prompt` distinct (chosen, rejected) index pairs of one prompt's samples.

    Args:
        texts: the completions, `[N]`; a text seen before is skipped.
        correct: per completion, True (correct), False (wrong) or None (masked: skipped).
        pairs_per_prompt: the most pairs to return.

    Returns:
        Pairs on diagonals: with C correct and W wrong distinct completions and C >= W, the d-th
        diagonal pairs correct i with wrong (i + d) mod W for each i (the other way round when
        C < W), so all C * W pairs come once each; empty when either side is empty.
    """
    seen: set[str] = set()
    good: list[int] = []
    bad: list[int] = []
    for i, (text, ok) in enumerate(zip(texts, correct, strict=True)):
        if ok is None or text in seen:
            continue
        seen.add(text)
        (good if ok else bad).append(i)
    c, w = len(good), len(bad)
    if c >= w:
        order = [(good[i], bad[(i + d) % w]) for d in range(w) for i in range(c)]
    else:
        order = [(good[(j + d) % c], bad[j]) for d in range(c) for j in range(w)]
    return order[: max(0, pairs_per_prompt)]


@dataclass(frozen=True)
class PairsResult:
    """Pairs built from a model's samples, and how the prompts split."""

    rows: PreferenceRows
    """The pairwise rows, prompt by prompt in input order."""
    prompts: int
    """Prompts sampled."""
    paired: int
    """Prompts with at least one correct and one wrong completion (they gave pairs)."""
    all_correct: int
    """Prompts whose usable completions were all correct."""
    all_wrong: int
    """Prompts whose usable completions were all wrong."""
    masked: int
    """Completions masked by the reward runtime (never used)."""
    completions: int
    """Completions sampled in all."""

    def format(self) -> str:
        """One line for the console."""
        return (
            f"{len(self.rows)} pairs from {self.paired} of {self.prompts} prompts; "
            f"{self.all_correct} all correct, {self.all_wrong} all wrong; "
            f"{self.masked} of {self.completions} completions masked"
        )


def sample_pairs(
    policy: Any,
    tokenizer: Any,
    samples: Sequence[Sample],
    *,
    n: int,
    sampling: SamplingParams,
    runtime: RewardRuntime,
    pairs_per_prompt: int = 1,
    batch_size: int = 64,
) -> PairsResult:
    """Sample `n` completions per sample, label them with the verifier and pair them up.

    Raises:
        ValueError: `n` < 2, `pairs_per_prompt` < 1 or no samples.
    """
    if n < 2 or pairs_per_prompt < 1 or not samples:
        raise ValueError("pairs need n >= 2, pairs_per_prompt >= 1 and at least one prompt")
    groups = HFEngine(policy, tokenizer, batch_size=batch_size).generate(
        list(samples), n=n, sampling=sampling
    )
    texts = [t for g in groups for t in g.texts]
    result = runtime.score_batch(texts, [g.sample for g in groups for _ in range(n)])
    verdicts = result.verdicts_for_rows()
    labels = [v.score >= 1.0 if m else None for v, m in zip(verdicts, result.mask, strict=True)]
    pairs: list[PreferencePair] = []
    paired = all_correct = all_wrong = 0
    for i, g in enumerate(groups):
        usable = [ok for ok in labels[i * n : (i + 1) * n] if ok is not None]
        chosen = pair_indices(g.texts, labels[i * n : (i + 1) * n], pairs_per_prompt)
        paired += bool(chosen)
        all_correct += bool(usable) and all(usable)
        all_wrong += bool(usable) and not any(usable)
        s = g.sample
        pairs += [
            PreferencePair(s.prompt, g.texts[c], g.texts[r], f"{s.id}-{k}", s.reference, s.verifier)
            for k, (c, r) in enumerate(chosen)
        ]
    return PairsResult(
        rows=PreferenceRows("paired", pairs=pairs, where=[f"pairs {p.id}" for p in pairs]),
        prompts=len(groups),
        paired=paired,
        all_correct=all_correct,
        all_wrong=all_wrong,
        masked=sum(not m for m in result.mask),
        completions=len(texts),
    )


def write_pairs(
    model: str | Path,
    samples: Sequence[Sample],
    out: str | Path,
    *,
    n: int,
    sampling: SamplingParams,
    pairs_per_prompt: int = 1,
    batch_size: int = 32,
    workers: int = 1,
) -> PairsResult:
    """`sample_pairs` from the model at `model` (seeded by `sampling.seed`), written to `out`
    as JSONL; `batch_size` counts prompts per generate call."""
    torch.manual_seed(sampling.seed or 0)
    policy, tokenizer = load_policy(ModelConfig(path=str(model)))
    policy.eval()
    with RewardRuntime(workers=workers) as runtime:
        result = sample_pairs(
            policy,
            tokenizer,
            samples,
            n=n,
            sampling=sampling,
            runtime=runtime,
            pairs_per_prompt=pairs_per_prompt,
            batch_size=batch_size * n,
        )
    write_preference_jsonl(result.rows, out)
    return result
