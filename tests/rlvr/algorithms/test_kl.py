"""KL estimators, entropy and KL controllers, checked against values worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr.algorithms import losses
from rlvr.algorithms.kl import (
    K3_MAX,
    AdaptiveKLController,
    FixedKLController,
    StepKLController,
    entropy_from_logits,
    kl_estimate,
    kl_reward,
    make_kl_controller,
)

LN2 = math.log(2.0)


def test_estimators_on_two_tokens_by_hand() -> None:
    # Token 1: q = 0.5, p = 0.25, log r = log(p / q) = -ln 2.
    #   k1 = ln 2 = 0.693147; k2 = (ln 2)^2 / 2 = 0.240227; k3 = (0.5 - 1) + ln 2 = 0.193147.
    # Token 2: q = 0.25, p = 0.5, log r = ln 2.
    #   k1 = -ln 2; k2 = 0.240227; k3 = (2 - 1) - ln 2 = 0.306853.
    logprobs = torch.log(torch.tensor([[0.5, 0.25]], dtype=torch.float64))
    ref = torch.log(torch.tensor([[0.25, 0.5]], dtype=torch.float64))
    expected = {
        "k1": [[LN2, -LN2]],
        "k2": [[LN2**2 / 2, LN2**2 / 2]],
        "k3": [[LN2 - 0.5, 1.0 - LN2]],
    }
    for name, values in expected.items():
        actual = kl_estimate(logprobs, ref, estimator=name)  # type: ignore[arg-type]
        torch.testing.assert_close(
            actual, torch.tensor(values, dtype=torch.float64), atol=1e-6, rtol=0
        )


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_unbiased_estimators_average_to_the_exact_kl_under_the_sampling_policy(
    estimator: str,
) -> None:
    # q = [0.5, 0.25, 0.25], p = [0.25, 0.25, 0.5]:
    # KL(q || p) = 0.5 ln 2 + 0 + 0.25 ln 0.5 = 0.25 ln 2. The expectation over q is exact.
    q = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    p = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    per_token = kl_estimate(q.log(), p.log(), estimator=estimator)  # type: ignore[arg-type]
    assert float((q * per_token).sum()) == pytest.approx(0.25 * LN2, abs=1e-6)


def test_k3_is_clamped_and_finite_for_extreme_log_ratios() -> None:
    logprobs = torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([-30.0, 30.0, -1e-12], dtype=torch.float64)
    k3 = kl_estimate(logprobs, ref, estimator="k3")
    # |log r| = 30 is clamped to 20; both estimates then exceed 10 nats and are clamped to 10.
    assert k3[:2].tolist() == [K3_MAX, K3_MAX]
    assert 0.0 <= float(k3[2].detach()) < 1e-12
    k3.sum().backward()
    assert logprobs.grad is not None and logprobs.grad[:2].tolist() == [0.0, 0.0]


def test_unknown_estimator_is_rejected() -> None:
    with pytest.raises(ValueError, match="estimator"):
        kl_estimate(torch.zeros(1), torch.zeros(1), estimator="k4")  # type: ignore[arg-type]


def test_entropy_by_hand_and_masked() -> None:
    # p = [0.5, 0.25, 0.25]: H = 0.5 ln 2 + 2 * 0.25 ln 4 = 1.5 ln 2. Uniform over 3: ln 3.
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [1.0, 1.0, 1.0]]], dtype=torch.float64))
    entropy = entropy_from_logits(logits, torch.tensor([[1, 1]]))
    expected = torch.tensor([[1.5 * LN2, math.log(3.0)]], dtype=torch.float64)
    torch.testing.assert_close(entropy, expected, atol=1e-6, rtol=0)
    masked = entropy_from_logits(logits, torch.tensor([[1, 0]]))
    assert float(masked[0, 1]) == 0.0


def test_chunked_entropy_matches_the_unchunked_value_and_gradient() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, 5)
    reference = torch.distributions.Categorical(logits=logits).entropy()  # [3, 5]
    (grad_ref,) = torch.autograd.grad(reference.sum(), logits)
    chunked = entropy_from_logits(logits, mask, chunk_size=2)
    (grad_chunked,) = torch.autograd.grad(chunked.sum(), logits)
    torch.testing.assert_close(chunked, reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad_chunked, grad_ref, atol=1e-6, rtol=0)


def test_losses_module_re_exports_entropy() -> None:
    assert losses.entropy_from_logits is entropy_from_logits


def test_adaptive_controller_follows_ziegler_update() -> None:
    ctl = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10000)
    # KL 12: error 12 / 6 - 1 = 1, clipped to 0.2: beta = 0.1 * (1 + 0.2 * 1000 / 10000) = 0.102.
    ctl.update(current_kl=12.0, n_steps=1000)
    assert ctl.value == pytest.approx(0.102, abs=1e-12)
    # KL 3 from 0.102: error -0.5, clipped to -0.2: beta = 0.102 * (1 - 0.02) = 0.09996.
    ctl.update(current_kl=3.0, n_steps=1000)
    assert ctl.value == pytest.approx(0.09996, abs=1e-12)
    # KL 6.6: error 0.1 (inside the clip), full horizon: beta = 0.09996 * 1.1.
    ctl.update(current_kl=6.6, n_steps=10000)
    assert ctl.value == pytest.approx(0.109956, abs=1e-12)


def test_fixed_controller_never_moves() -> None:
    ctl = FixedKLController(0.04)
    ctl.update(current_kl=100.0, n_steps=10)
    assert ctl.value == 0.04


@pytest.mark.parametrize(
    ("init", "target", "horizon"), [(-0.1, 6.0, 100), (0.1, 0.0, 100), (0.1, 6.0, 0)]
)
def test_adaptive_controller_rejects_bad_settings(init: float, target: float, horizon: int) -> None:
    with pytest.raises(ValueError):
        AdaptiveKLController(init_kl_coef=init, target=target, horizon=horizon)


def test_step_controller_doubles_above_target_and_halves_below_half_target() -> None:
    ctl = StepKLController(init_kl_coef=0.1, target=4.0)
    seen = []
    for kl in (5.0, 4.0, 2.0, 1.9, 0.1, 8.0):
        ctl.update(current_kl=kl, n_steps=1)
        seen.append(ctl.value)
    # 5 > 4: 0.2; 4 and 2 are inside [target / 2, target]: kept; 1.9 < 2: 0.1; 0.1: 0.05; 8: 0.1
    assert seen == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.05, 0.1], abs=1e-15)
    three = StepKLController(init_kl_coef=1.0, target=3.0, factor=3.0)
    three.update(current_kl=0.9, n_steps=1)  # below 3 / 3 = 1: divided by 3
    assert three.value == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("init", "target", "factor"), [(0.0, 1.0, 2.0), (0.1, 0.0, 2.0), (0.1, 1.0, 1.0)]
)
def test_step_controller_rejects_bad_settings(init: float, target: float, factor: float) -> None:
    with pytest.raises(ValueError):
        StepKLController(init_kl_coef=init, target=target, factor=factor)


def test_kl_reward_puts_the_score_on_each_rows_last_token_and_beta_kl_on_every_token() -> None:
    # row 1, 3 tokens: log r = ref - lp = [-0.5, 0.25, 0] -> k1 = [0.5, -0.25, 0]
    # row 2, 1 token then padding: log r = [-1.0] -> k1 = [1.0]; row 3: no tokens at all
    lp = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -7.0, -7.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -1.75, -3.0], [-2.0, 0.0, 0.0], [-5.0, -5.0, -5.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    scores = torch.tensor([2.0, -1.0, 4.0])
    rewards, kl = kl_reward(scores, lp, ref, mask, beta=0.1)
    torch.testing.assert_close(kl, torch.tensor([[0.5, -0.25, 0.0], [1.0, 0, 0], [0.0, 0, 0]]))
    # row 1: [-0.05, 0.025, 0 + 2]; row 2: -0.1 - 1 on its only token; row 3: nothing
    want = torch.tensor([[-0.05, 0.025, 2.0], [-1.1, 0.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(rewards, want)
    # the return from the first token is the score minus beta times the row's summed KL
    assert float(rewards[0].sum()) == pytest.approx(2.0 - 0.1 * 0.25)
    # beta 0: the score alone; k3 instead of k1: exp(log r) - 1 - log r per token
    rewards0, _ = kl_reward(scores, lp, ref, mask, beta=0.0)
    torch.testing.assert_close(rewards0, torch.tensor([[0, 0, 2.0], [-1.0, 0, 0], [0.0, 0, 0]]))
    _, k3 = kl_reward(scores, lp, ref, mask, beta=0.1, estimator="k3")
    assert float(k3[1, 0]) == pytest.approx(math.exp(-1.0) - 1.0 + 1.0)
    with pytest.raises(ValueError, match="beta"):
        kl_reward(scores, lp, ref, mask, beta=-0.1)


def test_controllers_by_name() -> None:
    assert isinstance(make_kl_controller("fixed", beta=0.0), FixedKLController)
    adaptive = make_kl_controller("adaptive", beta=0.1, target=6.0, horizon=100)
    assert isinstance(adaptive, AdaptiveKLController) and adaptive.horizon == 100
    assert isinstance(make_kl_controller("step", beta=0.1, target=6.0), StepKLController)
    with pytest.raises(ValueError, match="target"):
        make_kl_controller("adaptive", beta=0.1)
