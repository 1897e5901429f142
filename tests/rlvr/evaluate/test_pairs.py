"""`pair_indices`: which (correct, wrong) completions of one prompt become preference pairs."""

from __future__ import annotations

from rlvr.evaluate.pairs import pair_indices


def test_pairs_walk_the_diagonals_and_skip_masked_and_repeated_completions() -> None:
    texts = ["a", "b", "c", "d", "a", "e"]
    correct = [True, False, False, None, True, True]
    # usable: correct 0, 5 ("a" again at 4 is skipped), wrong 1, 2; the masked 3 never counts.
    # C = W = 2: diagonal 0 pairs correct i with wrong i -> (0, 1), (5, 2);
    # diagonal 1 with wrong (i + 1) mod 2 -> (0, 2), (5, 1).
    assert pair_indices(texts, correct, 1) == [(0, 1)]
    assert pair_indices(texts, correct, 3) == [(0, 1), (5, 2), (0, 2)]
    assert pair_indices(texts, correct, 10) == [(0, 1), (5, 2), (0, 2), (5, 1)]


def test_the_larger_side_is_used_once_before_any_of_it_repeats() -> None:
    texts = ["w0", "c0", "w1", "w2"]
    correct = [False, True, False, False]
    # C = 1 < W = 3: one diagonal, every wrong completion against the one correct one
    assert pair_indices(texts, correct, 2) == [(1, 0), (1, 2)]
    assert pair_indices(texts, correct, 5) == [(1, 0), (1, 2), (1, 3)]
    # C = 3 > W = 2: diagonal 0 -> (c0, w0), (c1, w1), (c2, w0); diagonal 1 -> (c0, w1), ...
    texts = ["c0", "c1", "w0", "c2", "w1"]
    correct = [True, True, False, True, False]
    assert pair_indices(texts, correct, 4) == [(0, 2), (1, 4), (3, 2), (0, 4)]


def test_no_pairs_without_both_a_correct_and_a_wrong_completion() -> None:
    assert pair_indices(["a", "b"], [True, True], 4) == []
    assert pair_indices(["a", "b"], [False, None], 4) == []
    assert pair_indices(["a", "a"], [True, False], 4) == []  # one text cannot be both
