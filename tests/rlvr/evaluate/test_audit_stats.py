"""Reward-model audit statistics on hand-made arrays, with the expected values derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr.evaluate.audit_stats import (
    AuditThresholds,
    audit_pairs,
    bootstrap_ci,
    calibration_bins,
    calibration_error,
    length_rule,
    pair_correct,
    pairwise_accuracy,
    spearman,
)


def test_pairwise_accuracy_counts_a_tie_as_one_half() -> None:
    # right, tie, wrong, right -> (1 + 0.5 + 0 + 1) / 4
    assert pair_correct([1, 2, 3, 0], [0, 2, 4, -1]).tolist() == [1.0, 0.5, 0.0, 1.0]
    assert pairwise_accuracy([1, 2, 3, 0], [0, 2, 4, -1]) == 0.625
    assert math.isnan(pairwise_accuracy([], []))


def test_bootstrap_interval_of_a_constant_is_the_constant() -> None:
    assert bootstrap_ci([1.0] * 30) == (1.0, 1.0)
    assert bootstrap_ci([0.0, 0.0]) == (0.0, 0.0)


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    # 100 pairs, 80 right: standard error sqrt(0.8 * 0.2 / 100) = 0.04, so about 0.80 +- 0.078
    values = [1.0] * 80 + [0.0] * 20
    low, high = bootstrap_ci(values, n_boot=4000, seed=3)
    assert low == pytest.approx(0.8 - 1.96 * 0.04, abs=0.015)
    assert high == pytest.approx(0.8 + 1.96 * 0.04, abs=0.015)
    assert bootstrap_ci(values, n_boot=4000, seed=3) == (low, high)  # seeded


def test_calibration_bins_sort_by_absolute_margin() -> None:
    # margins 1..10, chosen always higher: ten bins of one pair, all right, predicted sigmoid(k)
    chosen = np.arange(1, 11, dtype=float)
    bins = calibration_bins(chosen, np.zeros(10))
    assert [b.n for b in bins] == [1] * 10
    assert [b.margin_low for b in bins] == list(range(1, 11))
    assert all(b.accuracy == 1.0 for b in bins)
    sig = [1 / (1 + math.exp(-k)) for k in range(1, 11)]
    assert [b.predicted for b in bins] == pytest.approx(sig)
    # expected calibration error: mean over the bins of 1 - sigmoid(k)
    assert calibration_error(bins) == pytest.approx(sum(1 - s for s in sig) / 10)


def test_calibration_bin_of_a_wrong_confident_pair() -> None:
    # margins |3|, |-3|, |0.5|, |-0.5| -> two bins: {0.5 right, -0.5 wrong}, {3 right, -3 wrong}
    bins = calibration_bins([3.0, -3.0, 0.5, -0.5], [0.0, 0.0, 0.0, 0.0], bins=2)
    assert [(b.n, b.accuracy) for b in bins] == [(2, 0.5), (2, 0.5)]
    assert bins[1].predicted == pytest.approx(1 / (1 + math.exp(-3)))


def test_spearman_with_ties_averages_their_ranks() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    # x ranks [1, 2.5, 2.5, 4], y ranks [1, 2, 3, 4]: centred [-1.5, 0, 0, 1.5] and
    # [-1.5, -0.5, 0.5, 1.5]; covariance 4.5, variances 4.5 and 5 -> 4.5 / sqrt(22.5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_length_rule_picks_the_better_direction() -> None:
    # longer wins on [5>3, 5>3, 3<5, 4=4] -> 1 + 1 + 0 + 0.5 = 2.5 of 4
    assert length_rule([5, 5, 3, 4], [3, 3, 5, 4]) == (0.625, "longer wins")
    assert length_rule([3, 3, 5, 4], [5, 5, 3, 4]) == (0.625, "shorter wins")


def _pairs(n: int, seed: int, *, biased: bool) -> tuple[np.ndarray, ...]:
    """Held-out pairs of a good model (95% right by a clear margin) whose lengths are
    independent of the preference, or (biased) whose chosen side is always the longer one."""
    rng = np.random.default_rng(seed)
    right = rng.random(n) < 0.95
    chosen = np.where(right, 1.0, -1.0) + rng.normal(0, 0.1, n)
    rejected = rng.normal(0, 0.1, n)
    len_r = rng.integers(10, 30, n).astype(float)
    len_c = len_r + rng.integers(5, 20, n) if biased else rng.integers(10, 30, n).astype(float)
    return chosen, rejected, len_c, len_r


def test_length_warning_fires_on_biased_pairs_and_not_on_clean_ones() -> None:
    clean = audit_pairs(*_pairs(200, 0, biased=False))
    assert clean.accuracy > 0.9 and clean.length_rule_accuracy < 0.6
    assert clean.warnings == []
    assert clean.n_chosen_shorter + clean.n_chosen_longer + clean.n_same_length == 200
    biased = audit_pairs(*_pairs(200, 0, biased=True))
    assert biased.length_rule_accuracy == 1.0 and biased.length_rule == "longer wins"
    assert len(biased.warnings) == 1 and "not clearly better than length" in biased.warnings[0]
    # no pair has its chosen side shorter: the second check cannot be made, and says so
    assert biased.n_chosen_shorter == 0 and biased.accuracy_chosen_shorter is None
    assert "shorter-vs-longer check not made" in biased.notes[0]


def test_a_model_at_chance_on_pairs_of_equal_length_is_not_called_length_biased() -> None:
    # every pair of equal length (the rule is a coin flip, 0.5); the model right half the time
    stats = audit_pairs([1.0, -1.0] * 50, [0.0] * 100, [10] * 100, [10] * 100)
    assert stats.length_rule_accuracy == 0.5 and stats.n_same_length == 100
    assert len(stats.warnings) == 1 and stats.warnings[0].startswith("NOT BETTER THAN LENGTH OR")


def test_gap_between_shorter_and_longer_pairs_warns() -> None:
    # 40 pairs with the chosen side longer, all right; 40 with it shorter, 20 right
    chosen = [1.0] * 40 + [1.0] * 20 + [-1.0] * 20
    len_c = [20] * 40 + [10] * 40
    stats = audit_pairs(chosen, [0.0] * 80, len_c, [15] * 80)
    assert stats.accuracy_chosen_longer == 1.0 and stats.accuracy_chosen_shorter == 0.5
    gap = [w for w in stats.warnings if "is 0.500 below" in w]
    assert len(gap) == 1
    # the same gap under a looser limit passes
    loose = audit_pairs(
        chosen, [0.0] * 80, len_c, [15] * 80, thresholds=AuditThresholds(max_length_gap=0.6)
    )
    assert not [w for w in loose.warnings if "below" in w]


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="shapes"):
        audit_pairs([1.0, 2.0], [0.0], [1, 2], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        audit_pairs([math.nan], [0.0], [1], [2])
    with pytest.raises(ValueError, match="no pairs"):
        audit_pairs([], [], [], [])
