"""KL-tracked RLHF: PPO (critic + GAE) and REINFORCE++ (critic-free) as presets of one loop.

`rlvr train CONFIG.yaml` with `stage: ppo`. Each step: sample completions, score them (the
rows' verifiers, a learned reward model, or both), take the policy's, the reference's and the
critic's values of the completion tokens, turn score and per-token KL into per-token rewards
(`kl_reward`), advantages by GAE (ppo) or returns normalised over the batch (reinforce_pp),
then `ppo_epochs` passes in mini-batches with the clipped surrogate and value losses. Beta
follows `kl.controller`; `kl.ceiling` stops the run or rolls it back.

Deviations from the papers, and choices where they are silent:
  - KL is measured per completion (the sum of the per-token estimate, k1 by default, at the
    sampling temperature) averaged over the batch: `kl/mean`, the unit of `kl.target` and
    `kl.ceiling`; `train/kl` (for the monitors and the report) is the per-token mean.
  - The KL of step s is the KL of the policy that sampled it (after s updates), measured before
    that step's update. Past `kl.ceiling` the batch is not trained on: `stop` ends the run with
    that policy as `final/`; `rollback` restores the newest checkpoint of an earlier step (the
    checkpoint of step s holds the policy that crossed), multiplies beta by
    `kl.rollback_factor` (at least `kl.rollback_min_beta`), and goes on with fresh prompts.
    Either way the crossing step is logged and counts as a step; the console, `summary.json`
    and the report say at which step and why.
  - Rows the reward runtime masked (verifier or machine failures) and rows with a non-finite
    learned score are left out of the loss and counted (`reward/masked_rows`).
  - Old log-probabilities and values come from a no-grad pass of the trainer's models, so the
    first pass's ratio is exactly 1. A value head reads the policy's pass (loss weighted by
    `critic.vf_coef`); a separate critic has its own optimizer (`critic.lr`).
  - `advantages/mean`, `returns/mean` are logged before whitening; `reward/mean` is the score
    the policy is trained on (the verifiers' own: `reward/<verifier>/mean`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rlvr.algorithms import (
    KLController,
    RLHFPreset,
    discounted_returns,
    entropy_from_logits,
    explained_variance,
    gae,
    kl_reward,
    masked_mean,
    policy_loss,
    sequence_scores,
    value_loss,
    whiten,
)
from rlvr.algorithms.kl import make_kl_controller
from rlvr.backends import Dist, TrainBackend, build_backend, launch, shutdown
from rlvr.data import Sample
from rlvr.data.batches import Batches
from rlvr.data.rows import load_rows
from rlvr.distributed import open_runtime
from rlvr.evaluate import held_out_accuracy
from rlvr.models import value_head as vh
from rlvr.models.loading import load_policy, load_weights
from rlvr.models.lora import as_reference, check_lora_backend, reference, save_merged_if_asked
from rlvr.models.reward_head import check_reward_model, model_device
from rlvr.models.tokens import TokenBatch, token_logprobs
from rlvr.monitors import Watch, open_watch
from rlvr.rewards import RewardRuntime
from rlvr.rewards.learned import LearnedReward, completions, timed_score
from rlvr.rollout.build import Rollout, check_engine, open_rollout
from rlvr.rollout.collect import RoundConfig, collect
from rlvr.rollout.groups import Rollouts, rollout_metrics, sampling_logprobs, token_batch
from rlvr.runs import Run, seed_everything
from rlvr.runs import checkpoint as ckpt
from rlvr.runs.report import write_run_report
from rlvr.trainers.ppo_config import PPOConfig, PPOResult, ScoreConfig, StoppedBy

__all__ = ["PPOConfig", "PPOResult", "train"]


# --- algorithm --------------------------------------------------------------------------------


def _scores(
    r: Rollouts, cfg: ScoreConfig, learned: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """`sequence_scores` of the step's completions, and their counts."""
    lengths = torch.tensor([len(ids) for g in r.groups for ids in g.completion_ids])  # [N]
    stopped = torch.tensor([f == "stop" for g in r.groups for f in g.finish_reasons])  # [N]
    scores, keep = sequence_scores(
        r.scores,
        r.mask,
        lengths,
        stopped,
        verifier_weight=cfg.verifier_weight,
        learned=learned,
        missing_eos_penalty=cfg.missing_eos_penalty,
        length_penalty=cfg.length_penalty,
    )
    metrics = {"reward/masked_rows": float((~keep).sum())}
    if learned is not None:
        metrics["reward/model_nonfinite"] = float((~torch.isfinite(learned)).sum())
    if bool(keep.any()):  # what the policy is trained on (the verifiers': reward/<name>/mean)
        metrics["reward/mean"] = float(scores[keep].mean())
    return scores, keep, metrics


# --- plumbing ---------------------------------------------------------------------------------

NAMES = dict(clip_frac="policy/clipfrac", approx_kl="policy/approx_kl", value_loss="value/loss")
NAMES.update(value_clip_frac="value/clipfrac", critic_grad_norm="value/grad_norm")
"""Statistics of the update -> their metric names (others: `train/<name>`)."""


@dataclass
class _State:
    run: Run
    tokenizer: Any
    ref: Any
    backend: TrainBackend
    critic: TrainBackend | None
    preset: RLHFPreset
    ctl: KLController
    batches: Batches
    samples: list[Sample]
    held_out: list[Sample]
    rollout: Rollout
    rounds: RoundConfig
    watch: Watch
    rollbacks: int = 0
    masked_rows: int = 0
    head: Any = None
    """The value head on the policy, if the critic is one."""
    learned: LearnedReward | None = None
    """The learned reward model (`reward.model`), if any."""


@dataclass
class _Prepared:
    """A scored batch with everything the update needs, `[N, W]` tensors."""

    batch: TokenBatch
    first: int
    old: torch.Tensor
    values: torch.Tensor | None
    adv: torch.Tensor
    returns: torch.Tensor
    kl_mean: float
    metrics: dict[str, float]
    scores: list[float]
    """The sequence scores, for the monitors' samples."""


def _learned_part(s: _State, cfg: PPOConfig, r: Rollouts) -> tuple[Any, dict[str, float]]:
    """The reward model's weighted part of each score, `[N]` (NaN where it gave no finite
    score), and its `reward/model_*` metrics; each rank scores its share of the rows."""
    if s.learned is None:
        return None, {}
    rows, dist = completions(r.groups), s.backend.dist
    mine = dist.shard(len(rows))
    scores, seconds = timed_score(s.learned, rows[mine.start : mine.stop])
    raw = torch.tensor([x for part in dist.all_gather_object(scores) for x in part])  # [N]
    finite = torch.isfinite(raw)
    kept = (r.mask if cfg.score.verifier_weight > 0 else finite) & finite
    zeros = torch.zeros_like(raw)
    part, metrics = s.learned.mix(
        zeros, torch.where(finite, raw, zeros), r.scores, kept, r.group_size
    )
    return torch.where(finite, part, raw), {**metrics, "reward/model_s": seconds}


@torch.no_grad()
def _prepare(s: _State, cfg: PPOConfig, r: Rollouts) -> _Prepared:
    """Scores, the no-grad passes (policy, reference, critic), rewards and advantages."""
    learned, metrics = _learned_part(s, cfg, r)
    scores, keep, score_metrics = _scores(r, cfg.score, learned)
    metrics.update(score_metrics)
    s.masked_rows += int((~keep).sum())
    batch = token_batch(r, s.tokenizer.pad_token_id)
    batch = replace(batch, completion_mask=batch.completion_mask * keep.long().unsqueeze(1))
    first, temp, share = batch.completion_start, cfg.rollout.temperature, cfg.train.share_prefix
    mask = batch.completion_mask[:, first:]  # [N, W]
    policy = s.backend.module
    old, _, values = vh.policy_pass(
        policy, batch, start=first, temperature=temp, share_prefix=share, head=s.head
    )
    with as_reference(policy, s.ref) as frozen:
        ref, _ = token_logprobs(
            frozen, batch, temperature=temp, start=first, share_prefix=share, keep_logits=False
        )
    if s.critic is not None:
        values = vh.token_values(s.critic.module, batch, start=first)  # [N, W]
    rewards, kl = kl_reward(
        scores, old, ref, mask, beta=s.ctl.value, estimator=cfg.kl.estimator
    )  # [N, W]
    g = s.preset.gamma
    if values is not None:  # ppo: GAE with the critic's values
        raw_adv, returns = gae(rewards, values, mask, gamma=g, lam=s.preset.lam)
    else:  # reinforce_pp: the returns are the advantages
        raw_adv = returns = discounted_returns(rewards, mask, gamma=g)
    adv = whiten(raw_adv, mask) if s.preset.whiten_advantages else raw_adv
    kl_mean = float(kl.sum(1)[keep].mean()) if bool(keep.any()) else 0.0
    gap = (old - sampling_logprobs(r, batch, first)).abs()  # [N, W]: trainer vs engine
    metrics["rollout/logprob_gap"] = float(masked_mean(gap, mask))
    metrics.update(
        {
            "kl/mean": kl_mean,
            "kl/beta": s.ctl.value,
            "train/kl": float(masked_mean(kl, mask)),
            "returns/mean": float(masked_mean(returns, mask)),
            "advantages/mean": float(masked_mean(raw_adv, mask)),
        }
    )
    if values is not None:
        metrics["value/mean"] = float(masked_mean(values, mask))
        metrics["value/explained_variance"] = explained_variance(values, returns, mask)
    return _Prepared(batch, first, old, values, adv, returns, kl_mean, metrics, scores.tolist())


def _policy_micro(
    s: _State, cfg: PPOConfig, p: _Prepared, sub: TokenBatch, rows: Any, counts: tuple[int, int]
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor | None]:
    """The policy's loss on one micro-batch (`rows` index the batch), its statistics, and the
    value head's values when the critic is one."""
    mask = sub.completion_mask[:, p.first :]  # [n, W]
    lp, logits, values = vh.policy_pass(
        s.backend.forward_model,
        sub,
        start=p.first,
        temperature=cfg.rollout.temperature,
        share_prefix=cfg.train.share_prefix and not cfg.zero3,  # see PPOConfig.zero3
        head=s.head,
    )
    loss, stats = policy_loss(
        lp,
        p.old[rows],
        p.adv[rows],
        mask,
        eps_low=s.preset.eps,
        eps_high=s.preset.eps,
        agg_mode=cfg.algo.agg_mode,
        norm_len=cfg.rollout.max_new_tokens,
        global_tokens=counts[0],
        global_seqs=counts[1],
    )
    with torch.set_grad_enabled(bool(cfg.algo.entropy_coef)):
        entropy = entropy_from_logits(logits, mask)  # [n, W]
    if cfg.algo.entropy_coef:
        loss = loss - cfg.algo.entropy_coef * (entropy * mask).sum() / counts[0]
    stats["entropy"] = float(masked_mean(entropy.detach(), mask))
    return loss, stats, values


def _minibatch_step(
    s: _State, cfg: PPOConfig, p: _Prepared, rows: torch.Tensor, policy_on: bool
) -> dict[str, float]:
    """One optimizer step over the rows `rows` of the batch: the critic's, and the policy's
    unless `policy_on` is False (critic warm-up; a value head then learns through the body)."""
    b = p.batch
    sub = TokenBatch(b.input_ids[rows], b.attention_mask[rows], b.completion_mask[rows])
    mask = sub.completion_mask[:, p.first :]  # [n, W]
    counts = int(mask.sum()), int((mask.sum(1) > 0).sum())
    if counts[0] == 0:
        return {}
    run_policy = policy_on or s.critic is None
    n, micro = len(rows), cfg.algo.micro_batch_size or len(rows)
    s.backend.zero_grad()
    if s.critic is not None:
        s.critic.zero_grad()
    totals: dict[str, float] = {}
    for part, padding in s.backend.dist.micro_batches(n, micro):
        loss, values, stats = torch.zeros(()), None, dict[str, float]()
        if run_policy:
            loss, stats, values = _policy_micro(s, cfg, p, sub[part], rows[part], counts)
            loss = loss if policy_on else loss * 0.0
        if s.critic is not None:
            values = vh.token_values(s.critic.forward_model, sub[part], start=p.first)
        if values is not None:
            assert p.values is not None
            v_loss, v_stats = value_loss(
                values,
                p.values[rows[part]],
                p.returns[rows[part]],
                mask[part],
                clip_range=s.preset.value_clip,
                global_tokens=counts[0],
            )
            stats.update(v_stats, value_loss=float(v_loss.detach()))
            if s.critic is not None:
                s.critic.backward(v_loss * (0.0 if padding else 1.0))
            else:
                loss = loss + cfg.critic.vf_coef * v_loss
        if run_policy:
            s.backend.backward(loss * (0.0 if padding else 1.0))
            stats["loss"] = float(loss.detach())
        share = float(mask[part].sum()) / counts[0]
        for key, value in stats.items() if not padding else ():
            # losses are already this pass's share of the whole; statistics are means
            totals[key] = totals.get(key, 0.0) + value * (1.0 if "loss" in key else share)
    out = s.backend.dist.all_reduce_sum(totals)
    if run_policy:
        out["grad_norm"] = s.backend.step()
    if s.critic is not None:
        out["critic_grad_norm"] = s.critic.step()
    return out


def _update(s: _State, cfg: PPOConfig, p: _Prepared, step: int) -> dict[str, float]:
    """`ppo_epochs` passes over the batch in (shuffled) mini-batches; mean statistics."""
    n = p.batch.input_ids.shape[0]
    size = cfg.algo.mini_batch_size or n
    generator = torch.Generator().manual_seed(cfg.run.seed * 1_000_003 + step)
    sums: dict[str, float] = {}
    count, policy_on = 0, step >= cfg.critic.warmup_steps or not s.preset.critic
    for _ in range(cfg.algo.ppo_epochs):
        order = torch.arange(n) if size >= n else torch.randperm(n, generator=generator)
        for start in range(0, n, size):
            rows = order[start : start + size].sort().values  # a prompt's rows side by side
            stats = _minibatch_step(s, cfg, p, rows, policy_on)
            count += bool(stats)
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
    return {NAMES.get(k, f"train/{k}"): v / max(1, count) for k, v in sums.items()}


def _rollback(s: _State, cfg: PPOConfig, step: int) -> str | None:
    """Restore the newest checkpoint of a step before `step` and raise beta; what happened,
    in words, or None when there is no such checkpoint."""
    resumed = ckpt.roll_back(
        s.run.checkpoints,
        step,
        s.backend,
        parts={"critic": s.critic} if s.critic is not None else None,
        load_weights=load_weights if cfg.backend.kind == "torch" else None,
    )
    if resumed is None:
        return None
    before = s.ctl.value
    s.ctl.value = max(before * cfg.kl.rollback_factor, cfg.kl.rollback_min_beta)
    s.rollbacks += 1
    beta = f"beta {before:.4g} -> {s.ctl.value:.4g}"
    return f"rolled back to the checkpoint of step {resumed.step}, {beta}"


def _save(s: _State, cfg: PPOConfig, step: int) -> None:
    ckpt.save_checkpoint(
        s.run.checkpoints,
        step,
        backend=s.backend,
        tokenizer=s.tokenizer,
        extra=dict(
            cursor=s.batches.cursor, beta=s.ctl.value, rollbacks=s.rollbacks, masked=s.masked_rows
        ),
        keep=cfg.train.keep_checkpoints,
        parts={"critic": s.critic} if s.critic is not None else None,
    )


def _save_final(s: _State, cfg: PPOConfig) -> Path:
    """`final/`: the policy alone (no value head: a plain causal LM), the critic beside it."""
    with vh.without_value_head(s.backend.module):
        final = ckpt.save_final(s.run, s.backend, s.tokenizer)
    if s.critic is not None:
        s.critic.save_pretrained(final / "critic")
    main = s.backend.dist.is_main
    save_merged_if_asked(cfg.model.lora, s.backend.module, s.tokenizer, final, main=main)
    return final


def _evaluate(cfg: PPOConfig, s: _State, runtime: RewardRuntime) -> float:
    accuracy = held_out_accuracy(
        s.backend.module,
        s.tokenizer,
        s.held_out,
        generation=cfg.generation,
        runtime=runtime,
        dist=s.backend.dist,
        collective_forward=cfg.zero3,
        seed=cfg.run.seed,
    )
    s.backend.module.train()
    return accuracy


def train(cfg: PPOConfig) -> PPOResult:
    """Run the PPO stage; resumes from the run's last checkpoint when one exists."""
    check_engine(cfg.rollout)
    check_lora_backend(cfg.model.lora, backend=cfg.backend)
    preset = cfg.algo.resolved()
    if cfg.reward.model is not None:  # before anything is written
        check_reward_model(cfg.reward.model.path)
    if preset.critic and cfg.critic.path is not None:
        vh.check_critic(cfg.critic.path, cfg.model.path, head=cfg.critic.kind == "head")
    return _train(cfg, launch(cfg.backend), preset)


def _models(
    cfg: PPOConfig, preset: RLHFPreset, resumed: ckpt.Resumed | None
) -> tuple[Any, Any, Any, Any]:
    """(policy, tokenizer, reference or None under LoRA, separate critic or None)."""
    model, tokenizer = load_policy(cfg.model, checkpoint=resumed.path if resumed else None)
    model.train()
    ref = reference(
        model, lambda: load_policy(cfg.model)[0] if resumed is not None else copy.deepcopy(model)
    )
    if not preset.critic:
        return model, tokenizer, ref, None
    kind, m = cfg.critic.kind, cfg.model
    start = cfg.critic.path or (m.path if kind == "separate" else None)
    checkpoint = resumed.path if resumed is not None else None
    critic = vh.build_critic(
        kind, model, start=start, checkpoint=checkpoint, dtype=m.dtype, trust=m.trust_remote_code
    )
    return model, tokenizer, ref, critic


def _train(cfg: PPOConfig, dist: Dist, preset: RLHFPreset) -> PPOResult:
    seed_everything(cfg.run.seed)
    samples, data_hash = load_rows(cfg.data)
    held_out, eval_hash = load_rows(cfg.eval_data) if cfg.eval_data else ([], None)
    datasets = {"train": data_hash, **({"eval": eval_hash} if eval_hash else {})}
    names = [*(x.verifier for x in [*samples, *held_out]), *(e.verifier for e in cfg.reward.extra)]
    run, resumed = ckpt.open_trainer_run(
        cfg.run,
        cfg,
        stage="ppo",
        datasets=datasets,
        verifier_names=names,
        dist=dist,
        contract=cfg.contract(preset, datasets, names, dist.world_size),
    )
    model, tokenizer, ref, critic_model = _models(cfg, preset, resumed)
    rollout = open_rollout(
        cfg.rollout,
        model=model,
        tokenizer=tokenizer,
        model_dir=cfg.model.path if resumed is None else str(resumed.path),
        seed=cfg.run.seed,
        dist=dist,
        zero3=cfg.zero3,
    )
    seed_everything(cfg.run.seed)  # vLLM seeds the process as it starts: same state for both
    total = cfg.train.max_steps * cfg.algo.updates_per_step
    backend = build_backend(cfg.backend, dist, model, cfg.optim, total_steps=total)
    c_optim = replace(cfg.optim, lr=cfg.critic.lr or cfg.optim.lr)
    critic = None
    if critic_model is not None:
        critic = build_backend(cfg.backend, dist, critic_model, c_optim, total_steps=total)
    step, cursor = ckpt.restore_training(resumed, run, backend)
    extra = resumed.state["extra"] if resumed is not None else {}
    if resumed is not None and critic is not None:
        ckpt.load_part_state(resumed, "critic", critic)
    beta = extra.get("beta", cfg.kl.beta if cfg.kl.beta is not None else preset.kl_coef)
    s = _State(
        run,
        tokenizer,
        ref,
        backend,
        critic,
        preset,
        make_kl_controller(
            cfg.kl.controller, beta=float(beta), target=cfg.kl.target, horizon=cfg.kl.horizon
        ),
        Batches(len(samples), cfg.run.seed, cursor),
        samples,
        held_out,
        rollout,
        cfg.rounds(),
        open_watch(cfg.monitors, run, resumed_step=step, first_step=1),  # step 0: eval only
        rollbacks=int(extra.get("rollbacks", 0)),
        masked_rows=int(extra.get("masked", 0)),
        head=vh.value_head(model),
        learned=_learned_reward(cfg, run, tokenizer, backend),
    )
    if resumed is None and cfg.kl.ceiling is not None and cfg.kl.on_ceiling == "rollback":
        _save(s, cfg, 0)  # the start: a checkpoint under the ceiling to roll back to
    with rollout:
        out = _loop(cfg, s, step, fresh=resumed is None)
        final = _save_final(s, cfg)
        result = PPOResult(str(final), *out, rollbacks=s.rollbacks, masked_rows=s.masked_rows)
        run.write_json("summary.json", {**asdict(result), "monitor_events": len(s.watch.events)})
        run.close()
        if dist.is_main:
            stop = result.stopped_by + (f": {result.stop_reason}" if result.stop_reason else "")
            rows = [("stopped by", stop), ("rollbacks", str(s.rollbacks))]
            rows += [("rows left out of the loss (masked)", str(s.masked_rows))]
            write_run_report(run.dir, f"{cfg.algo.preset}: {cfg.run.name}", rows)
        backend.close()
        if critic is not None:
            critic.close()
    shutdown()
    return result


def _learned_reward(cfg: PPOConfig, run: Run, tokenizer: Any, backend: TrainBackend) -> Any:
    if cfg.reward.model is None:
        return None
    device = model_device(backend.module)
    learned = LearnedReward(cfg.reward.model, policy_tokenizer=tokenizer, device=device)
    run.update_manifest({"reward_model": {"path": cfg.reward.model.path, "ids": learned.from_ids}})
    return learned


@dataclass
class _Ending:
    stopped_by: StoppedBy = "max_steps"
    reason: str = ""


def _at_ceiling(s: _State, cfg: PPOConfig, p: _Prepared, step: int, end: _Ending) -> str | None:
    """None while `kl/mean` is under `kl.ceiling`; else roll back or stop (filling `end`) and
    say what happened, in words."""
    ceiling = cfg.kl.ceiling
    if ceiling is None or p.kl_mean <= ceiling:
        return None
    crossed = f"KL {p.kl_mean:.4g} nats/completion passed kl.ceiling {ceiling:g}"
    if cfg.kl.on_ceiling == "rollback" and s.rollbacks < cfg.kl.max_rollbacks:
        done = _rollback(s, cfg, step)
        if done is not None:
            return f"{crossed}: {done}"
        crossed += " with no earlier checkpoint to roll back to"
    elif cfg.kl.on_ceiling == "rollback":
        crossed += f" after {s.rollbacks} rollbacks (kl.max_rollbacks)"
    end.stopped_by, end.reason = "kl_ceiling", f"step {step + 1}: {crossed}; stopped"
    return end.reason


def _loop(
    cfg: PPOConfig, s: _State, step: int, *, fresh: bool
) -> tuple[int, float | None, float | None, StoppedBy, str, float]:
    before = after = None
    trained_s, end, evaluated = 0.0, _Ending(), step
    main = s.backend.dist.is_main
    weights = None if s.head is None else (lambda: vh.policy_weights(s.backend.full_params()))
    with (
        open_runtime(cfg.reward, None) as runtime,
        tqdm(
            total=cfg.train.max_steps, initial=step, desc=cfg.algo.preset, disable=not main
        ) as bar,
    ):
        if s.held_out and fresh:
            before = after = _evaluate(cfg, s, runtime)
            s.run.log(0, {"eval/accuracy": before})
        evaluated = step
        while step < cfg.train.max_steps:
            if cfg.train.max_seconds is not None and trained_s >= cfg.train.max_seconds:
                end.stopped_by = "max_seconds"
                break
            start = time.perf_counter()
            rollouts, metrics = collect(s.rollout, runtime, s.batches, s.samples, s.rounds, step)
            metrics.update(rollout_metrics(rollouts, time.perf_counter() - start))
            if cfg.algo.samples_per_prompt == 1:  # one-sample groups are flat by construction
                metrics.pop("rollout/zero_variance_share", None)
            p = _prepare(s, cfg, rollouts)
            metrics.update(p.metrics)
            event = _at_ceiling(s, cfg, p, step, end)
            if event is None:
                metrics.update(_update(s, cfg, p, step))
                metrics.update(
                    s.rollout.after_update(
                        s.backend.module, weights=weights or s.backend.full_params
                    )
                )
                s.ctl.update(p.kl_mean, n_steps=cfg.algo.batch_size)
            else:
                metrics["kl/ceiling_crossed"] = 1.0
                bar.write(f"step {step + 1}: {event}")
            step += 1
            elapsed = time.perf_counter() - start
            trained_s += elapsed
            metrics.update(
                {"time/step_s": elapsed, "time/trained_s": trained_s, "train/lr": s.backend.lr()}
            )
            bar.update(1)
            bar.set_postfix(kl=f"{p.kl_mean:.3f}", beta=f"{s.ctl.value:.3g}")
            if end.stopped_by == "kl_ceiling":
                s.run.log(step, metrics)
                break
            if s.held_out and (step % cfg.train.eval_every == 0 or step == cfg.train.max_steps):
                after, evaluated = _evaluate(cfg, s, runtime), step
                metrics["eval/accuracy"] = after
                bar.write(f"step {step}: held-out accuracy {after:.3f}")
            decision = s.watch.observe(step, metrics, rollouts.groups, p.scores)
            s.run.log(step, metrics)
            if event is None and (step % cfg.train.save_every == 0 or decision.checkpoint):
                _save(s, cfg, step)
            if decision.stop:
                end.stopped_by, end.reason = "monitor", f"step {step}: {decision.reason}"
                bar.write(f"step {step}: stopped by the monitors: {decision.reason}")
                break
        if s.held_out and evaluated != step:
            after = _evaluate(cfg, s, runtime)
            s.run.log(step, {"eval/accuracy": after})
    return step, before, after, end.stopped_by, end.reason, trained_s
