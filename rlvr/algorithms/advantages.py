"""Advantages: group-relative (GRPO, Dr. GRPO, RLOO), GAE, and DAPO reward filters and shaping.

Shapes: ``B`` prompts, ``G`` completions per prompt (``group_size``), ``T`` completion tokens.
Flat per-completion tensors are prompt-major: completions ``b * G .. b * G + G - 1`` answer
prompt ``b``, i.e. ``rewards.view(B, G)``.

Implementation details:
    1. Outcome-supervised group advantage (Shao et al. 2024, https://arxiv.org/abs/2402.03300,
       §4.1.2): ``A_i = (r_i - mean(r)) / (std(r) + eps)``, one value per completion, given to
       every token of it. ``std`` is the unbiased (Bessel-corrected) estimate, torch's default as
       in TRL and verl, so numbers match them; the biased one would scale every advantage by
       ``sqrt(G / (G - 1))`` (1.069 at G = 8). ``eps`` is added to the std, so a group with equal
       rewards gets exactly 0.
    2. ``std_scaling="batch"`` centres on the group mean and divides by the std of all ``B * G``
       rewards ("group mean, batch std": Liu et al. 2025, https://arxiv.org/abs/2508.08221; TRL
       ``scale_rewards="batch"``), so low-variance groups are not up-weighted.
    3. ``std_scaling="none"`` is Dr. GRPO (Liu et al. 2025, https://arxiv.org/abs/2503.20783,
       §3.1): dividing by the group std up-weights too-easy and too-hard questions.
    4. ``leave_one_out`` uses the mean of the other ``G - 1`` rewards as baseline, ``r_i -
       mean_{j != i} r_j = G / (G - 1) * (r_i - mean(r))`` (RLOO, Ahmadian et al. 2024,
       https://arxiv.org/abs/2402.14740), which does not depend on the sample itself.
    5. ``group_size < 2`` raises: a one-sample group is its own baseline, every advantage would be
       0 and training would silently learn nothing (verl returns the raw reward instead; TRL
       requires at least two generations).
    6. Dynamic sampling (Yu et al. 2025, https://arxiv.org/abs/2503.14476, §3.2, eq. 11) keeps
       groups with ``0 < #correct < G``; ``zero_variance_groups`` flags the others as groups whose
       reward range is within ``atol``, so float noise of weighted rewards still counts as equal.
    7. Soft overlong punishment (DAPO eq. 13), scaled by ``penalty`` (verl
       ``overlong_penalty_factor``).
    8. GAE (Schulman et al. 2015, https://arxiv.org/abs/1506.02438, eq. 16) with ``delta_t = r_t +
       gamma V_{t+1} - V_t``; the recurrence runs over ``T`` (vectorised over ``B``), and a 0 in the
       mask at ``t + 1`` ends the episode at ``t``, so right padding is never bootstrapped from.
    9. REINFORCE++ (Hu 2025, https://arxiv.org/abs/2501.03262, eqs. 6-8) has no critic: the
       advantage of token ``t`` is the discounted return ``sum_{s >= t} gamma^(s - t) r_s`` of the
       per-token rewards (score at the last token, KL penalty on every token), normalised over
       the whole batch (``whiten``). ``discounted_returns`` is GAE with ``V = 0`` and
       ``lambda = 1``.
    10. RLHF sequence score (``sequence_scores``): verifier rewards times a weight, plus a
        learned reward model's part, minus a missing-EOS penalty (TRL's and OpenRLHF's
        ``missing_eos_penalty``) and a per-token length penalty. A row whose learned score is
        not finite (a reward model returning NaN) is left out, as are the rows the reward
        runtime masked when the verifiers are part of the score.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

StdScaling = Literal["group", "batch", "none"]

STD_SCALINGS: dict[StdScaling, Callable[[Tensor, Tensor, float], Tensor]] = {
    "group": lambda centred, grouped, eps: centred / (grouped.std(dim=1, keepdim=True) + eps),
    "batch": lambda centred, grouped, eps: centred / (grouped.std() + eps),
    "none": lambda centred, grouped, eps: centred,
}
"""Scaling name -> ``f(centred [B, G], rewards [B, G], eps) -> advantages [B, G]``."""


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if rewards.dim() == 2 and rewards.shape[1] != group_size:
        raise ValueError(f"rewards of shape {tuple(rewards.shape)} do not have G={group_size}")
    if rewards.dim() not in (1, 2) or rewards.numel() % group_size:
        raise ValueError(
            f"rewards of shape {tuple(rewards.shape)} do not split into G={group_size}"
        )
    rewards = rewards if rewards.is_floating_point() else rewards.to(torch.get_default_dtype())
    return rewards.reshape(-1, group_size)  # [B, G]


def group_advantages(
    rewards: Tensor,
    *,
    group_size: int,
    std_scaling: StdScaling,
    leave_one_out: bool = False,
    eps: float = 1e-6,
) -> Tensor:
    """Group-relative advantages of GRPO, Dr. GRPO and RLOO.

    Args:
        rewards: One scalar reward per completion, ``[B * G]`` (prompt-major) or ``[B, G]``.
        group_size: ``G``, completions per prompt; at least 2.
        std_scaling: ``"group"`` (GRPO), ``"batch"`` or ``"none"`` (Dr. GRPO); see
            ``STD_SCALINGS``.
        leave_one_out: Baseline each reward by the mean of the other ``G - 1`` (RLOO) instead of
            the group mean.
        eps: Added to the std before dividing.

    Returns:
        Advantages, ``[B * G]``, in the order of ``rewards``.

    Example:
        >>> group_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), group_size=2, std_scaling="none")
        tensor([ 0.5000, -0.5000, -0.5000,  0.5000])
    """
    if group_size < 2:
        raise ValueError("group_size must be >= 2: a one-sample group has no baseline")
    if std_scaling not in STD_SCALINGS:
        raise ValueError(f"unknown std_scaling {std_scaling!r}; expected {list(STD_SCALINGS)}")
    grouped = _grouped(rewards, group_size)  # [B, G]
    if leave_one_out:
        baseline = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)  # [B, G]
    else:
        baseline = grouped.mean(dim=1, keepdim=True)  # [B, 1]
    return STD_SCALINGS[std_scaling](grouped - baseline, grouped, eps).reshape(-1)  # [B*G]


def zero_variance_groups(rewards: Tensor, *, group_size: int, atol: float = 1e-6) -> Tensor:
    """Groups whose rewards are all equal within ``atol`` (DAPO dynamic-sampling filter).

    Args:
        rewards: ``[B * G]`` (prompt-major) or ``[B, G]``.
        group_size: ``G``.
        atol: Largest ``max - min`` reward range still counted as equal.

    Returns:
        Bool mask, ``[B]``: True for groups with no learning signal (drop and refill them).

    Example:
        >>> zero_variance_groups(torch.tensor([1.0, 1.0, 0.0, 1.0]), group_size=2)
        tensor([ True, False])
    """
    grouped = _grouped(rewards, group_size)  # [B, G]
    return (grouped.amax(dim=1) - grouped.amin(dim=1)) <= atol  # [B]


def overlong_penalty(
    lengths: Tensor, *, max_len: int, buffer_len: int, penalty: float = 1.0
) -> Tensor:
    """DAPO soft overlong punishment, added to the task reward.

    With ``L_exp = max_len - buffer_len``: 0 for ``L <= L_exp``, ``penalty * (L_exp - L) /
    buffer_len`` inside the buffer (falling linearly to ``-penalty`` at ``max_len``), and
    ``-penalty`` beyond ``max_len``.

    Args:
        lengths: Completion lengths in tokens, ``[N]``.
        max_len: ``L_max``, the generation limit.
        buffer_len: ``L_cache``, the soft-punishment interval ending at ``max_len``.
        penalty: Magnitude of the full penalty.

    Returns:
        Reward shaping term, ``[N]``, in ``[-penalty, 0]``.

    Example:
        >>> overlong_penalty(torch.tensor([10, 15, 25]), max_len=20, buffer_len=10)
        tensor([ 0.0000, -0.5000, -1.0000])
    """
    if not 0 < buffer_len <= max_len:
        raise ValueError(f"need 0 < buffer_len <= max_len, got {buffer_len} and {max_len}")
    lengths = lengths.to(torch.get_default_dtype()) if not lengths.is_floating_point() else lengths
    expected = max_len - buffer_len
    return penalty * ((expected - lengths) / buffer_len).clamp(-1.0, 0.0)  # [N]


@torch.no_grad()
def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation over right-padded token sequences.

    Args:
        rewards: Per-token rewards, ``[B, T]`` (e.g. the score on the last token minus a KL term).
        values: Value predictions, ``[B, T]``; values at masked positions are ignored.
        mask: 0/1 mask of completion tokens, ``[B, T]``, right padded.
        gamma: Discount factor.
        lam: GAE ``lambda``.

    Returns:
        ``(advantages, returns)``, both ``[B, T]``, 0 at masked positions and without gradient;
        ``returns = advantages + values`` are the value targets (TD(lambda) returns).
    """
    mask = mask.to(values.dtype)  # [B, T]
    values, rewards = values * mask, rewards * mask  # [B, T]
    zeros = torch.zeros_like(values[:, :1])  # [B, 1]
    next_values = torch.cat([values[:, 1:], zeros], dim=1)  # [B, T], 0 after the last token
    next_mask = torch.cat([mask[:, 1:], zeros], dim=1)  # [B, T]
    deltas = rewards + gamma * next_values - values  # [B, T]
    last = zeros.squeeze(1)  # [B]
    steps = []
    for t in reversed(range(values.shape[1])):
        last = deltas[:, t] + gamma * lam * next_mask[:, t] * last  # [B]
        steps.append(last)
    advantages = torch.stack(steps[::-1], dim=1) * mask  # [B, T]
    return advantages, advantages + values


def discounted_returns(rewards: Tensor, mask: Tensor, *, gamma: float) -> Tensor:
    """Discounted return from every token to the end of its row (REINFORCE++, detail 9).

    Args:
        rewards: Per-token rewards, ``[B, T]``.
        mask: 0/1 mask of completion tokens, ``[B, T]``, right padded.
        gamma: Discount factor.

    Returns:
        ``[B, T]``, ``sum_{s >= t} gamma^(s - t) rewards[:, s]`` over the row's tokens, 0 at masked
        positions, without gradient.

    Example:
        >>> discounted_returns(torch.tensor([[1.0, 0.0, 2.0]]), torch.ones(1, 3), gamma=0.5)
        tensor([[1.5000, 1.0000, 2.0000]])
    """
    return gae(rewards, torch.zeros_like(rewards), mask, gamma=gamma, lam=1.0)[1]


def sequence_scores(
    verifier: Tensor,
    keep: Tensor,
    lengths: Tensor,
    stopped: Tensor,
    *,
    verifier_weight: float = 1.0,
    learned: Tensor | None = None,
    missing_eos_penalty: float | None = None,
    length_penalty: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Each completion's sequence score and whether it enters the loss (detail 10).

    Args:
        verifier: Summed verifier rewards, ``[N]``.
        keep: False where the reward runtime masked a row, ``[N]`` bool; it applies only when
            ``verifier_weight > 0``.
        lengths: Completion lengths in tokens, ``[N]``.
        stopped: True where the completion ended on a stop token, ``[N]`` bool.
        verifier_weight: Weight of ``verifier`` (0: the verifiers are logged only).
        learned: The learned reward's (weighted) part, ``[N]``; NaN or inf where the reward
            model gave no usable score.
        missing_eos_penalty: Subtracted where ``stopped`` is False; None: no penalty.
        length_penalty: Subtracted per completion token.

    Returns:
        ``(scores [N], keep [N] bool)``; scores are 0 on the rows left out.

    Example:
        >>> s, k = sequence_scores(torch.tensor([1.0, 0.0]), torch.tensor([True, True]),
        ...     torch.tensor([3, 5]), torch.tensor([True, False]), missing_eos_penalty=0.5)
        >>> s, k
        (tensor([ 1.0000, -0.5000]), tensor([True, True]))
    """
    keep = keep.clone() if verifier_weight > 0 else torch.ones_like(keep)  # [N]
    scores = verifier_weight * verifier.to(torch.get_default_dtype())  # [N]
    if learned is not None:
        finite = torch.isfinite(learned)  # [N]
        keep &= finite
        scores = scores + torch.where(finite, learned, torch.zeros_like(learned))
    if missing_eos_penalty is not None:
        scores = scores - missing_eos_penalty * (~stopped).to(scores.dtype)
    scores = scores - length_penalty * lengths.to(scores.dtype)
    return torch.where(keep, scores, torch.zeros_like(scores)), keep


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` (``[B, T]``) where the 0/1 ``mask`` (``[B, T]``) is 1; 0 if it is empty."""
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def explained_variance(predicted: Tensor, target: Tensor, mask: Tensor) -> float:
    """``1 - Var(target - predicted) / Var(target)`` over the unmasked positions (biased variances).

    1 is a perfect value function, 0 one no better than the mean, below 0 worse than the mean;
    a constant target gives ``nan`` (nothing to explain).

    Args:
        predicted: Value predictions, ``[B, T]``.
        target: Returns, ``[B, T]``.
        mask: 0/1 mask, ``[B, T]``.

    Example:
        >>> v, ret = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 3.0]])
        >>> explained_variance(v, ret, torch.ones(1, 2))
        0.75
    """
    fmask = mask.to(target.dtype)
    var_target = masked_mean((target - masked_mean(target, fmask)).square(), fmask)
    resid = target - predicted
    var_resid = masked_mean((resid - masked_mean(resid, fmask)).square(), fmask)
    if float(var_target) == 0.0:
        return float("nan")
    return float(1.0 - var_resid / var_target)


def whiten(x: Tensor, mask: Tensor, *, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """Normalise ``x`` to zero mean and unit variance over the unmasked positions.

    The variance is unbiased (``n - 1``), as TRL ``masked_whiten``; with fewer than two unmasked
    positions it is taken as 0.

    Args:
        x: ``[B, T]``.
        mask: 0/1 mask, ``[B, T]``.
        shift_mean: Subtract the mean; if False the mean is added back after scaling.
        eps: Added to the variance.

    Returns:
        Whitened ``x``, ``[B, T]``, 0 at masked positions.
    """
    fmask = mask.to(x.dtype)  # [B, T]
    mean = masked_mean(x, fmask)
    count = fmask.sum()
    var = ((x - mean).square() * fmask).sum() / (count - 1).clamp_min(1.0)
    out = (x - mean) * torch.rsqrt(var + eps)  # [B, T]
    return (out if shift_mean else out + mean) * fmask
