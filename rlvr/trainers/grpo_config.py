"""The GRPO stage's config (`GRPOConfig`: algorithm preset and overrides, loop settings, the
shared sections) and result. `rlvr.trainers.grpo` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from rlvr.algorithms.losses import AggMode
from rlvr.algorithms.presets import LossPreset, get_preset
from rlvr.config.sections import (
    BackendConfig,
    DataConfig,
    GenerationConfig,
    ModelConfig,
    OptimConfig,
    RewardConfig,
    RunConfig,
)
from rlvr.distributed.config import DistributedConfig
from rlvr.monitors import MonitorConfig
from rlvr.rollout.build import RolloutConfig


@dataclass(frozen=True)
class AlgoConfig:
    """The group-relative algorithm: a preset plus optional overrides of its values."""

    preset: Literal["grpo", "dapo", "dr_grpo"] = "grpo"
    """Starting values (see docs/algorithms.md); the fields below override them when set."""
    eps_low: float | None = None
    """Lower clip range of the ratio."""
    eps_high: float | None = None
    """Upper clip range of the ratio (clip-higher when above eps_low)."""
    agg_mode: AggMode | None = None
    """Loss aggregation: token-mean | seq-mean-token-mean | seq-mean-token-sum-norm."""
    std_scaling: Literal["group", "batch", "none"] | None = None
    """Advantage scaling by the reward std of the group, the batch, or not at all."""
    kl_coef: float | None = None
    """Weight of the KL term to a frozen reference model (0: no reference model is kept)."""
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    """KL estimator for the penalty and the logged KL."""
    leave_one_out: bool | None = None
    """Leave-one-out (RLOO) baseline instead of the group mean."""
    dynamic_sampling: bool | None = None
    """Drop zero-variance groups and sample more prompts to refill the batch."""
    overlong_buffer: int | None = None
    """Soft overlong punishment over the last this-many tokens of max_new_tokens (0: off).

    A preset's buffer longer than a fifth of max_new_tokens is scaled to that fifth (DAPO's
    4096 of 20480); a buffer set here must be shorter than max_new_tokens."""
    overlong_penalty: float = 1.0
    """Largest overlong punishment (reached at max_new_tokens)."""
    zero_variance_atol: float = 1e-6
    """Rewards closer than this count as equal for dynamic sampling."""
    max_refill_rounds: int = 4
    """Extra rollout rounds per step allowed to refill a dynamically sampled batch."""
    group_size: int = 8
    """G: completions sampled per prompt."""
    prompts_per_step: int = 16
    """Prompts (groups) per training step."""
    num_iterations: int = 1
    """mu: optimizer steps taken on each batch of rollouts."""
    micro_batch_size: int | None = None
    """Completions per forward/backward pass (gradient accumulation); None = all at once."""
    entropy_coef: float = 0.0
    """Weight of an entropy bonus (0: entropy is only logged)."""
    tis_cap: float | None = None
    """Truncated importance sampling: scale each token's surrogate by min(pi_train/pi_sample,
    cap), correcting the train/inference mismatch of a separate engine (vLLM); None: off."""

    def __post_init__(self) -> None:
        if self.tis_cap is not None and not self.tis_cap > 0:
            raise ValueError(f"tis_cap must be positive or null, got {self.tis_cap}")

    def resolved(self) -> LossPreset:
        """The preset with this config's overrides applied."""
        preset = get_preset(self.preset)
        overrides = {
            name: getattr(self, name)
            for name in (
                "eps_low",
                "eps_high",
                "agg_mode",
                "std_scaling",
                "kl_coef",
                "leave_one_out",
                "dynamic_sampling",
                "overlong_buffer",
            )
            if getattr(self, name) is not None
        }
        if overrides.get("overlong_buffer") == 0:
            overrides["overlong_buffer"] = None
        return replace(preset, **overrides)

    def overlong_buffer_for(self, max_new_tokens: int) -> int | None:
        """The overlong buffer used with completions of at most `max_new_tokens` tokens.

        Raises:
            ValueError: an explicit buffer is not shorter than `max_new_tokens`.
        """
        if self.overlong_buffer is not None:
            if self.overlong_buffer < 0 or 0 < max_new_tokens <= self.overlong_buffer:
                raise ValueError(
                    f"algo.overlong_buffer ({self.overlong_buffer}) must be in "
                    f"[0, rollout.max_new_tokens) = [0, {max_new_tokens}); 0 disables it"
                )
            return self.overlong_buffer or None
        preset = get_preset(self.preset).overlong_buffer
        if preset is None:
            return None
        return min(preset, max(1, max_new_tokens // 5))


@dataclass(frozen=True)
class GRPOTrainConfig:
    """Loop settings of the GRPO stage."""

    max_steps: int = 100
    """Training steps (each: one rollout batch, num_iterations optimizer steps)."""
    max_seconds: float | None = None
    """Stop after this much wall-clock training time (evaluation excluded)."""
    eval_every: int = 10
    """Evaluate held-out accuracy every this many steps (and before and after training)."""
    save_every: int = 20
    """Write a resumable checkpoint every this many steps."""
    keep_checkpoints: int = 2
    """Resumable checkpoints kept on disk."""
    random_reward: bool = False
    """Control run: replace every reward by a coin flip (no learning signal should appear)."""
    share_prefix: bool = True
    """Run the prompt part all G completions share once per group in the loss's forward and
    backward passes (same values up to float rounding); off for models whose forward cannot
    continue from a KV cache with gradients."""
    kl_every: int = 10
    """Log `train/kl`, the KL of the policy to the starting model, every this many steps even
    when no KL term is in the loss (DAPO): drift to read in the report. It keeps a frozen copy
    of the starting model (under `model.lora`, no copy: the policy with its adapters off) and
    costs one reference forward pass on those steps; 0: off (with
    `algo.kl_coef > 0` the KL is logged every step anyway)."""

    def __post_init__(self) -> None:
        if self.kl_every < 0:
            raise ValueError(f"train.kl_every must be >= 0, got {self.kl_every}")


@dataclass(frozen=True)
class GRPOConfig:
    """Group rollout RL stage (GRPO, DAPO, Dr. GRPO)."""

    model: ModelConfig
    """The policy to train (usually the SFT stage's `final` directory)."""
    data: DataConfig
    """Training prompts; each row names its verifier."""
    run: RunConfig
    """Output directory and seed."""
    eval_data: DataConfig | None = None
    """Held-out rows for greedy accuracy; None disables evaluation."""
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    """Algorithm preset and overrides."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling settings."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Training backend: torch (one process) or deepspeed (ZeRO over a launch)."""
    train: GRPOTrainConfig = field(default_factory=GRPOTrainConfig)
    """Loop settings."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime and extra reward terms."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding for held-out evaluation (greedy by default)."""
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    """Rollouts and rewards in this process (`kind: none`) or on Ray actors (`kind: ray`)."""
    monitors: MonitorConfig = field(default_factory=MonitorConfig)
    """Live reward-hacking and collapse monitors, and the samples written for people to read."""


StoppedBy = Literal["max_steps", "max_seconds", "monitor"]
"""What ended a run: its step budget, its time budget, or a monitor whose action is `stop`."""


@dataclass(frozen=True)
class GRPOResult:
    """What the GRPO stage produced."""

    final: str
    """HF-format model directory."""
    steps: int
    """Training steps taken."""
    accuracy_before: float | None
    """Held-out greedy accuracy before the first step (None on resume or without eval data)."""
    accuracy_after: float | None
    """Held-out greedy accuracy after the last step."""
    stopped_by: StoppedBy = "max_steps"
    """What ended the run: `train.max_steps`, `train.max_seconds`, or a monitor (`monitor`; its
    event is in `monitor_events.jsonl`)."""
    trained_s: float = 0.0
    """Wall-clock seconds of training steps (evaluation excluded), this launch only."""
