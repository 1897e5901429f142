"""The reward runtime on Ray: verifier calls scored by reward actors, same rules as locally.

`RayRewardRuntime` is a `RewardRuntime` whose calls run on Ray actors instead of local worker
processes; `score_batch`, `verify`, the result types, the timeouts and the masking are the
local runtime's own code. Each actor hosts a local `RewardRuntime`: worker processes with a hard
wall-clock timeout per call enforced by the actor (the caller of the verifier), never by the
verifier itself. So, on Ray as locally:
  * a call that runs past `timeout_s` scores 0 with reason `timeout` and stays in the loss;
  * an infrastructure failure (`INFRA_REASONS`) masks its row out of the loss and is counted.

Implementation details:
  1. The driver validates every call (verifier names and options, completion type, the length
     cap) exactly as the local runtime does, then splits the calls into one contiguous shard
     per actor and waits for all shards with `ray.wait`. Results come back in call order.
  2. A dead actor (`RayActorError`, or its results lost with its node) is killed for good and
     replaced by a fresh one, and its whole shard is scored again on the replacement, up to
     `max_restarts` times per batch. After that the shard's calls get `worker_died` verdicts:
     masked and counted, never scored 0. `actor_restarts` counts replacements.
  3. An actor that does not answer within a generous bound (start-up, one verifier build per
     distinct verifier, and `timeout_s` plus a worker restart per call) is treated as dead.
  4. An exception raised by the actor's method (not by a verifier: those are verdicts) is a
     configuration error, e.g. a verifier module missing on a remote node; it is re-raised.
  5. Verifiers defined in the driver's `__main__` cannot be scored on Ray (actors import the
     verifier by name); such a verifier is refused before any call runs.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr.distributed.cluster import import_ray
from rlvr.rewards import RewardRuntime, VerifierCall
from rlvr.rewards.workers import BUILD_TIMEOUT_S, CallResult, Task, TaskPool
from sandboxes import ALLOW_PROCESS_ENV
from verifiers import Verdict

ACTOR_START_S = 60.0
"""Time an actor gets to start (and start its worker processes) before its shard is late."""
WORKER_RESTART_S = 1.0
"""Time allowed per call for replacing a worker the actor killed at the timeout."""


class RewardActor:
    """Body of a Ray reward actor: a local `RewardRuntime` that scores the calls it is sent."""

    def __init__(self, processes: int, timeout_s: float, memory_mb: int | None) -> None:
        self._runtime = RewardRuntime(
            workers=processes, timeout_s=timeout_s, memory_mb=memory_mb, max_completion_chars=None
        )

    def pid(self) -> int:
        """This actor's process id."""
        return os.getpid()

    def worker_pids(self) -> list[int | None]:
        """Process ids of this actor's verifier workers."""
        return self._runtime.worker_pids()

    def score(self, tasks: list[Task]) -> list[CallResult]:
        """One `CallResult` per task, in order (timeouts and crashes become verdicts)."""
        calls = [
            VerifierCall(t.completion, t.spec, t.reference, tuple(t.options.items())) for t in tasks
        ]
        return self._runtime.verify(calls)


def shard_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous `[start, stop)` ranges splitting `n` items into at most `parts` near-equal,
    non-empty shards, in order.

    >>> shard_bounds(5, 2)
    [(0, 3), (3, 5)]
    >>> shard_bounds(1, 3)
    [(0, 1)]
    """
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for k in range(parts):
        stop = start + base + (k < extra)
        bounds.append((start, stop))
        start = stop
    return [b for b in bounds if b[0] < b[1]]


class RayRewardPool:
    """Reward actors that score task shards; a `TaskPool` for `RewardRuntime`."""

    def __init__(
        self,
        ray: Any,
        *,
        actors: int,
        processes: int,
        timeout_s: float,
        memory_mb: int | None,
        actor_cpus: float,
        max_restarts: int,
    ) -> None:
        self._ray = ray
        # the sandbox downgrade the driver allowed (`reward.sandbox_allow_process`) holds in the
        # actors too, whenever their workers started
        env = {k: os.environ[k] for k in (ALLOW_PROCESS_ENV,) if k in os.environ}
        options: dict[str, Any] = {"runtime_env": {"env_vars": env}} if env else {}
        self._actor_cls = ray.remote(RewardActor).options(num_cpus=actor_cpus, **options)
        self._args = (processes, timeout_s, memory_mb)
        self._processes = processes
        self._max_restarts = max_restarts
        self._actors = [self._start() for _ in range(actors)]
        self.restarts = 0
        """Actors replaced after they died or stopped answering."""

    def _start(self) -> Any:
        return self._actor_cls.remote(*self._args)

    def actor_handles(self) -> list[Any]:
        """The current actor handles (one changes when its actor is replaced)."""
        return list(self._actors)

    def pids(self) -> list[int | None]:
        """Process ids of the actors (None for one that does not answer)."""
        out: list[int | None] = []
        for actor in self._actors:
            try:
                out.append(self._ray.get(actor.pid.remote(), timeout=ACTOR_START_S))
            except self._ray.exceptions.RayError:
                out.append(None)
        return out

    def run(self, tasks: Sequence[Task], timeout_s: float) -> list[CallResult]:
        """Score every task on the actors; results in task order."""
        results: list[CallResult | None] = [None] * len(tasks)
        bounds = shard_bounds(len(tasks), len(self._actors))
        tries = [0] * len(bounds)
        pending: dict[Any, tuple[int, float]] = {}  # ref -> (shard, deadline)

        def submit(k: int) -> None:
            start, stop = bounds[k]
            shard = list(tasks[start:stop])
            keys = len({t.key for t in shard})
            per_call = -(-len(shard) // self._processes) * (timeout_s + WORKER_RESTART_S)
            budget = ACTOR_START_S + keys * BUILD_TIMEOUT_S + per_call
            tries[k] += 1
            pending[self._actors[k].score.remote(shard)] = (k, time.monotonic() + budget)

        for k in range(len(bounds)):
            submit(k)
        while pending:
            nearest = min(deadline for _, deadline in pending.values())
            ready, _ = self._ray.wait(
                list(pending), num_returns=1, timeout=max(0.0, nearest - time.monotonic())
            )
            failed: list[tuple[int, str]] = []
            for ref in ready:
                k, _ = pending.pop(ref)
                try:
                    out = self._ray.get(ref)
                except (
                    self._ray.exceptions.RayActorError,
                    self._ray.exceptions.ObjectLostError,
                ) as exc:
                    failed.append((k, f"{type(exc).__name__}: {exc}"[:500]))
                    continue
                start, _ = bounds[k]
                results[start : start + len(out)] = out
            now = time.monotonic()
            for ref, (k, deadline) in list(pending.items()):
                if now >= deadline:
                    del pending[ref]
                    failed.append((k, "reward actor did not answer in time; killed"))
            for k, why in failed:
                self._replace(k)
                if tries[k] <= self._max_restarts:
                    submit(k)
                    continue
                start, stop = bounds[k]
                detail = f"reward actor failed {tries[k]} times; last: {why}"
                results[start:stop] = [CallResult(Verdict(0.0, "worker_died", detail), 0.0)] * (
                    stop - start
                )
        done = [r for r in results if r is not None]
        assert len(done) == len(tasks), "every task gets exactly one result"
        return done

    def _replace(self, k: int) -> None:
        self._ray.kill(self._actors[k], no_restart=True)
        self._actors[k] = self._start()
        self.restarts += 1

    def close(self) -> None:
        """Kill the actors (idempotent; nothing to do once Ray is shut down)."""
        actors, self._actors = self._actors, []
        if not self._ray.is_initialized():
            return
        for actor in actors:
            self._ray.kill(actor, no_restart=True)


class RayRewardRuntime(RewardRuntime):
    """`RewardRuntime` whose calls run on Ray reward actors (see the module docstring).

    Ray must be initialised first (`rlvr.distributed.cluster.RayCluster`). Actors start on the
    first scoring call. Not thread-safe: one scoring call at a time.
    """

    def __init__(
        self,
        *,
        actors: int,
        processes_per_actor: int = 1,
        timeout_s: float = 5.0,
        memory_mb: int | None = 2048,
        max_completion_chars: int | None = 200_000,
        actor_cpus: float = 0.25,
        max_restarts: int = 2,
        verifier_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Configure the runtime.

        Args:
            actors: Reward actors (at least 1); each call batch is split evenly across them.
            processes_per_actor: Verifier worker processes in each actor (at least 1).
            timeout_s: Wall-clock seconds per verifier call before its worker is killed.
            memory_mb: Address space (MiB) a worker may map beyond what it holds at start.
            max_completion_chars: Completions are cut to this many leading characters.
            actor_cpus: Logical CPUs each actor claims (fractional leaves room for tasks).
            max_restarts: Replacements of a dead actor per batch before its calls are masked.
            verifier_options: Options of the rows' own verifiers, by verifier name.
        """
        if actors < 1 or processes_per_actor < 1:
            raise ValueError(
                f"need at least 1 actor and 1 process per actor, got {actors}, "
                f"{processes_per_actor}"
            )
        if not (math.isfinite(actor_cpus) and actor_cpus >= 0) or max_restarts < 0:
            raise ValueError("actor_cpus and max_restarts must be non-negative")
        super().__init__(
            workers=processes_per_actor,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            max_completion_chars=max_completion_chars,
            verifier_options=verifier_options,
        )
        self.actors = actors
        self.actor_cpus = actor_cpus
        self.max_restarts = max_restarts
        self._ray_pool: RayRewardPool | None = None

    @property
    def actor_restarts(self) -> int:
        """Reward actors replaced so far (after dying or hanging)."""
        return 0 if self._ray_pool is None else self._ray_pool.restarts

    def actor_handles(self) -> list[Any]:
        """Handles of the live reward actors (empty before the first call)."""
        return [] if self._ray_pool is None else self._ray_pool.actor_handles()

    def _new_pool(self) -> TaskPool:
        self._ray_pool = RayRewardPool(
            import_ray(),
            actors=self.actors,
            processes=self.workers,
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
            actor_cpus=self.actor_cpus,
            max_restarts=self.max_restarts,
        )
        return self._ray_pool
