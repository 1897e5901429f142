"""Sampling metrics of an eval suite, as pure functions of per-prompt outcomes.

- `pass_at_k(n, c, k)`: the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language
  Models Trained on Code", eq. 1): the chance that at least one of k samples drawn without
  replacement from the n generated is correct, given c of them are.
- `maj_at_k(answers, correct, k)`: majority voting over the extracted answers of k samples; the
  n samples are cut into n // k disjoint runs of k and the vote's correctness is averaged.
- `bootstrap_interval` / `paired_interval`: percentile bootstrap (B resamples of the prompts) of a
  mean, and of the mean difference of two models on the same prompts.

>>> round(pass_at_k(10, 3, 1), 4), round(pass_at_k(10, 3, 5), 4), pass_at_k(10, 0, 5)
(0.3, 0.9167, 0.0)
>>> maj_at_k(["42", "41", "42", None], [True, False, True, False], 4)
1.0
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A mean over prompts with its bootstrap confidence interval."""

    value: float
    """The mean."""
    low: float
    """Lower end of the interval."""
    high: float
    """Upper end of the interval."""

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def format(self, digits: int = 3) -> str:
        """`value [low, high]`."""
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n - c, k) / C(n, k), computed as a product so large n does not overflow.

    Raises:
        ValueError: k is not in [1, n], or c is not in [0, n].
    """
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={k}, n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"correct count {c} is not in [0, {n}]")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Whether the most common non-None answer is a correct one (ties: the earliest answer).

    A run where no sample has an answer counts as wrong.
    """
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return False
    best = max(counts.values())
    winner = next(a for a in answers if a is not None and counts[a] == best)
    return any(ok for a, ok in zip(answers, correct, strict=True) if a == winner)


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """Share of the n // k disjoint runs of k samples whose majority answer is correct.

    Raises:
        ValueError: k is not in [1, n], or the lists differ in length.
    """
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"{n} answers but {len(correct)} correctness flags")
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n, got k={k}, n={n}")
    runs = n // k
    wins = sum(
        majority_vote(answers[i * k : (i + 1) * k], correct[i * k : (i + 1) * k])
        for i in range(runs)
    )
    return wins / runs


def _percentiles(stats: list[float], confidence: float) -> tuple[float, float]:
    stats.sort()
    tail = (1.0 - confidence) / 2
    lo = stats[min(len(stats) - 1, int(tail * len(stats)))]
    hi = stats[min(len(stats) - 1, int((1.0 - tail) * len(stats)))]
    return lo, hi


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """The mean of `values` (one per prompt) with a percentile bootstrap interval.

    With fewer than two values the interval is the mean itself.
    """
    n = len(values)
    if n == 0:
        return Estimate(0.0, 0.0, 0.0)
    mean = sum(values) / n
    if n < 2 or resamples <= 0:
        return Estimate(mean, mean, mean)
    rng = random.Random(seed)
    stats = [sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples)]
    lo, hi = _percentiles(stats, confidence)
    return Estimate(mean, min(lo, mean), max(hi, mean))


def paired_interval(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mean of `b - a` over the same prompts, with a paired percentile bootstrap interval.

    Raises:
        ValueError: the two lists differ in length (not the same prompts).
    """
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length: {len(a)} and {len(b)}")
    return bootstrap_interval(
        [y - x for x, y in zip(a, b, strict=True)],
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
