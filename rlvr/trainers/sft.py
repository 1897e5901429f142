"""Supervised fine-tuning on prompt/completion rows, loss on completion tokens only.

`rlvr train CONFIG.yaml` with `stage: sft`. Writes an HF-format model to `<run>/final`.

Deviations from a plain SFT loop:
  - Batches are drawn from a seeded permutation of the rows, re-shuffled every epoch; the data
    cursor is part of the checkpoint, so a resumed run sees the same batches.
  - With `eval_data` set, held-out rows are decoded greedily and scored by their verifiers every
    `eval_every` steps; training stops early once `target_accuracy` is reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tqdm import tqdm

from rlvr.algorithms.losses import sft_loss
from rlvr.backends import TrainBackend, build_backend, launch, shutdown
from rlvr.config.sections import (
    BackendConfig,
    DataConfig,
    GenerationConfig,
    ModelConfig,
    OptimConfig,
    RewardConfig,
    RunConfig,
)
from rlvr.data import Sample
from rlvr.data.batches import Batches
from rlvr.data.rows import load_rows, load_sft
from rlvr.distributed import open_runtime
from rlvr.evaluate import held_out_accuracy
from rlvr.models.loading import load_policy
from rlvr.models.lora import check_lora_backend, save_merged_if_asked
from rlvr.models.tokens import encode_pairs, pad_pairs
from rlvr.rewards import RewardRuntime
from rlvr.runs import Run, seed_everything
from rlvr.runs.checkpoint import open_trainer_run, restore_training, save_checkpoint, save_final
from rlvr.runs.contract import training_contract


@dataclass(frozen=True)
class SFTTrainConfig:
    """Loop settings of the SFT stage."""

    max_steps: int = 500
    """Optimizer steps at most."""
    batch_size: int = 32
    """Rows per optimizer step."""
    micro_batch_size: int | None = None
    """Rows per forward/backward pass (gradient accumulation); None = the whole batch."""
    max_len: int = 256
    """Prompt + completion tokens at most; longer completions are cut."""
    eval_every: int = 50
    """Evaluate on `eval_data` every this many steps (and at the end)."""
    target_accuracy: float | None = None
    """Stop once held-out accuracy reaches this value."""
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


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning stage."""

    model: ModelConfig
    """The model to fine-tune."""
    data: DataConfig
    """Training rows with `prompt` and `completion` (synthetic tasks use their solutions)."""
    run: RunConfig
    """Output directory and seed."""
    eval_data: DataConfig | None = None
    """Held-out RL rows (with verifiers) scored during training; None disables evaluation."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Training backend: torch (one process) or deepspeed (ZeRO over a launch)."""
    train: SFTTrainConfig = field(default_factory=SFTTrainConfig)
    """Loop settings."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding for held-out evaluation (greedy by default)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime for held-out evaluation."""


@dataclass(frozen=True)
class SFTResult:
    """What the SFT stage produced."""

    final: str
    """HF-format model directory (under `model.lora`: the adapters)."""
    steps: int
    """Optimizer steps taken."""
    eval_accuracy: float | None
    """Last held-out accuracy, when evaluated."""


# --- plumbing ---------------------------------------------------------------------------------


def _evaluate(
    cfg: SFTConfig,
    backend: TrainBackend,
    tokenizer: object,
    held_out: list[Sample],
    runtime: RewardRuntime,
) -> float:
    return held_out_accuracy(
        backend.module,
        tokenizer,
        held_out,
        generation=cfg.generation,
        runtime=runtime,
        dist=backend.dist,
        collective_forward=cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3,
        seed=cfg.run.seed,
    )


# --- algorithm --------------------------------------------------------------------------------


def _step(
    backend: TrainBackend,
    pairs: list[tuple[list[int], list[int]]],
    *,
    pad_id: int,
    micro: int,
) -> dict[str, float]:
    """One optimizer step's gradients, accumulated over micro-batches with a global normaliser.

    Each rank takes its share of `pairs`; the normaliser counts the whole batch's tokens. Every
    rank runs as many micro-batches as the largest share needs (ZeRO reduces gradients and
    gathers weights in each forward/backward, so the counts must match; `Dist.micro_batches`):
    a rank whose share is one row shorter ends with a zero-weight pass over one row.
    """
    n_tokens = sum(len(c) for _, c in pairs)
    model = backend.forward_model
    stats = {"loss": 0.0, "token_accuracy": 0.0}
    for rows, padding in backend.dist.micro_batches(len(pairs), micro):
        batch = pad_pairs(pairs[rows], pad_id=pad_id)
        first = batch.completion_start  # logits of the completion window only
        logits = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=batch.input_ids.shape[1] - first + 1,
        ).logits
        mask = batch.completion_mask[:, first:]  # [b, W]
        loss, s = sft_loss(logits[:, :-1], batch.input_ids[:, first:], mask, global_tokens=n_tokens)
        if padding:
            backend.backward(loss * 0.0)
            continue
        backend.backward(loss)
        weight = float(mask.sum()) / max(1, n_tokens)
        stats["loss"] += float(loss.detach())
        stats["token_accuracy"] += s["token_accuracy"] * weight
    return backend.dist.all_reduce_sum(stats)


def train(cfg: SFTConfig) -> SFTResult:
    """Fine-tune `cfg.model` on `cfg.data`; resume from the run's last checkpoint if present."""
    check_lora_backend(cfg.model.lora, backend=cfg.backend)
    dist = launch(cfg.backend)
    if cfg.train.batch_size < dist.world_size:
        raise ValueError(f"train.batch_size must be at least the world size ({dist.world_size})")
    seed_everything(cfg.run.seed)
    rows, data_hash = load_sft(cfg.data)
    held_out, eval_hash = load_rows(cfg.eval_data) if cfg.eval_data else ([], None)
    datasets = {"train": data_hash, **({"eval": eval_hash} if eval_hash else {})}
    names = [x.verifier for x in held_out]
    b = cfg.backend
    contract = training_contract(
        stage="sft",
        datasets=datasets,
        verifier_names=names,
        algorithm={"preset": "sft", "lr": cfg.optim.lr, "batch_size": cfg.train.batch_size},
        kl_budget=None,
        max_steps=cfg.train.max_steps,
        max_seconds=None,
        backend={"kind": b.kind, "zero_stage": b.zero_stage if b.kind == "deepspeed" else None},
        world_size=dist.world_size,
    )
    run, resumed = open_trainer_run(
        cfg.run,
        cfg,
        stage="sft",
        datasets=datasets,
        verifier_names=names,
        dist=dist,
        contract=contract,
    )
    model, tokenizer = load_policy(cfg.model, checkpoint=resumed.path if resumed else None)
    model.train()
    backend = build_backend(cfg.backend, dist, model, cfg.optim, total_steps=cfg.train.max_steps)
    step, cursor = restore_training(resumed, run, backend)
    batches = Batches(len(rows), cfg.run.seed, cursor)
    pairs = encode_pairs(
        tokenizer,
        [p for p, _ in rows],
        [c for _, c in rows],
        eos_id=tokenizer.eos_token_id,
        max_len=cfg.train.max_len,
    )
    accuracy, step = _loop(cfg, run, backend, tokenizer, batches, pairs, held_out, step)
    final = save_final(run, backend, tokenizer)
    save_merged_if_asked(cfg.model.lora, backend.module, tokenizer, final, main=dist.is_main)
    run.close()
    backend.close()
    shutdown()
    return SFTResult(str(final), step, accuracy)


def _loop(
    cfg: SFTConfig,
    run: Run,
    backend: TrainBackend,
    tokenizer: object,
    batches: Batches,
    pairs: list[tuple[list[int], list[int]]],
    held_out: list[Sample],
    step: int,
) -> tuple[float | None, int]:
    t = cfg.train
    micro = t.micro_batch_size or t.batch_size
    pad_id = tokenizer.pad_token_id  # type: ignore[attr-defined]
    accuracy: float | None = None
    with (
        open_runtime(cfg.reward) as runtime,
        tqdm(
            total=t.max_steps,
            initial=step,
            desc="sft",
            dynamic_ncols=True,
            disable=not backend.dist.is_main,
        ) as bar,
    ):
        while step < t.max_steps:
            start = time.perf_counter()
            backend.zero_grad()
            stats = _step(
                backend, [pairs[i] for i in batches.next(t.batch_size)], pad_id=pad_id, micro=micro
            )
            grad_norm = backend.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.3f}")
            if step % t.log_every == 0:
                run.log(
                    step,
                    {
                        "train/loss": stats["loss"],
                        "train/grad_norm": grad_norm,
                        "train/token_accuracy": stats["token_accuracy"],
                        "train/lr": backend.lr(),
                        "train/step_s": time.perf_counter() - start,
                    },
                )
            if held_out and (step % t.eval_every == 0 or step == t.max_steps):
                accuracy = _evaluate(cfg, backend, tokenizer, held_out, runtime)
                backend.module.train()
                run.log(step, {"eval/accuracy": accuracy})
                bar.write(f"step {step}: held-out accuracy {accuracy:.3f}")
            if step % t.save_every == 0:
                save_checkpoint(
                    run.checkpoints,
                    step,
                    backend=backend,
                    tokenizer=tokenizer,
                    extra={"cursor": batches.cursor},
                    keep=t.keep_checkpoints,
                )
            if (
                accuracy is not None
                and t.target_accuracy is not None
                and accuracy >= t.target_accuracy
            ):
                break
    return accuracy, step
