"""Rollouts on Ray: several HF engines on rollout actors, prompts sharded across them.

`RayRolloutEngine` follows the `RolloutEngine` protocol: `generate(samples, *, n, sampling)`
and `update_weights(model)`.

Implementation details:
  1. Each actor loads its own copy of the model and tokenizer from the model directory
     (`ModelConfig`), wraps it in an `HFEngine`, and claims `actor_cpus` logical CPUs.
  2. Weights: `update_weights` copies the trainer's `state_dict` to CPU, puts it in the object
     store once (`ray.put`), and every actor loads it (`load_state_dict`); the engine is
     constructed with the trainer's model, so the actors start from the trainer's weights even
     when the directory holds older ones. The trainer calls it after each optimizer step.
  3. Prompts are split into contiguous near-equal shards, one per actor (at most one per
     prompt), and the groups come back concatenated in input order.
  4. Seeds: shard k samples with `shard_seed(seed, k)`, where shard 0 keeps the step seed. With
     one actor a run therefore draws exactly what the in-process `HFEngine` draws; with more
     actors the draws depend on the number of actors (each shard seeds its own generator), but
     not on timing.
  5. A dead actor (`RayActorError`) is replaced, loaded with the last weights, and its shard
     generated again, up to `max_restarts` times per call; then `generate` raises. An actor
     found dead while loading new weights is replaced (once; a second death raises).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rlvr.config.sections import ModelConfig
from rlvr.data.types import RolloutGroup, Sample
from rlvr.distributed.cluster import import_ray
from rlvr.distributed.config import DistributedConfig
from rlvr.distributed.rewards import shard_bounds
from rlvr.models.loading import load_policy
from rlvr.rollout.hf import HFEngine, SamplingParams

SHARD_SEED_STRIDE = 1_000_000_007
"""Distance between the seeds of consecutive shards (a prime far above any step seed)."""


def shard_seed(seed: int | None, shard: int) -> int | None:
    """The sampling seed of shard `shard` for a step seeded `seed` (shard 0 keeps it).

    >>> shard_seed(42, 0), shard_seed(42, 2), shard_seed(None, 1)
    (42, 2000000056, None)
    """
    return None if seed is None else seed + shard * SHARD_SEED_STRIDE


_DTYPES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def ray_engine(
    cfg: DistributedConfig, *, model: torch.nn.Module, model_dir: str | Path, batch_size: int
) -> RayRolloutEngine:
    """The rollout actors a `distributed` section asks for, loaded with `model`'s weights.

    Each actor loads `model_dir` in `model`'s dtype, then takes the trainer's weights.
    """
    dtype = next(model.parameters()).dtype
    if dtype not in _DTYPES:
        raise ValueError(f"rollout actors load float32, bfloat16 or float16 models, not {dtype}")
    return RayRolloutEngine(
        ModelConfig(str(model_dir), dtype=_DTYPES[dtype]),  # type: ignore[arg-type]
        model,
        actors=cfg.rollout_workers,
        batch_size=batch_size,
        actor_cpus=cfg.rollout_actor_cpus,
        threads=cfg.rollout_threads,
        max_restarts=cfg.max_actor_restarts,
    )


class RolloutActor:
    """Body of a Ray rollout actor: an `HFEngine` on the actor's own copy of the model."""

    def __init__(self, model: ModelConfig, batch_size: int, threads: int | None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        policy, tokenizer = load_policy(model)
        self._engine = HFEngine(policy, tokenizer, batch_size=batch_size)

    def pid(self) -> int:
        """This actor's process id."""
        return os.getpid()

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load the trainer's weights."""
        self._engine.model.load_state_dict(state)

    def generate(
        self, samples: list[Sample], n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        """`n` completions per sample, in input order."""
        return self._engine.generate(samples, n=n, sampling=sampling)


class RayRolloutEngine:
    """HF engines on Ray actors behind the `RolloutEngine` protocol (see the module docstring).

    Ray must be initialised first (`rlvr.distributed.cluster.RayCluster`).
    """

    def __init__(
        self,
        model_cfg: ModelConfig,
        model: torch.nn.Module,
        *,
        actors: int,
        batch_size: int = 64,
        actor_cpus: float = 0.5,
        threads: int | None = None,
        max_restarts: int = 2,
    ) -> None:
        """Start `actors` rollout actors and load `model`'s weights into them.

        Args:
            model_cfg: Where each actor loads the model and tokenizer from.
            model: The trainer's model; its current weights are sent to the actors.
            actors: Rollout actors (at least 1).
            batch_size: Completions per `generate` call inside an actor.
            actor_cpus: Logical CPUs each actor claims.
            threads: Torch threads in each actor; None keeps Ray's setting (the actor's CPUs,
                at least 1).
            max_restarts: Replacements of a dead actor per `generate` call before it raises.
        """
        if actors < 1:
            raise ValueError(f"need at least 1 rollout actor, got {actors}")
        self._ray = import_ray()
        self._actor_cls = self._ray.remote(RolloutActor).options(num_cpus=actor_cpus)
        self._args = (model_cfg, batch_size, threads)
        self._max_restarts = max_restarts
        self._weights: Any = None
        self._actors = [self._actor_cls.remote(*self._args) for _ in range(actors)]
        self.restarts = 0
        """Actors replaced after they died."""
        self.update_weights(model)

    def actor_handles(self) -> list[Any]:
        """The current actor handles."""
        return list(self._actors)

    def update_weights(
        self,
        model: torch.nn.Module,
        *,
        weights: Iterable[tuple[str, torch.Tensor]] | None = None,
    ) -> None:
        """Send the trainer's weights to every actor (one object-store copy, loaded by each).

        `weights`: (HF name, full tensor) pairs to send instead of `model.state_dict()`, e.g.
        ZeRO-3 parameters gathered by `TrainBackend.full_params`.
        """
        pairs = model.state_dict().items() if weights is None else weights
        state = {k: v.detach().to("cpu", copy=True) for k, v in pairs}
        self._weights = self._ray.put(state)
        refs = [a.load_state.remote(self._weights) for a in self._actors]
        for k, ref in enumerate(refs):
            try:
                self._ray.get(ref)
            except self._ray.exceptions.RayActorError:
                self._replace(k)  # the replacement loads these weights

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        """Sample `n` completions for each sample on the actors; groups in input order."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        bounds = shard_bounds(len(samples), len(self._actors))
        out: list[list[RolloutGroup]] = [[] for _ in bounds]
        tries = [0] * len(bounds)
        pending: dict[Any, int] = {}

        def submit(k: int) -> None:
            start, stop = bounds[k]
            shard_sampling = replace(sampling, seed=shard_seed(sampling.seed, k))
            tries[k] += 1
            ref = self._actors[k].generate.remote(list(samples[start:stop]), n, shard_sampling)
            pending[ref] = k

        for k in range(len(bounds)):
            submit(k)
        while pending:
            ready, _ = self._ray.wait(list(pending), num_returns=1)
            for ref in ready:
                k = pending.pop(ref)
                try:
                    out[k] = self._ray.get(ref)
                except self._ray.exceptions.RayActorError as exc:
                    if tries[k] > self._max_restarts:
                        raise RuntimeError(
                            f"rollout actor {k} died {tries[k]} times in one call"
                        ) from exc
                    self._replace(k)
                    submit(k)
        return [group for part in out for group in part]

    def _replace(self, k: int) -> None:
        self._ray.kill(self._actors[k], no_restart=True)
        self._actors[k] = self._actor_cls.remote(*self._args)
        self._ray.get(self._actors[k].load_state.remote(self._weights))
        self.restarts += 1

    def close(self) -> None:
        """Kill the actors (idempotent; nothing to do once Ray is shut down)."""
        actors, self._actors = self._actors, []
        if self._ray.is_initialized():
            for actor in actors:
                self._ray.kill(actor, no_restart=True)

    def __enter__(self) -> RayRolloutEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
