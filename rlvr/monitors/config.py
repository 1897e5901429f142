"""Settings of the live monitors (`monitors:` in a trainer's config): one section per signal,
each with its thresholds and the action it takes when it fires."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["warn", "checkpoint", "stop"]
"""What a monitor does when it fires: `warn` prints and records the event, `checkpoint` also
writes a checkpoint of that step, `stop` also ends the run (after a final checkpoint)."""


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class KLMonitorConfig:
    """KL to the starting model (`train/kl`): past its budget, or accelerating."""

    budget: float | None = 1.0
    """Largest `train/kl` (nats per token) the run may reach; None: no budget. Pinned in the
    training contract."""
    action: Action = "stop"
    """What to do when the KL passes `budget`."""
    accel_ratio: float = 4.0
    """Fire when the KL's growth per step over the last `accel_window` steps (the least-squares
    slope of its measurements there) is this many times its growth over the `accel_window` steps
    before, or it turned from flat or falling to rising, ..."""
    accel_min_kl: float = 0.1
    """... and the fitted KL is above this value (early KL is noise), ..."""
    accel_window: int = 30
    """... (steps per window; each window needs 3 measurements, so with `train.kl_every: 10` a
    window of 30 steps holds 3; a slope fitted over a window of steps rather than from its end
    points keeps step-to-step noise from reading as a trend) ..."""
    accel_horizon: int = 50
    """... and, when there is a `budget`, the fitted KL carried `accel_horizon` steps ahead at
    the recent slope reaches the budget: the warning is about a run heading for its budget, not
    about any bend in a KL far below it."""
    accel_action: Action = "warn"
    """What to do when the KL accelerates."""

    def __post_init__(self) -> None:
        if self.budget is not None:
            _check_positive("monitors.kl.budget", self.budget)
        _check_positive("monitors.kl.accel_ratio", self.accel_ratio)
        if self.accel_window < 1 or self.accel_horizon < 0:
            raise ValueError(
                "monitors.kl: accel_window must be >= 1 and accel_horizon >= 0, got "
                f"{self.accel_window} and {self.accel_horizon}"
            )


def _check_window(section: str, window: int, patience: int, baseline_steps: int = 1) -> None:
    if window < 1 or patience < 1 or baseline_steps < 1:
        raise ValueError(f"monitors.{section}: window, patience and baseline_steps must be >= 1")


@dataclass(frozen=True)
class ZeroVarianceConfig:
    """Reward variance collapse: the share of sampled groups whose G rewards are all equal."""

    max_share: float = 0.95
    """Fire when `rollout/zero_variance_share` (mean of the last `window` steps) is above this."""
    window: int = 5
    """Steps averaged."""
    patience: int = 3
    """Consecutive steps the condition must hold before the monitor fires."""
    action: Action = "warn"
    """What to do when it fires."""

    def __post_init__(self) -> None:
        _check_window("zero_variance", self.window, self.patience)


@dataclass(frozen=True)
class EntropyConfig:
    """Entropy collapse: the policy's token entropy far below where it started."""

    min_ratio: float = 0.1
    """Fire when `train/entropy` (mean of the last `window` steps) is below this times its
    baseline."""
    window: int = 5
    """Steps averaged."""
    patience: int = 3
    """Consecutive steps the condition must hold."""
    baseline_steps: int = 5
    """First steps whose mean is the baseline."""
    action: Action = "warn"
    """What to do when it fires."""

    def __post_init__(self) -> None:
        _check_window("entropy", self.window, self.patience, self.baseline_steps)


@dataclass(frozen=True)
class LengthConfig:
    """Completion-length drift away from the first steps' lengths, either way."""

    max_drift: float = 0.3
    """Fire when `completion/length_mean` (mean of the last `window` steps) differs from its
    baseline by more than this share of the baseline."""
    window: int = 5
    """Steps averaged."""
    patience: int = 3
    """Consecutive steps the condition must hold."""
    baseline_steps: int = 5
    """First steps whose mean is the baseline."""
    action: Action = "stop"
    """What to do when it fires."""

    def __post_init__(self) -> None:
        _check_window("length", self.window, self.patience, self.baseline_steps)
        _check_positive("monitors.length.max_drift", self.max_drift)


@dataclass(frozen=True)
class DiversityConfig:
    """In-group diversity loss: the G completions of a prompt becoming copies of each other."""

    min_ratio: float = 0.5
    """Fire when `group/distinct` (mean of the last `window` steps) is below this times its
    baseline."""
    n: int = 2
    """n of the distinct n-grams (token n-grams of the group's completions)."""
    window: int = 5
    """Steps averaged."""
    patience: int = 3
    """Consecutive steps the condition must hold."""
    baseline_steps: int = 5
    """First steps whose mean is the baseline."""
    action: Action = "stop"
    """What to do when it fires."""

    def __post_init__(self) -> None:
        _check_window("diversity", self.window, self.patience, self.baseline_steps)
        if self.n < 1:
            raise ValueError(f"monitors.diversity.n must be >= 1, got {self.n}")


@dataclass(frozen=True)
class FormatOnlyConfig:
    """A format term whose reward rises while correctness stays flat."""

    format_key: str = "reward/think_format/mean"
    """The format term's metric (a `reward.extra` verifier's `reward/<name>/mean`)."""
    correct_key: str = "reward/math/pass_rate"
    """The correctness metric (the rows' own verifier's `reward/<name>/pass_rate`)."""
    min_rise: float = 0.3
    """Fire when the format metric's window mean is this much above its baseline, ..."""
    max_correct_rise: float = 0.05
    """... while the correctness metric rose by less than this."""
    window: int = 5
    """Steps averaged at the end of the comparison."""
    baseline_steps: int = 5
    """First steps whose mean is the baseline."""
    patience: int = 3
    """Consecutive steps the condition must hold."""
    action: Action = "stop"
    """What to do when it fires."""

    def __post_init__(self) -> None:
        _check_window("format_only", self.window, self.patience, self.baseline_steps)


@dataclass(frozen=True)
class HeldOutConfig:
    """Training reward rising while the periodic held-out accuracy falls."""

    min_drop: float = 0.1
    """Fire when held-out accuracy (mean of the last two evaluations) is this far below its
    best (mean of two consecutive evaluations), ..."""
    min_reward_rise: float = 0.05
    """... while the training reward (`reward/mean`, mean of the last `window` steps) is at
    least this far above its mean over the `window` steps before the best evaluation."""
    window: int = 5
    """Steps of training reward averaged on each side."""
    action: Action = "stop"
    """What to do when it fires."""


@dataclass(frozen=True)
class MonitorConfig:
    """Live monitors of a training run: each watches the metric stream and acts
    (`warn | checkpoint | stop`) when its signal fires (docs/metrics.md, "Monitors")."""

    enabled: bool = True
    """Run the monitors (their statistics are logged either way when enabled)."""
    kl: KLMonitorConfig = field(default_factory=KLMonitorConfig)
    """KL to the starting model past its budget, or accelerating."""
    zero_variance: ZeroVarianceConfig = field(default_factory=ZeroVarianceConfig)
    """Share of sampled groups with no reward variance (no learning signal)."""
    entropy: EntropyConfig = field(default_factory=EntropyConfig)
    """Entropy collapse."""
    length: LengthConfig = field(default_factory=LengthConfig)
    """Completion-length drift."""
    diversity: DiversityConfig = field(default_factory=DiversityConfig)
    """In-group diversity loss."""
    format_only: FormatOnlyConfig = field(default_factory=FormatOnlyConfig)
    """A format term rising while correctness stays flat (needs both metrics in the stream)."""
    held_out: HeldOutConfig = field(default_factory=HeldOutConfig)
    """Training reward rising while held-out accuracy falls (needs `eval_data`)."""
    samples_every: int = 10
    """Every this many steps, write the top- and bottom-quartile completions by reward to
    `samples/step_K.jsonl` (0: never)."""

    def __post_init__(self) -> None:
        if self.samples_every < 0:
            raise ValueError(f"monitors.samples_every must be >= 0, got {self.samples_every}")
