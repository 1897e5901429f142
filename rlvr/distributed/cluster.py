"""Ray cluster lifecycle: start a local cluster for the run, or join one named by address.

`ray` is imported here, on first use, never when `rlvr` is imported.

Implementation details:
  1. A local cluster is started with `address="local"`, which always starts a new one: a bare
     `ray.init()` would join any cluster already running on the machine (or the one in
     `RAY_ADDRESS`). The run shuts its local cluster down when it ends.
  2. A cluster given by `address` is joined and left running; only the connection is closed.
  3. When Ray is already initialised in this process (a caller started it, e.g. a test
     fixture or a notebook), that connection is used and left open.
  4. Capacity check: the actors' fractional CPU claims must leave `reserve_cpus` logical CPUs
     of the cluster unclaimed; otherwise the run stops before creating any actor.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType, TracebackType
from typing import Any

from rlvr.distributed.config import DistributedConfig


def import_ray() -> ModuleType:
    """The `ray` module, or an ImportError that names the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "distributed.kind: ray needs Ray; install the extra: pip install 'rlvr[ray]'"
        ) from exc
    return ray


def check_capacity(total_cpus: float, cfg: DistributedConfig) -> None:
    """Raise when the configured actors would leave fewer than `reserve_cpus` CPUs unclaimed.

    >>> check_capacity(2.0, DistributedConfig(kind="ray"))  # 1 * 0.5 + 2 * 0.25 = 1 <= 2 - 1
    >>> check_capacity(1.0, DistributedConfig(kind="ray"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: Ray actors would claim 1 of the cluster's 1 CPUs, leaving 0 ...
    """
    free = total_cpus - cfg.actor_cpus
    if free + 1e-9 < cfg.reserve_cpus:
        raise ValueError(
            f"Ray actors would claim {cfg.actor_cpus:g} of the cluster's {total_cpus:g} CPUs, "
            f"leaving {max(free, 0.0):g} (distributed.reserve_cpus: {cfg.reserve_cpus:g}); "
            "lower rollout_actor_cpus / reward_actor_cpus or the worker counts, or give the "
            "cluster more CPUs (actors that hold every CPU make Ray tasks hang)"
        )


class RayCluster:
    """Context manager: Ray connected for the block, and a local cluster stopped at its end.

    >>> with RayCluster(DistributedConfig(kind="ray")) as cluster:  # doctest: +SKIP
    ...     cluster.ray.cluster_resources()
    """

    def __init__(self, cfg: DistributedConfig) -> None:
        if cfg.kind != "ray":
            raise ValueError(f"RayCluster needs distributed.kind 'ray', got {cfg.kind!r}")
        self.cfg = cfg
        self.ray: Any = None
        self.owned = False
        """True when this object called `ray.init` and so shuts Ray down at the end."""

    def __enter__(self) -> RayCluster:
        ray = import_ray()
        self.ray = ray
        if not ray.is_initialized():
            if self.cfg.address is None:
                num_cpus = self.cfg.num_cpus or os.cpu_count() or 1
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)
            else:
                ray.init(address=self.cfg.address)
            self.owned = True
        try:
            check_capacity(float(ray.cluster_resources().get("CPU", 0.0)), self.cfg)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Shut Ray down if this object started it (idempotent)."""
        if self.owned:
            self.ray.shutdown()
            self.owned = False


def open_cluster(cfg: DistributedConfig) -> contextlib.AbstractContextManager[RayCluster | None]:
    """What a stage runs inside: a `RayCluster` for `kind: ray`, nothing for `kind: none`."""
    if cfg.kind == "ray":
        return RayCluster(cfg)
    return contextlib.nullcontext()
