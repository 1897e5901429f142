"""One training step's rollouts: sample prompts, generate groups, score them, across the ranks.

`collect(rollout, runtime, batches, samples, cfg, algo, step)` returns the step's `Rollouts`,
the same on every rank of a launch, and its `rollout/*` counters.

Implementation details:
  1. Where generation runs follows `Rollout.placement` (see `rlvr.rollout.build`):
     - `shard`: rank r generates and scores its contiguous share of the round's prompts
       (`Dist.shard`), with the round's seed plus `RANK_SEED_STRIDE * r`; the parts are
       gathered in rank order, so the groups keep the prompts' order.
     - `replicate`: every rank generates every prompt with the same seed (identical groups: a
       one-process run's), then scores only its share of the groups; the scored parts are
       gathered as for `shard`.
     - `driver`: rank 0 generates and scores the whole round (the Ray actors are driven from
       there); the other ranks receive it by broadcast.
  2. With `train.random_reward` the coin flips are drawn for the whole gathered round from the
     round's seed, so they do not depend on the number of ranks.
  3. Dynamic sampling (DAPO) decides on the gathered round, so every rank keeps the same groups
     and runs the same number of refill rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from rlvr.algorithms.advantages import zero_variance_groups
from rlvr.algorithms.presets import LossPreset
from rlvr.batching import Batches
from rlvr.data import Sample
from rlvr.data.types import RolloutGroup
from rlvr.evaluate import reward_specs
from rlvr.rewards import RewardRuntime
from rlvr.rollout import SamplingParams
from rlvr.rollout.build import Rollout
from rlvr.rollout.groups import Rollouts, concat_rollouts, select_groups

if TYPE_CHECKING:
    from rlvr.trainers.grpo import GRPOConfig

RANK_SEED_STRIDE = 1_000_003
"""Seed offset between ranks that generate different prompts (`shard` placement)."""


def _score(groups: list[RolloutGroup], runtime: RewardRuntime, cfg: GRPOConfig) -> Rollouts:
    texts = [t for g in groups for t in g.texts]
    if not texts:  # a rank whose share of the prompts is empty
        return Rollouts(groups, torch.zeros(0), torch.ones(0, dtype=torch.bool), [])
    rows = [g.sample for g in groups for _ in g.texts]
    result = runtime.score_batch(texts, rows, extra=reward_specs(cfg.reward))
    scores = torch.tensor(result.rewards, dtype=torch.float32)
    return Rollouts(groups, scores, torch.tensor(result.mask, dtype=torch.bool), [result])


def sample_round(
    rollout: Rollout,
    runtime: RewardRuntime,
    samples: Sequence[Sample],
    cfg: GRPOConfig,
    seed: int,
) -> Rollouts:
    """Generate `cfg.algo.group_size` completions per sample and score them; the whole round
    on every rank (`runtime` is unused on the ranks > 0 of a `driver` placement)."""
    dist, n = rollout.dist, cfg.algo.group_size

    def sampling(seed: int) -> SamplingParams:
        r = cfg.rollout
        return SamplingParams(
            max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_p=r.top_p, seed=seed
        )

    if rollout.placement == "driver":
        part = None
        if dist.is_main:
            assert rollout.engine is not None
            groups = rollout.engine.generate(samples, n=n, sampling=sampling(seed))
            part = _score(groups, runtime, cfg)
        r = dist.broadcast_object(part)
        assert isinstance(r, Rollouts)
    else:
        assert rollout.engine is not None
        local = dist.shard(len(samples))
        if rollout.placement == "replicate":
            groups = rollout.engine.generate(samples, n=n, sampling=sampling(seed))
            groups = groups[local.start : local.stop]
        else:
            mine = samples[local.start : local.stop]
            groups = rollout.engine.generate(
                mine, n=n, sampling=sampling(seed + RANK_SEED_STRIDE * dist.rank)
            )
        r = concat_rollouts(dist.all_gather_object(_score(groups, runtime, cfg)))
    if cfg.train.random_reward:
        generator = torch.Generator().manual_seed(seed)
        r.scores = torch.randint(0, 2, r.scores.shape, generator=generator).float()
    return r


def collect(
    rollout: Rollout,
    runtime: RewardRuntime,
    batches: Batches,
    samples: list[Sample],
    cfg: GRPOConfig,
    algo: LossPreset,
    step: int,
) -> tuple[Rollouts, dict[str, float]]:
    """Sample one step's groups; with dynamic sampling, drop zero-variance groups and refill."""
    want, g = cfg.algo.prompts_per_step, cfg.algo.group_size
    kept: list[Rollouts] = []
    n_kept, rounds, dropped = 0, 0, 0
    max_rounds = 1 + (cfg.algo.max_refill_rounds if algo.dynamic_sampling else 0)
    while n_kept < want and rounds < max_rounds:
        # Every round samples a full batch of prompts: generation is batched, so a full round
        # costs about as much as a short one, and surplus groups are simply not used.
        chosen = [samples[i] for i in batches.next(want)]
        seed = cfg.run.seed * 7919 + step + 104_729 * rounds
        r = sample_round(rollout, runtime, chosen, cfg, seed)
        if algo.dynamic_sampling:
            flat = zero_variance_groups(r.scores, group_size=g, atol=cfg.algo.zero_variance_atol)
            r = select_groups(r, [i for i, flat_i in enumerate(flat.tolist()) if not flat_i], g)
            dropped += int(flat.sum())
        kept.append(r)
        n_kept += len(r.groups)
        rounds += 1
    merged = select_groups(concat_rollouts(kept), list(range(min(want, n_kept))), g)
    return merged, {
        "rollout/rounds": rounds,
        "rollout/dropped_groups": dropped,
        "rollout/refill_short": max(0, want - n_kept),
    }
