"""Preference optimisation: DPO, cDPO, IPO, SimPO, ORPO on pairs, KTO on unpaired rows.

`rlvr train CONFIG.yaml` with `stage: dpo`. Each step draws `batch_size` rows in the run's
seeded order, scores each completion's summed log-probability under the policy (and the
reference), and takes one optimizer step on `algo.loss` (`rlvr.algorithms.preference`).

Deviations and choices:
  - Chosen and rejected go through one forward pass, interleaved (chosen 1, rejected 1, ...),
    and with `share_prefix` the prompt the two share runs once (`rlvr.models.tokens`).
  - Truncation policy: rows whose prompt is longer than `max_prompt_length` tokens are dropped
    and counted (a warning; an error when none is left); completions are cut from the end to
    fit `max_length` with the prompt kept whole, and counted. EOS ends every completion.
  - The reference is, in this order: the cached log-probabilities of `precompute_reference`
    (computed once by the starting policy, saved as `<run>/reference_logps.pt`, no reference
    model kept), the policy with its adapters off under LoRA, or a frozen copy.
  - KTO's KL baseline z0 pairs each row's prompt with the completion of the next row (in data
    order) that has another prompt, fixed before training so that its reference terms can be
    cached; z0 is taken over the whole batch (every rank's share) without gradients, as TRL.
  - Held-out greedy accuracy is measured on the distinct prompts of `eval_data` whose rows
    name a verifier, before the first step and every `eval_every` steps, with the mean length
    of the greedy completions (`eval/completion_tokens`: a planted length bias shows there).
  - The live monitors see each logged row through `monitor_view`: the training reward margin
    is their training reward, the held-out greedy completions their lengths and accuracy.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from rlvr.algorithms.preference import kto_baseline, kto_loss, pair_loss
from rlvr.backends import TrainBackend, build_backend, launch, shutdown
from rlvr.data import Sample
from rlvr.data.batches import Batches
from rlvr.data.preference import held_out_samples
from rlvr.models.loading import load_policy
from rlvr.models.lora import (
    as_reference,
    check_lora_backend,
    is_lora,
    reference,
    save_merged_if_asked,
)
from rlvr.models.tokens import pad_pairs, token_logprobs
from rlvr.monitors import Decision, Watch, open_watch
from rlvr.runs import Run, seed_everything
from rlvr.runs.checkpoint import open_trainer_run, restore_training, save_checkpoint, save_final
from rlvr.runs.contract import training_contract
from rlvr.trainers.dpo_config import (
    DPOAlgoConfig,
    DPOConfig,
    DPOResult,
    DPOTrainConfig,
    StoppedBy,
)
from rlvr.trainers.dpo_data import Encoded, Ids, encode_rows, load_preference_data

if TYPE_CHECKING:
    from rlvr.rewards import RewardRuntime

__all__ = [
    "DPOAlgoConfig",
    "DPOConfig",
    "DPOResult",
    "DPOTrainConfig",
    "Encoded",
    "encode_rows",
    "monitor_view",
    "sequence_logps",
    "train",
]

REFERENCE_FILE = "reference_logps.pt"
"""Cached reference log-probabilities in the run directory (`precompute_reference`)."""


# --- algorithm --------------------------------------------------------------------------------


def sequence_logps(
    model: Any, rows: list[tuple[Ids, Ids]], *, pad_id: int, share_prefix: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probabilities `[R]` and completion token counts `[R]`."""
    batch = pad_pairs(rows, pad_id=pad_id)
    start = batch.completion_start
    logprobs, _ = token_logprobs(
        model, batch, start=start, share_prefix=share_prefix, keep_logits=False
    )
    mask = batch.completion_mask[:, start:].to(logprobs.dtype)  # [R, W]
    return (logprobs * mask).sum(1), mask.sum(1)


@dataclass
class _Reference:
    """Where reference log-probabilities come from: a cache `[N, 2]` per split, else a model."""

    cache: dict[str, torch.Tensor] | None
    model: torch.nn.Module | None

    def logps(
        self, policy: Any, enc: Encoded, idx: list[int], split: str, *, pad_id: int, share: bool
    ) -> torch.Tensor:
        """Reference log-probabilities of `idx`, `[len(idx), 2]` (first, second)."""
        if self.cache is not None:
            return self.cache[split][idx]
        # no model and no adapters: the starting policy is the reference (`precompute`)
        start = self.model is None and not is_lora(policy)
        with (
            torch.no_grad(),
            nullcontext(policy) if start else as_reference(policy, self.model) as m,
        ):
            seq, _ = sequence_logps(m, enc.rows(idx), pad_id=pad_id, share_prefix=share)
        return seq.view(-1, 2)


def _kto_z0(
    s: _State, enc: Encoded, idx: list[int], split: str
) -> tuple[float, dict[int, torch.Tensor]]:
    """KTO's KL baseline over the whole batch `idx` (every rank's share), no gradients, and the
    reference log-probabilities `[2]` of this rank's rows (kept for the loss pass)."""
    share, pad = s.cfg.train.share_prefix, s.pad_id
    total = {"kl_sum": 0.0, "kl_n": 0.0}
    refs: dict[int, torch.Tensor] = {}
    micro = s.cfg.train.micro_batch_size or len(idx)
    for rows, padding in s.backend.dist.micro_batches(len(idx), micro):
        sub = idx[rows]
        pairs = [(enc.prompts[i], enc.second[i]) for i in sub]
        with torch.no_grad():
            policy, _ = sequence_logps(s.backend.module, pairs, pad_id=pad, share_prefix=share)
        ref = s.ref.logps(s.backend.module, enc, sub, split, pad_id=pad, share=share)  # [b, 2]
        refs.update(zip(sub, ref, strict=True))
        if not padding:
            total["kl_sum"] += float((policy - ref[:, 1]).sum())
            total["kl_n"] += len(sub)
    total = s.backend.dist.all_reduce_sum(total)
    return kto_baseline(torch.tensor([total["kl_sum"] / max(1.0, total["kl_n"])])), refs


def _losses(
    algo: DPOAlgoConfig,
    policy: torch.Tensor,
    tokens: torch.Tensor,
    ref: torch.Tensor | None,
    labels: torch.Tensor | None,
    *,
    z0: float,
    n_rows: int,
    n_tokens: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The configured loss of one micro-batch: `policy`, `tokens` `[2b]` interleaved for pairs,
    `[b]` (the completions) for KTO; `ref` `[b, 2]`."""
    if algo.loss == "kto":
        assert ref is not None and labels is not None
        logratio = policy - ref[:, 0]  # [b]
        loss, _ = kto_loss(
            logratio,
            labels,
            kl_baseline=z0,
            beta=algo.beta,
            desirable_weight=algo.desirable_weight,
            undesirable_weight=algo.undesirable_weight,
            global_rows=n_rows,
        )
        r, lp, good = algo.beta * logratio.detach(), policy.detach(), labels.bool()
        stats = {
            "sum/rewards/chosen": float(r[good].sum()),
            "sum/rewards/rejected": float(r[~good].sum()),
            "sum/logps/chosen": float(lp[good].sum()),
            "sum/logps/rejected": float(lp[~good].sum()),
            "n/chosen": float(good.sum()),
            "n/rejected": float((~good).sum()),
            "kl": z0,
        }
        return loss, stats
    loss, stats = pair_loss(
        algo.loss,
        policy[0::2],
        policy[1::2],
        chosen_tokens=tokens[0::2],
        rejected_tokens=tokens[1::2],
        ref_chosen=None if ref is None else ref[:, 0],
        ref_rejected=None if ref is None else ref[:, 1],
        beta=algo.beta,
        label_smoothing=algo.label_smoothing,
        gamma=algo.gamma,
        global_pairs=n_rows,
        global_chosen_tokens=n_tokens,
        sft_weight=algo.sft_weight,
    )
    return loss, stats


def preference_pass(
    s: _State, enc: Encoded, idx: list[int], split: str, *, grad: bool
) -> dict[str, float]:
    """Loss and statistics of the rows `idx` (one optimizer step's batch when `grad`).

    Each rank takes its share in micro-batches; the normalisers count the whole batch, so the
    gradients and the summed statistics match one process on the whole batch.
    """
    algo, share, pad = s.cfg.algo, s.cfg.train.share_prefix, s.pad_id
    kto = algo.loss == "kto"
    z0, kto_refs = _kto_z0(s, enc, idx, split) if kto else (0.0, {})
    n_tokens = sum(len(enc.first[i]) for i in idx)
    micro = s.cfg.train.micro_batch_size or len(idx)
    totals: dict[str, float] = {}
    for rows, padding in s.backend.dist.micro_batches(len(idx), micro):
        sub = idx[rows]
        model = s.backend.forward_model if grad else s.backend.module
        seqs = [(enc.prompts[i], enc.first[i]) for i in sub] if kto else enc.rows(sub)
        with torch.set_grad_enabled(grad):
            policy, tokens = sequence_logps(model, seqs, pad_id=pad, share_prefix=share)
        ref = None
        if kto:
            ref = torch.stack([kto_refs[i] for i in sub])
        elif algo.needs_reference:
            ref = s.ref.logps(s.backend.module, enc, sub, split, pad_id=pad, share=share)
        labels = None if enc.labels is None else torch.tensor([enc.labels[i] for i in sub])
        with torch.set_grad_enabled(grad):
            loss, stats = _losses(
                algo, policy, tokens, ref, labels, z0=z0, n_rows=len(idx), n_tokens=n_tokens
            )
        if grad:
            s.backend.backward(loss * 0.0 if padding else loss)
        if padding:
            continue
        weight = len(sub) / len(idx)
        stats["loss"] = float(loss.detach()) / weight
        seen = sum(2 * len(enc.prompts[i]) + len(enc.first[i]) + len(enc.second[i]) for i in sub)
        stats["tokens"] = seen / weight  # both sequences of a row, prompts included
        for key, value in stats.items():
            scale = 1.0 if key.startswith(("sum/", "n/")) else weight
            totals[key] = totals.get(key, 0.0) + value * scale
    return _finish_stats(s.backend.dist.all_reduce_sum(totals))


def _finish_stats(totals: dict[str, float]) -> dict[str, float]:
    """KTO's per-label sums become means; everything else is already a batch mean."""
    out = {k: v for k, v in totals.items() if not k.startswith(("sum/", "n/"))}
    for side in ("chosen", "rejected"):
        n = totals.get(f"n/{side}")
        if n is not None:
            out[f"rewards/{side}"] = totals[f"sum/rewards/{side}"] / n if n else 0.0
            out[f"logps/{side}"] = totals[f"sum/logps/{side}"] / n if n else 0.0
    if "n/chosen" in totals:
        out["rewards/margins"] = out["rewards/chosen"] - out["rewards/rejected"]
    return out


# --- plumbing ---------------------------------------------------------------------------------


@dataclass
class _State:
    cfg: DPOConfig
    run: Run
    backend: TrainBackend
    tokenizer: Any
    ref: _Reference
    train: Encoded
    held_out: Encoded | None
    samples: list[Sample]
    batches: Batches
    pad_id: int
    watch: Watch


def _precompute(
    backend: TrainBackend,
    frozen: torch.nn.Module | None,
    enc: Encoded,
    *,
    micro: int,
    pad_id: int,
    share: bool,
) -> torch.Tensor:
    """Reference log-probabilities `[N, 2]` of every row, each rank computing its share."""
    ref = _Reference(cache=None, model=frozen)
    found: dict[int, tuple[float, float]] = {}
    every = list(range(len(enc)))
    for rows, padding in backend.dist.micro_batches(len(enc), micro):
        values = ref.logps(backend.module, enc, every[rows], "", pad_id=pad_id, share=share)
        if not padding:
            found.update(zip(every[rows], map(tuple, values.tolist()), strict=True))
    for part in backend.dist.all_gather_object(found):
        found.update(part)
    return torch.tensor([found[i] for i in every], dtype=torch.float32)


def _reference(
    cfg: DPOConfig,
    run: Run,
    backend: TrainBackend,
    frozen: Any,
    splits: dict[str, Encoded],
    *,
    key: str,
    pad_id: int,
) -> _Reference:
    """The reference of the run: the cache (loaded, or computed now and saved), or a model."""
    if not cfg.algo.needs_reference:
        return _Reference(cache=None, model=None)
    if not cfg.algo.precompute_reference:
        return _Reference(cache=None, model=frozen)
    path = run.dir / REFERENCE_FILE
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            return _Reference(cache={k: v for k, v in saved.items() if k != "key"}, model=None)
    micro = cfg.train.micro_batch_size or cfg.train.batch_size
    share = cfg.train.share_prefix
    cache = {
        name: _precompute(backend, frozen, enc, micro=micro, pad_id=pad_id, share=share)
        for name, enc in splits.items()
    }
    if backend.dist.is_main:
        torch.save({**cache, "key": key}, path)
    backend.dist.barrier()
    return _Reference(cache=cache, model=None)


def _evaluate(s: _State, runtime: RewardRuntime | None) -> dict[str, float]:
    """Held-out pairwise statistics (`eval/rewards/*`), and greedy accuracy with the mean
    completion length when asked and the rows name verifiers."""
    out: dict[str, float] = {}
    if s.held_out is not None:
        stats = preference_pass(s, s.held_out, list(range(len(s.held_out))), "eval", grad=False)
        out.update({f"eval/{k}": v for k, v in stats.items() if k != "tokens"})
    if runtime is not None and s.samples:
        out.update(_greedy(s, runtime))
    s.backend.module.train()
    return out


def _greedy(s: _State, runtime: RewardRuntime) -> dict[str, float]:
    from rlvr.evaluate import held_out_accuracy, score_model

    cfg, model, dist = s.cfg, s.backend.module, s.backend.dist
    if dist.world_size == 1:
        scored = score_model(
            model,
            s.tokenizer,
            s.samples,
            generation=cfg.generation,
            runtime=runtime,
            seed=cfg.run.seed,
        )
        lengths = [
            len(ids)
            for ids in s.tokenizer(scored.completions, add_special_tokens=False)["input_ids"]
        ]
        return {
            "eval/accuracy": scored.accuracy,
            "eval/completion_tokens": statistics.fmean(lengths),
        }
    accuracy = held_out_accuracy(
        model,
        s.tokenizer,
        s.samples,
        generation=cfg.generation,
        runtime=runtime,
        dist=dist,
        collective_forward=cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3,
        seed=cfg.run.seed,
    )
    return {"eval/accuracy": accuracy}


def train(cfg: DPOConfig) -> DPOResult:
    """Run the preference stage; resumes from the run's last checkpoint when one exists."""
    check_lora_backend(cfg.model.lora, backend=cfg.backend)
    dist = launch(cfg.backend)
    if cfg.train.batch_size < dist.world_size:
        raise ValueError(f"train.batch_size must be at least the world size ({dist.world_size})")
    seed_everything(cfg.run.seed)
    rows, data_hash = load_preference_data(cfg.data, cfg.algo, "data")
    held, eval_hash = (
        load_preference_data(cfg.eval_data, cfg.algo, "eval_data")
        if cfg.eval_data
        else (None, None)
    )
    samples = held_out_samples(held) if held is not None else []
    datasets = {"train": data_hash, **({"eval": eval_hash} if eval_hash else {})}
    names = [x.verifier for x in samples]
    a, b = cfg.algo, cfg.backend
    contract = training_contract(
        stage="dpo",
        datasets=datasets,
        verifier_names=names,
        algorithm={"loss": a.loss, "beta": a.beta, "label_smoothing": a.label_smoothing,
                   "gamma": a.gamma, "sft_weight": a.sft_weight, "lr": cfg.optim.lr,
                   "batch_size": cfg.train.batch_size},
        kl_budget=None,
        max_steps=cfg.train.max_steps,
        max_seconds=cfg.train.max_seconds,
        backend={"kind": b.kind, "zero_stage": b.zero_stage if b.kind == "deepspeed" else None},
        world_size=dist.world_size,
    )  # fmt: skip
    run, resumed = open_trainer_run(
        cfg.run, cfg, stage="dpo", datasets=datasets, verifier_names=names, dist=dist,
        contract=contract,
    )  # fmt: skip
    model, tokenizer = load_policy(cfg.model, checkpoint=resumed.path if resumed else None)
    model.train()
    t = cfg.train
    limits = {"max_length": t.max_length, "max_prompt_length": t.max_prompt_length}
    splits = {"train": encode_rows(tokenizer, rows, what="data", **limits)}
    if held is not None:
        splits["eval"] = encode_rows(tokenizer, held, what="eval_data", **limits)
    frozen = None
    if cfg.algo.needs_reference and not (cfg.algo.precompute_reference and resumed is None):
        # a frozen start: a copy (a fresh load on resume), or under LoRA none at all
        frozen = reference(
            model, lambda: load_policy(cfg.model)[0] if resumed else copy.deepcopy(model)
        )
    backend = build_backend(cfg.backend, dist, model, cfg.optim, total_steps=t.max_steps)
    step, cursor = restore_training(resumed, run, backend)
    key = "|".join(
        map(str, (cfg.model.path, data_hash, eval_hash, *limits.values(), cfg.algo.loss))
    )
    pad_id = tokenizer.pad_token_id
    ref = _reference(cfg, run, backend, frozen, splits, key=key, pad_id=pad_id)
    state = _State(
        cfg, run, backend, tokenizer, ref, splits["train"], splits.get("eval"), samples,
        Batches(len(splits["train"]), cfg.run.seed, cursor), pad_id,
        open_watch(cfg.monitors, run, resumed_step=step, view=monitor_view),
    )  # fmt: skip
    enc = splits["train"]
    run.log(
        step,
        {
            "data/rows": len(enc),
            "data/dropped_rows": enc.dropped,
            "data/truncated_rows": enc.truncated,
        },
    )
    before, after, reward_acc, step, (stopped_by, reason), trained_s = _loop(
        state, step, fresh=resumed is None
    )
    final = save_final(run, backend, tokenizer)
    merged = save_merged_if_asked(
        cfg.model.lora, backend.module, tokenizer, final, main=dist.is_main
    )
    result = DPOResult(
        str(final), step, before, after, reward_acc, enc.dropped, enc.truncated, stopped_by,
        trained_s, None if merged is None else str(merged), reason,
    )  # fmt: skip
    summary = {**dataclasses.asdict(result), "monitor_events": len(state.watch.events)}
    run.write_json("summary.json", summary)
    run.close()
    backend.close()
    shutdown()
    return result


def monitor_view(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """What the monitors read from one logged row of the preference stage: the training reward
    margin as the training reward, the held-out greedy completions' mean length and accuracy."""
    names = {
        "train/rewards/margins": "reward/mean",
        "eval/completion_tokens": "completion/length_mean",
        "eval/accuracy": "eval/accuracy",
    }
    return {new: metrics[old] for old, new in names.items() if old in metrics}


def _observe(s: _State, step: int, metrics: dict[str, Any]) -> Decision:
    """Run the monitors on a row about to be logged; their statistics join the row."""
    view = monitor_view(metrics)
    decision = s.watch.observe(step, view)
    metrics.update({k: v for k, v in view.items() if k.startswith("monitor/")})
    return decision


def _loop(
    s: _State, step: int, *, fresh: bool
) -> tuple[float | None, float | None, float | None, int, tuple[StoppedBy, str], float]:
    t = s.cfg.train
    before = after = reward_acc = None
    trained_s = 0.0
    stopped_by: StoppedBy = "max_steps"
    reason = ""
    evaluated_at = -1
    with (
        _reward_runtime(s) as runtime,
        tqdm(total=t.max_steps, initial=step, desc=s.cfg.algo.loss, dynamic_ncols=True,
             disable=not s.backend.dist.is_main) as bar,
    ):  # fmt: skip
        if fresh and (s.held_out is not None):
            start_metrics = _evaluate(s, runtime)
            before = after = start_metrics.get("eval/accuracy")
            reward_acc = start_metrics.get("eval/rewards/accuracies")
            _observe(s, 0, start_metrics)
            s.run.log(0, start_metrics)
        while step < t.max_steps:
            if t.max_seconds is not None and trained_s >= t.max_seconds:
                stopped_by = "max_seconds"
                break
            start = time.perf_counter()
            s.backend.zero_grad()
            stats = preference_pass(s, s.train, s.batches.next(t.batch_size), "train", grad=True)
            grad_norm = s.backend.step()
            step += 1
            elapsed = time.perf_counter() - start
            trained_s += elapsed
            bar.update(1)
            bar.set_postfix(
                loss=f"{stats['loss']:.3f}", acc=f"{stats.get('rewards/accuracies', 0):.2f}"
            )
            metrics: dict[str, float] = {}
            if step % t.log_every == 0 or step == t.max_steps:
                metrics.update({f"train/{k}": v for k, v in stats.items()})
                metrics.update({"train/grad_norm": grad_norm, "train/lr": s.backend.lr(),
                                "time/step_s": elapsed, "time/trained_s": trained_s})  # fmt: skip
            if s.held_out is not None and (step % t.eval_every == 0 or step == t.max_steps):
                metrics.update(_evaluate(s, runtime))
                after = metrics.get("eval/accuracy", after)
                reward_acc = metrics.get("eval/rewards/accuracies", reward_acc)
                evaluated_at = step
                bar.write(_eval_line(step, metrics))
            decision = _observe(s, step, metrics) if metrics else Decision()
            if metrics:
                s.run.log(step, metrics)
            if step % t.save_every == 0 or decision.checkpoint:
                save_checkpoint(
                    s.run.checkpoints, step, backend=s.backend, tokenizer=s.tokenizer,
                    extra={"cursor": s.batches.cursor}, keep=t.keep_checkpoints,
                )  # fmt: skip
            if decision.stop:
                stopped_by, reason = "monitor", f"step {step}: {decision.reason}"
                bar.write(f"step {step}: stopped by the monitors: {decision.reason}")
                break
        if s.held_out is not None and evaluated_at != step and step > 0:
            last = _evaluate(s, runtime)
            after = last.get("eval/accuracy", after)
            reward_acc = last.get("eval/rewards/accuracies", reward_acc)
            s.run.log(step, last)
    return before, after, reward_acc, step, (stopped_by, reason), trained_s


def _reward_runtime(s: _State) -> Any:
    """The reward runtime for greedy accuracy, opened only when held-out rows name verifiers
    (imported here: a run without them never loads the verifiers' libraries)."""
    if not s.samples:
        return nullcontext(None)
    from rlvr.distributed import open_runtime

    return open_runtime(s.cfg.reward)


def _eval_line(step: int, metrics: dict[str, float]) -> str:
    parts = [f"step {step}:"]
    if "eval/rewards/accuracies" in metrics:
        parts.append(f"held-out reward accuracy {metrics['eval/rewards/accuracies']:.3f}")
    if "eval/accuracy" in metrics:
        parts.append(f"greedy accuracy {metrics['eval/accuracy']:.3f}")
    return " ".join(parts)
