"""The preference stage's config (`DPOConfig`: loss, reference, loop settings, the shared
sections) and result. `rlvr.trainers.dpo` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rlvr.config.sections import (
    BackendConfig,
    DataConfig,
    GenerationConfig,
    ModelConfig,
    OptimConfig,
    RewardConfig,
    RunConfig,
)
from rlvr.monitors import LengthConfig, MonitorConfig

PreferenceLoss = Literal["sigmoid", "ipo", "simpo", "kto", "orpo"]
REFERENCE_LOSSES = ("sigmoid", "ipo", "kto")
"""Losses that compare against a reference model (SimPO and ORPO are reference-free)."""


@dataclass(frozen=True)
class DPOAlgoConfig:
    """The preference loss and where its reference log-probabilities come from."""

    loss: PreferenceLoss = "sigmoid"
    """`sigmoid` (DPO), `ipo`, `simpo` (reference-free, length-normalised), `kto` (unpaired
    rows) or `orpo` (SFT + odds ratio, no reference); see docs/algorithms.md."""
    beta: float = 0.1
    """Temperature of the implicit reward (SimPO: its beta; ORPO: weight of the odds-ratio
    term)."""
    label_smoothing: float = 0.0
    """Conservative DPO: probability that a pair's label is flipped, in [0, 0.5) (sigmoid and
    simpo)."""
    gamma: float = 0.5
    """SimPO's target reward margin."""
    sft_weight: float = 0.0
    """RPO: weight of the chosen completions' token-mean NLL added to sigmoid, ipo or simpo
    (TRL's `rpo_alpha`); it keeps DPO from lowering the chosen side's likelihood."""
    desirable_weight: float = 1.0
    """KTO's weight of desirable rows (lambda_D)."""
    undesirable_weight: float = 1.0
    """KTO's weight of undesirable rows (lambda_U)."""
    precompute_reference: bool = False
    """Compute the reference log-probabilities of every row once, before training, cache them
    in the run directory (`reference_logps.pt`) and keep no reference model in memory."""
    unpair: bool = False
    """With `loss: kto` on pairwise rows: train on each pair as a desirable and an undesirable
    row (TRL's `unpair_preference_dataset`)."""

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ValueError(f"algo.beta must be positive, got {self.beta}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError("algo.label_smoothing must be in [0, 0.5)")
        if self.label_smoothing and self.loss not in ("sigmoid", "simpo"):
            raise ValueError("algo.label_smoothing applies to loss sigmoid or simpo only")
        if self.sft_weight < 0 or (self.sft_weight and self.loss in ("kto", "orpo")):
            raise ValueError("algo.sft_weight must be >= 0 and applies to sigmoid, ipo, simpo")
        if self.desirable_weight <= 0 or self.undesirable_weight <= 0:
            raise ValueError("algo.desirable_weight and undesirable_weight must be positive")

    @property
    def needs_reference(self) -> bool:
        """True when the loss compares against the reference model."""
        return self.loss in REFERENCE_LOSSES


@dataclass(frozen=True)
class DPOTrainConfig:
    """Loop settings of the preference stage."""

    max_steps: int = 200
    """Optimizer steps at most."""
    max_seconds: float | None = None
    """Stop after this much wall-clock training time (evaluation excluded)."""
    batch_size: int = 32
    """Pairs (unpaired rows for KTO) per optimizer step."""
    micro_batch_size: int | None = None
    """Pairs per forward/backward pass (gradient accumulation); None = the whole batch."""
    max_length: int = 256
    """Prompt + completion tokens at most. Longer completions are cut from the end (the prompt
    is kept whole); rows cut are counted (`data/truncated_rows`) and reported."""
    max_prompt_length: int = 128
    """Rows whose prompt has more tokens are dropped with a warning and counted
    (`data/dropped_rows`); an error when every row would be dropped."""
    share_prefix: bool = True
    """Run each pair's shared prompt once for both completions (same values up to float
    rounding); off for models whose forward cannot continue from a KV cache with gradients."""
    eval_every: int = 50
    """Evaluate on `eval_data` every this many steps (and before and after training)."""
    save_every: int = 100
    """Write a resumable checkpoint every this many steps."""
    keep_checkpoints: int = 2
    """Resumable checkpoints kept on disk."""
    log_every: int = 10
    """Log training metrics every this many steps."""

    def __post_init__(self) -> None:
        micro = self.micro_batch_size or self.batch_size
        if self.batch_size <= 0 or micro <= 0 or self.batch_size % micro:
            raise ValueError("batch_size must be a positive multiple of micro_batch_size")
        if not 0 < self.max_prompt_length < self.max_length:
            raise ValueError("train.max_prompt_length must be positive and below max_length")


def preference_monitors() -> MonitorConfig:
    """The monitors' defaults in the preference stage. It samples nothing while it trains, so
    the length check reads the held-out greedy completions of each evaluation: the one before
    the first step is its baseline, and it fires on the second evaluation in a row past its
    limit (its `window`, `patience` and `baseline_steps` count evaluations here)."""
    return MonitorConfig(length=LengthConfig(window=1, patience=2, baseline_steps=1))


@dataclass(frozen=True)
class DPOConfig:
    """Preference optimisation stage: DPO, IPO, SimPO, KTO, ORPO."""

    model: ModelConfig
    """The policy to train (usually the SFT stage's `final` directory); also the reference."""
    data: DataConfig
    """Preference rows: pairwise `{prompt, chosen, rejected}` or unpaired `{prompt,
    completion, label}` (KTO), or `synthetic: arithmetic-pref`."""
    run: RunConfig
    """Output directory and seed."""
    eval_data: DataConfig | None = None
    """Held-out preference rows: pairwise reward accuracy, and greedy accuracy when the rows
    name a verifier; None disables evaluation."""
    algo: DPOAlgoConfig = field(default_factory=DPOAlgoConfig)
    """Loss and reference."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Training backend: torch (one process) or deepspeed (ZeRO over a launch)."""
    train: DPOTrainConfig = field(default_factory=DPOTrainConfig)
    """Loop settings."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding for held-out greedy accuracy."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime that scores held-out generations."""
    monitors: MonitorConfig = field(default_factory=preference_monitors)
    """Live monitors (docs/evaluation.md): here they read the held-out evaluations (greedy
    completion length, greedy accuracy) and the training reward margin (`train/rewards/margins`
    as the training reward); the checks that need sampled groups or a KL never fire."""


StoppedBy = Literal["max_steps", "max_seconds", "monitor"]
"""What ended a preference run: its step budget, its time budget, or a monitor whose action is
`stop`."""


@dataclass(frozen=True)
class DPOResult:
    """What the preference stage produced."""

    final: str
    """HF-format model directory (under `model.lora`: the adapters)."""
    steps: int
    """Optimizer steps taken."""
    accuracy_before: float | None
    """Held-out greedy accuracy before the first step (None on resume or without a verifier)."""
    accuracy_after: float | None
    """Held-out greedy accuracy after the last step."""
    reward_accuracy: float | None
    """Held-out pairwise reward accuracy (`rewards/accuracies` on `eval_data`) at the end."""
    dropped_rows: int = 0
    """Training rows dropped for a prompt longer than `max_prompt_length`."""
    truncated_rows: int = 0
    """Training rows whose completion was cut to fit `max_length`."""
    stopped_by: StoppedBy = "max_steps"
    """What ended the run: a limit, or a monitor whose action is `stop` (its event is in
    `monitor_events.jsonl`)."""
    trained_s: float = 0.0
    """Wall-clock seconds of training steps (evaluation excluded), this launch only."""
    merged: str | None = None
    """The merged HF model (`model.lora.save_merged`), else None."""
    stop_reason: str = ""
    """Why a monitor stopped the run (empty otherwise)."""
