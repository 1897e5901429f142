"""Rollout actors: same draws as the in-process engine, weight broadcast, shards, dead actors."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from rlvr.config.sections import ModelConfig
from rlvr.data import Sample, generate
from rlvr.distributed.cluster import RayCluster
from rlvr.distributed.rollout import RayRolloutEngine, shard_seed
from rlvr.models.loading import load_policy
from rlvr.rollout import HFEngine, SamplingParams

SAMPLING = SamplingParams(max_new_tokens=6, temperature=1.0, seed=11)


def _samples(n: int) -> list[Sample]:
    return [task.sample for task in generate("arithmetic", n, seed=3)]


def _draws(groups: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(g.sample, g.prompt_ids, g.completion_ids, g.texts, g.finish_reasons) for g in groups]


def _assert_same(got: list, want: list) -> None:  # type: ignore[type-arg]
    # Actors run as many torch threads as this process, so even the log-probs are bit-identical.
    assert _draws(got) == _draws(want)
    assert [g.logprobs for g in got] == [g.logprobs for g in want]


def _engine(model_dir: Path, model: torch.nn.Module, actors: int) -> RayRolloutEngine:
    threads = torch.get_num_threads()
    return RayRolloutEngine(ModelConfig(str(model_dir)), model, actors=actors, threads=threads)


@pytest.mark.slow
def test_one_actor_draws_what_the_local_engine_draws_and_follows_weight_updates(
    ray_cluster: RayCluster, tiny_model: Path
) -> None:
    model, tokenizer = load_policy(ModelConfig(str(tiny_model)))
    local = HFEngine(model, tokenizer, batch_size=64)
    samples = _samples(6)
    with _engine(tiny_model, model, actors=1) as ray_engine:
        _assert_same(
            ray_engine.generate(samples, n=3, sampling=SAMPLING),
            local.generate(samples, n=3, sampling=SAMPLING),
        )
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        stale = ray_engine.generate(samples, n=3, sampling=SAMPLING)
        ray_engine.update_weights(model)
        fresh = ray_engine.generate(samples, n=3, sampling=SAMPLING)
    want = local.generate(samples, n=3, sampling=SAMPLING)
    _assert_same(fresh, want)
    assert _draws(stale) != _draws(want), "the actor kept the old weights until the update"


@pytest.mark.slow
def test_shards_keep_input_order_and_seeds_derive_from_the_step_seed(
    ray_cluster: RayCluster, tiny_model: Path
) -> None:
    model, tokenizer = load_policy(ModelConfig(str(tiny_model)))
    local = HFEngine(model, tokenizer, batch_size=64)
    samples = _samples(5)
    with _engine(tiny_model, model, actors=2) as ray_engine:
        got = ray_engine.generate(samples, n=2, sampling=SAMPLING)
        again = ray_engine.generate(samples, n=2, sampling=SAMPLING)
        # A dead actor is replaced, loaded with the current weights, and its shard redrawn.
        pid = ray_cluster.ray.get(ray_engine.actor_handles()[1].pid.remote())
        os.kill(pid, signal.SIGKILL)
        after_kill = ray_engine.generate(samples, n=2, sampling=SAMPLING)
        assert ray_engine.restarts == 1
    second = SamplingParams(max_new_tokens=6, temperature=1.0, seed=shard_seed(11, 1))
    want = local.generate(samples[:3], n=2, sampling=SAMPLING)
    want += local.generate(samples[3:], n=2, sampling=second)
    _assert_same(got, want)
    assert _draws(again) == _draws(got) == _draws(after_kill)


def test_no_actors_is_refused(tiny_model: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 rollout actor"):
        RayRolloutEngine(ModelConfig(str(tiny_model)), torch.nn.Linear(1, 1), actors=0)
