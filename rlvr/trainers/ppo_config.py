"""The PPO stage's config (`PPOConfig`: preset and overrides, KL budget, critic, sequence score,
loop settings, the shared sections) and result. `rlvr.trainers.ppo` re-exports them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from rlvr.algorithms.kl import KLEstimator
from rlvr.algorithms.losses import AggMode
from rlvr.algorithms.presets import RLHFPreset, get_rlhf_preset
from rlvr.config.sections import (
    BackendConfig,
    DataConfig,
    GenerationConfig,
    ModelConfig,
    OptimConfig,
    RewardConfig,
    RunConfig,
)
from rlvr.monitors import MonitorConfig
from rlvr.rewards import reward_specs
from rlvr.rollout.build import RolloutConfig
from rlvr.rollout.collect import RoundConfig
from rlvr.runs.contract import training_contract


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class PPOAlgoConfig:
    """The algorithm: a preset (`ppo` or `reinforce_pp`) plus optional overrides of its values."""

    preset: Literal["ppo", "reinforce_pp"] = "ppo"
    """`ppo`: critic + GAE; `reinforce_pp`: REINFORCE++, critic-free (docs/algorithms.md)."""
    gamma: float | None = None
    """Discount over completion tokens."""
    lam: float | None = None
    """GAE lambda (PPO only)."""
    eps: float | None = None
    """Ratio clip range: [1 - eps, 1 + eps]."""
    value_clip: float | None = None
    """Largest move of a value prediction from its rollout-time value (PPO only)."""
    whiten_advantages: bool | None = None
    """Normalise advantages over every completion token of the batch."""
    samples_per_prompt: int = 1
    """Completions sampled per prompt (1 in InstructGPT-style PPO)."""
    prompts_per_step: int = 16
    """Prompts per training step; the batch is prompts_per_step * samples_per_prompt rows."""
    ppo_epochs: int = 1
    """Passes over each batch of rollouts (GRPO's num_iterations when mini_batch_size is null)."""
    mini_batch_size: int | None = None
    """Completions per optimizer step inside a pass (shuffled each pass); null: the whole batch."""
    micro_batch_size: int | None = None
    """Completions per forward/backward pass (gradient accumulation); null: a whole mini-batch."""
    agg_mode: AggMode = "token-mean"
    """Loss aggregation: token-mean | seq-mean-token-mean | seq-mean-token-sum-norm."""
    entropy_coef: float = 0.0
    """Weight of an entropy bonus (0: entropy is only logged)."""

    def __post_init__(self) -> None:
        for name in ("samples_per_prompt", "prompts_per_step", "ppo_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"algo.{name} must be >= 1, got {getattr(self, name)}")
        _positive("algo.mini_batch_size", self.mini_batch_size)
        _positive("algo.micro_batch_size", self.micro_batch_size)

    def resolved(self) -> RLHFPreset:
        """The preset with this config's overrides applied."""
        names = ("gamma", "lam", "eps", "value_clip", "whiten_advantages")
        overrides = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return replace(get_rlhf_preset(self.preset), **overrides)

    @property
    def batch_size(self) -> int:
        """Completions per training step."""
        return self.prompts_per_step * self.samples_per_prompt

    @property
    def updates_per_step(self) -> int:
        """Optimizer steps per training step."""
        return self.ppo_epochs * -(-self.batch_size // (self.mini_batch_size or self.batch_size))


@dataclass(frozen=True)
class KLConfig:
    """The KL penalty in the reward, its controller, and the KL budget of the run.

    KL is measured per completion: the sum over its tokens of the per-token estimate (Ziegler et
    al.'s unit), averaged over the batch; this is `kl/mean` in the metrics."""

    beta: float | None = None
    """Starting coefficient of the per-token KL penalty; null: the preset's (ppo 0.05,
    reinforce_pp 0.01)."""
    estimator: KLEstimator = "k1"
    """Per-token estimator in the reward and in `kl/mean`: k1 (the papers'), k2 or k3."""
    controller: Literal["fixed", "adaptive", "step"] = "fixed"
    """fixed: beta stays; adaptive: Ziegler et al. (target, horizon); step: doubled above the
    target, halved below half of it."""
    target: float | None = None
    """KL the adaptive and step controllers steer towards (nats per completion)."""
    horizon: int = 10000
    """Adaptive controller: completions over which a full error is corrected (Ziegler: 10000;
    short runs want a few batches' worth)."""
    ceiling: float | None = None
    """Largest `kl/mean` the run may reach (nats per completion); null: no ceiling."""
    on_ceiling: Literal["stop", "rollback"] = "stop"
    """Past the ceiling: stop the run, or roll back to the last checkpoint under it and raise
    beta."""
    rollback_factor: float = 2.0
    """On a rollback beta becomes max(beta * rollback_factor, rollback_min_beta)."""
    rollback_min_beta: float = 0.05
    """Smallest beta after a rollback (a run at beta 0 needs one)."""
    max_rollbacks: int = 3
    """Rollbacks allowed; the next crossing stops the run."""

    def __post_init__(self) -> None:
        if self.beta is not None and self.beta < 0:
            raise ValueError(f"kl.beta must be >= 0, got {self.beta}")
        _positive("kl.target", self.target)
        _positive("kl.ceiling", self.ceiling)
        _positive("kl.horizon", self.horizon)
        if self.controller != "fixed" and self.target is None:
            raise ValueError(f"kl.controller: {self.controller} needs kl.target")
        if self.ceiling is not None and self.target is not None and self.ceiling <= self.target:
            raise ValueError(f"kl.ceiling ({self.ceiling}) must be above kl.target ({self.target})")
        if self.rollback_factor < 1 or self.rollback_min_beta < 0 or self.max_rollbacks < 0:
            raise ValueError(
                "need kl.rollback_factor >= 1, kl.rollback_min_beta >= 0, kl.max_rollbacks >= 0"
            )


@dataclass(frozen=True)
class CriticConfig:
    """The value function of the `ppo` preset (unused by `reinforce_pp`)."""

    kind: Literal["separate", "head"] = "separate"
    """separate: its own model (one-label AutoModelForTokenClassification); head: a linear value
    head on the policy's last hidden state, trained with the policy."""
    path: str | None = None
    """separate: the model the critic starts from (a reward model's final/ or the SFT model);
    head: a reward model whose scalar head initialises the value head (null: zeros). Null for
    separate: the policy's model.path. Its tokenizer must be the policy's."""
    lr: float | None = None
    """Learning rate of a separate critic; null: optim.lr."""
    vf_coef: float = 0.1
    """Value-head kind: weight of the value loss in the loss shared with the policy."""
    warmup_steps: int = 0
    """First training steps in which only the critic learns (the policy's loss is off: OpenRLHF's
    freezing_actor_steps), so that GAE starts from values that mean something."""

    def __post_init__(self) -> None:
        _positive("critic.lr", self.lr)
        if self.warmup_steps < 0:
            raise ValueError(f"critic.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.vf_coef < 0:
            raise ValueError(f"critic.vf_coef must be >= 0, got {self.vf_coef}")


@dataclass(frozen=True)
class ScoreConfig:
    """How each completion's sequence score (the reward on its last token) is made."""

    verifier_weight: float = 1.0
    """Weight of the rows' verifier rewards (their own verifier plus reward.extra); 0: the
    verifiers are scored and logged only (a hidden gold standard) and the learned reward model
    is the whole score."""
    missing_eos_penalty: float | None = None
    """Subtracted from the score of a completion that hit max_new_tokens without stopping
    (TRL's and OpenRLHF's missing_eos_penalty); null: none."""
    length_penalty: float = 0.0
    """Subtracted from the score per completion token."""

    def __post_init__(self) -> None:
        if self.verifier_weight < 0 or self.length_penalty < 0:
            raise ValueError("score.verifier_weight and score.length_penalty must be >= 0")
        if self.missing_eos_penalty is not None and self.missing_eos_penalty < 0:
            raise ValueError(
                f"score.missing_eos_penalty must be >= 0, got {self.missing_eos_penalty}"
            )


@dataclass(frozen=True)
class PPOTrainConfig:
    """Loop settings of the PPO stage."""

    max_steps: int = 100
    """Training steps (each: one rollout batch, ppo_epochs passes over it)."""
    max_seconds: float | None = None
    """Stop after this much wall-clock training time (evaluation excluded)."""
    eval_every: int = 10
    """Evaluate held-out accuracy every this many steps (and before and after training)."""
    save_every: int = 20
    """Write a resumable checkpoint every this many steps."""
    keep_checkpoints: int = 2
    """Resumable checkpoints kept on disk (kl.on_ceiling: rollback needs 2)."""
    share_prefix: bool = True
    """Run the prompt shared by a prompt's samples once in the policy's loss passes (only with
    samples_per_prompt > 1 and no value head)."""

    def __post_init__(self) -> None:
        for name in ("max_steps", "eval_every", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class PPOConfig:
    """KL-tracked PPO and REINFORCE++ (the `ppo` stage)."""

    model: ModelConfig
    """The policy to train (usually the SFT stage's `final` directory)."""
    data: DataConfig
    """Training prompts; each row names its verifier."""
    run: RunConfig
    """Output directory and seed."""
    eval_data: DataConfig | None = None
    """Held-out rows for greedy verifier accuracy; None disables evaluation."""
    algo: PPOAlgoConfig = field(default_factory=PPOAlgoConfig)
    """Preset and overrides, batch sizes, epochs."""
    kl: KLConfig = field(default_factory=KLConfig)
    """KL penalty, controller and ceiling."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The value function (ppo preset)."""
    score: ScoreConfig = field(default_factory=ScoreConfig)
    """The sequence score: verifier weight and penalties."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling settings and engine (hf or vllm)."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule (the policy's; a separate critic takes critic.lr)."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Training backend: torch (one process) or deepspeed (ZeRO over a launch)."""
    train: PPOTrainConfig = field(default_factory=PPOTrainConfig)
    """Loop settings."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime (verifier workers) and extra reward terms."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding for held-out evaluation (greedy by default)."""
    monitors: MonitorConfig = field(default_factory=MonitorConfig)
    """Live reward-hacking and collapse monitors, and the samples written for people to read."""

    def __post_init__(self) -> None:
        if self.kl.on_ceiling == "rollback" and self.train.keep_checkpoints < 2:
            raise ValueError("kl.on_ceiling: rollback needs train.keep_checkpoints >= 2")
        if self.critic.kind == "head" and self.rollout.engine != "hf":
            raise ValueError(
                "critic.kind: head samples with rollout.engine: hf (a vLLM engine would load "
                "the value head's tensors of a checkpoint as policy weights): use "
                "critic.kind: separate"
            )
        if self.model.lora is not None and self.rollout.engine != "hf":
            raise ValueError("model.lora trains with the in-process `hf` rollout engine only")
        m = self.reward.model
        if m is not None and m.normalize == "group" and self.algo.samples_per_prompt < 2:
            raise ValueError(
                "reward.model.normalize: group centres each prompt's samples and needs "
                f"algo.samples_per_prompt >= 2, got {self.algo.samples_per_prompt}"
            )
        if self.critic.kind == "head" and self.model.lora is not None:
            raise ValueError(
                "critic.kind: head with model.lora is not supported (the adapters' checkpoints "
                "would not hold the head): use critic.kind: separate"
            )

    def contract(
        self, preset: RLHFPreset, datasets: dict[str, str], names: list[str], world: int
    ) -> dict[str, Any]:
        """The training contract pinned before step 0 (`rlvr.runs.contract`); its KL budget is
        `kl.ceiling` (nats per completion)."""
        b = self.backend
        algorithm = {"preset": self.algo.preset, **asdict(preset), "kl": asdict(self.kl)}
        return training_contract(
            stage="ppo",
            datasets=datasets,
            verifier_names=names,
            algorithm={**algorithm, "critic": self.critic.kind if preset.critic else None},
            kl_budget=self.kl.ceiling,
            max_steps=self.train.max_steps,
            max_seconds=self.train.max_seconds,
            backend={"kind": b.kind, "zero_stage": b.zero_stage if b.kind == "deepspeed" else None},
            world_size=world,
        )

    @property
    def zero3(self) -> bool:
        """DeepSpeed ZeRO-3: every forward pass is collective, so every rank must run the same
        passes; the training passes then run without the shared-prefix split, which a rank
        decides from its own rows."""
        return self.backend.kind == "deepspeed" and self.backend.zero_stage == 3

    def rounds(self) -> RoundConfig:
        """What a step's rollout round needs."""
        r = self.rollout
        return RoundConfig(
            group_size=self.algo.samples_per_prompt,
            prompts_per_step=self.algo.prompts_per_step,
            max_new_tokens=r.max_new_tokens,
            temperature=r.temperature,
            top_p=r.top_p,
            seed=self.run.seed,
            extra=tuple(reward_specs(self.reward)),
        )


StoppedBy = Literal["max_steps", "max_seconds", "monitor", "kl_ceiling"]
"""What ended a run: its step or time budget, a monitor whose action is `stop`, or the KL
ceiling (`kl.on_ceiling: stop`, or a crossing after `kl.max_rollbacks` rollbacks)."""


@dataclass(frozen=True)
class PPOResult:
    """What the PPO stage produced."""

    final: str
    """HF-format policy directory (no value head in it)."""
    steps: int
    """Training steps taken (rolled-back steps included)."""
    accuracy_before: float | None
    """Held-out greedy accuracy before the first step (None on resume or without eval data)."""
    accuracy_after: float | None
    """Held-out greedy accuracy after the last step."""
    stopped_by: StoppedBy = "max_steps"
    """What ended the run."""
    stop_reason: str = ""
    """In words: at which step and why the run stopped early ("" when it ran to max_steps)."""
    trained_s: float = 0.0
    """Wall-clock seconds of training steps (evaluation excluded), this launch only."""
    rollbacks: int = 0
    """KL-ceiling rollbacks taken."""
    masked_rows: int = 0
    """Completions left out of the loss because their score was not a finite number."""
