"""Reward-model training: a scalar head on a causal-LM backbone, Bradley-Terry loss on pairs.

`rlvr train CONFIG.yaml` with `stage: reward_model`. The model is transformers'
`AutoModelForSequenceClassification` with one label (`rlvr.models.reward_head`), started from a
causal LM such as the SFT stage's `final/`; `<run>/final` loads in any HF tool. Every run ends
with an audit of the held-out pairs (`rlvr.evaluate.audit`) in `<run>/audit`.

Deviations from TRL's `RewardTrainer`, and choices where it is silent:
  - Held-out pairs come from `eval_data`, or else from `data` split by prompt (a hash of the
    prompt, `train.held_out_share`), so no prompt is on both sides; the manifest records the
    split, the pair counts and how many held-out prompts also occur in training.
  - Pairs whose chosen and rejected sides tokenise to the same ids are dropped (they carry no
    preference), as are pairs longer than `train.max_len` on either side (TRL drops those too;
    a cut completion would be scored without its end). Both counts are printed once and go to
    the manifest; a dataset left with no pairs is an error.
  - A row's optional `margin` (Llama 2) is required between its scores: the loss is
    `-log sigmoid(s_w - s_l - margin)`; rows without one use 0.
  - The loss is normalised by the pairs of the whole optimizer step, so micro-batches and ranks
    sum to the one-batch loss (TRL averages per micro-batch).
  - `head.layers` stacks new identity-started decoder blocks under the score head and
    `head.freeze_body` trains only those, the final norm and the head (no TRL counterpart;
    `rlvr.models.reward_head`, detail 6): a small body cannot carry what its last layer predicts
    to the token the head reads.
  - Chosen and rejected rows of a micro-batch run in one batch, right-padded to the longest of
    them (as TRL does), and the prompt a pair shares runs once for both sides
    (`train.share_prefix`; TRL runs it twice).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from rlvr.algorithms.preference import bradley_terry_loss
from rlvr.backends import TrainBackend, build_backend, launch, shutdown
from rlvr.config.sections import BackendConfig, DataConfig, ModelConfig, OptimConfig, RunConfig
from rlvr.data.batches import Batches
from rlvr.data.preference import preference_rows
from rlvr.data.types import PreferencePair
from rlvr.evaluate.audit import audit_scores, completion_lengths, print_findings
from rlvr.evaluate.audit_stats import AuditThresholds, pairwise_accuracy
from rlvr.models.lora import check_lora_backend, save_merged_if_asked
from rlvr.models.reward_head import (
    RewardHeadConfig,
    load_reward_backbone,
    model_device,
    pair_scores,
    score_rows,
)
from rlvr.models.tokens import encode_pairs, render_prompt
from rlvr.runs import Run, seed_everything
from rlvr.runs.checkpoint import open_trainer_run, restore_training, save_checkpoint, save_final

Ids = tuple[list[int], list[int]]
"""(prompt ids, completion ids) of one side of a pair."""


@dataclass(frozen=True)
class RewardModelTrainConfig:
    """Loop settings of the reward-model stage."""

    max_steps: int = 200
    """Optimizer steps."""
    batch_size: int = 32
    """Pairs per optimizer step."""
    micro_batch_size: int | None = None
    """Pairs per forward/backward pass (gradient accumulation); None = the whole batch."""
    max_len: int = 256
    """Prompt + completion tokens at most per side; longer pairs are dropped."""
    center_rewards: float = 0.0
    """Reward centring coefficient (TRL's `center_rewards_coefficient`; 0.01 is usual): adds
    `c * (s_w + s_l)^2`, pulling the scores towards mean zero. 0 turns it off."""
    held_out_share: float = 0.1
    """Without `eval_data`: the share of `data`'s prompts held out (split by prompt hash)."""
    eval_every: int = 50
    """Score the held-out pairs every this many steps (and at the end)."""
    share_prefix: bool = True
    """Run the prompt both sides of a pair share once per pair (its KV cache repeated for the
    two sides); same scores and gradients up to float rounding. Off for models whose forward
    cannot continue from a KV cache with gradients."""
    score_batch_size: int = 64
    """Rows per forward pass when scoring held-out pairs."""
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
        if not 0 < self.held_out_share < 1:
            raise ValueError(f"held_out_share must be in (0, 1), got {self.held_out_share}")
        if self.center_rewards < 0:
            raise ValueError(f"center_rewards must be >= 0, got {self.center_rewards}")
        if self.max_len < 2:
            raise ValueError(f"max_len must be at least 2, got {self.max_len}")


@dataclass(frozen=True)
class RewardModelConfig:
    """Reward-model stage: Bradley-Terry training of a scalar head, then an audit."""

    model: ModelConfig
    """The backbone: a causal LM (a new scalar head is added) or a reward model to train on."""
    data: DataConfig
    """Pairwise preference rows (`prompt`, `chosen`, `rejected`; synthetic `arithmetic-pref`)."""
    run: RunConfig
    """Output directory and seed."""
    eval_data: DataConfig | None = None
    """Held-out pairs; None holds out `train.held_out_share` of `data`'s prompts instead."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Training backend: torch (one process) or deepspeed (ZeRO over a launch)."""
    train: RewardModelTrainConfig = field(default_factory=RewardModelTrainConfig)
    """Loop settings."""
    head: RewardHeadConfig = field(default_factory=RewardHeadConfig)
    """New blocks between the body and the score head, and whether the body trains."""
    audit: AuditThresholds = field(default_factory=AuditThresholds)
    """When the end-of-run audit warns that the model may be rewarding length."""


@dataclass(frozen=True)
class RewardModelResult:
    """What the reward-model stage produced."""

    final: str
    """HF-format reward model directory (`AutoModelForSequenceClassification`; under
    `model.lora`: the adapters and the head, which `load_reward_model` merges)."""
    steps: int
    """Optimizer steps taken."""
    eval_accuracy: float
    """Held-out pairwise accuracy of the final model."""
    audit_warnings: tuple[str, ...] = ()
    """The audit's warnings (empty when the model is clearly better than length alone)."""


@dataclass(frozen=True)
class Encoded:
    """Tokenised pairs: per pair the chosen and rejected sides, and the required margin."""

    chosen: list[Ids]
    """Chosen (prompt ids, completion ids + EOS)."""
    rejected: list[Ids]
    """Rejected (prompt ids, completion ids + EOS)."""
    margins: list[float] | None
    """Per-pair margins, when any row has one."""
    pairs: list[PreferencePair]
    """The pairs kept, in the same order."""


# --- data -------------------------------------------------------------------------------------


def encode_preference(
    tokenizer: Any, pairs: list[PreferencePair], *, max_len: int
) -> tuple[Encoded, dict[str, int]]:
    """Tokenise pairs as the scorer does; drop those without a preference or too long.

    Returns:
        The kept pairs, and counts of the dropped ones (`same_ids`, `too_long`).
    """
    prompts = [p.prompt for p in pairs]
    eos = tokenizer.eos_token_id
    chosen = encode_pairs(tokenizer, prompts, [p.chosen for p in pairs], eos_id=eos)
    rejected = encode_pairs(tokenizer, prompts, [p.rejected for p in pairs], eos_id=eos)
    keep, dropped = [], {"same_ids": 0, "too_long": 0}
    for i, (c, r) in enumerate(zip(chosen, rejected, strict=True)):
        if c[1] == r[1]:
            dropped["same_ids"] += 1
        elif max(len(c[0]) + len(c[1]), len(r[0]) + len(r[1])) > max_len:
            dropped["too_long"] += 1
        else:
            keep.append(i)
    margins = [p.margin for p in pairs]
    has_margin = any(m is not None for m in margins)
    return (
        Encoded(
            [chosen[i] for i in keep],
            [rejected[i] for i in keep],
            [float(margins[i] or 0.0) for i in keep] if has_margin else None,
            [pairs[i] for i in keep],
        ),
        dropped,
    )


def prompt_key(tokenizer: Any, pair: PreferencePair) -> str:
    """The rendered prompt text: what makes two rows the same prompt."""
    return render_prompt(tokenizer, pair.prompt)


def split_by_prompt(
    tokenizer: Any, pairs: list[PreferencePair], share: float
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held-out): a prompt is held out when a hash of its text falls in `share`."""
    train: list[PreferencePair] = []
    held: list[PreferencePair] = []
    for p in pairs:
        bucket = zlib.crc32(prompt_key(tokenizer, p).encode()) % 10_000
        (held if bucket < share * 10_000 else train).append(p)
    return train, held


def _load_pairs(cfg: DataConfig, label: str) -> tuple[list[PreferencePair], str]:
    rows, fingerprint = preference_rows(cfg)
    if rows.kind != "paired":
        raise ValueError(
            f"{label}: reward-model training needs pairwise rows (prompt, chosen, rejected); "
            "these are unpaired (prompt, completion, label)"
        )
    return rows.pairs, fingerprint


def _raw_pairs(
    cfg: RewardModelConfig,
) -> tuple[list[PreferencePair], list[PreferencePair] | None, dict[str, str]]:
    """Training pairs, held-out pairs (None: split them off later) and their fingerprints."""
    pairs, data_hash = _load_pairs(cfg.data, "data")
    if cfg.eval_data is None:
        return pairs, None, {"train": data_hash}
    held, eval_hash = _load_pairs(cfg.eval_data, "eval_data")
    return pairs, held, {"train": data_hash, "eval": eval_hash}


def _encode(
    cfg: RewardModelConfig,
    tokenizer: Any,
    pairs: list[PreferencePair],
    held: list[PreferencePair] | None,
) -> tuple[Encoded, Encoded, dict[str, Any]]:
    """Encoded training and held-out pairs, and the split as the manifest states it."""
    how = "eval_data"
    if held is None:
        pairs, held = split_by_prompt(tokenizer, pairs, cfg.train.held_out_share)
        how = f"data split by prompt hash, {cfg.train.held_out_share:g} of prompts held out"
    train, dropped = encode_preference(tokenizer, pairs, max_len=cfg.train.max_len)
    evals, dropped_eval = encode_preference(tokenizer, held, max_len=cfg.train.max_len)
    for label, enc, drops in (("training", train, dropped), ("held-out", evals, dropped_eval)):
        if not enc.pairs:
            raise ValueError(f"no {label} pairs left (dropped: {drops}); check data and max_len")
        if any(drops.values()):
            print(
                f"reward_model: dropped {label} pairs: {drops['same_ids']} whose sides tokenise "
                f"to the same ids, {drops['too_long']} longer than train.max_len="
                f"{cfg.train.max_len}"
            )
    train_prompts = {prompt_key(tokenizer, p) for p in train.pairs}
    split = {
        "how": how,
        "train_pairs": len(train.pairs),
        "held_out_pairs": len(evals.pairs),
        "held_out_prompts_seen_in_training": sum(
            prompt_key(tokenizer, p) in train_prompts for p in evals.pairs
        ),
        "dropped_train": dropped,
        "dropped_held_out": dropped_eval,
    }
    return train, evals, split


# --- algorithm --------------------------------------------------------------------------------


def pair_step(
    backend: TrainBackend,
    enc: Encoded,
    rows: list[int],
    *,
    pad_id: int,
    micro: int,
    center: float,
    share_prefix: bool = True,
) -> dict[str, float]:
    """Gradients of one optimizer step over the pairs `rows`, accumulated over micro-batches.

    The loss is normalised by the whole step's pair count; each rank takes its share of the
    pairs (padding passes at zero weight, as `Dist.micro_batches` says), and the statistics are
    summed over ranks (`tokens`: prompt and completion tokens of both sides).
    """
    n = len(rows)
    device = model_device(backend.module)
    totals = {"loss": 0.0, "accuracy": 0.0, "margin": 0.0, "reward_mean": 0.0, "tokens": 0.0}
    for part, padding in backend.dist.micro_batches(n, micro):
        ids = rows[part]
        chosen, rejected, tokens = pair_scores(
            backend.forward_model,
            [enc.chosen[i] for i in ids],
            [enc.rejected[i] for i in ids],
            pad_id=pad_id,
            share_prefix=share_prefix,
        )
        margin = None
        if enc.margins is not None:
            margin = torch.tensor([enc.margins[i] for i in ids], device=device)
        loss, stats = bradley_terry_loss(
            chosen, rejected, margin=margin, center=center, global_pairs=n
        )
        if padding:
            backend.backward(loss * 0.0)
            continue
        backend.backward(loss)
        share = len(ids) / n
        totals["loss"] += float(loss.detach())
        totals["accuracy"] += stats["accuracy"] * share
        totals["margin"] += stats["score_margin"] * share
        totals["reward_mean"] += float((chosen + rejected).detach().mean()) / 2 * share
        totals["tokens"] += tokens
    return backend.dist.all_reduce_sum(totals)


def held_out_scores(
    backend: TrainBackend, enc: Encoded, *, pad_id: int, batch_size: int, collective: bool
) -> tuple[list[float], list[float]]:
    """Scores of the held-out chosen and rejected sides, the same on every rank.

    Rank 0 scores and broadcasts; with `collective` forward passes (ZeRO-3) every rank scores.
    """
    scores = None
    if backend.dist.is_main or collective:
        model = backend.module
        was_training = model.training
        model.eval()
        rows = score_rows(model, enc.chosen + enc.rejected, pad_id=pad_id, batch_size=batch_size)
        model.train(was_training)
        scores = (rows[: len(enc.chosen)], rows[len(enc.chosen) :])
    chosen, rejected = backend.dist.broadcast_object(scores)
    return chosen, rejected


def _eval_metrics(chosen: list[float], rejected: list[float], enc: Encoded) -> dict[str, float]:
    c, r = torch.tensor(chosen), torch.tensor(rejected)
    margin = None if enc.margins is None else torch.tensor(enc.margins)
    loss, _ = bradley_terry_loss(c, r, margin=margin)
    return {
        "eval/accuracy": pairwise_accuracy(chosen, rejected),
        "eval/loss": float(loss),
        "eval/margin": float((c - r).mean()),
    }


# --- plumbing ---------------------------------------------------------------------------------


def train(cfg: RewardModelConfig) -> RewardModelResult:
    """Train the reward model; resume from the run's last checkpoint if present; audit it."""
    check_lora_backend(cfg.model.lora, backend=cfg.backend)
    dist = launch(cfg.backend)
    if cfg.train.batch_size < dist.world_size:
        raise ValueError(f"train.batch_size must be at least the world size ({dist.world_size})")
    seed_everything(cfg.run.seed)
    pairs, held, hashes = _raw_pairs(cfg)
    run, resumed = open_trainer_run(cfg.run, cfg, stage="reward_model", datasets=hashes, dist=dist)
    model, tokenizer, new_head = load_reward_backbone(
        cfg.model, checkpoint=resumed.path if resumed is not None else None, head=cfg.head
    )
    train_enc, eval_enc, split = _encode(cfg, tokenizer, pairs, held)
    if resumed is None:
        run.update_manifest({"split": split, "new_head": new_head})
    model.train()
    backend = build_backend(cfg.backend, dist, model, cfg.optim, total_steps=cfg.train.max_steps)
    step, cursor = restore_training(resumed, run, backend)
    batches = Batches(len(train_enc.pairs), cfg.run.seed, cursor)
    step = _loop(cfg, run, backend, tokenizer, batches, train_enc, eval_enc, step)
    final = save_final(run, backend, tokenizer)
    save_merged_if_asked(cfg.model.lora, backend.module, tokenizer, final, main=dist.is_main)
    collective = cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3
    chosen, rejected = held_out_scores(
        backend,
        eval_enc,
        pad_id=tokenizer.pad_token_id,
        batch_size=cfg.train.score_batch_size,
        collective=collective,
    )
    warnings: tuple[str, ...] = ()
    if dist.is_main:
        audited = audit_scores(
            eval_enc.pairs,
            chosen,
            rejected,
            completion_lengths(tokenizer, [p.chosen for p in eval_enc.pairs]),
            completion_lengths(tokenizer, [p.rejected for p in eval_enc.pairs]),
            run.dir / "audit",
            source=split["how"],
            thresholds=cfg.audit,
            seed=cfg.run.seed,
        )
        print_findings(audited.stats, audited.out_dir)
        warnings = tuple(audited.stats.warnings)
        run.write_json("summary.json", {"steps": step, "audit": str(audited.out_dir)})
    run.close()
    backend.close()
    shutdown()
    return RewardModelResult(str(final), step, pairwise_accuracy(chosen, rejected), warnings)


def _loop(
    cfg: RewardModelConfig,
    run: Run,
    backend: TrainBackend,
    tokenizer: Any,
    batches: Batches,
    train_enc: Encoded,
    eval_enc: Encoded,
    step: int,
) -> int:
    t = cfg.train
    micro = t.micro_batch_size or t.batch_size
    pad_id = int(tokenizer.pad_token_id)
    collective = cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3
    with tqdm(
        total=t.max_steps,
        initial=step,
        desc="reward_model",
        dynamic_ncols=True,
        disable=not backend.dist.is_main,
    ) as bar:
        while step < t.max_steps:
            start = time.perf_counter()
            backend.zero_grad()
            stats = pair_step(
                backend,
                train_enc,
                batches.next(t.batch_size),
                pad_id=pad_id,
                micro=micro,
                center=t.center_rewards,
                share_prefix=t.share_prefix,
            )
            grad_norm = backend.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", acc=f"{stats['accuracy']:.2f}")
            metrics: dict[str, float] = {}
            if step % t.log_every == 0:
                metrics = {f"train/{k}": v for k, v in stats.items()}
                metrics.update({"train/grad_norm": grad_norm, "train/lr": backend.lr()})
                metrics["train/step_s"] = time.perf_counter() - start
            if step % t.eval_every == 0 or step == t.max_steps:
                scores = held_out_scores(
                    backend,
                    eval_enc,
                    pad_id=pad_id,
                    batch_size=t.score_batch_size,
                    collective=collective,
                )
                metrics.update(_eval_metrics(*scores, eval_enc))
                bar.write(f"step {step}: held-out accuracy {metrics['eval/accuracy']:.3f}")
            if metrics:
                run.log(step, metrics)
            if step % t.save_every == 0:
                save_checkpoint(
                    run.checkpoints,
                    step,
                    backend=backend,
                    tokenizer=tokenizer,
                    extra={"cursor": batches.cursor},
                    keep=t.keep_checkpoints,
                )
    return step
