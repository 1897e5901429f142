"""Preference losses: DPO, cDPO, IPO, SimPO, ORPO (pairs), KTO (unpaired), Bradley-Terry.

Every loss takes per-sequence log-probabilities (``[B]``: the sum over the completion's tokens,
and the token counts where a loss length-normalises) and returns ``(loss, stats)``. Losses are
sums over pairs divided by ``global_pairs`` (default: this call's pairs), so a batch split into
micro-batches, each called with the whole batch's count, sums to the loss of the whole batch.

Implementation details:
    1. DPO (Rafailov et al. 2023, https://arxiv.org/abs/2305.18290, eq. 7): with
       ``h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))``, the loss is
       ``-log sigmoid(beta h)``; cDPO label smoothing ``ls`` (Mitchell 2023) mixes in the flipped
       label: ``-(1 - ls) log sigmoid(beta h) - ls log sigmoid(-beta h)``. At ``pi = ref``,
       ``h = 0`` and the loss is ``log 2``.
    2. IPO (Azar et al. 2023, https://arxiv.org/abs/2310.12036, eq. 17): ``(h - 1/(2 beta))^2``
       with per-token mean log-probabilities, as its authors use.
    3. SimPO (Meng et al. 2024, https://arxiv.org/abs/2405.14734, eq. 6): reference-free,
       ``-log sigmoid(beta (avg log pi(y_w) - avg log pi(y_l)) - gamma)``, averages per token.
    4. ORPO (Hong et al. 2024, https://arxiv.org/abs/2403.07691, eqs. 6-7): no reference; the
       chosen completion's token-mean NLL plus ``-beta log sigmoid(log odds(y_w) - log odds(y_l))``
       with ``odds(y) = p / (1 - p)`` of the per-token mean probability ``p = exp(avg log pi)``.
       The NLL is normalised by ``global_chosen_tokens`` (token mean over the batch).
    5. KTO (Ethayarajh et al. 2024, https://arxiv.org/abs/2402.01306, eq. 8): per completion
       ``r = log pi(y) - log ref(y)``; desirable rows lose ``w_D (1 - sigmoid(beta (r - z0)))``,
       undesirable rows ``w_U (1 - sigmoid(beta (z0 - r)))``. ``z0`` is the batch KL baseline,
       ``max(0, mean r)`` over mismatched prompt/completion pairs, detached; the trainer computes
       it once per batch (``kto_baseline``) so micro-batches share it.
    6. Bradley-Terry (Ouyang et al. 2022, https://arxiv.org/abs/2203.02155, eq. 1):
       ``-log sigmoid(s_w - s_l - margin)`` (Llama 2 margin), plus ``center * (s_w + s_l)^2``
       (Eisenstein et al. 2023 reward centring, TRL's ``center_rewards_coefficient``).
    7. RPO (Pang et al. 2024, https://arxiv.org/abs/2404.19733, eq. 1): ``sft_weight`` adds the
       chosen completion's token-mean NLL (normalised by ``global_chosen_tokens``) to DPO, IPO
       or SimPO, which keeps the chosen side's likelihood from falling with the rejected one's
       (TRL's ``loss_type=["sigmoid", "sft"]`` with ``loss_weights``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

PairLoss = Literal["sigmoid", "ipo", "simpo", "orpo"]
Stats = dict[str, float]


def _normaliser(local: int, global_count: int | None) -> float:
    if global_count is not None and global_count <= 0:
        raise ValueError(f"global normaliser must be positive, got {global_count}")
    return float(max(1, local) if global_count is None else global_count)


def _pair_stats(chosen_reward: Tensor, rejected_reward: Tensor) -> Stats:
    """TRL's metric names: implicit rewards of each side, their margin and ordering."""
    c, r = chosen_reward.detach(), rejected_reward.detach()  # [B]
    return {
        "rewards/chosen": float(c.mean()),
        "rewards/rejected": float(r.mean()),
        "rewards/margins": float((c - r).mean()),
        "rewards/accuracies": float((c > r).float().mean()),
    }


def _sigmoid(h: Tensor, beta: float, label_smoothing: float) -> Tensor:
    return -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(
        -beta * h
    )


def dpo_pair_losses(
    chosen: Tensor,
    rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    *,
    beta: float,
    loss_type: Literal["sigmoid", "ipo"] = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-pair DPO (sigmoid) or IPO losses ``[B]`` and the implicit rewards of each side.

    Pass summed log-probabilities for sigmoid and per-token means for IPO (detail 2).
    """
    if not 0.0 <= label_smoothing < 0.5 or (loss_type == "ipo" and label_smoothing):
        raise ValueError("label_smoothing must be in [0, 0.5) and is only defined for sigmoid")
    c, r = chosen - ref_chosen, rejected - ref_rejected  # [B]
    h = c - r
    losses = (
        _sigmoid(h, beta, label_smoothing) if loss_type == "sigmoid" else (h - 1 / (2 * beta)) ** 2
    )
    return losses, beta * c, beta * r


def pair_loss(
    loss_type: PairLoss,
    chosen: Tensor,
    rejected: Tensor,
    *,
    chosen_tokens: Tensor,
    rejected_tokens: Tensor,
    ref_chosen: Tensor | None = None,
    ref_rejected: Tensor | None = None,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    gamma: float = 0.0,
    global_pairs: int | None = None,
    global_chosen_tokens: int | None = None,
    sft_weight: float = 0.0,
) -> tuple[Tensor, Stats]:
    """One paired preference loss by name, over ``B`` pairs.

    Args:
        loss_type: ``sigmoid`` (DPO), ``ipo``, ``simpo`` or ``orpo`` (details 1-4).
        chosen, rejected: Policy log-probabilities summed over each completion, ``[B]``.
        chosen_tokens, rejected_tokens: Completion token counts, ``[B]`` (length-normalised
            losses divide by them).
        ref_chosen, ref_rejected: Reference sums, ``[B]``; needed by sigmoid and ipo.
        beta: Temperature of the implicit reward (ORPO: the weight of the odds-ratio term).
        label_smoothing: cDPO's label-flip probability (sigmoid and simpo).
        gamma: SimPO's target margin.
        global_pairs: Pairs in the whole batch (micro-batch invariance).
        global_chosen_tokens: Chosen tokens in the whole batch (ORPO's and RPO's NLL term).
        sft_weight: RPO's weight of the chosen NLL added to sigmoid, ipo or simpo (detail 7).

    Returns:
        ``(loss, stats)``: ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``,
        ``rewards/accuracies`` (as TRL names them), plus ``nll`` and ``log_odds`` for ORPO.
    """
    if loss_type not in PAIR_LOSSES:
        raise ValueError(f"unknown preference loss {loss_type!r}; expected {sorted(PAIR_LOSSES)}")
    n = _normaliser(chosen.shape[0], global_pairs)
    avg_c = chosen / chosen_tokens.clamp_min(1)  # [B]
    avg_r = rejected / rejected_tokens.clamp_min(1)  # [B]
    stats: Stats = {}
    if loss_type in ("sigmoid", "ipo"):
        if ref_chosen is None or ref_rejected is None:
            raise ValueError(f"loss {loss_type!r} needs reference log-probabilities")
        if loss_type == "ipo":
            chosen, rejected = avg_c, avg_r
            ref_chosen = ref_chosen / chosen_tokens.clamp_min(1)
            ref_rejected = ref_rejected / rejected_tokens.clamp_min(1)
        losses, reward_c, reward_r = dpo_pair_losses(
            chosen, rejected, ref_chosen, ref_rejected,
            beta=beta, loss_type=loss_type, label_smoothing=label_smoothing,
        )  # fmt: skip
        loss = losses.sum() / n
    elif loss_type == "simpo":
        logits = beta * (avg_c - avg_r) - gamma  # [B]
        loss = _sigmoid(logits, 1.0, label_smoothing).sum() / n
        reward_c, reward_r = beta * avg_c, beta * avg_r
    else:
        tokens = _normaliser(int(chosen_tokens.sum()), global_chosen_tokens)
        log_odds = (avg_c - avg_r) - (_log1mexp(avg_c) - _log1mexp(avg_r))  # [B]
        nll = -chosen.sum() / tokens
        loss = nll - beta * F.logsigmoid(log_odds).sum() / n
        reward_c, reward_r = beta * avg_c, beta * avg_r
        stats = {"nll": float(nll.detach()), "log_odds": float(log_odds.detach().mean())}
    if sft_weight and loss_type != "orpo":
        tokens = _normaliser(int(chosen_tokens.sum()), global_chosen_tokens)
        nll = -chosen.sum() / tokens
        loss = loss + sft_weight * nll
        stats["nll"] = float(nll.detach())
    stats.update(_pair_stats(reward_c, reward_r))
    stats["logps/chosen"] = float(chosen.detach().mean())
    stats["logps/rejected"] = float(rejected.detach().mean())
    return loss, stats


def _log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x < 0``, stable near 0 and for very negative ``x``."""
    x = x.clamp(max=-1e-7)
    return torch.where(x > -0.6931, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


PAIR_LOSSES: dict[PairLoss, str] = {
    "sigmoid": "DPO (eq. 7), cDPO with label_smoothing",
    "ipo": "IPO (eq. 17), per-token mean log-probabilities",
    "simpo": "SimPO (eq. 6): reference-free, length-normalised, margin gamma",
    "orpo": "ORPO (eqs. 6-7): NLL + odds-ratio term, no reference",
}
"""Paired loss name -> what it is; `pair_loss` computes each."""


def kto_baseline(mismatched_logratios: Tensor) -> float:
    """KTO's ``z0``: ``max(0, mean(log pi - log ref))`` over mismatched prompt/completion pairs
    of the batch (``[M]``), detached (detail 5)."""
    return max(0.0, float(mismatched_logratios.detach().float().mean()))


def kto_loss(
    logratios: Tensor,
    desirable: Tensor,
    *,
    kl_baseline: float,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    global_rows: int | None = None,
) -> tuple[Tensor, Stats]:
    """KTO over ``B`` unpaired rows (detail 5).

    Args:
        logratios: ``log pi(y) - log ref(y)`` summed over each completion, ``[B]``.
        desirable: True where the row's label is desirable, ``[B]``.
        kl_baseline: ``z0`` from ``kto_baseline`` for the whole batch.
        beta: Temperature of the implicit reward.
        desirable_weight, undesirable_weight: ``lambda_D``, ``lambda_U``.
        global_rows: Rows in the whole batch (micro-batch invariance).

    Returns:
        ``(loss, stats)`` with ``rewards/chosen`` / ``rewards/rejected`` (mean implicit reward
        of desirable / undesirable rows, 0 when there are none) and ``kl``.
    """
    desirable = desirable.bool()
    reward = beta * logratios  # [B]
    zb = beta * kl_baseline
    losses = torch.where(
        desirable,
        desirable_weight * (1 - torch.sigmoid(reward - zb)),
        undesirable_weight * (1 - torch.sigmoid(zb - reward)),
    )  # [B]
    loss = losses.sum() / _normaliser(logratios.shape[0], global_rows)
    r = reward.detach()
    return loss, {
        "rewards/chosen": _mean_where(r, desirable),
        "rewards/rejected": _mean_where(r, ~desirable),
        "kl": kl_baseline,
    }


def _mean_where(x: Tensor, rows: Tensor) -> float:
    return float(x[rows].mean()) if bool(rows.any()) else 0.0


def bradley_terry_loss(
    chosen_scores: Tensor,
    rejected_scores: Tensor,
    *,
    margin: Tensor | None = None,
    center: float = 0.0,
    global_pairs: int | None = None,
) -> tuple[Tensor, Stats]:
    """Reward-model loss ``-log sigmoid(s_w - s_l - margin) + center (s_w + s_l)^2`` (detail 6).

    Args:
        chosen_scores: Scores of the chosen completions, ``[B]``.
        rejected_scores: Scores of the rejected completions, ``[B]``.
        margin: Optional required gap per pair, ``[B]`` (Llama 2).
        center: Weight of the reward-centring term (0: off).
        global_pairs: Pairs in the whole batch (micro-batch invariance).

    Returns:
        ``(loss, stats)`` with ``accuracy`` (chosen score > rejected score) and ``score_margin``.
    """
    diff = chosen_scores - rejected_scores  # [B]
    per_pair = -F.logsigmoid(diff if margin is None else diff - margin)  # [B]
    if center:
        per_pair = per_pair + center * (chosen_scores + rejected_scores) ** 2
    loss = per_pair.sum() / _normaliser(diff.shape[0], global_pairs)
    gap = diff.detach()
    return loss, {"accuracy": float((gap > 0).float().mean()), "score_margin": float(gap.mean())}
