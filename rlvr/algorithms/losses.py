"""Losses: clipped policy surrogate, value, SFT; loss aggregation. Preference losses (DPO
family, KTO, Bradley-Terry) are in ``preference``.

Each loss takes tensors and explicit keywords and returns ``(loss, stats)``: a scalar tensor and
a dict of detached Python floats (torchtune ``PPOLoss``). ``masked_mean`` and
``entropy_from_logits`` are re-exported from ``advantages`` and ``kl``.

Implementation details:
    1. Clipped surrogate ``-min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)``, ``r = pi / pi_old``
       (Schulman et al. 2017, https://arxiv.org/abs/1707.06347, eq. 7); ``eps_high > eps_low`` is
       DAPO clip-higher (https://arxiv.org/abs/2503.14476, eq. 10); ``log r`` is clamped to ±20.
    2. Truncated importance weights (``is_weights``) are detached and scale the surrogate only.
    3. KL to a reference is a per-token term ``kl_coef * k`` (k3 by default) aggregated with the
       surrogate, as GRPO (Shao et al. 2024, https://arxiv.org/abs/2402.03300, eqs. 3-4). PPO puts
       ``-beta * k1`` in the reward instead (Ziegler et al. 2019, §2.2), with ``kl_coef = 0``.
    4. ``aggregate``: per-token weights per mode, their length bias, gradient accumulation.
    5. Clipped value loss ``0.5 max((V - R)^2, (V_clip - R)^2)`` (OpenAI baselines ``ppo2``;
       Engstrom et al. 2020, https://arxiv.org/abs/2005.12729, §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rlvr.algorithms.advantages import masked_mean as masked_mean
from rlvr.algorithms.kl import LOG_RATIO_CLAMP, KLEstimator, kl_estimate
from rlvr.algorithms.kl import entropy_from_logits as entropy_from_logits

AggMode = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
Count = int | None
Stats = dict[str, float]


def _denominator(local: Tensor, global_count: Count) -> Tensor | float:
    if global_count is not None and global_count <= 0:
        raise ValueError(f"global normaliser must be positive, got {global_count}")
    return local.clamp_min(1.0) if global_count is None else float(global_count)


def _n_seqs(mask: Tensor) -> Tensor:
    return (mask.sum(-1) > 0).sum().to(mask.dtype)  # sequences with at least one token


def _token_mean(mask: Tensor, norm_len: Count, tokens: Count, seqs: Count) -> Tensor:
    return mask / _denominator(mask.sum(), tokens)  # [B, T]


def _seq_mean_token_mean(mask: Tensor, norm_len: Count, tokens: Count, seqs: Count) -> Tensor:
    lengths = mask.sum(-1, keepdim=True).clamp_min(1.0)  # [B, 1]
    return mask / lengths / _denominator(_n_seqs(mask), seqs)  # [B, T]


def _seq_mean_token_sum_norm(mask: Tensor, norm_len: Count, tokens: Count, seqs: Count) -> Tensor:
    if norm_len is None or norm_len <= 0:
        raise ValueError("seq-mean-token-sum-norm needs a positive constant norm_len")
    return mask / norm_len / _denominator(_n_seqs(mask), seqs)  # [B, T]


TokenWeights = Callable[[Tensor, Count, Count, Count], Tensor]
AGGREGATIONS: dict[AggMode, TokenWeights] = {
    "token-mean": _token_mean,
    "seq-mean-token-mean": _seq_mean_token_mean,
    "seq-mean-token-sum-norm": _seq_mean_token_sum_norm,
}
"""Mode -> ``f(mask, norm_len, global_tokens, global_seqs)``, the per-token weights ``[B, T]``:
the aggregated loss is ``sum(loss_mat * weights)``, so the weights are each mode's length bias."""


def _aggregation(mode: AggMode) -> TokenWeights:
    if mode not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {mode!r}; expected one of {list(AGGREGATIONS)}")
    return AGGREGATIONS[mode]


def aggregate(
    loss_mat: Tensor,
    mask: Tensor,
    *,
    mode: AggMode,
    norm_len: int | None = None,
    global_tokens: int | None = None,
    global_seqs: int | None = None,
) -> Tensor:
    """Reduce a per-token loss ``[B, T]`` to a scalar. Length bias of each mode:

    - ``token-mean``: ``sum(loss * mask) / n_tokens``. Every token in the batch weighs the same;
      no sequence is favoured for being short (DAPO, Yu et al. 2025, eq. 12).
    - ``seq-mean-token-mean``: mean over each sequence's tokens, then over sequences (GRPO, eq. 3).
      A token weighs ``1 / (len * n_seqs)``: short correct answers are pushed up harder and long
      wrong ones pushed down less, so wrong answers grow (https://arxiv.org/abs/2503.20783 §3.1).
    - ``seq-mean-token-sum-norm``: each sequence's token sum over a constant ``norm_len`` (e.g. the
      maximum completion length), then mean over sequences (Dr. GRPO, Liu et al. 2025). A token
      weighs ``1 / (norm_len * n_seqs)`` whatever its sequence's length: no length bias.

    Sequences count only with at least one unmasked token (fully masked rows do not dilute).
    Gradient accumulation: give every micro-batch the counts of the whole optimiser-step batch,
    ``global_tokens = int(mask.sum())`` and ``global_seqs = int((mask.sum(-1) > 0).sum())`` (over
    all data-parallel ranks too, scaling the loss by the world size when the backend averages
    gradients), and backpropagate each micro-batch loss undivided: the summed gradient equals the
    whole-batch gradient for ragged lengths and uneven splits. Without them counts are local.

    Args:
        loss_mat: Per-token loss, ``[B, T]``.
        mask: 0/1 mask of the tokens that count, ``[B, T]``.
        mode: A key of ``AGGREGATIONS``.
        norm_len: The constant divisor of ``seq-mean-token-sum-norm`` (required there).
        global_tokens: Token count of the whole batch (``token-mean``).
        global_seqs: Non-empty sequence count of the whole batch (``seq-*`` modes).
    """
    weights = _aggregation(mode)(mask.to(loss_mat.dtype), norm_len, global_tokens, global_seqs)
    return (loss_mat * weights).sum()


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    agg_mode: AggMode = "token-mean",
    norm_len: int | None = None,
    global_tokens: int | None = None,
    global_seqs: int | None = None,
    is_weights: Tensor | None = None,
    ref_logprobs: Tensor | None = None,
    kl_coef: float = 0.0,
    kl_estimator: KLEstimator = "k3",
) -> tuple[Tensor, Stats]:
    """Clipped surrogate policy loss, plus an optional per-token KL term to a reference model.

    Args:
        logprobs: Current-policy log-probabilities of the sampled tokens, ``[B, T]``.
        old_logprobs: The same under the sampling policy (detached), ``[B, T]``.
        advantages: Per sequence ``[B]`` (GRPO outcome supervision) or per token ``[B, T]``.
        mask: 0/1 mask of completion tokens, ``[B, T]``.
        eps_low, eps_high: The ratio is clipped to ``[1 - eps_low, 1 + eps_high]``.
        agg_mode, norm_len, global_tokens, global_seqs: Aggregation, as in ``aggregate``.
        is_weights: Truncated importance weights, ``[B, T]``; detached, multiply the surrogate.
        ref_logprobs: Reference log-probabilities, ``[B, T]``; needed if ``kl_coef > 0``.
        kl_coef: Weight of the per-token KL term (GRPO ``beta``).
        kl_estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (GRPO: k3).

    Returns:
        ``(loss, stats)``, stats over this call's tokens: ``clip_frac`` (clipped branch active:
        zero surrogate gradient), ``approx_kl`` (k3 of ``KL(old || new)``), ``ratio_mean``,
        ``ratio_max``, and ``kl`` (to the reference) when ``ref_logprobs`` is given.
    """
    if kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")
    fmask = mask.to(logprobs.dtype)  # [B, T]
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages  # [B, 1] or [B, T]
    ratio = torch.exp((logprobs - old_logprobs).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))  # [B, T]
    loss_mat = -torch.minimum(ratio * adv, ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * adv)
    loss_mat = loss_mat if is_weights is None else loss_mat * is_weights.detach()  # [B, T]
    stats: Stats = {}
    if ref_logprobs is not None:
        kl_mat = kl_estimate(logprobs, ref_logprobs, estimator=kl_estimator)  # [B, T]
        stats["kl"] = float(masked_mean(kl_mat.detach(), fmask))
        loss_mat = loss_mat + kl_coef * kl_mat if kl_coef != 0.0 else loss_mat
    loss = (loss_mat * _aggregation(agg_mode)(fmask, norm_len, global_tokens, global_seqs)).sum()
    ratio = ratio.detach()
    clipped = ((ratio > 1.0 + eps_high) & (adv > 0)) | ((ratio < 1.0 - eps_low) & (adv < 0))
    old_vs_new = kl_estimate(old_logprobs.detach(), logprobs.detach(), estimator="k3")
    stats["clip_frac"] = float(masked_mean(clipped.to(fmask.dtype), fmask))
    stats["approx_kl"] = float(masked_mean(old_vs_new, fmask))
    stats["ratio_mean"] = float(masked_mean(ratio, fmask))
    stats["ratio_max"] = float((ratio * fmask).max()) if fmask.numel() else 0.0
    return loss, stats


def value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    *,
    clip_range: float,
    global_tokens: int | None = None,
) -> tuple[Tensor, Stats]:
    """PPO clipped value loss, token-mean.

    Args:
        values: Current value predictions, ``[B, T]``.
        old_values: Predictions at rollout time (detached), ``[B, T]``.
        returns: Targets, e.g. from ``advantages.gae``, ``[B, T]``.
        mask: 0/1 mask of completion tokens, ``[B, T]``.
        clip_range: Largest move away from ``old_values`` (``math.inf`` disables clipping).
        global_tokens: Whole-batch token count (see ``aggregate``).

    Returns:
        ``(loss, stats)`` with ``value_clip_frac``.
    """
    clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)  # [B, T]
    err, err_clipped = (values - returns).square(), (clipped - returns).square()  # [B, T]
    loss_mat = 0.5 * torch.maximum(err, err_clipped)  # [B, T]
    loss = aggregate(loss_mat, mask, mode="token-mean", global_tokens=global_tokens)
    return loss, {"value_clip_frac": float(masked_mean((err_clipped > err).to(err.dtype), mask))}


def sft_loss(
    logits: Tensor, labels: Tensor, mask: Tensor, *, global_tokens: int | None = None
) -> tuple[Tensor, Stats]:
    """Token-mean cross-entropy on completion tokens only.

    Args:
        logits: ``[B, T, V]``, aligned so that ``logits[:, t]`` predicts ``labels[:, t]``.
        labels: Target ids, ``[B, T]``; ignored where ``mask == 0`` (any value, e.g. -100).
        mask: 0/1 mask of the completion tokens to learn, ``[B, T]``.
        global_tokens: Whole-batch token count (see ``aggregate``).

    Returns:
        ``(loss, stats)`` with this call's ``nll`` (token mean) and ``token_accuracy``.
    """
    bool_mask = mask.bool()  # [B, T]
    safe_labels = labels.masked_fill(~bool_mask, 0)  # [B, T]
    nll = F.cross_entropy(logits.transpose(1, 2), safe_labels, reduction="none")  # [B, T]
    loss = aggregate(nll, bool_mask, mode="token-mean", global_tokens=global_tokens)
    correct = (logits.detach().argmax(-1) == labels).to(nll.dtype)  # [B, T]
    nll_mean = float(masked_mean(nll.detach(), bool_mask))
    return loss, {"nll": nll_mean, "token_accuracy": float(masked_mean(correct, bool_mask))}
