"""One local Ray cluster (2 CPUs, no dashboard) for the tests of this package, started by the first
test that asks for it and stopped after the package's last test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlvr.distributed.cluster import RayCluster
from rlvr.distributed.config import DistributedConfig


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[RayCluster]:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    cfg = DistributedConfig(kind="ray", num_cpus=2, rollout_workers=1, reward_workers=2)
    with RayCluster(cfg) as cluster:
        yield cluster
