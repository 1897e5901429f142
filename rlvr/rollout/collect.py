"""One training step's rollouts: sample prompts, generate groups, score them, across the ranks.

`collect(rollout, runtime, batches, samples, cfg, step)` returns the step's `Rollouts`, the
same on every rank of a launch, and its `rollout/*` counters. `cfg` is a `RoundConfig`: the
few values a round needs, which the trainer derives from its own config.

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
  2. With `random_reward` the coin flips are drawn for the whole gathered round from the
     round's seed, so they do not depend on the number of ranks.
  3. Dynamic sampling (DAPO) decides on the gathered round, so every rank keeps the same groups
     and runs the same number of refill rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rlvr.algorithms.advantages import zero_variance_groups
from rlvr.data import Sample
from rlvr.data.batches import Batches
from rlvr.data.types import RolloutGroup
from rlvr.rewards import RewardRuntime, RewardSpec
from rlvr.rollout.build import Rollout
from rlvr.rollout.groups import Rollouts, concat_rollouts, select_groups
from rlvr.rollout.hf import SamplingParams


@dataclass(frozen=True)
class RoundConfig:
    """What one step's rollout rounds need: sizes, sampling, refilling and reward terms."""

    group_size: int
    """G: completions per prompt."""
    prompts_per_step: int
    """Groups the step wants."""
    max_new_tokens: int
    """Tokens per completion at most."""
    temperature: float = 1.0
    """Sampling temperature."""
    top_p: float = 1.0
    """Nucleus mass."""
    dynamic_sampling: bool = False
    """Drop zero-variance groups and sample more prompts (DAPO)."""
    zero_variance_atol: float = 1e-6
    """Rewards closer than this count as equal for dynamic sampling."""
    max_refill_rounds: int = 4
    """Extra rounds allowed to refill the step."""
    random_reward: bool = False
    """Replace every reward by a coin flip (a control run)."""
    seed: int = 0
    """Run seed; each round's sampling seed derives from it, the step and the round."""
    extra: tuple[RewardSpec, ...] = ()
    """Reward terms added to every row's own verifier."""

    def sampling(self, seed: int) -> SamplingParams:
        """Sampling parameters of a round seeded `seed`."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=seed,
        )


RANK_SEED_STRIDE = 1_000_003
"""Seed offset between ranks that generate different prompts (`shard` placement)."""


def _score(groups: list[RolloutGroup], runtime: RewardRuntime, cfg: RoundConfig) -> Rollouts:
    texts = [t for g in groups for t in g.texts]
    if not texts:  # a rank whose share of the prompts is empty
        return Rollouts(groups, torch.zeros(0), torch.ones(0, dtype=torch.bool), [])
    rows = [g.sample for g in groups for _ in g.texts]
    result = runtime.score_batch(texts, rows, extra=cfg.extra)
    scores = torch.tensor(result.rewards, dtype=torch.float32)
    return Rollouts(groups, scores, torch.tensor(result.mask, dtype=torch.bool), [result])


def sample_round(
    rollout: Rollout,
    runtime: RewardRuntime,
    samples: Sequence[Sample],
    cfg: RoundConfig,
    seed: int,
) -> Rollouts:
    """Generate `cfg.group_size` completions per sample and score them; the whole round on
    every rank (`runtime` is unused on the ranks > 0 of a `driver` placement)."""
    dist, n, sampling = rollout.dist, cfg.group_size, cfg.sampling

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
    if cfg.random_reward:
        generator = torch.Generator().manual_seed(seed)
        r.scores = torch.randint(0, 2, r.scores.shape, generator=generator).float()
    return r


def collect(
    rollout: Rollout,
    runtime: RewardRuntime,
    batches: Batches,
    samples: list[Sample],
    cfg: RoundConfig,
    step: int,
) -> tuple[Rollouts, dict[str, float]]:
    """Sample one step's groups; with dynamic sampling, drop zero-variance groups and refill."""
    want, g = cfg.prompts_per_step, cfg.group_size
    kept: list[Rollouts] = []
    n_kept, rounds, dropped, sampled, n_flat = 0, 0, 0, 0, 0
    max_rounds = 1 + (cfg.max_refill_rounds if cfg.dynamic_sampling else 0)
    while n_kept < want and rounds < max_rounds:
        # Every round samples a full batch of prompts: generation is batched, so a full round
        # costs about as much as a short one, and surplus groups are simply not used.
        chosen = [samples[i] for i in batches.next(want)]
        seed = cfg.seed * 7919 + step + 104_729 * rounds
        r = sample_round(rollout, runtime, chosen, cfg, seed)
        flat = zero_variance_groups(r.scores, group_size=g, atol=cfg.zero_variance_atol)
        sampled, n_flat = sampled + len(r.groups), n_flat + int(flat.sum())
        if cfg.dynamic_sampling:
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
        "rollout/zero_variance_share": n_flat / max(1, sampled),
    }
