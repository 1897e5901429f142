"""The reward runtime on Ray: same verdicts, timeouts and masking as locally; dead actors."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from rlvr.data.types import Sample
from rlvr.distributed import rewards as ray_rewards
from rlvr.distributed.cluster import RayCluster
from rlvr.distributed.rewards import RayRewardRuntime, shard_bounds
from rlvr.rewards import RewardRuntime, RewardSpec, VerifierCall
from tests.rlvr.rewards._toy_verifiers import PREFIX
from tests.rlvr.rewards.test_runtime import _wait_gone
from verifiers import RegistryError

EXACT = PREFIX + "Exact"


def _sample(reference: str, verifier: str = EXACT) -> Sample:
    return Sample(prompt="q", reference=reference, verifier=verifier)


@pytest.fixture(scope="module")
def runtime(ray_cluster: RayCluster) -> Iterator[RayRewardRuntime]:
    with RayRewardRuntime(actors=2, timeout_s=0.5, memory_mb=512) as rt:
        yield rt


def _kill_actor_soon(runtime: RayRewardRuntime, index: int, after_s: float) -> threading.Timer:
    pid = runtime.worker_pids()[index]
    assert pid is not None
    timer = threading.Timer(after_s, os.kill, args=(pid, signal.SIGKILL))
    timer.start()
    return timer


def test_shards_are_contiguous_near_equal_and_cover_every_call() -> None:
    assert shard_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    assert shard_bounds(2, 4) == [(0, 1), (1, 2)]
    assert shard_bounds(0, 2) == []


def test_ray_scores_timeouts_and_masks_exactly_like_the_local_runtime(
    runtime: RayRewardRuntime,
) -> None:
    rows = [_sample(str(i)) for i in range(10)]
    rows[2] = _sample("x", PREFIX + "SleepsForever")  # timeout: scores 0, stays in the loss
    rows[5] = _sample("x", PREFIX + "ExitsHard")  # worker dies: masked
    rows[7] = _sample("1", PREFIX + "Allocates")  # memory cap: masked
    completions = [str(i) if i % 4 else "wrong" for i in range(10)]
    completions[5] = "exit"
    extra = [RewardSpec(PREFIX + "Raises", 0.0), RewardSpec(PREFIX + "BuildCount", 0.5)]
    with RewardRuntime(workers=2, timeout_s=0.5, memory_mb=512) as local:
        want = local.score_batch(completions, rows, extra=extra)
    got = runtime.score_batch(completions, rows, extra=extra)
    assert got.rewards == want.rewards
    assert got.mask == want.mask
    assert got.mask == [True] * 5 + [False] + [True] + [False] + [True] * 2
    assert got.counts == want.counts
    assert got.n_timeouts == want.n_timeouts == 1
    assert got.n_infra_failures == want.n_infra_failures == 10 + 2  # log-only Raises + 2 rows
    assert got.metrics().keys() == want.metrics().keys()
    assert [v.reason for v in got.verdicts_for_rows()] == [
        v.reason for v in want.verdicts_for_rows()
    ]


def test_killed_reward_actor_is_replaced_and_its_batch_rescored(
    runtime: RayRewardRuntime, ray_cluster: RayCluster
) -> None:
    sleeps = PREFIX + "Sleeps"
    runtime.verify([VerifierCall("warm", sleeps, "x")] * 2)  # both actors built and answering
    before = runtime.worker_pids()
    old_workers = runtime.actor_handles()[0].worker_pids.remote()
    restarts = runtime.actor_restarts
    # 8 calls of 0.3 s: actor 0 holds calls 0-3 for 1.2 s and is killed 0.4 s in.
    timer = _kill_actor_soon(runtime, 0, after_s=0.4)
    result = runtime.score_batch(["c"] * 8, [_sample("x", sleeps)] * 8)
    timer.join()
    assert result.rewards == [1.0] * 8 and result.mask == [True] * 8
    assert result.counts == {sleeps: {"correct": 8}}
    assert runtime.actor_restarts == restarts + 1
    after = runtime.worker_pids()
    assert after[0] not in (None, before[0]) and after[1] == before[1]
    assert _wait_gone(ray_cluster.ray.get(old_workers), within_s=10.0), (
        "the dead actor's workers linger"
    )


def test_reward_actor_that_stops_answering_is_replaced_and_its_batch_rescored(
    runtime: RayRewardRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shrink the bound on an actor's answer (normally a minute and more) to about 2 s.
    monkeypatch.setattr(ray_rewards, "ACTOR_START_S", 1.0)
    monkeypatch.setattr(ray_rewards, "BUILD_TIMEOUT_S", 0.5)
    runtime.verify([VerifierCall("1", EXACT, "1")] * 2)
    restarts = runtime.actor_restarts
    pid = runtime.worker_pids()[0]
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # alive, holds its CPU claim, never answers
    try:
        result = runtime.score_batch(["1", "2", "3", "4"], [_sample(str(i)) for i in range(1, 5)])
    finally:
        os.kill(pid, signal.SIGCONT)  # no-op once killed; frees it if the test failed early
    assert result.rewards == [1.0] * 4 and result.mask == [True] * 4
    assert runtime.actor_restarts == restarts + 1
    assert pid not in runtime.worker_pids()


def test_actor_that_dies_past_its_restarts_masks_its_calls(ray_cluster: RayCluster) -> None:
    sleeps = PREFIX + "Sleeps"
    with RayRewardRuntime(actors=2, timeout_s=5.0, max_restarts=0) as rt:
        rt.verify([VerifierCall("warm", sleeps, "x")] * 2)
        timer = _kill_actor_soon(rt, 1, after_s=0.4)
        result = rt.score_batch(["c"] * 8, [_sample("x", sleeps)] * 8)
        timer.join()
        assert result.mask == [True] * 4 + [False] * 4
        assert result.rewards == [1.0] * 4 + [0.0] * 4
        assert result.counts == {sleeps: {"correct": 4, "worker_died": 4}}
        assert result.n_infra_failures == 4
        # The replacement serves the next batch.
        again = rt.score_batch(["1", "2"], [_sample("1"), _sample("2")])
        assert again.rewards == [1.0, 1.0] and rt.actor_restarts == 1


def test_verifier_defined_in_main_is_refused_before_scoring(runtime: RayRewardRuntime) -> None:
    with pytest.raises(RegistryError, match="__main__"):
        runtime.verify([VerifierCall("1", "__main__:Nope", "1")])


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1 actor"):
        RayRewardRuntime(actors=0)
    with pytest.raises(ValueError, match="non-negative"):
        RayRewardRuntime(actors=1, max_restarts=-1)
