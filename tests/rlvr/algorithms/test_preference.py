"""Preference losses (DPO, cDPO, IPO, SimPO, ORPO, KTO, Bradley-Terry) against hand-worked values,
and their invariance to micro-batch splits."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr.algorithms.preference import (
    PAIR_LOSSES,
    bradley_terry_loss,
    kto_baseline,
    kto_loss,
    pair_loss,
)

F64 = torch.float64
LN2 = math.log(2.0)
ONE = torch.ones(2, dtype=F64)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def dpo_inputs() -> dict[str, torch.Tensor]:
    # Pair 1: chosen log ratio -1 - (-2) = 1, rejected -3 - (-2) = -1, h = 2.
    # Pair 2: chosen log ratio 0, rejected 0, h = 0. One token each (IPO's means = sums).
    return {
        "chosen": t(-1.0, -5.0),
        "rejected": t(-3.0, -5.0),
        "ref_chosen": t(-2.0, -5.0),
        "ref_rejected": t(-2.0, -5.0),
        "chosen_tokens": ONE,
        "rejected_tokens": ONE,
    }


def test_dpo_at_initialisation_is_log_2() -> None:
    logps = t(-3.7, -12.1, -0.4)
    loss, stats = pair_loss(
        "sigmoid",
        logps,
        logps - 1.0,
        ref_chosen=logps,
        ref_rejected=logps - 1.0,
        chosen_tokens=t(3, 9, 1),
        rejected_tokens=t(4, 2, 2),
        beta=0.1,
    )
    assert float(loss) == pytest.approx(LN2, abs=1e-12)
    assert stats["rewards/margins"] == 0.0 and stats["rewards/accuracies"] == 0.0


def test_dpo_sigmoid_loss_and_stats_by_hand() -> None:
    # beta 0.1: pair 1 -log sigmoid(0.2) = log(1 + e^-0.2) = 0.598139; pair 2 log 2.
    loss, stats = pair_loss("sigmoid", beta=0.1, **dpo_inputs())
    assert float(loss) == pytest.approx((math.log1p(math.exp(-0.2)) + LN2) / 2, abs=1e-12)
    assert stats["rewards/chosen"] == pytest.approx(0.05)  # mean(0.1 * 1, 0)
    assert stats["rewards/rejected"] == pytest.approx(-0.05)
    assert stats["rewards/margins"] == pytest.approx(0.1)
    assert stats["rewards/accuracies"] == 0.5  # the tie does not count
    assert stats["logps/chosen"] == pytest.approx(-3.0) and stats["logps/rejected"] == -4.0


def test_cdpo_label_smoothing_by_hand() -> None:
    # -log sigmoid(-x) = x - log sigmoid(x): pair 1 adds 0.1 * 0.2, pair 2 is unchanged.
    loss, _ = pair_loss("sigmoid", beta=0.1, label_smoothing=0.1, **dpo_inputs())
    assert float(loss) == pytest.approx((math.log1p(math.exp(-0.2)) + 0.02 + LN2) / 2)


def test_ipo_loss_by_hand_and_per_token_means() -> None:
    # beta 0.1: target margin 1 / (2 * 0.1) = 5; (2 - 5)^2 = 9 and (0 - 5)^2 = 25.
    assert float(pair_loss("ipo", beta=0.1, **dpo_inputs())[0]) == pytest.approx(17.0)
    # beta 0.25: target 2; pair 1 sits on it, pair 2 costs 4.
    assert float(pair_loss("ipo", beta=0.25, **dpo_inputs())[0]) == pytest.approx(2.0)
    # two chosen tokens halve pair 1's chosen log ratio: h = 0.5 + 1 = 1.5, (1.5 - 2)^2 = 0.25
    inputs = {**dpo_inputs(), "chosen_tokens": t(2.0, 1.0)}
    assert float(pair_loss("ipo", beta=0.25, **inputs)[0]) == pytest.approx((0.25 + 4) / 2)


@pytest.mark.parametrize(("loss_type", "smoothing"), [("ipo", 0.1), ("sigmoid", 0.5)])
def test_undefined_label_smoothing_is_refused(loss_type: str, smoothing: float) -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        pair_loss(loss_type, beta=0.1, label_smoothing=smoothing, **dpo_inputs())  # type: ignore[arg-type]


def test_reference_losses_need_reference_logps_and_names_are_checked() -> None:
    inputs = {k: v for k, v in dpo_inputs().items() if not k.startswith("ref_")}
    with pytest.raises(ValueError, match="needs reference"):
        pair_loss("sigmoid", **inputs)
    with pytest.raises(ValueError, match="unknown preference loss"):
        pair_loss("dpo", **inputs)  # type: ignore[arg-type]


def test_simpo_by_hand() -> None:
    # chosen -2 over 4 tokens (mean -0.5), rejected -6 over 3 (mean -2); beta 2, gamma 1:
    # 2 * (-0.5 + 2) - 1 = 2, loss log(1 + e^-2) = 0.126928; no reference is used
    loss, stats = pair_loss(
        "simpo", t(-2.0), t(-6.0), chosen_tokens=t(4.0), rejected_tokens=t(3.0), beta=2.0, gamma=1.0
    )
    assert float(loss) == pytest.approx(math.log1p(math.exp(-2.0)))
    assert stats["rewards/chosen"] == pytest.approx(-1.0)  # beta * mean log-prob
    assert stats["rewards/margins"] == pytest.approx(3.0)


def test_orpo_by_hand() -> None:
    # chosen: 2 tokens at p = 0.5 (mean log p = log 0.5, odds 1); rejected: 1 token at 0.25
    # (odds 1/3). log odds ratio = log 3; -log sigmoid(log 3) = log(4/3). NLL = log 2.
    loss, stats = pair_loss(
        "orpo",
        t(2 * math.log(0.5)),
        t(math.log(0.25)),
        chosen_tokens=t(2.0),
        rejected_tokens=t(1.0),
        beta=0.1,
    )
    assert float(loss) == pytest.approx(LN2 + 0.1 * math.log(4 / 3), abs=1e-6)
    assert stats["nll"] == pytest.approx(LN2) and stats["log_odds"] == pytest.approx(math.log(3))


def test_rpo_adds_the_chosen_token_mean_nll() -> None:
    # dpo_inputs: DPO loss (log(1 + e^-0.2) + log 2) / 2; chosen sums -1 and -5 over 1 token
    # each: token-mean NLL 3; weight 0.5 adds 1.5. A micro-batch of pair 1 alone, normalised by
    # the whole batch (2 pairs, 2 tokens): (log(1 + e^-0.2) + 0.5 * 1) / 2.
    loss, stats = pair_loss("sigmoid", beta=0.1, sft_weight=0.5, **dpo_inputs())
    assert float(loss) == pytest.approx((math.log1p(math.exp(-0.2)) + LN2) / 2 + 1.5)
    assert stats["nll"] == pytest.approx(3.0)
    first = {k: v[:1] for k, v in dpo_inputs().items()}
    part, _ = pair_loss(
        "sigmoid", beta=0.1, sft_weight=0.5, global_pairs=2, global_chosen_tokens=2, **first
    )
    assert float(part) == pytest.approx((math.log1p(math.exp(-0.2)) + 0.5 * 1.0) / 2)


def test_kto_by_hand() -> None:
    # z0 = 0.5, beta 1: desirable r = 1 loses 1 - sigmoid(0.5) = 0.377541; undesirable r = -1
    # loses 1 - sigmoid(1.5) = 0.182426, weighted 2
    loss, stats = kto_loss(
        t(1.0, -1.0), torch.tensor([True, False]), kl_baseline=0.5, beta=1.0, undesirable_weight=2.0
    )
    expected = ((1 - 1 / (1 + math.exp(-0.5))) + 2 * (1 - 1 / (1 + math.exp(-1.5)))) / 2
    assert float(loss) == pytest.approx(expected)
    assert stats == {"rewards/chosen": 1.0, "rewards/rejected": -1.0, "kl": 0.5}
    assert kto_baseline(t(0.2, -0.6)) == 0.0 and kto_baseline(t(0.2, 0.6)) == pytest.approx(0.4)


def test_bradley_terry_by_hand_with_margin_and_centring() -> None:
    # Score gaps 1 and -1: log(1 + e^-1) = 0.313262 and log(1 + e) = 1.313262.
    chosen, rejected = t(2.0, 0.0), t(1.0, 1.0)
    loss, stats = bradley_terry_loss(chosen, rejected)
    assert float(loss) == pytest.approx((math.log1p(math.exp(-1.0)) + math.log1p(math.e)) / 2)
    assert stats == {"accuracy": 0.5, "score_margin": 0.0}
    # Margin 1 on pair 1 turns its gap into 0: log 2.
    with_margin, _ = bradley_terry_loss(chosen, rejected, margin=t(1.0, 0.0))
    assert float(with_margin) == pytest.approx((LN2 + math.log1p(math.e)) / 2)
    # centring 0.5: + 0.5 * (2 + 1)^2 and + 0.5 * (0 + 1)^2
    centred, _ = bradley_terry_loss(chosen, rejected, center=0.5)
    assert float(centred) == pytest.approx(float(loss) + (4.5 + 0.5) / 2)


def _pairs(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 9, (2, 6), generator=g).to(F64)
    return {
        "chosen": -torch.rand(6, generator=g, dtype=F64) * tokens[0],
        "rejected": -torch.rand(6, generator=g, dtype=F64) * tokens[1],
        "ref_chosen": -torch.rand(6, generator=g, dtype=F64) * tokens[0],
        "ref_rejected": -torch.rand(6, generator=g, dtype=F64) * tokens[1],
        "chosen_tokens": tokens[0],
        "rejected_tokens": tokens[1],
    }


@pytest.mark.parametrize("loss_type", sorted(PAIR_LOSSES))
def test_pair_losses_and_gradients_do_not_depend_on_the_micro_batch_split(loss_type: str) -> None:
    whole = {k: v.clone().requires_grad_(k in ("chosen", "rejected")) for k, v in _pairs(0).items()}
    loss, _ = pair_loss(loss_type, beta=0.3, gamma=0.2, **whole)  # type: ignore[arg-type]
    loss.backward()
    parts = {
        k: v.detach().clone().requires_grad_(k in ("chosen", "rejected")) for k, v in whole.items()
    }
    tokens = int(parts["chosen_tokens"].sum())
    total = torch.zeros((), dtype=F64)
    for rows in (slice(0, 2), slice(2, 3), slice(3, 6)):
        part = {k: v[rows] for k, v in parts.items()}
        micro, _ = pair_loss(
            loss_type,
            beta=0.3,
            gamma=0.2,
            global_pairs=6,
            global_chosen_tokens=tokens,
            **part,  # type: ignore[arg-type]
        )
        micro.backward()
        total = total + micro.detach()
    assert float(total) == pytest.approx(float(loss.detach()), abs=1e-12)
    for key in ("chosen", "rejected"):
        torch.testing.assert_close(parts[key].grad, whole[key].grad, atol=1e-12, rtol=0)


def test_kto_and_bradley_terry_do_not_depend_on_the_micro_batch_split() -> None:
    g = torch.Generator().manual_seed(1)
    ratios, labels = torch.randn(5, generator=g, dtype=F64), torch.tensor([1, 0, 1, 1, 0]).bool()
    scores = torch.randn(2, 5, generator=g, dtype=F64)
    whole_kto = float(kto_loss(ratios, labels, kl_baseline=0.3)[0])
    whole_bt = float(bradley_terry_loss(scores[0], scores[1], center=0.1)[0])
    kto_parts = bt_parts = 0.0
    for rows in (slice(0, 2), slice(2, 5)):
        kto_parts += float(kto_loss(ratios[rows], labels[rows], kl_baseline=0.3, global_rows=5)[0])
        bt_parts += float(
            bradley_terry_loss(scores[0, rows], scores[1, rows], center=0.1, global_pairs=5)[0]
        )
    assert kto_parts == pytest.approx(whole_kto, abs=1e-12)
    assert bt_parts == pytest.approx(whole_bt, abs=1e-12)
