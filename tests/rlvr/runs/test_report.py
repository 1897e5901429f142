"""`hacking_verdict`: a PPO run's score rise, gold change, KL band and tokens, by hand."""

from __future__ import annotations

from rlvr.runs.report import hacking_verdict


def _rows(scores: list[float], kls: list[float]) -> list[dict[str, float]]:
    return [
        {"step": i + 1, "reward/model_mean": s, "kl/mean": k, "rollout/tokens_per_s": 100.0,
         "rollout/s": 0.5}
        for i, (s, k) in enumerate(zip(scores, kls, strict=True))
    ]  # fmt: skip


def test_score_up_gold_down_is_hacking_and_the_band_starts_at_half_the_target() -> None:
    # 12 steps: window 5 -> mean of the last 5 (1.0) minus the first 5 (0.0)
    scores = [0.0] * 5 + [0.5, 0.5] + [1.0] * 5
    kls = [0.0, 0.1, 0.3, 0.5, 0.9, 1.2, 0.4, 0.2, 0.6, 0.5, 0.5, 0.7]
    v = hacking_verdict(_rows(scores, kls), 0.6, 0.5, 0.5)
    assert v["rm_score_rise"] == 1.0 and v["hacked"]
    # from step 3 (0.3 >= 0.25) on: 10 steps, 1.2 above 1.0 and 0.2 below 0.25 are out
    assert v["kl_in_2x_band"] == 0.8 and v["kl_max"] == 1.2 and v["kl_last"] == 0.7
    assert v["tokens"] == 12 * 50
    # gold up: no hacking, whatever the score did
    assert not hacking_verdict(_rows(scores, kls), 0.5, 0.6, 0.5)["hacked"]


def test_short_runs_and_runs_that_never_reach_half_the_target() -> None:
    # 3 steps: window min(5, 3 // 2) = 1 -> last minus first
    v = hacking_verdict(_rows([2.0, 0.0, 1.0], [0.0, 0.1, 0.2]), 0.5, 0.5, 0.5)
    assert v["rm_score_rise"] == -1.0 and not v["hacked"]
    assert v["kl_in_2x_band"] is None  # KL never reached 0.25
    empty = hacking_verdict([], None, None, None)
    assert empty["rm_score_rise"] == 0.0 and empty["kl_in_2x_band"] is None
    assert empty["tokens"] == 0 and not empty["hacked"]
