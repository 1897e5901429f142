"""The `distributed:` config section: run in this process only, or spread actors over Ray."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DistributedConfig:
    """Where rollouts and rewards run: in this process (`none`) or on Ray actors (`ray`).

    Ray actors ask for fractional CPUs, and a run refuses to start when its actors would leave
    fewer than `reserve_cpus` CPUs of the cluster unclaimed (actors that hold every CPU make
    Ray tasks wait forever, silently).
    """

    kind: Literal["none", "ray"] = "none"
    """`none`: rollouts and rewards run in this process and its reward workers. `ray`: they
    run on Ray actors (needs the `ray` extra)."""
    address: str | None = None
    """Address of a running Ray cluster to join (`HEAD_IP:6379`, or `ray://HEAD_IP:10001`
    through Ray Client). None starts a local cluster for the run and stops it at the end.
    `auto` is refused: name the cluster you mean."""
    num_cpus: int | None = None
    """CPUs of the local cluster the run starts (None: this machine's CPU count). Must be
    null with `address`: a running cluster has its own."""
    reserve_cpus: float = 1.0
    """Logical CPUs the actors must leave unclaimed, for Ray tasks and the driver."""
    rollout_workers: int = 1
    """Rollout actors, each an HF engine on its own copy of the model; prompts are sharded
    across them. 0: the trainer's own engine generates in this process."""
    reward_workers: int = 2
    """Reward actors; each runs `reward_processes` verifier worker processes."""
    reward_processes: int = 1
    """Verifier worker processes per reward actor (one call at a time each)."""
    rollout_threads: int | None = None
    """Torch threads in each rollout actor. None keeps Ray's setting, one thread for an actor
    with a fractional CPU; the sampling log-probs then differ from a trainer with more threads
    in the last bits (float sums in another order). Set it to the trainer's thread count for
    bit-identical rollouts."""
    rollout_actor_cpus: float = 0.5
    """Logical CPUs each rollout actor claims (fractional, so actors never take every CPU)."""
    reward_actor_cpus: float = 0.25
    """Logical CPUs each reward actor claims."""
    max_actor_restarts: int = 2
    """Times a dead actor is replaced for one batch before giving up: reward calls are then
    masked (`worker_died`), a rollout step raises."""

    def __post_init__(self) -> None:
        if self.kind not in ("none", "ray"):
            raise ValueError(f"distributed.kind must be 'none' or 'ray', got {self.kind!r}")
        if self.address is not None and self.address.strip().lower() == "auto":
            raise ValueError(
                "distributed.address: 'auto' would join whatever cluster runs on this machine; "
                "give the head's address, or null to start a local cluster for the run"
            )
        if self.address is not None and self.num_cpus is not None:
            raise ValueError("distributed.num_cpus applies to a local cluster; unset address")
        if self.num_cpus is not None and self.num_cpus <= 0:
            raise ValueError(f"distributed.num_cpus must be positive, got {self.num_cpus}")
        counts = {
            "rollout_workers": self.rollout_workers,
            "reward_workers": self.reward_workers,
            "max_actor_restarts": self.max_actor_restarts,
        }
        for name, value in counts.items():
            if value < 0:
                raise ValueError(f"distributed.{name} must be >= 0, got {value}")
        if self.rollout_threads is not None and self.rollout_threads < 1:
            raise ValueError(
                f"distributed.rollout_threads must be >= 1, got {self.rollout_threads}"
            )
        if self.reward_processes < 1:
            raise ValueError(
                f"distributed.reward_processes must be >= 1, got {self.reward_processes}"
            )
        for name in ("reserve_cpus", "rollout_actor_cpus", "reward_actor_cpus"):
            if getattr(self, name) < 0:
                raise ValueError(f"distributed.{name} must be >= 0, got {getattr(self, name)}")

    @property
    def actor_cpus(self) -> float:
        """Logical CPUs all actors of a run claim together."""
        return (
            self.rollout_workers * self.rollout_actor_cpus
            + self.reward_workers * self.reward_actor_cpus
        )
