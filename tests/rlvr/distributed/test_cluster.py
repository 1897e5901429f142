"""Cluster lifecycle, the capacity check, the config section, and lazy imports of Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlvr.distributed.cluster import RayCluster, check_capacity, import_ray
from rlvr.distributed.config import DistributedConfig


def test_importing_rlvr_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "import rlvr.distributed.cluster, rlvr.distributed.rewards, rlvr.distributed.rollout\n"
        "import rlvr.trainers.grpo, rlvr.cli\n"
        "assert 'ray' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'rlvr\[ray\]'"):
        import_ray()


def test_actors_must_leave_cpus_free() -> None:
    cfg = DistributedConfig(kind="ray", rollout_workers=1, reward_workers=2)
    assert cfg.actor_cpus == 1.0
    check_capacity(2.0, cfg)
    with pytest.raises(ValueError, match=r"claim 1 of the cluster's 1\.5 CPUs, leaving 0\.5"):
        check_capacity(1.5, cfg)
    zero = DistributedConfig(kind="ray", rollout_actor_cpus=0, reward_actor_cpus=0)
    check_capacity(1.0, zero)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": "auto"}, "'auto' would join whatever cluster"),
        ({"address": "10.0.0.1:6379", "num_cpus": 4}, "num_cpus applies to a local cluster"),
        ({"reward_workers": -1}, "reward_workers must be >= 0"),
        ({"reward_processes": 0}, "reward_processes must be >= 1"),
        ({"reward_actor_cpus": -0.5}, "reward_actor_cpus must be >= 0"),
        ({"num_cpus": 0}, "num_cpus must be positive"),
    ],
)
def test_bad_sections_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DistributedConfig(kind="ray", **kwargs)  # type: ignore[arg-type]


def test_local_cluster_that_is_too_small_is_refused_and_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    if ray.is_initialized():  # the package's shared cluster runs (tests in another order)
        pytest.skip("needs a process where Ray is not initialised; run this module first")
    # A local cluster starts (and is measured) even when the environment names another one:
    # joining the unreachable address would fail with a connection error instead.
    monkeypatch.setenv("RAY_ADDRESS", "192.0.2.1:6379")
    cfg = DistributedConfig(kind="ray", num_cpus=1, rollout_workers=1, reward_workers=2)
    with pytest.raises(ValueError, match="leaving 0"), RayCluster(cfg):
        pass
    assert not ray.is_initialized(), "the run's own local cluster is shut down"
