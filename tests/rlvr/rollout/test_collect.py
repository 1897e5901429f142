"""Rollout rounds over the ranks of a launch: placement choice, and what each rank generates.

The two-rank test starts two processes on gloo; each runs `sample_round` for every placement,
then recomputes in-process, without any collective, what the round must hold, so the numerics
(thread count, model copy) are the ones the round used.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rlvr.backends import Dist, free_port, rank_env
from rlvr.config.sections import DataConfig, ModelConfig
from rlvr.data.rows import load_rows
from rlvr.models.loading import load_policy
from rlvr.rewards import RewardRuntime
from rlvr.rollout import SamplingParams
from rlvr.rollout.build import Rollout, RolloutConfig, open_rollout
from rlvr.rollout.collect import RANK_SEED_STRIDE, sample_round
from rlvr.rollout.groups import Rollouts, concat_rollouts
from rlvr.rollout.hf import HFEngine
from rlvr.trainers.grpo import GRPOConfig, round_config
from tests.rlvr.trainers.test_grpo import grpo_config, grpo_data

SEED = 1234
PROMPTS = 5  # odd: the ranks' shares differ in size (2 and 3)


def _summary(r: Rollouts) -> dict[str, object]:
    return {
        "prompts": [g.sample.prompt for g in r.groups],
        "ids": [g.completion_ids for g in r.groups],
        "scores": r.scores.tolist(),
        "mask": r.mask.tolist(),
    }


def _sampling(cfg: GRPOConfig, seed: int) -> SamplingParams:
    r = cfg.rollout
    return SamplingParams(r.max_new_tokens, r.temperature, r.top_p, seed=seed)


def _worker(rank: int, world: int, port: int, cfg: GRPOConfig, out: Path) -> None:
    os.environ.update(rank_env(rank, world, port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo")
    try:
        dist = Dist(rank, world)
        model, tokenizer = load_policy(ModelConfig(cfg.model.path))
        engine = HFEngine(model, tokenizer)
        samples = load_rows(DataConfig(synthetic="arithmetic", n=PROMPTS, seed=0))[0]
        n = cfg.algo.group_size
        results = {}
        with RewardRuntime(workers=0) as runtime:
            for placement in ("shard", "replicate", "driver"):
                mine = None if placement == "driver" and rank else engine
                rollout = Rollout(mine, cfg.rollout, dist=dist, placement=placement)
                rounds = round_config(cfg, cfg.algo.resolved())
                results[placement] = _summary(sample_round(rollout, runtime, samples, rounds, SEED))
            # what each placement must give, generated here without collectives
            parts = []
            for r in range(world):
                share = Dist(r, world).shard(PROMPTS)
                seed = SEED + RANK_SEED_STRIDE * r
                groups = engine.generate(
                    samples[share.start : share.stop], n=n, sampling=_sampling(cfg, seed)
                )
                parts.append(_score(groups, runtime))
            results["want_shard"] = _summary(concat_rollouts(parts))
            whole = engine.generate(samples, n=n, sampling=_sampling(cfg, SEED))
            results["want_whole"] = _summary(_score(whole, runtime))
        torch.save(results, out / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _score(groups: list, runtime: RewardRuntime) -> Rollouts:  # type: ignore[type-arg]
    texts = [t for g in groups for t in g.texts]
    result = runtime.score_batch(texts, [g.sample for g in groups for _ in g.texts])
    return Rollouts(groups, torch.tensor(result.rewards), torch.tensor(result.mask), [result])


def test_two_ranks_generate_their_share_and_agree_on_the_round(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = grpo_data(tmp_path, tiny_model)
    data["algo"]["group_size"] = 3
    data["rollout"] = {"max_new_tokens": 6}
    cfg = grpo_config(tmp_path, data)
    torch.multiprocessing.spawn(_worker, args=(2, free_port(), cfg, tmp_path), nprocs=2)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert rank0 == rank1  # every rank holds the same round
    for placement in ("shard", "replicate", "driver"):
        assert len(rank0[placement]["ids"]) == PROMPTS
    # shard: rank r sampled its share with its own seed; the parts are in prompt order
    assert rank0["shard"] == rank0["want_shard"]
    # replicate and driver: the round a single process draws with the round's seed
    assert rank0["replicate"] == rank0["want_whole"]
    assert rank0["driver"] == rank0["want_whole"]
    assert rank0["shard"]["prompts"] == rank0["want_whole"]["prompts"]
    assert rank0["shard"]["ids"] != rank0["want_whole"]["ids"]


@pytest.mark.parametrize(
    ("engine", "zero3", "data_parallel", "world", "want"),
    [
        ("hf", False, True, 2, "shard"),
        ("hf", True, True, 2, "replicate"),  # ZeRO-3 forward passes are collective
        ("hf", False, False, 2, "replicate"),
        ("hf", True, True, 1, "shard"),
    ],
)
def test_placement_follows_engine_stage_and_switch(
    tiny_model: Path, engine: str, zero3: bool, data_parallel: bool, world: int, want: str
) -> None:
    model, tokenizer = load_policy(ModelConfig(str(tiny_model)))
    cfg = RolloutConfig(engine=engine, data_parallel=data_parallel)  # type: ignore[arg-type]
    rollout = open_rollout(
        cfg,
        model=model,
        tokenizer=tokenizer,
        model_dir=tiny_model,
        seed=0,
        dist=Dist(0, world),
        zero3=zero3,
    )
    assert rollout.placement == want


def test_ray_on_several_ranks_needs_rollout_actors(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rlvr.trainers import grpo

    data = grpo_data(tmp_path, tiny_model)
    data["distributed"] = {"kind": "ray", "rollout_workers": 0, "reward_workers": 1}
    cfg = grpo_config(tmp_path, data)
    monkeypatch.setattr(grpo, "launch", lambda backend: Dist(0, 2))
    with pytest.raises(ValueError, match=r"rollout_workers > 0"):
        grpo.train(cfg)
    assert not (tmp_path / "runs").exists()


def test_driver_ranks_without_engine_walk_the_weights(tiny_model: Path) -> None:
    # under ZeRO-3 gathering is collective: a rank that pushes nothing must still read them all
    read = []

    def weights():  # type: ignore[no-untyped-def]
        for name in ("a", "b"):
            read.append(name)
            yield name, torch.zeros(1)

    rollout = Rollout(None, RolloutConfig(), kind="ray", dist=Dist(1, 2), placement="driver")
    assert rollout.after_update(torch.nn.Linear(1, 1), weights=weights) == {}
    assert read == ["a", "b"] and rollout.syncs == 1
