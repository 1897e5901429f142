"""The reward runtime a run's config names: local worker processes, or reward actors on Ray."""

from __future__ import annotations

import sandboxes
from rlvr.config.sections import RewardConfig
from rlvr.distributed.config import DistributedConfig
from rlvr.rewards import RewardRuntime


def open_runtime(cfg: RewardConfig, distributed: DistributedConfig | None = None) -> RewardRuntime:
    """A reward runtime configured by a reward section: local worker processes, or reward
    actors on Ray when `distributed` says `kind: ray` with reward workers (Ray must be
    initialised, see `rlvr.distributed.cluster`; `reward.workers` is then unused).

    `reward.sandbox_allow_process` is applied here, on every rank, so the reward workers and
    actors this process starts may fall back to the `process` sandbox too."""
    if cfg.sandbox_allow_process:
        sandboxes.allow_process()
    if distributed is not None and distributed.kind == "ray" and distributed.reward_workers:
        from rlvr.distributed.rewards import RayRewardRuntime

        if cfg.import_main:
            raise ValueError("reward.import_main cannot apply to Ray actors; move the verifier")
        return RayRewardRuntime(
            actors=distributed.reward_workers,
            processes_per_actor=distributed.reward_processes,
            timeout_s=cfg.timeout_s,
            memory_mb=cfg.memory_mb,
            max_completion_chars=cfg.max_completion_chars,
            actor_cpus=distributed.reward_actor_cpus,
            max_restarts=distributed.max_actor_restarts,
            verifier_options=cfg.verifier_options,
        )
    return RewardRuntime(
        workers=cfg.workers,
        timeout_s=cfg.timeout_s,
        memory_mb=cfg.memory_mb,
        max_completion_chars=cfg.max_completion_chars,
        import_main=cfg.import_main,
        verifier_options=cfg.verifier_options,
    )
