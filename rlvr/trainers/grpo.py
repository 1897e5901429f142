"""Group rollout RL: GRPO, DAPO and Dr. GRPO as presets of one loop.

`rlvr train CONFIG.yaml` with `stage: grpo`. Each step: draw prompts, sample G completions per
prompt, score them with the rows' verifiers in the reward runtime, turn rewards into group
advantages, and take `num_iterations` optimizer steps on the clipped surrogate.

Deviations from the papers, and choices where they are silent:
  - Rows whose reward is an infrastructure failure (mask False in the reward runtime) are left
    out of the loss; in the group statistics their reward is replaced by the mean of the group's
    other rows, so they neither raise nor lower their neighbours' advantages.
  - With `num_iterations` (mu) > 1 the batch is reused for mu optimizer steps; the first step's
    ratio is exactly 1 because the "old" log-probabilities are computed by the same model
    before any update (not taken from the generation engine, whose numerics may differ). With
    mu = 1 no such pass runs: the old log-probabilities are the detached current ones (ratio 1,
    same gradient), which saves one forward pass per step.
  - Dynamic sampling (DAPO) drops zero-variance groups and samples more prompts, up to
    `max_refill_rounds` extra rollouts per step; if the batch is still short it trains on what
    it has and logs `rollout/refill_short`.
  - Log-probabilities in the loss are taken at the sampling temperature (logits / T), so the
    optimised policy is the one that drew the samples.
  - Overlong shaping (DAPO) is added to the reward before advantages; the verifier's own score is
    what `reward/*` metrics and the pass rate report.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

import torch
from tqdm import tqdm

from rlvr.algorithms.advantages import (
    group_advantages,
    masked_mean,
    overlong_penalty,
)
from rlvr.algorithms.losses import policy_loss
from rlvr.algorithms.presets import LossPreset
from rlvr.backends import Dist, TrainBackend, build_backend, launch, shutdown
from rlvr.data import Sample
from rlvr.data.batches import Batches
from rlvr.data.rows import load_rows
from rlvr.distributed import open_runtime
from rlvr.distributed.cluster import open_cluster
from rlvr.distributed.config import DistributedConfig
from rlvr.evaluate import held_out_accuracy
from rlvr.models.loading import load_policy
from rlvr.models.lora import as_reference, check_lora_backend, reference, save_merged_if_asked
from rlvr.models.reward_head import check_reward_model, model_device
from rlvr.models.tokens import TokenBatch, token_logprobs, token_logprobs_entropy
from rlvr.monitors import Watch, open_watch
from rlvr.rewards import RewardRuntime, reward_specs
from rlvr.rewards.learned import LearnedReward, completions, timed_score
from rlvr.rollout.build import Rollout, check_engine, open_rollout
from rlvr.rollout.collect import RoundConfig, collect
from rlvr.rollout.groups import Rollouts, rollout_metrics, sampling_logprobs, token_batch
from rlvr.runs import Run, seed_everything
from rlvr.runs.checkpoint import open_trainer_run, restore_training, save_checkpoint, save_final
from rlvr.runs.contract import training_contract
from rlvr.runs.report import write_run_report
from rlvr.trainers.grpo_config import (
    AlgoConfig,
    GRPOConfig,
    GRPOResult,
    GRPOTrainConfig,
    StoppedBy,
)

__all__ = ["AlgoConfig", "GRPOConfig", "GRPOResult", "GRPOTrainConfig", "Rollouts", "train"]


# --- algorithm --------------------------------------------------------------------------------


def shaped_rewards(r: Rollouts, cfg: GRPOConfig) -> torch.Tensor:
    """Verifier rewards plus overlong shaping, with masked rows set to their group's mean."""
    rewards = r.scores.clone()  # [N]
    buffer = cfg.algo.overlong_buffer_for(cfg.rollout.max_new_tokens)
    if buffer is not None:
        lengths = torch.tensor([len(ids) for g in r.groups for ids in g.completion_ids])
        rewards += overlong_penalty(
            lengths,
            max_len=cfg.rollout.max_new_tokens,
            buffer_len=buffer,
            penalty=cfg.algo.overlong_penalty,
        )
    grouped = rewards.view(-1, cfg.algo.group_size)  # [B, G]
    keep = r.mask.view_as(grouped).float()  # [B, G]
    mean = (grouped * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1)
    return torch.where(keep.bool(), grouped, mean).view(-1)  # [N]


def policy_step(
    backend: TrainBackend,
    batch: TokenBatch,
    old_logprobs: torch.Tensor | None,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    *,
    algo: LossPreset,
    cfg: GRPOConfig,
    sampled_logprobs: torch.Tensor | None = None,
) -> dict[str, float]:
    """Gradients of one optimizer step over the whole batch, accumulated over micro-batches.

    Log-probability tensors are `[N, L - batch.completion_start]`; `old_logprobs=None` means
    "the policy that sampled is the current one" (mu = 1): the ratio is exactly 1.
    `sampled_logprobs` are the engine's; their gap to the trainer's is logged as
    `logprob_gap` and, with `algo.tis_cap`, corrected by truncated importance weights.
    Each rank takes its share of the rows; the normalisers count the whole batch, and the
    returned statistics are summed over ranks.
    """
    first = batch.completion_start
    mask = batch.completion_mask[:, first:]  # [N, W]
    n = mask.shape[0]
    micro = cfg.algo.micro_batch_size or n
    global_tokens, global_seqs = int(mask.sum()), int((mask.sum(1) > 0).sum())
    totals: dict[str, float] = {}
    # every rank runs as many passes as the largest share needs (padding passes at zero weight)
    for rows, padding in backend.dist.micro_batches(n, micro):
        logprobs, entropy = token_logprobs_entropy(
            backend.forward_model,
            batch[rows],
            mask=mask[rows],
            temperature=cfg.rollout.temperature,
            start=first,
            share_prefix=cfg.train.share_prefix,
            entropy_grad=bool(cfg.algo.entropy_coef),
        )
        old = logprobs.detach() if old_logprobs is None else old_logprobs[rows]  # [n, W]
        is_weights, gap = None, {}
        if sampled_logprobs is not None:
            log_w = old - sampled_logprobs[rows]  # [n, W]: log pi_train / pi_sample
            gap["logprob_gap"] = float(masked_mean(log_w.abs(), mask[rows]))
            if cfg.algo.tis_cap is not None:
                is_weights = log_w.exp().clamp(max=cfg.algo.tis_cap)
                gap["is_weight_mean"] = float(masked_mean(is_weights, mask[rows]))
        loss, stats = policy_loss(
            logprobs,
            old,
            advantages[rows],
            mask[rows],
            eps_low=algo.eps_low,
            eps_high=algo.eps_high,
            agg_mode=algo.agg_mode,
            norm_len=cfg.rollout.max_new_tokens,
            global_tokens=global_tokens,
            global_seqs=global_seqs,
            ref_logprobs=None if ref_logprobs is None else ref_logprobs[rows],
            kl_coef=algo.kl_coef,
            kl_estimator=cfg.algo.kl_estimator,
            is_weights=is_weights,
        )
        stats.update(gap)
        if cfg.algo.entropy_coef:
            ent_sum = (entropy * mask[rows]).sum() / global_tokens
            loss = loss - cfg.algo.entropy_coef * ent_sum
        if padding:
            backend.backward(loss * 0.0)
            continue
        backend.backward(loss)
        share = float(mask[rows].sum()) / max(1, global_tokens)
        stats["entropy"] = float(masked_mean(entropy.detach(), mask[rows]))
        stats["loss"] = float(loss.detach()) / max(share, 1e-12)
        for key, value in stats.items():
            totals[key] = totals.get(key, 0.0) + value * share
    return backend.dist.all_reduce_sum(totals)


# --- plumbing ---------------------------------------------------------------------------------


def _train_step(
    backend: TrainBackend,
    ref: torch.nn.Module | None,
    use_ref: bool,
    r: Rollouts,
    algo: LossPreset,
    cfg: GRPOConfig,
    pad_id: int,
    step: int,
) -> dict[str, float]:
    rewards = shaped_rewards(r, cfg)  # [N]
    adv = group_advantages(
        rewards,
        group_size=cfg.algo.group_size,
        std_scaling=algo.std_scaling,
        leave_one_out=algo.leave_one_out,
    )
    batch = token_batch(r, pad_id)
    batch = replace(batch, completion_mask=batch.completion_mask * r.mask.long().unsqueeze(1))
    temperature, first = cfg.rollout.temperature, batch.completion_start
    sampled = sampling_logprobs(r, batch, first)  # [N, W]
    share = cfg.train.share_prefix
    with torch.no_grad():
        old = None
        if cfg.algo.num_iterations > 1:
            old = token_logprobs(
                backend.module,
                batch,
                temperature=temperature,
                start=first,
                share_prefix=share,
                keep_logits=False,
            )[0]
        ref_lp = None
        every = cfg.train.kl_every
        if use_ref and (algo.kl_coef > 0 or (every and step % every == 0)):
            with as_reference(backend.module, ref) as frozen:
                ref_lp = token_logprobs(
                    frozen,
                    batch,
                    temperature=temperature,
                    start=first,
                    share_prefix=share,
                    keep_logits=False,
                )[0]
    stats: dict[str, float] = {}
    for _ in range(cfg.algo.num_iterations):
        backend.zero_grad()
        stats = policy_step(
            backend, batch, old, ref_lp, adv, algo=algo, cfg=cfg, sampled_logprobs=sampled
        )
        stats["grad_norm"] = backend.step()
    stats["advantage_abs_mean"] = float(adv.abs().mean())
    return {f"train/{k}": v for k, v in stats.items()}


def _evaluate(cfg: GRPOConfig, s: _LoopState, runtime: RewardRuntime) -> float:
    accuracy = held_out_accuracy(
        s.model,
        s.tokenizer,
        s.held_out,
        generation=cfg.generation,
        runtime=runtime,
        dist=s.backend.dist,
        collective_forward=cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3,
        seed=cfg.run.seed,
    )
    s.model.train()
    return accuracy


def train(cfg: GRPOConfig) -> GRPOResult:
    """Run the GRPO stage; resumes from the run's last checkpoint when one exists."""
    cfg.algo.overlong_buffer_for(cfg.rollout.max_new_tokens)  # fail before writing anything
    check_engine(cfg.rollout)
    check_lora_backend(cfg.model.lora, backend=cfg.backend)
    if cfg.reward.model is not None:
        check_reward_model(cfg.reward.model.path)  # before the run directory is written
    if cfg.model.lora is not None and (cfg.rollout.engine != "hf" or cfg.distributed.kind == "ray"):
        raise ValueError(
            "model.lora trains with the in-process `hf` rollout engine only (vLLM and Ray "
            "engines load whole weights): set rollout.engine: hf and distributed.kind: none"
        )
    dist = launch(cfg.backend)
    d = cfg.distributed
    if dist.world_size > 1 and d.kind == "ray" and not d.rollout_workers:
        raise ValueError(
            "on several ranks, Ray runs on rank 0 and drives the rollouts: set "
            "distributed.rollout_workers > 0, or distributed.kind: none to score on every rank"
        )
    # a Ray cluster for `distributed.kind: ray`, on rank 0 (which drives the actors)
    with open_cluster(d if dist.is_main else DistributedConfig()):
        return _train(cfg, dist)


def _train(cfg: GRPOConfig, dist: Dist) -> GRPOResult:
    seed_everything(cfg.run.seed)
    samples, data_hash = load_rows(cfg.data)
    held_out, eval_hash = load_rows(cfg.eval_data) if cfg.eval_data else ([], None)
    datasets = {"train": data_hash, **({"eval": eval_hash} if eval_hash else {})}
    names = [*(x.verifier for x in [*samples, *held_out]), *(e.verifier for e in cfg.reward.extra)]
    algo = cfg.algo.resolved()
    run, resumed = open_trainer_run(
        cfg.run,
        cfg,
        stage="grpo",
        datasets=datasets,
        verifier_names=names,
        dist=dist,
        contract=_contract(cfg, algo, datasets, names, dist.world_size),
    )
    model_dir = cfg.model.path if resumed is None else str(resumed.path)
    model, tokenizer = load_policy(cfg.model, checkpoint=resumed.path if resumed else None)
    model.train()
    rollout = open_rollout(
        cfg.rollout,
        model=model,
        tokenizer=tokenizer,
        model_dir=model_dir,
        seed=cfg.run.seed,
        remote=_ray_rollout(cfg, model, model_dir),
        dist=dist,
        zero3=cfg.backend.kind == "deepspeed" and cfg.backend.zero_stage == 3,
    )
    seed_everything(cfg.run.seed)  # vLLM seeds the process as it starts: same state for both
    # the frozen start: a copy, or under LoRA the policy with its adapters off (no copy)
    use_ref = algo.kl_coef > 0 or cfg.train.kl_every > 0
    ref = None
    if use_ref:
        ref = reference(
            model,
            lambda: load_policy(cfg.model)[0] if resumed is not None else copy.deepcopy(model),
        )
    steps_total = cfg.train.max_steps * cfg.algo.num_iterations
    backend = build_backend(cfg.backend, dist, model, cfg.optim, total_steps=steps_total)
    step, cursor = restore_training(resumed, run, backend)
    watch = open_watch(cfg.monitors, run, resumed_step=step, first_step=1)  # step 0: eval only
    learned = _learned_reward(cfg, run, tokenizer, backend)
    state = _LoopState(
        run,
        model,
        tokenizer,
        ref,
        use_ref,
        algo,
        backend,
        Batches(len(samples), cfg.run.seed, cursor),
        samples,
        held_out,
        rollout,
        round_config(cfg, algo),
        watch,
        learned,
    )
    # vLLM's shutdown tears down torch.distributed groups, DeepSpeed's included: the engine
    # closes after the backend, and the process group goes last
    with rollout:
        before, after, step, stopped_by, trained_s = _loop(cfg, state, step, fresh=resumed is None)
        final = save_final(run, backend, tokenizer)
        save_merged_if_asked(cfg.model.lora, backend.module, tokenizer, final, main=dist.is_main)
        run.write_json(
            "summary.json",
            {
                "steps": step,
                "accuracy_before": before,
                "accuracy_after": after,
                "stopped_by": stopped_by,
                "trained_s": trained_s,
                "monitor_events": len(watch.events),
            },
        )
        run.close()
        if dist.is_main:
            write_run_report(run.dir, f"grpo: {cfg.run.name}", [("stopped by", stopped_by)])
        backend.close()
    shutdown()
    return GRPOResult(str(final), step, before, after, stopped_by, trained_s)


def _ray_rollout(cfg: GRPOConfig, model: Any, model_dir: str) -> Callable[[], Any] | None:
    """A factory of `hf` engines on Ray actors when the config asks for them (rank 0 calls it)."""
    d = cfg.distributed
    if d.kind != "ray" or not d.rollout_workers:
        return None
    from rlvr.distributed.rollout import ray_engine

    return partial(
        ray_engine, d, model=model, model_dir=model_dir, batch_size=cfg.rollout.batch_size
    )


def round_config(cfg: GRPOConfig, algo: LossPreset) -> RoundConfig:
    """The values a step's rollout rounds need, from the stage config and its resolved preset."""
    r, a = cfg.rollout, cfg.algo
    return RoundConfig(
        group_size=a.group_size,
        prompts_per_step=a.prompts_per_step,
        max_new_tokens=r.max_new_tokens,
        temperature=r.temperature,
        top_p=r.top_p,
        dynamic_sampling=algo.dynamic_sampling,
        zero_variance_atol=a.zero_variance_atol,
        max_refill_rounds=a.max_refill_rounds,
        random_reward=cfg.train.random_reward,
        seed=cfg.run.seed,
        extra=tuple(reward_specs(cfg.reward)),
    )


@dataclass
class _LoopState:
    run: Run
    model: Any
    tokenizer: Any
    ref: Any
    use_ref: bool
    algo: LossPreset
    backend: TrainBackend
    batches: Batches
    samples: list[Sample]
    held_out: list[Sample]
    rollout: Rollout
    rounds: RoundConfig
    watch: Watch
    learned: LearnedReward | None = None


def _learned_reward(
    cfg: GRPOConfig, run: Run, tokenizer: Any, backend: TrainBackend
) -> LearnedReward | None:
    """The `reward.model` source on the trainer's device, recorded in the manifest."""
    if cfg.reward.model is None:
        return None
    learned = LearnedReward(
        cfg.reward.model, policy_tokenizer=tokenizer, device=model_device(backend.module)
    )
    run.update_manifest({"reward_model": {"path": cfg.reward.model.path, "ids": learned.from_ids}})
    return learned


def _add_learned_reward(learned: LearnedReward, r: Rollouts, dist: Dist) -> dict[str, float]:
    """Score the step's completions with the reward model (each rank its share, gathered) and
    add them to `r.scores` by weight; returns the `reward/model_*` metrics."""
    rows = completions(r.groups)
    mine = dist.shard(len(rows))
    scores, seconds = timed_score(learned, rows[mine.start : mine.stop])
    raw = torch.tensor([x for part in dist.all_gather_object(scores) for x in part])
    verifier = r.scores.clone()
    r.scores, metrics = learned.mix(r.scores, raw, verifier, r.mask, r.group_size)
    return {**metrics, "reward/model_s": seconds}


def _contract(
    cfg: GRPOConfig, algo: LossPreset, datasets: dict[str, str], names: list[str], world: int
) -> dict[str, Any]:
    """The training contract pinned before step 0 (`rlvr.runs.contract`)."""
    b = cfg.backend
    return training_contract(
        stage="grpo",
        datasets=datasets,
        verifier_names=names,
        algorithm={"preset": cfg.algo.preset, **asdict(algo)},
        kl_budget=cfg.monitors.kl.budget if cfg.monitors.enabled else None,
        max_steps=cfg.train.max_steps,
        max_seconds=cfg.train.max_seconds,
        backend={"kind": b.kind, "zero_stage": b.zero_stage if b.kind == "deepspeed" else None},
        world_size=world,
    )


def _loop(
    cfg: GRPOConfig, s: _LoopState, step: int, *, fresh: bool
) -> tuple[float | None, float | None, int, StoppedBy, float]:
    before = after = None
    trained_s = 0.0
    stopped_by: StoppedBy = "max_steps"
    ray = cfg.distributed if s.backend.dist.is_main else None  # Ray lives on rank 0
    with (
        open_runtime(cfg.reward, ray) as runtime,
        tqdm(
            total=cfg.train.max_steps,
            initial=step,
            desc=f"{cfg.algo.preset}",
            dynamic_ncols=True,
            disable=not s.backend.dist.is_main,
        ) as bar,
    ):
        if s.held_out and fresh:
            before = after = _evaluate(cfg, s, runtime)
            s.run.log(0, {"eval/accuracy": before})
        while step < cfg.train.max_steps:
            if cfg.train.max_seconds is not None and trained_s >= cfg.train.max_seconds:
                stopped_by = "max_seconds"
                break
            start = time.perf_counter()
            rollouts, metrics = collect(s.rollout, runtime, s.batches, s.samples, s.rounds, step)
            metrics.update(rollout_metrics(rollouts, time.perf_counter() - start))
            if s.learned is not None and rollouts.groups:
                metrics.update(_add_learned_reward(s.learned, rollouts, s.backend.dist))
            if rollouts.groups:
                metrics.update(
                    _train_step(
                        s.backend,
                        s.ref,
                        s.use_ref,
                        rollouts,
                        s.algo,
                        cfg,
                        s.tokenizer.pad_token_id,
                        step,
                    )
                )
                metrics.update(s.rollout.after_update(s.model, weights=s.backend.full_params))
            step += 1
            elapsed = time.perf_counter() - start
            trained_s += elapsed
            metrics.update(
                {
                    "time/step_s": elapsed,
                    "time/trained_s": trained_s,
                    "train/lr": s.backend.lr(),
                }
            )
            bar.update(1)
            bar.set_postfix(reward=f"{metrics.get('reward/mean', 0.0):.3f}")
            if s.held_out and (step % cfg.train.eval_every == 0 or step == cfg.train.max_steps):
                after = _evaluate(cfg, s, runtime)
                metrics["eval/accuracy"] = after
                bar.write(f"step {step}: held-out accuracy {after:.3f}")
            scores = rollouts.scores.tolist()
            decision = s.watch.observe(step, metrics, rollouts.groups, scores)
            s.run.log(step, metrics)
            if step % cfg.train.save_every == 0 or decision.checkpoint:
                save_checkpoint(
                    s.run.checkpoints,
                    step,
                    backend=s.backend,
                    tokenizer=s.tokenizer,
                    extra={"cursor": s.batches.cursor},
                    keep=cfg.train.keep_checkpoints,
                )
            if decision.stop:
                stopped_by = "monitor"
                bar.write(f"step {step}: stopped by the monitors: {decision.reason}")
                break
        if s.held_out and step % cfg.train.eval_every != 0 and step < cfg.train.max_steps:
            after = _evaluate(cfg, s, runtime)
            s.run.log(step, {"eval/accuracy": after})
    return before, after, step, stopped_by, trained_s
