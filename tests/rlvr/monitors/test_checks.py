"""Monitors on synthetic metric streams: each fires on its signal, stays quiet on noise, waits
for its patience, and fires once per episode."""

from __future__ import annotations

import math
import random

import pytest

from rlvr.config import ConfigError, from_dict
from rlvr.monitors import MonitorConfig
from rlvr.monitors.checks import (
    FormatOnly,
    HeldOutDivergence,
    KLAcceleration,
    KLBudget,
    Trigger,
    diversity_loss,
    entropy_collapse,
    length_drift,
    zero_variance,
)
from rlvr.monitors.config import (
    DiversityConfig,
    EntropyConfig,
    FormatOnlyConfig,
    HeldOutConfig,
    KLMonitorConfig,
    LengthConfig,
    ZeroVarianceConfig,
)


def fired_steps(check, rows: list[dict]) -> list[int]:  # type: ignore[no-untyped-def]
    return [step for step, row in enumerate(rows, 1) if check.update(step, row)[1] is not None]


def test_trigger_waits_for_patience_and_rearms() -> None:
    t = Trigger(patience=2)
    assert [t.hit(c) for c in (True, True, True, False, True, True)] == [
        False, True, False, False, False, True,
    ]  # fmt: skip


def test_kl_budget_fires_once_when_passed() -> None:
    check = KLBudget(KLMonitorConfig(budget=0.5))
    rows = [{"train/kl": v} for v in (0.1, 0.3, 0.6, 0.7, 0.2, 0.9)] + [{"reward/mean": 1.0}]
    assert fired_steps(check, rows) == [3, 6]
    assert fired_steps(KLBudget(KLMonitorConfig(budget=None)), rows) == []


def test_kl_acceleration_fires_on_a_convex_rise_not_on_a_concave_one() -> None:
    cfg = KLMonitorConfig(accel_ratio=3.0, accel_min_kl=0.05, accel_window=3, budget=1.0)
    convex = [{"train/kl": 0.01 * 1.5**i} for i in range(16)]  # growth multiplies: accelerating
    concave = [{"train/kl": 0.2 * math.sqrt(i + 1)} for i in range(16)]  # decelerating
    assert fired_steps(KLAcceleration(cfg), convex)
    assert fired_steps(KLAcceleration(cfg), concave) == []


def test_kl_acceleration_ignores_noise_around_a_flat_or_slowly_rising_kl() -> None:
    # A KL measured every step swings by a third of its value; the check must not read that as
    # a trend, over a long run, whether the KL is flat or creeping up far below the budget.
    rng = random.Random(0)
    flat = [{"train/kl": 0.1 + rng.uniform(-0.05, 0.05)} for _ in range(600)]
    creeping = [{"train/kl": 0.05 + 0.0005 * i + rng.uniform(-0.05, 0.05)} for i in range(600)]
    assert fired_steps(KLAcceleration(KLMonitorConfig()), flat) == []
    assert fired_steps(KLAcceleration(KLMonitorConfig()), creeping) == []


def test_kl_acceleration_warns_only_when_the_bend_heads_for_the_budget() -> None:
    # Flat at 0.2 for 60 steps, then rising 0.004/step: the bend is real, but at that rate the
    # KL needs 200 steps to reach the budget of 1.0; at 0.02/step it needs 40.
    def bend(rate: float) -> list[dict[str, float]]:
        return [{"train/kl": 0.2 + rate * max(0, i - 60)} for i in range(120)]

    assert fired_steps(KLAcceleration(KLMonitorConfig(budget=1.0)), bend(0.004)) == []
    fired = fired_steps(KLAcceleration(KLMonitorConfig(budget=1.0)), bend(0.02))
    assert fired and fired[0] < 100  # before the KL passes the budget (at step 101)
    # Without a budget there is nothing to head for: any bend above accel_min_kl is reported.
    assert fired_steps(KLAcceleration(KLMonitorConfig(budget=None)), bend(0.004))


def test_kl_acceleration_works_with_sparse_measurements() -> None:
    # train.kl_every: 10 -> three measurements per 30-step window.
    rows: list[dict[str, float]] = []
    for i in range(200):
        kl = 0.1 if i < 100 else 0.1 + 0.0004 * (i - 100) ** 2
        rows.append({"train/kl": kl} if i % 10 == 0 else {"reward/mean": 0.5})
    fired = fired_steps(KLAcceleration(KLMonitorConfig()), rows)
    assert fired and all(rows[s - 1].get("train/kl") for s in fired)


def test_zero_variance_share_fires_after_window_and_patience() -> None:
    check = zero_variance(ZeroVarianceConfig(max_share=0.9, window=2, patience=2))
    rows = [{"rollout/zero_variance_share": v} for v in (0.5, 0.5, 1.0, 1.0, 1.0, 1.0)]
    # window means from step 2: 0.5, 0.75, 1.0 (hit 1), 1.0 (hit 2: fires), 1.0
    assert fired_steps(check, rows) == [5]


def test_entropy_collapse_against_the_first_steps() -> None:
    cfg = EntropyConfig(min_ratio=0.2, window=2, patience=1, baseline_steps=2)
    rows = [{"train/entropy": v} for v in (2.0, 2.0, 1.5, 1.0, 0.5, 0.2, 0.2)]
    # baseline 2.0; window means from step 4: 1.25, 0.75, 0.35 (0.175x < 0.2x: fires), 0.2
    assert fired_steps(entropy_collapse(cfg), rows) == [6]


def test_length_drift_fires_both_ways_and_not_on_noise() -> None:
    cfg = LengthConfig(max_drift=0.3, window=3, patience=2, baseline_steps=3)
    rng = random.Random(0)
    noisy = [{"completion/length_mean": 22 + rng.uniform(-3, 3)} for _ in range(200)]
    assert fired_steps(length_drift(cfg), noisy) == []
    longer = [{"completion/length_mean": 20.0}] * 3 + [{"completion/length_mean": 30.0}] * 5
    assert fired_steps(length_drift(cfg), longer) == [7]
    shorter = [{"completion/length_mean": 20.0}] * 3 + [{"completion/length_mean": 10.0}] * 5
    assert fired_steps(length_drift(cfg), shorter) == [7]


def test_diversity_loss_against_the_first_steps() -> None:
    cfg = DiversityConfig(min_ratio=0.5, window=1, patience=1, baseline_steps=2)
    rows = [{"group/distinct": v} for v in (0.4, 0.4, 0.3, 0.21, 0.19, 0.1)]
    assert fired_steps(diversity_loss(cfg), rows) == [5]


def test_format_only_fires_when_correctness_stays_flat() -> None:
    cfg = FormatOnlyConfig(window=2, baseline_steps=2, patience=1, min_rise=0.3)
    flat = [
        {"reward/think_format/mean": f, "reward/math/pass_rate": 0.2}
        for f in (0.1, 0.1, 0.2, 0.3, 0.45, 0.6)
    ]
    # window means from step 4: 0.25, 0.375, 0.525 (0.425 above the baseline 0.1: fires)
    assert fired_steps(FormatOnly(cfg), flat) == [6]
    learning = [
        {"reward/think_format/mean": f, "reward/math/pass_rate": f}
        for f in (0.1, 0.1, 0.2, 0.3, 0.5, 0.6)
    ]
    assert fired_steps(FormatOnly(cfg), learning) == []
    assert fired_steps(FormatOnly(cfg), [{"reward/math/pass_rate": 0.1}] * 9) == []


def held_out_stream(accuracies: list[float], rewards: list[float], every: int) -> list[dict]:
    rows: list[dict] = [{"eval/accuracy": accuracies[0]}]
    for i, reward in enumerate(rewards, 1):
        row: dict = {"reward/mean": reward}
        if i % every == 0:
            row["eval/accuracy"] = accuracies[i // every]
        rows.append(row)
    return rows


def test_held_out_divergence_needs_both_the_fall_and_the_reward_rise() -> None:
    cfg = HeldOutConfig(min_drop=0.1, min_reward_rise=0.1, window=3)
    rising = [0.2 + 0.02 * i for i in range(40)]
    falling = [0.3, 0.4, 0.45, 0.45, 0.4, 0.25, 0.2, 0.2, 0.2]
    gamed = held_out_stream(falling, rising, every=5)
    # evaluations at rows 1, 6, 11, ...; at row 26 the last pair (0.4, 0.25) is 0.125 below the
    # best pair (0.45, 0.45), and the reward rose 0.2 since then
    assert fired_steps(HeldOutDivergence(cfg), gamed)[0] == 26
    flat_reward = held_out_stream(falling, [0.3] * 40, every=5)
    assert fired_steps(HeldOutDivergence(cfg), flat_reward) == []
    improving = held_out_stream([0.3 + 0.03 * i for i in range(9)], rising, every=5)
    assert fired_steps(HeldOutDivergence(cfg), improving) == []


def test_a_threshold_of_the_wrong_type_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match=r"monitors\.length\.max_drift: expected float, got str"):
        from_dict(MonitorConfig, {"length": {"max_drift": "big"}}, prefix="monitors.")
    with pytest.raises(ConfigError, match=r"monitors\.kl\.action: expected one of 'warn'"):
        from_dict(MonitorConfig, {"kl": {"action": "halt"}}, prefix="monitors.")
    cfg = from_dict(MonitorConfig, {"length": {"window": 3}}, prefix="monitors.")
    assert cfg.length.window == 3 and cfg.length.max_drift == LengthConfig().max_drift
