"""Per-token KL estimators, per-token entropy, and KL-coefficient controllers.

Notation: the tokens were sampled from the policy ``q`` whose log-probabilities are ``logprobs``;
``p`` is the other distribution (the reference model, or the new policy when measuring how far an
update moved). Every estimator uses the same ratio ``r = p(x) / q(x) = exp(ref_logprobs -
logprobs)`` and estimates ``KL(q || p)`` from samples of ``q``.

Implementation details:
    1. ``k1 = -log r``: unbiased, high variance, can be negative per token (Schulman, "Approximating
       KL Divergence", http://joschu.net/blog/kl-approx.html). Used as the per-token KL reward
       penalty in RLHF PPO (Ziegler et al. 2019, https://arxiv.org/abs/1909.08593, §2.2).
    2. ``k2 = (log r)^2 / 2``: biased, low variance, always >= 0 (same blog).
    3. ``k3 = (r - 1) - log r``: unbiased, low variance, always >= 0 (same blog). This is the
       estimator of the GRPO loss (Shao et al. 2024, https://arxiv.org/abs/2402.03300, eq. 4).
    4. Numerical safety: ``log r`` is clamped to ``[-20, 20]`` before ``exp`` so ``r`` never
       overflows, and ``k3`` is clamped to ``[0, 10]`` (verl ``low_var_kl``). The lower clamp only
       removes rounding noise (``k3 >= 0`` exactly); the upper clamp zeroes the gradient of tokens
       whose estimate exceeds 10 nats, which bounds the KL gradient of a single diverged token.
    5. Entropy ``H = -sum_v p_v log p_v`` from logits is computed a chunk of token positions at a
       time in (at least) float32 and checkpointed under autograd, bounding the ``[*, V]``
       temporaries (verl ``entropy_from_logits``).
    6. Adaptive coefficient (Ziegler et al. 2019, §2.2): ``e = clip(KL / target - 1, -0.2, 0.2)``,
       ``beta <- beta * (1 + e * n_steps / horizon)``. The controllers are the only state in this
       package; a trainer resumes one by constructing it with the saved ``value``.
    7. The step rule of InstructGPT-style guides (``StepKLController``): double beta when the
       measured KL is above the target, halve it when the KL is below half the target, keep it
       in between (a dead band of width ``target / 2``; ``factor`` generalises the 2).
    8. KL in the reward (Ziegler et al. 2019, eq. 2; Ouyang et al. 2022, eq. 2): every completion
       token gets ``-beta * k_t`` and the last one also the sequence score, so the return from
       token ``t`` is the score minus ``beta`` times the KL still to come (``kl_reward``). k1 is
       the papers' choice (unbiased for the sequence KL); k2 and k3 are available.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

KLEstimator = Literal["k1", "k2", "k3"]

LOG_RATIO_CLAMP = 20.0
"""Bound on ``|log r|`` before exponentiating (``exp(20)`` is about 4.9e8, safe in fp16/bf16)."""

K3_MAX = 10.0
"""Upper clamp on the k3 estimate, in nats (verl ``low_var_kl``)."""


def _k1(log_ratio: Tensor) -> Tensor:
    return -log_ratio


def _k2(log_ratio: Tensor) -> Tensor:
    return 0.5 * log_ratio.square()


def _k3(log_ratio: Tensor) -> Tensor:
    log_ratio = log_ratio.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    return (torch.exp(log_ratio) - 1.0 - log_ratio).clamp(0.0, K3_MAX)


KL_ESTIMATORS: dict[KLEstimator, Callable[[Tensor], Tensor]] = {"k1": _k1, "k2": _k2, "k3": _k3}
"""Estimator name -> function of ``log r = ref_logprobs - logprobs``, elementwise."""


def kl_estimate(logprobs: Tensor, ref_logprobs: Tensor, *, estimator: KLEstimator) -> Tensor:
    """Per-token estimate of ``KL(q || p)`` from tokens sampled from ``q``.

    Args:
        logprobs: Log-probabilities of the sampled tokens under the sampling policy ``q``,
            ``[B, T]`` (any shape works; the result has the same shape).
        ref_logprobs: Log-probabilities of the same tokens under ``p``, same shape.
        estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (see the module docstring).

    Returns:
        The per-token estimate, ``[B, T]``. Padding positions are not masked here; aggregate with
        a mask (``rlvr.algorithms.losses.aggregate`` or ``masked_mean``).

    Example:
        >>> kl_estimate(torch.tensor([0.0]), torch.tensor([0.0]), estimator="k3")
        tensor([0.])
    """
    if estimator not in KL_ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; expected one of {list(KL_ESTIMATORS)}")
    return KL_ESTIMATORS[estimator](ref_logprobs - logprobs)  # [B, T]


def _entropy(chunk: Tensor) -> Tensor:
    logp = F.log_softmax(chunk.to(torch.promote_types(chunk.dtype, torch.float32)), dim=-1)
    return -(logp.exp() * logp).sum(-1)  # [c]


def entropy_from_logits(logits: Tensor, mask: Tensor, *, chunk_size: int = 1024) -> Tensor:
    """Per-token softmax entropy in nats, ``chunk_size`` token positions at a time.

    Each chunk is up-cast to at least float32 and reduced to one value per position, so the
    ``[*, V]`` temporaries never exceed ``chunk_size * V`` elements. When ``logits`` requires
    grad each chunk is activation-checkpointed (recomputed in the backward pass), so the entropy
    bonus does not keep a float32 copy of the full ``[B, T, V]`` softmax alive either.

    Args:
        logits: ``[B, T, V]``.
        mask: 0/1 mask, ``[B, T]``; masked positions return 0.
        chunk_size: Token positions per chunk.

    Returns:
        Entropy, ``[B, T]``, in the dtype of ``logits``; reduce it with ``losses.aggregate``.
    """
    flat = logits.reshape(-1, logits.shape[-1])  # [B*T, V]
    parts = []
    for chunk in flat.split(chunk_size, dim=0):  # [c, V]
        if chunk.requires_grad:
            parts.append(checkpoint(_entropy, chunk, use_reentrant=False))
        else:
            parts.append(_entropy(chunk))
    entropy = torch.cat(parts).view(logits.shape[:-1]).to(logits.dtype)  # [B, T]
    return entropy * mask.to(entropy.dtype)


class KLController(Protocol):
    """A KL coefficient that a trainer reads each step and updates from the measured KL."""

    value: float

    def update(self, current_kl: float, n_steps: int) -> None:
        """Update ``value`` after ``n_steps`` samples (or steps) measured ``current_kl``."""


class FixedKLController:
    """A constant KL coefficient (GRPO's ``beta``; Shao et al. 2024 §4.2 use 0.04)."""

    def __init__(self, kl_coef: float) -> None:
        if kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> None:
        """Leave the coefficient unchanged."""


def kl_reward(
    scores: Tensor,
    logprobs: Tensor,
    ref_logprobs: Tensor,
    mask: Tensor,
    *,
    beta: float,
    estimator: KLEstimator = "k1",
) -> tuple[Tensor, Tensor]:
    """Per-token RLHF rewards: ``-beta * KL_t`` on every completion token, plus the sequence score
    on each row's last completion token (implementation detail 8).

    Args:
        scores: One sequence score per row, ``[B]`` (reward model and/or verifiers).
        logprobs: Log-probabilities of the sampled tokens under the sampling policy, ``[B, T]``.
        ref_logprobs: The same under the reference model, ``[B, T]``.
        mask: 0/1 mask of completion tokens, ``[B, T]``; a row's last 1 receives its score (a row
            without any 1 receives nothing).
        beta: KL coefficient, ``>= 0``.
        estimator: ``"k1"`` (default, Ziegler et al.), ``"k2"`` or ``"k3"``.

    Returns:
        ``(rewards, kl)``, both ``[B, T]`` and 0 at masked positions; ``kl`` is the per-token
        estimate before weighting (sum it over a row for the sequence KL).

    Example:
        >>> r, kl = kl_reward(torch.tensor([1.0]), torch.tensor([[-1.0, -2.0]]),
        ...                   torch.tensor([[-1.5, -2.0]]), torch.ones(1, 2), beta=0.1)
        >>> r
        tensor([[-0.0500,  1.0000]])
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    fmask = mask.to(logprobs.dtype)  # [B, T]
    kl = kl_estimate(logprobs, ref_logprobs, estimator=estimator) * fmask  # [B, T]
    positions = torch.arange(mask.shape[-1], device=mask.device)  # [T]
    last = (fmask * (positions + 1)).argmax(dim=-1, keepdim=True)  # [B, 1]: the last 1
    has_tokens = fmask.sum(-1, keepdim=True) > 0  # [B, 1]
    score_mat = torch.zeros_like(kl).scatter(-1, last, scores.to(kl.dtype).unsqueeze(-1))
    rewards = -beta * kl + score_mat * has_tokens  # [B, T]
    return rewards, kl


class AdaptiveKLController:
    """Adaptive KL coefficient of Ziegler et al. 2019 (https://arxiv.org/abs/1909.08593, §2.2).

    Args:
        init_kl_coef: Starting coefficient ``beta``.
        target: KL (nats per sequence, or whatever unit ``update`` is given) to steer towards.
        horizon: Number of steps over which a full proportional error is corrected (Ziegler et al.
            use 10000 samples).

    Example:
        >>> ctl = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10000)
        >>> ctl.update(current_kl=12.0, n_steps=1000)  # error clipped to 0.2 -> 0.1 * 1.02
        >>> round(ctl.value, 6)
        0.102
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        if init_kl_coef < 0 or target <= 0 or horizon <= 0:
            raise ValueError("need init_kl_coef >= 0, target > 0 and horizon > 0")
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """``beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon``."""
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


class StepKLController:
    """Step-rule KL coefficient: ``factor`` times higher above the target, ``factor`` times lower
    below ``target / factor``, unchanged in between (implementation detail 7).

    Args:
        init_kl_coef: Starting coefficient ``beta``, ``> 0`` (a multiplicative rule never leaves
            0).
        target: KL to steer towards, in the unit ``update`` is given.
        factor: Multiplier, ``> 1``; 2 gives "double above target, halve below half-target".

    Example:
        >>> ctl = StepKLController(init_kl_coef=0.1, target=4.0)
        >>> ctl.update(current_kl=5.0, n_steps=1)  # above target: doubled
        >>> ctl.update(current_kl=3.0, n_steps=1)  # in the band [2, 4]: kept
        >>> ctl.value
        0.2
    """

    def __init__(self, init_kl_coef: float, target: float, factor: float = 2.0) -> None:
        if init_kl_coef <= 0 or target <= 0 or factor <= 1:
            raise ValueError("need init_kl_coef > 0, target > 0 and factor > 1")
        self.value = init_kl_coef
        self.target = target
        self.factor = factor

    def update(self, current_kl: float, n_steps: int) -> None:
        """Multiply or divide ``value`` by ``factor`` when ``current_kl`` leaves the band."""
        if current_kl > self.target:
            self.value *= self.factor
        elif current_kl < self.target / self.factor:
            self.value /= self.factor


KLControllerKind = Literal["fixed", "adaptive", "step"]


def make_kl_controller(
    kind: KLControllerKind, *, beta: float, target: float | None = None, horizon: int = 10000
) -> KLController:
    """The controller called ``kind``, starting at ``beta``.

    Raises:
        ValueError: an unknown kind, or ``adaptive`` / ``step`` without a ``target``.

    Example:
        >>> make_kl_controller("step", beta=0.1, target=2.0).value
        0.1
    """
    if kind == "fixed":
        return FixedKLController(beta)
    if kind not in ("adaptive", "step") or target is None:
        raise ValueError(f"KL controller {kind!r}: need fixed, or adaptive / step with a target")
    if kind == "adaptive":
        return AdaptiveKLController(init_kl_coef=beta, target=target, horizon=horizon)
    return StepKLController(init_kl_coef=beta, target=target)
