"""pass@k, maj@k and the bootstrap intervals, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from rlvr.evaluate.metrics import (
    bootstrap_interval,
    maj_at_k,
    majority_vote,
    paired_interval,
    pass_at_k,
)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),  # c / n
        (10, 3, 5, 1 - math.comb(7, 5) / math.comb(10, 5)),  # 1 - 21/252
        (4, 1, 4, 1.0),  # n - c < k: some sample of any 4 is correct
        (4, 0, 2, 0.0),
        (200, 10, 10, 1 - math.comb(190, 10) / math.comb(200, 10)),  # no overflow at large n
    ],
)
def test_pass_at_k_is_the_unbiased_estimator(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12)


def test_pass_at_k_rejects_k_above_n() -> None:
    with pytest.raises(ValueError, match=r"1 <= k <= n, got k=5, n=4"):
        pass_at_k(4, 1, 5)


def test_majority_vote_ties_go_to_the_earliest_answer() -> None:
    assert majority_vote(["41", "42", "42", "41"], [False, True, True, False]) is False
    assert majority_vote(["42", "41", "41", "42"], [True, False, False, True]) is True
    assert majority_vote([None, None], [False, False]) is False
    assert majority_vote([None, "7"], [False, True]) is True  # no answer does not vote


def test_maj_at_k_averages_disjoint_runs() -> None:
    answers = ["1", "1", "2", "3", "3", "9", "9"]  # runs of 3: (1,1,2) and (3,3,9); 9 left over
    correct = [True, True, False, False, False, False, False]
    assert maj_at_k(answers, correct, 3) == 0.5  # first run votes 1 (correct), second 3 (wrong)
    assert maj_at_k(answers, correct, 1) == 2 / 7


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_n() -> None:
    small = bootstrap_interval([0.0, 1.0] * 10, seed=1)
    large = bootstrap_interval([0.0, 1.0] * 1000, seed=1)
    assert small.value == large.value == 0.5
    assert small.low < 0.5 < small.high and large.low < 0.5 < large.high
    assert (large.high - large.low) < (small.high - small.low) / 5
    # binomial: the 95% interval of a mean of 2000 fair coins is about +-1.96 * 0.5 / sqrt(2000)
    assert large.high - large.low == pytest.approx(2 * 1.96 * 0.5 / math.sqrt(2000), rel=0.15)
    assert bootstrap_interval([1.0]).low == bootstrap_interval([1.0]).high == 1.0


def test_paired_interval_excludes_zero_only_for_a_real_difference() -> None:
    a = [float(i % 2) for i in range(200)]
    same = paired_interval(a, a)
    assert same.value == 0.0 and not same.excludes_zero()
    better = paired_interval(a, [1.0] * 200)
    assert better.value == 0.5 and better.excludes_zero() and better.low > 0
    with pytest.raises(ValueError, match="differ in length"):
        paired_interval([1.0], [1.0, 0.0])
