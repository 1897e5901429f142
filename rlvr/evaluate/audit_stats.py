"""The statistics of a reward-model audit, as pure functions over per-pair arrays.

Every function takes the rewards of the chosen and rejected completions of N held-out pairs
(`[N]` each) and, where length matters, their completion lengths (`[N]` each, in tokens).
`audit_pairs` computes all of them and the warnings of `AuditThresholds`.

Implementation details:
  1. A pair is right when the chosen reward is higher; an exact tie counts one half (a coin
     flip), for the model and for the length rule alike.
  2. Confidence interval: percentile bootstrap of the pairwise accuracy (pairs resampled with
     replacement, `n_boot` times, from a seeded generator).
  3. Calibration: pairs sorted by |reward margin| and cut into ten near-equal bins (deciles);
     each bin's accuracy beside the probability the Bradley-Terry model gives its pairs'
     orderings, mean `sigmoid(|margin|)`. The expected calibration error is the pair-weighted
     mean gap between the two.
  4. Spearman's rho of reward against completion length, over all 2N completions, ranks with
     ties averaged; NaN when either side is constant.
  5. The length-only rule prefers the longer completion, or the shorter one, whichever is
     right more often on these same pairs: the best any rule that only sees lengths can do.
  6. Warnings (`AuditThresholds`): the model is not clearly better than the length rule (the
     lower end of its accuracy interval is less than `min_gain_over_length` above the rule's
     accuracy; worded as "not better than chance" where the rule itself is within
     `min_gain_over_length` of a coin flip), or its accuracy on pairs whose chosen side is
     shorter is more than `max_length_gap` below its accuracy where the chosen side is longer
     (with at least `min_pairs` pairs on each side; fewer gives a note instead, not a warning).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

Floats = Sequence[float] | NDArray[np.float64]


@dataclass(frozen=True)
class AuditThresholds:
    """When the audit warns."""

    min_gain_over_length: float = 0.05
    """Warn unless the lower end of the accuracy interval is at least this far above the
    length-only rule's accuracy."""
    max_length_gap: float = 0.15
    """Warn when accuracy on chosen-is-shorter pairs is more than this below accuracy on
    chosen-is-longer pairs."""
    min_pairs: int = 10
    """Pairs needed on each side (chosen shorter, chosen longer) to compare their accuracies."""
    confidence: float = 0.95
    """Level of the bootstrap interval."""
    n_boot: int = 2000
    """Bootstrap resamples."""

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1 or self.n_boot < 1 or self.min_pairs < 1:
            raise ValueError("confidence must be in (0, 1), n_boot and min_pairs at least 1")


@dataclass(frozen=True)
class CalibrationBin:
    """Pairs whose |reward margin| falls in one decile."""

    margin_low: float
    """Smallest |margin| in the bin."""
    margin_high: float
    """Largest |margin| in the bin."""
    n: int
    """Pairs in the bin."""
    accuracy: float
    """Share of the bin's pairs the model orders right."""
    predicted: float
    """Mean `sigmoid(|margin|)`: how often the model expects to be right there."""


@dataclass(frozen=True)
class AuditStats:
    """Everything the audit measured on one set of pairs."""

    n: int
    """Pairs audited."""
    accuracy: float
    """Pairwise accuracy (ties count one half)."""
    accuracy_ci: tuple[float, float]
    """Bootstrap confidence interval of `accuracy`."""
    calibration: list[CalibrationBin]
    """Accuracy by |margin| decile."""
    calibration_error: float
    """Expected calibration error over the bins."""
    spearman_length: float
    """Spearman's rho of reward against completion length, over all completions."""
    accuracy_chosen_shorter: float | None
    """Accuracy on pairs whose chosen completion is shorter (None when there are none)."""
    accuracy_chosen_longer: float | None
    """Accuracy on pairs whose chosen completion is longer (None when there are none)."""
    n_chosen_shorter: int
    """Pairs whose chosen completion is shorter."""
    n_chosen_longer: int
    """Pairs whose chosen completion is longer."""
    n_same_length: int
    """Pairs whose completions have the same length."""
    length_rule_accuracy: float
    """Accuracy of the better length-only rule on the same pairs."""
    length_rule: str
    """Which rule that is: `longer wins` or `shorter wins`."""
    warnings: list[str] = field(default_factory=list)
    """Loud findings: the model may be rewarding length."""
    notes: list[str] = field(default_factory=list)
    """Checks that could not be made on these pairs, and why."""


def _arrays(chosen: Floats, rejected: Floats) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    if c.shape != r.shape or c.ndim != 1:
        raise ValueError(f"expected two [N] arrays, got shapes {c.shape} and {r.shape}")
    if not (np.isfinite(c).all() and np.isfinite(r).all()):
        raise ValueError("rewards and lengths must be finite")
    return c, r


def pair_correct(chosen: Floats, rejected: Floats) -> NDArray[np.float64]:
    """Per pair: 1 when chosen > rejected, 0.5 on a tie, 0 otherwise (`[N]`)."""
    c, r = _arrays(chosen, rejected)
    return np.where(c > r, 1.0, np.where(c == r, 0.5, 0.0))


def pairwise_accuracy(chosen: Floats, rejected: Floats) -> float:
    """Share of pairs ordered right (detail 1); NaN for no pairs."""
    correct = pair_correct(chosen, rejected)
    return float(correct.mean()) if len(correct) else math.nan


def bootstrap_ci(
    values: Floats, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (detail 2); NaNs for no values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)  # [n_boot]
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def calibration_bins(chosen: Floats, rejected: Floats, *, bins: int = 10) -> list[CalibrationBin]:
    """Accuracy and predicted accuracy by |margin| decile (detail 3); fewer bins when there
    are fewer pairs than `bins`."""
    c, r = _arrays(chosen, rejected)
    margin = np.abs(c - r)
    order = np.argsort(margin, kind="stable")
    correct = pair_correct(c, r)
    out = []
    for idx in np.array_split(order, min(bins, len(order))):
        if not len(idx):
            continue
        m = margin[idx]
        out.append(
            CalibrationBin(
                margin_low=float(m.min()),
                margin_high=float(m.max()),
                n=len(idx),
                accuracy=float(correct[idx].mean()),
                predicted=float((1 / (1 + np.exp(-m))).mean()),
            )
        )
    return out


def calibration_error(bins: Sequence[CalibrationBin]) -> float:
    """Pair-weighted mean |accuracy - predicted| over the bins; NaN for no bins."""
    total = sum(b.n for b in bins)
    if not total:
        return math.nan
    return sum(b.n * abs(b.accuracy - b.predicted) for b in bins) / total


def _ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1, dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(x: Floats, y: Floats) -> float:
    """Spearman's rank correlation of `x` and `y` (`[M]` each; detail 4)."""
    a, b = _arrays(x, y)
    if len(a) < 2:
        return math.nan
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def length_rule(chosen_len: Floats, rejected_len: Floats) -> tuple[float, str]:
    """Accuracy of the better length-only rule, and its name (detail 5)."""
    longer = pairwise_accuracy(chosen_len, rejected_len)
    if math.isnan(longer):
        return math.nan, "longer wins"
    return (longer, "longer wins") if longer >= 0.5 else (1 - longer, "shorter wins")


def _mean_or_none(values: NDArray[np.float64]) -> float | None:
    return float(values.mean()) if len(values) else None


def audit_pairs(
    chosen_reward: Floats,
    rejected_reward: Floats,
    chosen_len: Floats,
    rejected_len: Floats,
    *,
    thresholds: AuditThresholds | None = None,
    seed: int = 0,
) -> AuditStats:
    """Every audit statistic of N pairs, and the warnings (module docstring).

    Raises:
        ValueError: arrays of different lengths, non-finite values, or no pairs.
    """
    t = thresholds or AuditThresholds()
    c, r = _arrays(chosen_reward, rejected_reward)
    lc, lr = _arrays(chosen_len, rejected_len)
    if len(c) != len(lc):
        raise ValueError(f"{len(c)} reward pairs but {len(lc)} length pairs")
    if not len(c):
        raise ValueError("no pairs to audit")
    correct = pair_correct(c, r)
    bins = calibration_bins(c, r)
    shorter, longer = lc < lr, lc > lr
    rule_acc, rule = length_rule(lc, lr)
    stats = AuditStats(
        n=len(c),
        accuracy=float(correct.mean()),
        accuracy_ci=bootstrap_ci(correct, confidence=t.confidence, n_boot=t.n_boot, seed=seed),
        calibration=bins,
        calibration_error=calibration_error(bins),
        spearman_length=spearman(np.concatenate([c, r]), np.concatenate([lc, lr])),
        accuracy_chosen_shorter=_mean_or_none(correct[shorter]),
        accuracy_chosen_longer=_mean_or_none(correct[longer]),
        n_chosen_shorter=int(shorter.sum()),
        n_chosen_longer=int(longer.sum()),
        n_same_length=int((lc == lr).sum()),
        length_rule_accuracy=rule_acc,
        length_rule=rule,
    )
    warnings, notes = audit_findings(stats, t)
    return replace(stats, warnings=warnings, notes=notes)


def audit_findings(stats: AuditStats, t: AuditThresholds) -> tuple[list[str], list[str]]:
    """The warnings and notes the thresholds give for `stats` (detail 6)."""
    warnings, notes = [], []
    low = stats.accuracy_ci[0]
    if low < stats.length_rule_accuracy + t.min_gain_over_length:
        # a length rule no better than a coin flip: the model is not clearly better than chance
        what = (
            "LENGTH BIAS? the model is not clearly better than length alone"
            if stats.length_rule_accuracy >= 0.5 + t.min_gain_over_length
            else "NOT BETTER THAN LENGTH OR CHANCE: the model is not clearly better than a "
            "length rule, itself a coin flip here"
        )
        warnings.append(
            f"{what}: accuracy {stats.accuracy:.3f} (CI low {low:.3f}) vs "
            f"{stats.length_rule_accuracy:.3f} for '{stats.length_rule}' on the same pairs "
            f"(needs a lower CI end at least {t.min_gain_over_length:g} above it)"
        )
    short, long_ = stats.accuracy_chosen_shorter, stats.accuracy_chosen_longer
    few = min(stats.n_chosen_shorter, stats.n_chosen_longer)
    if short is None or long_ is None or few < t.min_pairs:
        notes.append(
            f"shorter-vs-longer check not made: {stats.n_chosen_shorter} pairs with the chosen "
            f"side shorter, {stats.n_chosen_longer} with it longer (needs {t.min_pairs} each)"
        )
    elif long_ - short > t.max_length_gap:
        warnings.append(
            f"LENGTH BIAS? accuracy where the chosen side is shorter ({short:.3f}, "
            f"{stats.n_chosen_shorter} pairs) is {long_ - short:.3f} below where it is longer "
            f"({long_:.3f}, {stats.n_chosen_longer} pairs); the limit is {t.max_length_gap:g}"
        )
    return warnings, notes
