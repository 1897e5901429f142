"""Group advantages, dynamic-sampling filter, overlong shaping, GAE and whitening, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr.algorithms.advantages import (
    discounted_returns,
    explained_variance,
    gae,
    group_advantages,
    masked_mean,
    overlong_penalty,
    sequence_scores,
    whiten,
    zero_variance_groups,
)

EPS = 1e-6


def close(actual: torch.Tensor, expected: float | list[float] | list[list[float]]) -> None:
    torch.testing.assert_close(
        actual, torch.tensor(expected, dtype=actual.dtype), atol=1e-6, rtol=0
    )


def test_group_std_scaling_uses_unbiased_group_std() -> None:
    # Groups [1, 0] and [0, 1]: mean 0.5, unbiased std sqrt((0.25 + 0.25) / 1) = sqrt(0.5).
    a = 0.5 / (math.sqrt(0.5) + EPS)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    close(group_advantages(rewards, group_size=2, std_scaling="group"), [a, -a, -a, a])


def test_no_std_scaling_is_the_centred_reward() -> None:
    # Dr. GRPO: r - mean = +-0.5.
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    close(group_advantages(rewards, group_size=2, std_scaling="none"), [0.5, -0.5, -0.5, 0.5])


def test_batch_std_scaling_divides_by_the_std_of_all_rewards() -> None:
    # [1, 0 | 1, 1]: group means 0.5 and 1. Batch mean 0.75, squared deviations
    # 0.0625 + 0.5625 + 0.0625 + 0.0625 = 0.75, unbiased var 0.75 / 3 = 0.25, std 0.5.
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    a = 0.5 / (0.5 + EPS)
    close(group_advantages(rewards, group_size=2, std_scaling="batch"), [a, -a, 0.0, 0.0])


def test_leave_one_out_baseline_is_the_mean_of_the_others() -> None:
    # [1, 0, 0]: baselines mean(0, 0) = 0, mean(1, 0) = 0.5, mean(1, 0) = 0.5.
    rewards = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    loo = group_advantages(rewards, group_size=3, std_scaling="none", leave_one_out=True)
    close(loo, [1.0, -0.5, -0.5])
    # With group scaling: unbiased std of [1, 0, 0] is sqrt((4/9 + 1/9 + 1/9) / 2) = sqrt(1/3).
    scaled = group_advantages(rewards, group_size=3, std_scaling="group", leave_one_out=True)
    s = math.sqrt(1 / 3) + EPS
    close(scaled, [1.0 / s, -0.5 / s, -0.5 / s])


def test_equal_rewards_give_exactly_zero_advantage() -> None:
    rewards = torch.tensor([0.7, 0.7, 0.7, 0.7])
    assert torch.equal(group_advantages(rewards, group_size=4, std_scaling="group"), torch.zeros(4))


def test_two_dimensional_and_integer_rewards_match_the_flat_float_form() -> None:
    flat = group_advantages(torch.tensor([1.0, 0.0, 1.0, 1.0]), group_size=2, std_scaling="group")
    grid = group_advantages(torch.tensor([[1, 0], [1, 1]]), group_size=2, std_scaling="group")
    torch.testing.assert_close(grid, flat, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("rewards", "group_size"),
    [
        (torch.tensor([1.0, 0.0, 1.0]), 1),  # one sample per group: no baseline
        (torch.tensor([1.0, 0.0, 1.0]), 2),  # does not split into groups of 2
        (torch.tensor([[1.0, 0.0, 1.0]]), 2),  # [B, G] with the wrong G
    ],
)
def test_group_advantages_reject_bad_groups(rewards: torch.Tensor, group_size: int) -> None:
    with pytest.raises(ValueError, match=r"group_size|G="):
        group_advantages(rewards, group_size=group_size, std_scaling="group")


def test_unknown_std_scaling_is_rejected() -> None:
    with pytest.raises(ValueError, match="std_scaling"):
        group_advantages(torch.zeros(4), group_size=2, std_scaling="global")  # type: ignore[arg-type]


def test_zero_variance_groups_tolerate_float_noise() -> None:
    rewards = torch.tensor(
        [1.0, 1.0 + 1e-9, 0.0, 1.0, 0.0, 0.0, 0.5, 0.5 + 1e-5], dtype=torch.float64
    )
    flags = zero_variance_groups(rewards, group_size=2)
    assert flags.tolist() == [True, False, True, False]
    assert zero_variance_groups(rewards, group_size=2, atol=1e-4).tolist() == [
        True,
        False,
        True,
        True,
    ]


def test_overlong_penalty_in_its_three_regions() -> None:
    # max_len 20, buffer 10: free up to 10, linear (10 - L) / 10 inside (10, 20], -1 beyond.
    lengths = torch.tensor([5, 10, 12, 15, 20, 25])
    close(overlong_penalty(lengths, max_len=20, buffer_len=10), [0.0, 0.0, -0.2, -0.5, -1.0, -1.0])
    scaled = overlong_penalty(lengths, max_len=20, buffer_len=10, penalty=0.5)
    close(scaled, [0.0, 0.0, -0.1, -0.25, -0.5, -0.5])


@pytest.mark.parametrize("buffer_len", [0, 21])
def test_overlong_penalty_rejects_bad_buffers(buffer_len: int) -> None:
    with pytest.raises(ValueError, match="buffer_len"):
        overlong_penalty(torch.tensor([1]), max_len=20, buffer_len=buffer_len)


def test_gae_three_steps_by_hand() -> None:
    # gamma 0.9, lam 0.8 (gamma * lam = 0.72), V = [0.5, 0.6, 0.7], reward 1 on the last token.
    # deltas: t2 = 1 - 0.7 = 0.3; t1 = 0.9 * 0.7 - 0.6 = 0.03; t0 = 0.9 * 0.6 - 0.5 = 0.04.
    # A2 = 0.3; A1 = 0.03 + 0.72 * 0.3 = 0.246; A0 = 0.04 + 0.72 * 0.246 = 0.21712.
    rewards = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.6, 0.7]], dtype=torch.float64)
    adv, ret = gae(rewards, values, torch.ones(1, 3), gamma=0.9, lam=0.8)
    close(adv, [[0.21712, 0.246, 0.3]])
    close(ret, [[0.71712, 0.846, 1.0]])


def test_gae_never_bootstraps_from_right_padding() -> None:
    # Row 2 ends at t1; its padded value 99 and reward 5 must not leak in.
    # t1: delta = 1 - 0.6 = 0.4; t0: delta = 0.9 * 0.6 - 0.5 = 0.04, A0 = 0.04 + 0.72 * 0.4 = 0.328.
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 5.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.6, 0.7], [0.5, 0.6, 99.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    close(adv, [[0.21712, 0.246, 0.3], [0.328, 0.4, 0.0]])
    close(ret, [[0.71712, 0.846, 1.0], [0.828, 1.0, 0.0]])


def test_gae_with_unit_gamma_and_lambda_is_return_minus_value() -> None:
    rewards = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.6, 0.7]], dtype=torch.float64, requires_grad=True)
    adv, ret = gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=1.0)
    close(adv, [[0.5, 0.4, 0.3]])
    assert not adv.requires_grad and not ret.requires_grad


def test_masked_mean_ignores_masked_entries_and_empty_masks() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    close(masked_mean(x, torch.tensor([[1, 0], [1, 1]])), 8.0 / 3.0)
    assert float(masked_mean(x, torch.zeros(2, 2))) == 0.0


def test_whiten_uses_masked_unbiased_statistics() -> None:
    # Unmasked [1, 2, 3]: mean 2, unbiased var (1 + 0 + 1) / 2 = 1.
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0]])
    close(whiten(x, mask), [[-1.0, 0.0, 1.0, 0.0]])
    close(whiten(x, mask, shift_mean=False), [[1.0, 2.0, 3.0, 0.0]])


def reference_gae(
    rewards: list[float], values: list[float], gamma: float, lam: float
) -> tuple[list[float], list[float]]:
    """GAE of one unpadded episode, the textbook way: deltas, then the backward sum."""
    n, advantages, last = len(rewards), [0.0] * len(rewards), 0.0
    for t in reversed(range(n)):
        next_value = values[t + 1] if t + 1 < n else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        last = delta + gamma * lam * last
        advantages[t] = last
    return advantages, [a + v for a, v in zip(advantages, values, strict=True)]


@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 0.95), (0.9, 0.8), (0.99, 1.0), (0.5, 0.0)])
def test_gae_matches_a_reference_loop_on_rows_of_different_lengths(
    gamma: float, lam: float
) -> None:
    generator = torch.Generator().manual_seed(0)
    lengths = [7, 1, 4, 0, 7, 2]
    rewards = torch.randn(len(lengths), 7, generator=generator, dtype=torch.float64)
    values = torch.randn(len(lengths), 7, generator=generator, dtype=torch.float64)
    mask = torch.tensor([[1] * n + [0] * (7 - n) for n in lengths])
    # garbage in the padding must not leak into any row
    rewards, values = rewards + 50 * (1 - mask), values - 50 * (1 - mask)
    adv, ret = gae(rewards, values, mask, gamma=gamma, lam=lam)
    for row, n in enumerate(lengths):
        want_adv, want_ret = reference_gae(
            rewards[row, :n].tolist(), values[row, :n].tolist(), gamma, lam
        )
        close(adv[row], want_adv + [0.0] * (7 - n))
        close(ret[row], want_ret + [0.0] * (7 - n))


def test_discounted_returns_by_hand_and_against_the_reference_loop() -> None:
    # gamma 0.5, rewards [1, 0, 2] then padding: G2 = 2, G1 = 0 + 0.5 * 2 = 1, G0 = 1 + 0.5 = 1.5
    rewards = torch.tensor([[1.0, 0.0, 2.0, 9.0], [-0.1, 1.0, 9.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    # row 2: G1 = 1, G0 = -0.1 + 0.5 * 1 = 0.4
    close(discounted_returns(rewards, mask, gamma=0.5), [[1.5, 1.0, 2.0, 0.0], [0.4, 1.0, 0, 0]])
    # the same as GAE's returns with a zero critic and lambda 1
    want = reference_gae([1.0, 0.0, 2.0], [0.0, 0.0, 0.0], 0.5, 1.0)[1]
    close(discounted_returns(rewards, mask, gamma=0.5)[0, :3], want)


def test_explained_variance_by_hand() -> None:
    mask = torch.tensor([[1, 1, 1, 0]])
    target = torch.tensor([[1.0, 2.0, 3.0, 50.0]], dtype=torch.float64)
    # perfect prediction: 1; the mean everywhere: 0
    assert explained_variance(target, target, mask) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(target, 2.0), target, mask) == pytest.approx(0.0)
    # target [1, 2, 3]: mean 2, variance 2/3
    # prediction [2, 2, 4]: residuals [-1, 0, -1], mean -2/3, var (1/9 + 4/9 + 1/9) / 3 = 2/9
    pred = torch.tensor([[2.0, 2.0, 4.0, 0.0]], dtype=torch.float64)
    assert explained_variance(pred, target, mask) == pytest.approx(1 - (2 / 9) / (2 / 3))
    assert math.isnan(explained_variance(target, torch.ones_like(target), mask))


def test_sequence_scores_leave_out_non_finite_learned_scores_and_apply_penalties() -> None:
    verifier = torch.tensor([1.0, 0.0, 1.0, 0.5])
    runtime_keep = torch.tensor([True, True, False, True])
    lengths, stopped = torch.tensor([2, 4, 3, 5]), torch.tensor([True, True, True, False])
    learned = torch.tensor([0.5, float("nan"), 2.0, float("inf")])
    scores, keep = sequence_scores(
        verifier,
        runtime_keep,
        lengths,
        stopped,
        verifier_weight=2.0,
        learned=learned,
        missing_eos_penalty=1.0,
        length_penalty=0.1,
    )
    # row 0: 2 * 1 + 0.5 - 0.1 * 2 = 2.3; row 1: NaN learned score; row 2: masked by the
    # runtime; row 3: infinite learned score: the last three are left out with score 0
    assert keep.tolist() == [True, False, False, False]
    close(scores, [2.3, 0.0, 0.0, 0.0])
    # verifier weight 0: the verifiers are logged only, so the runtime's mask does not apply;
    # row 3 did not stop: 3 - 1
    learned = torch.tensor([0.5, 1.0, 2.0, 3.0])
    scores, keep = sequence_scores(
        verifier, runtime_keep, lengths, stopped, verifier_weight=0.0, learned=learned,
        missing_eos_penalty=1.0,
    )  # fmt: skip
    assert keep.tolist() == [True] * 4
    close(scores, [0.5, 1.0, 2.0, 2.0])
