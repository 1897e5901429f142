"""The monitors themselves: each reads the metric stream one step at a time and says when its
signal fires. Pure python, no torch: a check sees only the dict a trainer logs, so a run's
`metrics.jsonl` replayed through it gives the same answers (which is how a resumed run gets its
monitors' state back).

Every check has `name`, `action` and `update(step, metrics) -> (stats, message)`: `stats` are
`monitor/*` scalars to log with the step, `message` is None unless the monitor fires at this
step. A monitor fires once its condition has held for `patience` consecutive checks, and only
again after the condition has cleared (no event storm while a condition persists).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rlvr.monitors.config import (
    Action,
    DiversityConfig,
    EntropyConfig,
    FormatOnlyConfig,
    HeldOutConfig,
    KLMonitorConfig,
    LengthConfig,
    MonitorConfig,
    ZeroVarianceConfig,
)

Metrics = Mapping[str, float | int | str | None]
Update = tuple[dict[str, float], str | None]


def _number(metrics: Metrics, key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mean(values: deque[float] | list[float]) -> float:
    return sum(values) / len(values)


@dataclass
class Trigger:
    """Fires when a condition has held `patience` times in a row; re-arms once it clears."""

    patience: int = 1
    run: int = 0

    def hit(self, condition: bool) -> bool:
        """Record one check; True on the check where the run of hits reaches `patience`."""
        self.run = self.run + 1 if condition else 0
        return self.run == self.patience


@dataclass
class Baseline:
    """The mean of a metric's first `steps` values, then a window of its latest values."""

    steps: int
    window: int
    first: list[float] = field(default_factory=list)
    latest: deque[float] = field(default_factory=deque)

    def add(self, value: float) -> tuple[float, float] | None:
        """Record a value; (baseline, window mean) once the baseline is complete and the window
        holds values measured after it, else None."""
        if len(self.first) < self.steps:
            self.first.append(value)
            return None
        self.latest.append(value)
        while len(self.latest) > self.window:
            self.latest.popleft()
        if len(self.latest) < self.window:
            return None
        return _mean(self.first), _mean(self.latest)


class KLBudget:
    """`train/kl` past the budget."""

    name = "kl_budget"

    def __init__(self, cfg: KLMonitorConfig) -> None:
        self.cfg, self.action = cfg, cfg.action
        self.trigger = Trigger()

    def update(self, step: int, metrics: Metrics) -> Update:
        kl = _number(metrics, "train/kl")
        if kl is None or self.cfg.budget is None:
            return {}, None
        if self.trigger.hit(kl > self.cfg.budget):
            return {}, f"train/kl {kl:.4g} is past the KL budget {self.cfg.budget:g}"
        return {}, None


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (step, value) points: (slope per step, value at the last step)."""
    n = len(points)
    mean_s = sum(s for s, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    sxx = sum((s - mean_s) ** 2 for s, _ in points)
    slope = sum((s - mean_s) * (v - mean_v) for s, v in points) / sxx if sxx else 0.0
    return slope, mean_v + slope * (points[-1][0] - mean_s)


class KLAcceleration:
    """`train/kl` growing faster and faster on its way to the budget: the least-squares slope of
    its measurements in the last `accel_window` steps is `accel_ratio` times the slope over the
    window before (or the KL turned from flat or falling to rising), the fitted KL is above
    `accel_min_kl`, and, with a budget, that slope carried `accel_horizon` steps ahead reaches
    it. Fitting over windows of steps keeps a noisy KL (measured every step, it swings by a
    third of its value) from reading as a trend."""

    name = "kl_acceleration"

    def __init__(self, cfg: KLMonitorConfig) -> None:
        self.cfg, self.action = cfg, cfg.accel_action
        self.points: deque[tuple[int, float]] = deque()
        self.trigger = Trigger()

    def update(self, step: int, metrics: Metrics) -> Update:
        kl = _number(metrics, "train/kl")
        if kl is None:
            return {}, None
        w = self.cfg.accel_window
        self.points.append((step, kl))
        while self.points[0][0] <= step - 2 * w:
            self.points.popleft()
        recent = [p for p in self.points if p[0] > step - w]
        before = [p for p in self.points if p[0] <= step - w]
        if len(recent) < 3 or len(before) < 3:
            return {}, None
        slope, level = _fit(recent)
        slope_before, _ = _fit(before)
        stats = {"monitor/kl_slope": slope}
        cfg = self.cfg
        bending = slope > 0 and (slope_before <= 0 or slope >= cfg.accel_ratio * slope_before)
        heading = cfg.budget is None or level + slope * cfg.accel_horizon >= cfg.budget
        if self.trigger.hit(bending and heading and level > cfg.accel_min_kl):
            return stats, (
                f"train/kl is accelerating: {level:.4g} (fitted), rising {slope:.3g}/step over "
                f"the last {w} steps against {slope_before:.3g}/step before"
                + (
                    f"; at that rate it reaches the budget {self.cfg.budget:g} within "
                    f"{self.cfg.accel_horizon} steps"
                    if self.cfg.budget is not None
                    else ""
                )
            )
        return stats, None


Judge = Callable[[float, float], tuple[float, str | None]]
"""(baseline, window mean) -> (the statistic to log, a message when the condition holds)."""


class WindowCheck:
    """A metric's window mean judged on its own, or against the mean of its first steps."""

    def __init__(
        self,
        name: str,
        key: str,
        judge: Judge,
        *,
        action: Action,
        window: int,
        patience: int,
        baseline_steps: int = 0,
    ) -> None:
        self.name, self.key, self.judge, self.action = name, key, judge, action
        self.window = window
        self.latest: deque[float] = deque(maxlen=window)
        self.baseline = Baseline(baseline_steps, window) if baseline_steps else None
        self.trigger = Trigger(patience)

    def update(self, step: int, metrics: Metrics) -> Update:
        value = _number(metrics, self.key)
        if value is None:
            return {}, None
        if self.baseline is None:
            self.latest.append(value)
            if len(self.latest) < self.window:
                return {}, None
            pair: tuple[float, float] | None = (0.0, _mean(self.latest))
        else:
            pair = self.baseline.add(value)
        if pair is None:
            return {}, None
        stat, message = self.judge(*pair)
        stats = {f"monitor/{self.name}": stat}
        return stats, message if self.trigger.hit(message is not None) else None


def zero_variance(cfg: ZeroVarianceConfig) -> WindowCheck:
    """The share of sampled groups without reward variance above `max_share`."""

    def judge(_: float, recent: float) -> tuple[float, str | None]:
        if recent > cfg.max_share:
            return recent, (
                f"{recent:.0%} of sampled groups have no reward variance (mean of {cfg.window} "
                f"steps; limit {cfg.max_share:.0%}): little learning signal is left"
            )
        return recent, None

    return WindowCheck(
        "zero_variance_share",
        "rollout/zero_variance_share",
        judge,
        action=cfg.action,
        window=cfg.window,
        patience=cfg.patience,
    )


def entropy_collapse(cfg: EntropyConfig) -> WindowCheck:
    """`train/entropy` below `min_ratio` times its baseline."""

    def judge(baseline: float, recent: float) -> tuple[float, str | None]:
        ratio = recent / baseline if baseline > 0 else 1.0
        if ratio < cfg.min_ratio:
            return ratio, (
                f"entropy collapsed to {ratio:.2f}x its start ({baseline:.3g} -> {recent:.3g}; "
                f"limit {cfg.min_ratio:g}x)"
            )
        return ratio, None

    return WindowCheck(
        "entropy_ratio",
        "train/entropy",
        judge,
        action=cfg.action,
        window=cfg.window,
        patience=cfg.patience,
        baseline_steps=cfg.baseline_steps,
    )


def length_drift(cfg: LengthConfig) -> WindowCheck:
    """`completion/length_mean` off its baseline by more than `max_drift`, either way."""

    def judge(baseline: float, recent: float) -> tuple[float, str | None]:
        drift = recent / baseline - 1.0 if baseline > 0 else 0.0
        if abs(drift) > cfg.max_drift:
            return drift, (
                f"completion length drifted {drift:+.0%} from the first steps ({baseline:.1f} -> "
                f"{recent:.1f} tokens; limit {cfg.max_drift:.0%})"
            )
        return drift, None

    return WindowCheck(
        "length_drift",
        "completion/length_mean",
        judge,
        action=cfg.action,
        window=cfg.window,
        patience=cfg.patience,
        baseline_steps=cfg.baseline_steps,
    )


def diversity_loss(cfg: DiversityConfig) -> WindowCheck:
    """`group/distinct` below `min_ratio` times its baseline."""

    def judge(baseline: float, recent: float) -> tuple[float, str | None]:
        ratio = recent / baseline if baseline > 0 else 1.0
        if ratio < cfg.min_ratio:
            return ratio, (
                f"in-group diversity fell to {ratio:.2f}x its start (distinct {cfg.n}-grams "
                f"{baseline:.3f} -> {recent:.3f}; limit {cfg.min_ratio:g}x): the completions "
                "of a prompt are becoming copies of each other"
            )
        return ratio, None

    return WindowCheck(
        "diversity_ratio",
        "group/distinct",
        judge,
        action=cfg.action,
        window=cfg.window,
        patience=cfg.patience,
        baseline_steps=cfg.baseline_steps,
    )


class FormatOnly:
    """A format term's reward rising while correctness stays flat."""

    name = "format_only"

    def __init__(self, cfg: FormatOnlyConfig) -> None:
        self.cfg, self.action = cfg, cfg.action
        self.format = Baseline(cfg.baseline_steps, cfg.window)
        self.correct = Baseline(cfg.baseline_steps, cfg.window)
        self.trigger = Trigger(cfg.patience)

    def update(self, step: int, metrics: Metrics) -> Update:
        fmt = _number(metrics, self.cfg.format_key)
        correct = _number(metrics, self.cfg.correct_key)
        if fmt is None or correct is None:
            return {}, None
        f_pair, c_pair = self.format.add(fmt), self.correct.add(correct)
        if f_pair is None or c_pair is None:
            return {}, None
        rise, correct_rise = f_pair[1] - f_pair[0], c_pair[1] - c_pair[0]
        stats = {"monitor/format_rise": rise, "monitor/correct_rise": correct_rise}
        hit = rise >= self.cfg.min_rise and correct_rise < self.cfg.max_correct_rise
        if self.trigger.hit(hit):
            return stats, (
                f"{self.cfg.format_key} rose {rise:+.2f} while {self.cfg.correct_key} moved "
                f"{correct_rise:+.2f}: the format term is rewarded without the task"
            )
        return stats, None


class HeldOutDivergence:
    """Training reward rising while held-out accuracy falls from its best."""

    name = "held_out_divergence"

    def __init__(self, cfg: HeldOutConfig) -> None:
        self.cfg, self.action = cfg, cfg.action
        self.rewards: list[float] = []
        self.evals: list[tuple[float, int]] = []  # (accuracy, rewards seen when measured)
        self.trigger = Trigger()

    def update(self, step: int, metrics: Metrics) -> Update:
        reward = _number(metrics, "reward/mean")
        if reward is not None:
            self.rewards.append(reward)
        accuracy = _number(metrics, "eval/accuracy")
        if accuracy is None:
            return {}, None
        self.evals.append((accuracy, len(self.rewards)))
        if len(self.evals) < 3:
            return {}, None
        pairs = [
            ((a1 + a2) / 2, seen)
            for (a1, _), (a2, seen) in zip(self.evals, self.evals[1:], strict=False)
        ]
        *earlier, (last, _) = pairs
        best, seen_at_best = max(earlier, key=lambda p: p[0])
        w = self.cfg.window
        before = self.rewards[max(0, seen_at_best - w) : seen_at_best]
        recent = self.rewards[-w:]
        if not before or not recent:
            return {"monitor/held_out_drop": best - last}, None
        rise = _mean(recent) - _mean(before)
        stats = {"monitor/held_out_drop": best - last, "monitor/reward_rise": rise}
        hit = best - last >= self.cfg.min_drop and rise >= self.cfg.min_reward_rise
        if self.trigger.hit(hit):
            return stats, (
                f"held-out accuracy fell {best - last:.2f} from its best ({best:.3f} -> "
                f"{last:.3f}) while the training reward rose {rise:+.3f}: the reward is "
                "being gamed"
            )
        return stats, None


class Check(Protocol):
    """What every monitor offers."""

    name: str
    action: Action

    def update(self, step: int, metrics: Metrics) -> Update: ...


def build_checks(cfg: MonitorConfig) -> list[Check]:
    """Every monitor of `cfg`, in a fixed order."""
    return [
        KLBudget(cfg.kl),
        KLAcceleration(cfg.kl),
        zero_variance(cfg.zero_variance),
        entropy_collapse(cfg.entropy),
        length_drift(cfg.length),
        diversity_loss(cfg.diversity),
        FormatOnly(cfg.format_only),
        HeldOutDivergence(cfg.held_out),
    ]
