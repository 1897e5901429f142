"""Score a model on rows: generate one completion per row and score it with the rows' verifiers;
held-out accuracy measured once per launch of several ranks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlvr.backends import Dist
from rlvr.config.sections import GenerationConfig
from rlvr.data import Sample
from rlvr.rewards import RewardResult, RewardRuntime, RewardSpec
from rlvr.rollout import HFEngine, SamplingParams


@dataclass(frozen=True)
class Scored:
    """Completions of one evaluation pass and their verdicts."""

    completions: list[str]
    """One completion per sample."""
    result: RewardResult
    """The reward runtime's result for them."""
    generate_s: float
    """Seconds spent generating."""

    @property
    def accuracy(self) -> float:
        """Share of rows whose own verifier gave score 1."""
        verdicts = self.result.verdicts_for_rows()
        return sum(v.score == 1.0 for v in verdicts) / max(1, len(verdicts))


def score_model(
    model: Any,
    tokenizer: Any,
    samples: list[Sample],
    *,
    generation: GenerationConfig,
    runtime: RewardRuntime,
    extra: Sequence[RewardSpec] = (),
    seed: int = 0,
) -> Scored:
    """Generate one completion per sample (greedy unless `generation` samples) and score it."""
    engine = HFEngine(model, tokenizer, batch_size=generation.batch_size)
    sampling = SamplingParams(
        max_new_tokens=generation.max_new_tokens,
        temperature=generation.temperature,
        top_p=generation.top_p,
        seed=seed,
    )
    start = time.perf_counter()
    completions = [g.texts[0] for g in engine.generate(samples, n=1, sampling=sampling)]
    generate_s = time.perf_counter() - start
    return Scored(completions, runtime.score_batch(completions, samples, extra=extra), generate_s)


def held_out_accuracy(
    model: Any,
    tokenizer: Any,
    samples: list[Sample],
    *,
    generation: GenerationConfig,
    runtime: RewardRuntime,
    dist: Dist,
    collective_forward: bool,
    seed: int = 0,
) -> float:
    """Held-out accuracy measured once per launch and given to every rank.

    Rank 0 generates and scores, then broadcasts the accuracy. When every forward pass is
    collective (ZeRO-3: each rank holds a slice of the weights), every rank generates the same
    greedy completions so that the passes line up, and only rank 0 scores them.
    """
    accuracy = None
    if dist.is_main or collective_forward:
        engine = HFEngine(model, tokenizer, batch_size=generation.batch_size)
        sampling = SamplingParams(
            max_new_tokens=generation.max_new_tokens,
            temperature=generation.temperature,
            top_p=generation.top_p,
            seed=seed,
        )
        groups = engine.generate(samples, n=1, sampling=sampling)
        if dist.is_main:
            completions = [g.texts[0] for g in groups]
            accuracy = Scored(completions, runtime.score_batch(completions, samples), 0.0).accuracy
    return float(dist.broadcast_object(accuracy))
