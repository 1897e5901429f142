"""Aggregation, policy, value and SFT losses against hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr.algorithms.losses import (
    AGGREGATIONS,
    AggMode,
    aggregate,
    policy_loss,
    sft_loss,
    value_loss,
)

F64 = torch.float64
LN2 = math.log(2.0)
MODES: list[AggMode] = ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]

# Ragged batch: row 0 has 3 tokens, row 1 has 1 token, row 2 is masked out entirely.
LOSS_MAT = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], dtype=F64)
RAGGED = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])


def scalar(x: torch.Tensor, expected: float) -> None:
    assert float(x.detach()) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("token-mean", 2.5),  # (1 + 2 + 3 + 4) / 4 tokens
        ("seq-mean-token-mean", 3.0),  # row means 2 and 4, mean over 2 non-empty rows
        ("seq-mean-token-sum-norm", 1.25),  # row sums 6 / 4 and 4 / 4, mean over 2 rows
    ],
)
def test_aggregation_modes_on_a_ragged_mask(mode: AggMode, expected: float) -> None:
    scalar(aggregate(LOSS_MAT, RAGGED, mode=mode, norm_len=4), expected)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("token-mean", 1.0),  # 10 / global_tokens 10
        ("seq-mean-token-mean", 1.5),  # (2 + 4) / global_seqs 4
        ("seq-mean-token-sum-norm", 0.625),  # (1.5 + 1) / global_seqs 4
    ],
)
def test_global_normalisers_replace_the_local_counts(mode: AggMode, expected: float) -> None:
    loss = aggregate(LOSS_MAT, RAGGED, mode=mode, norm_len=4, global_tokens=10, global_seqs=4)
    scalar(loss, expected)


def test_token_weights_show_the_length_bias_of_each_mode() -> None:
    mask = RAGGED.to(F64)
    third, half = 1.0 / 3.0, 1.0 / 2.0
    # Per-sequence mean: each row weighs 1 / n_seqs, split over its own tokens.
    weights = AGGREGATIONS["seq-mean-token-mean"](mask, None, None, None)
    expected = [[third * half] * 3, [half, 0.0, 0.0], [0.0, 0.0, 0.0]]
    torch.testing.assert_close(weights, torch.tensor(expected, dtype=F64), atol=1e-6, rtol=0)
    # Token mean: every token weighs 1 / 4; sum-norm: every token weighs 1 / (4 * 2).
    torch.testing.assert_close(AGGREGATIONS["token-mean"](mask, None, None, None), mask / 4)
    torch.testing.assert_close(
        AGGREGATIONS["seq-mean-token-sum-norm"](mask, 4, None, None), mask / 8
    )


def test_aggregation_rejects_missing_norm_len_bad_counts_and_unknown_modes() -> None:
    with pytest.raises(ValueError, match="norm_len"):
        aggregate(LOSS_MAT, RAGGED, mode="seq-mean-token-sum-norm")
    with pytest.raises(ValueError, match="positive"):
        aggregate(LOSS_MAT, RAGGED, mode="token-mean", global_tokens=0)
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(LOSS_MAT, RAGGED, mode="sum")  # type: ignore[arg-type]


def clip_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Four tokens with ratios 1.5, 0.5, 1.5, 0.5 and advantages +1, -1, -1, +1."""
    old = torch.zeros(1, 4, dtype=F64)
    logprobs = torch.log(torch.tensor([[1.5, 0.5, 1.5, 0.5]], dtype=F64)).requires_grad_()
    advantages = torch.tensor([[1.0, -1.0, -1.0, 1.0]], dtype=F64)
    return logprobs, old, advantages


def test_clipping_in_all_four_ratio_and_advantage_cases() -> None:
    logprobs, old, adv = clip_batch()
    loss, stats = policy_loss(logprobs, old, adv, torch.ones(1, 4))
    # Per token -min(r A, clip(r, 0.8, 1.2) A):
    #   r 1.5, A +1: min(1.5, 1.2) = 1.2 -> -1.2, clipped (zero gradient).
    #   r 0.5, A -1: min(-0.5, -0.8) = -0.8 -> 0.8, clipped (zero gradient).
    #   r 1.5, A -1: min(-1.5, -1.2) = -1.5 -> 1.5, unclipped, d/dlogp = -A r = 1.5.
    #   r 0.5, A +1: min(0.5, 0.8) = 0.5 -> -0.5, unclipped, d/dlogp = -A r = -0.5.
    scalar(loss, (-1.2 + 0.8 + 1.5 - 0.5) / 4)
    (grad,) = torch.autograd.grad(loss, logprobs)
    expected_grad = torch.tensor([[0.0, 0.0, 1.5 / 4, -0.5 / 4]], dtype=F64)
    torch.testing.assert_close(grad, expected_grad, atol=1e-6, rtol=0)
    assert stats["clip_frac"] == pytest.approx(0.5, abs=1e-6)
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert stats["ratio_max"] == pytest.approx(1.5, abs=1e-6)
    # approx_kl = mean k3 with r = new / old: (0.5 - ln 1.5) twice and (-0.5 + ln 2) twice.
    k3 = ((0.5 - math.log(1.5)) + (-0.5 + LN2)) / 2
    assert stats["approx_kl"] == pytest.approx(k3, abs=1e-6)


def test_clip_higher_lets_a_positive_token_keep_its_gradient() -> None:
    # Ratio 1.25, A = +1: clipped at 1.2 with eps_high 0.2, free below 1.28 (DAPO eps_high 0.28).
    logprobs = torch.log(torch.tensor([[1.25]], dtype=F64)).requires_grad_()
    old, adv, mask = torch.zeros(1, 1, dtype=F64), torch.ones(1, dtype=F64), torch.ones(1, 1)
    symmetric, _ = policy_loss(logprobs, old, adv, mask, eps_high=0.2)
    higher, stats = policy_loss(logprobs, old, adv, mask, eps_high=0.28)
    scalar(symmetric, -1.2)
    scalar(higher, -1.25)
    assert float(torch.autograd.grad(symmetric, logprobs)[0]) == 0.0
    assert float(torch.autograd.grad(higher, logprobs)[0]) == pytest.approx(-1.25, abs=1e-6)
    assert stats["clip_frac"] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_unit_ratio_loss_is_minus_the_aggregated_advantage(mode: AggMode) -> None:
    torch.manual_seed(0)
    logprobs = torch.randn(3, 3, dtype=F64)
    adv = torch.tensor([0.5, -2.0, 1.0], dtype=F64)
    loss, stats = policy_loss(logprobs, logprobs.clone(), adv, RAGGED, agg_mode=mode, norm_len=4)
    expected = -aggregate(adv[:, None].expand(3, 3), RAGGED, mode=mode, norm_len=4)
    scalar(loss, float(expected))
    assert stats["clip_frac"] == 0.0
    assert stats["approx_kl"] == 0.0
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6)


def test_sequence_advantages_broadcast_like_per_token_advantages() -> None:
    torch.manual_seed(1)
    logprobs, old = torch.randn(3, 3, dtype=F64), torch.randn(3, 3, dtype=F64)
    adv = torch.tensor([0.5, -2.0, 1.0], dtype=F64)
    per_seq, _ = policy_loss(logprobs, old, adv, RAGGED)
    per_token, _ = policy_loss(logprobs, old, adv[:, None].expand(3, 3), RAGGED)
    scalar(per_seq, float(per_token))


def test_importance_weights_scale_the_surrogate_and_get_no_gradient() -> None:
    # Ratio 1, A = 2: surrogate -2 per token; weights 0.5 and 1.5 -> (-1 - 3) / 2 = -2.
    logprobs = torch.zeros(1, 2, dtype=F64)
    weights = torch.tensor([[0.5, 1.5]], dtype=F64, requires_grad=True)
    loss, _ = policy_loss(
        logprobs, logprobs, torch.tensor([2.0], dtype=F64), torch.ones(1, 2), is_weights=weights
    )
    scalar(loss, -2.0)
    assert not loss.requires_grad


def test_kl_term_is_added_per_token_with_the_same_aggregation() -> None:
    # Ratio 1 and A = 0, so only the KL term remains: q = 0.5, p_ref = 0.25,
    # k3 = (0.5 - 1) + ln 2 = 0.193147 per token; loss = 0.1 * k3.
    logprobs = torch.log(torch.full((1, 2), 0.5, dtype=F64))
    ref = torch.log(torch.full((1, 2), 0.25, dtype=F64))
    adv = torch.zeros(1, dtype=F64)
    loss, stats = policy_loss(
        logprobs, logprobs, adv, torch.ones(1, 2), ref_logprobs=ref, kl_coef=0.1
    )
    scalar(loss, 0.1 * (LN2 - 0.5))
    assert stats["kl"] == pytest.approx(LN2 - 0.5, abs=1e-6)
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(logprobs, logprobs, adv, torch.ones(1, 2), kl_coef=0.1)


def test_value_loss_clipping_by_hand() -> None:
    # Token 1: V 1 from old 0, clip 0.5 -> V_clip 0.5, R 2: max((1-2)^2, (0.5-2)^2) = 2.25.
    # Token 2: V 2 = old, R 3: both errors 1.  Loss = 0.5 * (2.25 + 1) / 2 = 0.8125.
    values = torch.tensor([[1.0, 2.0]], dtype=F64, requires_grad=True)
    old = torch.tensor([[0.0, 2.0]], dtype=F64)
    returns = torch.tensor([[2.0, 3.0]], dtype=F64)
    loss, stats = value_loss(values, old, returns, torch.ones(1, 2), clip_range=0.5)
    scalar(loss, 0.8125)
    assert stats["value_clip_frac"] == pytest.approx(0.5, abs=1e-6)
    # The clipped token has zero gradient; the other: d/dV 0.5 (V - R)^2 / 2 = (2 - 3) / 2.
    (grad,) = torch.autograd.grad(loss, values)
    torch.testing.assert_close(grad, torch.tensor([[0.0, -0.5]], dtype=F64), atol=1e-6, rtol=0)


def test_sft_loss_is_token_mean_cross_entropy_on_completion_tokens() -> None:
    # p = [0.25, 0.5, 0.25] at every position: label 1 costs ln 2, label 0 costs ln 4.
    # The third position is masked (label -100) and ignored: loss = (ln 2 + ln 4) / 2.
    logits = torch.log(torch.tensor([[[1.0, 2.0, 1.0]] * 3], dtype=F64))
    labels = torch.tensor([[1, 0, -100]])
    mask = torch.tensor([[1, 1, 0]])
    loss, stats = sft_loss(logits, labels, mask)
    scalar(loss, 1.5 * LN2)
    assert stats["token_accuracy"] == pytest.approx(0.5, abs=1e-6)  # argmax is 1 everywhere
    scaled, _ = sft_loss(logits, labels, mask, global_tokens=4)
    scalar(scaled, 3 * LN2 / 4)
