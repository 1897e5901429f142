"""Config sections shared by the stage configs. Stages compose them; nothing inherits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class LoRAConfig:
    """Low-rank adapters (peft's LoRA, `pip install 'rlvr[lora]'`): only they are trained."""

    r: int = 8
    """Rank of each adapter."""
    alpha: float = 16.0
    """Scaling numerator: the adapter's update is scaled by `alpha / r`."""
    dropout: float = 0.0
    """Dropout on the adapter's input."""
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Module names (or name suffixes) that get adapters; each must match a module."""
    save_merged: bool = False
    """Also write the base model with the adapters merged in, as a plain HF model, to
    `<run>/final/merged` (checkpoints and `final/` hold the adapters)."""

    def __post_init__(self) -> None:
        if self.r <= 0 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError("lora needs r > 0, alpha > 0 and dropout in [0, 1)")
        if not self.target_modules:
            raise ValueError("lora.target_modules must name at least one module")


@dataclass(frozen=True)
class ModelConfig:
    """Which model to load, and how."""

    path: str
    """Local directory or hub name passed to `from_pretrained`."""
    tiny_preset: Literal["tiny", "small"] | None = None
    """Build a tiny local model of this preset into `path` first (reused when already built)."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Parameter dtype. CPU training uses float32."""
    trust_remote_code: bool = False
    """Allow model code from the checkpoint directory. Off unless you trust the source."""
    lora: LoRAConfig | None = None
    """Train LoRA adapters instead of every weight; None (default) trains the full model."""


SYNTHETIC_TASKS = ("arithmetic", "code", "json", "arithmetic-pref", "humaneval")
"""Values of `DataConfig.synthetic`, besides `reasoning_gym:NAME`."""
REASONING_GYM = "reasoning_gym:"
"""Prefix of the reasoning-gym task names `DataConfig.synthetic` takes."""


@dataclass(frozen=True)
class DataConfig:
    """Where rows come from: a file/directory/hub dataset, or a synthetic generator."""

    source: str | None = None
    """JSONL/JSON/Parquet/CSV file, `save_to_disk` directory or hub dataset name."""
    synthetic: str | None = None
    """Generate rows with this built-in generator instead of reading `source`: `arithmetic`,
    `code`, `json`, `arithmetic-pref` (preference pairs, for the preference stages), or the
    package tasks `humaneval` (`n` is a row limit there) and `reasoning_gym:NAME` (see
    `rlvr.data.packages`)."""
    n: int = 256
    """Number of synthetic rows (or the row limit for `source`, when set)."""
    seed: int = 0
    """Seed of the synthetic generator. Use a different seed for held-out data."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options of the synthetic generator, e.g. `{ops: ["+", "-"]}` for arithmetic."""
    split: str = "train"
    """Split to read from a hub dataset or a `DatasetDict` directory."""

    def __post_init__(self) -> None:
        if (self.source is None) == (self.synthetic is None):
            raise ValueError("set exactly one of 'source' and 'synthetic'")
        if self.synthetic is not None and not (
            self.synthetic in SYNTHETIC_TASKS
            or (
                self.synthetic.startswith(REASONING_GYM)
                and len(self.synthetic) > len(REASONING_GYM)
            )
        ):
            known = ", ".join(repr(t) for t in SYNTHETIC_TASKS)
            raise ValueError(
                f"synthetic: expected one of {known} or '{REASONING_GYM}NAME', "
                f"got {self.synthetic!r}"
            )
        if self.n <= 0:
            raise ValueError(f"n must be positive, got {self.n}")


@dataclass(frozen=True)
class RewardSpecConfig:
    """One extra reward term added to every row's own verifier."""

    verifier: str
    """Registered verifier name or `pkg.module:Class`."""
    weight: float = 1.0
    """Weight in the summed reward; 0 means scored and logged only."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options passed to the verifier class."""


@dataclass(frozen=True)
class LearnedRewardConfig:
    """A trained reward model scoring every completion beside the verifiers (`reward.model`)."""

    path: str
    """Reward model directory (a `reward_model` run's `final/`) or hub name: a one-label
    `AutoModelForSequenceClassification`. A causal LM without a scalar head is refused."""
    weight: float = 1.0
    """Weight of its (normalised) score in the summed reward; 0 means scored and logged only."""
    batch_size: int = 32
    """Completions per scoring forward pass."""
    normalize: Literal["none", "batch", "group"] = "batch"
    """`batch`: whiten the scores over each step's completions (mean 0, std 1) before the
    weight applies; `group`: subtract each prompt's mean score over its samples, then divide by
    the standard deviation of what is left over the step (a reward model's per-prompt offset
    drops out; needs 2 or more samples per prompt); `none`: weight the raw scores."""

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise ValueError(f"reward.model.batch_size must be positive, got {self.batch_size}")


@dataclass(frozen=True)
class RewardConfig:
    """The reward runtime: worker processes with hard per-call timeouts."""

    workers: int | None = None
    """Worker processes scoring completions; default: the CPU count. 0 scores in-process."""
    timeout_s: float = 5.0
    """Wall-clock limit per verifier call; a completion that hits it scores 0 (`timeout`)."""
    memory_mb: int | None = 2048
    """Address space (MiB) a worker may map beyond what it holds at start; None for no cap."""
    max_completion_chars: int | None = 200_000
    """Completions are cut to this many leading characters before verification."""
    extra: tuple[RewardSpecConfig, ...] = ()
    """Reward terms added to each row's own verifier (e.g. a format reward)."""
    import_main: bool = False
    """Workers import the launching script's `__main__` (only for verifiers defined there)."""
    model: LearnedRewardConfig | None = None
    """A learned reward model scored in the trainer process and added to the verifier terms
    (GRPO); None: verifiers only."""
    verifier_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options of the rows' own verifiers, by verifier name, e.g. `{code: {partial_credit:
    false}}` for all-or-nothing code rewards; a verifier not named keeps its defaults."""
    sandbox_allow_process: bool = False
    """Where bwrap cannot start, let the `code` verifier run programs on the weaker `process`
    sandbox (host files and processes visible) instead of refusing to start the run; the same
    as `RLVR_SANDBOX_ALLOW_PROCESS=1` (docs/sandboxes.md)."""


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings for rollouts and evaluation."""

    max_new_tokens: int = 32
    """Tokens generated per completion at most."""
    temperature: float = 0.0
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    batch_size: int = 64
    """Prompts per `generate` call."""

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be positive, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass(frozen=True)
class RunConfig:
    """Where a run writes, and its seed."""

    name: str
    """Run name: the directory `output_dir/name` holds everything the run writes."""
    output_dir: Path = Path("runs")
    """Parent directory of run directories."""
    seed: int = 0
    """Global seed (python, torch)."""
    overwrite: bool = False
    """Replace an existing run directory of the same name instead of refusing."""
    loggers: tuple[Literal["tensorboard", "wandb"], ...] = ()
    """Metric loggers beside `metrics.jsonl` (always written): `tensorboard` (the
    `tensorboard` extra) and `wandb` (the `wandb` extra; offline unless `WANDB_MODE` says
    otherwise)."""
    accept_contract_change: bool = False
    """Resume even though the training contract (data, verifiers, algorithm, KL and step budgets,
    backend, world size) differs from the one pinned at the start; the change is recorded in
    the manifest (`rlvr train --accept-contract-change`)."""


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with warm-up and a decay schedule."""

    lr: float = 1e-4
    """Peak learning rate."""
    weight_decay: float = 0.0
    """Decoupled weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to `lr` over this many optimizer steps."""
    schedule: Literal["constant", "cosine", "linear"] = "constant"
    """Decay after warm-up, down to 10% of `lr` at the last step (cosine, linear)."""
    grad_clip: float | None = 1.0
    """Clip the global gradient norm to this value; None disables clipping."""

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.warmup_steps < 0:
            raise ValueError("lr must be positive and warmup_steps non-negative")


@dataclass(frozen=True)
class BackendConfig:
    """The training backend: plain torch in one process, or DeepSpeed ZeRO over a launch."""

    kind: Literal["torch", "deepspeed"] = "torch"
    """`torch`: one process. `deepspeed`: every process of a `deepspeed`/`torchrun` launch."""
    zero_stage: Literal[0, 1, 2, 3] = 2
    """DeepSpeed ZeRO stage: 1 partitions optimizer state, 2 also gradients, 3 also weights."""
    offload_optimizer: bool = False
    """Keep optimizer state in CPU memory and step it there (DeepSpeed's CPU Adam; GPU runs)."""
    offload_params: bool = False
    """Keep ZeRO-3 parameters in CPU memory between uses (needs zero_stage 3)."""
    bf16: bool = False
    """Mixed precision: bfloat16 module, fp32 master weights in the optimizer (zero_stage 1-3)."""
    dist_backend: Literal["auto", "gloo", "nccl"] = "auto"
    """Collective library: `auto` picks NCCL when CUDA is available, gloo otherwise."""

    def __post_init__(self) -> None:
        if self.kind == "torch" and (self.offload_optimizer or self.offload_params or self.bf16):
            raise ValueError("offload_* and bf16 are DeepSpeed options (backend.kind=deepspeed)")
        if self.offload_params and self.zero_stage != 3:
            raise ValueError("offload_params needs zero_stage 3")
        if self.offload_optimizer and self.zero_stage == 0:
            raise ValueError("offload_optimizer needs zero_stage 1, 2 or 3")
        if self.bf16 and self.zero_stage == 0:
            # DeepSpeed (0.19) wraps the optimizer in its fp16 optimizer at stage 0, which takes
            # a zero-gradient AdamW step when it starts: every later step's bias correction is
            # one step off (the first update is about 0.74 x lr instead of lr)
            raise ValueError(
                "bf16 needs zero_stage 1, 2 or 3: at stage 0 DeepSpeed's bf16 optimizer takes a "
                "zero-gradient AdamW step when it starts, which skews AdamW's bias correction"
            )
