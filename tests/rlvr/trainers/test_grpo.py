"""GRPO trainer: reward shaping, dynamic sampling, a smoke run, and kill-and-resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.config import load_config
from rlvr.data import RolloutGroup, Sample
from rlvr.data.batches import Batches
from rlvr.rewards import RewardRuntime
from rlvr.rollout import SamplingParams
from rlvr.rollout.build import Rollout, RolloutConfig
from rlvr.rollout.collect import collect
from rlvr.trainers.grpo import (
    AlgoConfig,
    GRPOConfig,
    Rollouts,
    round_config,
    shaped_rewards,
    train,
)
from tests.rlvr.trainers.conftest import write_config

VOLATILE = ("time", "_s", "/s", "elapsed")


def grpo_data(tmp_path: Path, model: Path, name: str = "grpo", **train: object) -> dict:
    return {
        "stage": "grpo",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 64, "seed": 0},
        "eval_data": {"synthetic": "arithmetic", "n": 8, "seed": 99},
        "algo": {
            "preset": "grpo",
            "group_size": 4,
            "prompts_per_step": 4,
            "num_iterations": 2,
            "micro_batch_size": 8,
        },
        "rollout": {"max_new_tokens": 8},
        "optim": {"lr": 1e-3},
        "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, **train},
        "generation": {"max_new_tokens": 8},
        "reward": {"workers": 1},
        "run": {"name": name, "output_dir": str(tmp_path / "runs")},
    }


def grpo_config(tmp_path: Path, data: dict) -> GRPOConfig:
    return load_config(write_config(tmp_path / "grpo.yaml", data))


def rollouts(scores: list[float], mask: list[bool], group_size: int) -> Rollouts:
    sample = Sample("p", "1", "math")
    groups = [
        RolloutGroup(
            sample,
            (1,),
            ((5,),) * group_size,
            ((0.0,),) * group_size,
            ("x",) * group_size,
            ("stop",) * group_size,
        )
        for _ in range(len(scores) // group_size)
    ]
    return Rollouts(groups, torch.tensor(scores), torch.tensor(mask), [])


def test_masked_rows_take_their_group_mean(tmp_path: Path, tiny_model: Path) -> None:
    cfg = grpo_config(tmp_path, grpo_data(tmp_path, tiny_model))
    r = rollouts([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5], [True, True, False, True] * 2, 4)
    # group 1: kept rows 1, 0, 0 -> mean 1/3 replaces row 2; group 2: kept 1, 1, 0.5 -> 2.5/3
    expected = torch.tensor([1.0, 0.0, 1 / 3, 0.0, 1.0, 1.0, 2.5 / 3, 0.5])
    got = shaped_rewards(r, cfg)
    torch.testing.assert_close(got, expected)


def test_overlong_buffer_zero_disables_and_preset_buffer_scales() -> None:
    dapo = AlgoConfig(preset="dapo")
    assert dapo.resolved().overlong_buffer == 4096  # the paper's value, kept in the preset
    assert dapo.overlong_buffer_for(20480) == 4096
    assert dapo.overlong_buffer_for(24) == 4  # a fifth of a short run's completion length
    off = AlgoConfig(preset="dapo", overlong_buffer=0)
    assert off.resolved().overlong_buffer is None
    assert off.overlong_buffer_for(24) is None
    assert AlgoConfig(preset="dapo", overlong_buffer=8).overlong_buffer_for(24) == 8
    assert AlgoConfig(preset="grpo").overlong_buffer_for(24) is None
    with pytest.raises(ValueError, match=r"overlong_buffer \(24\) must be in \[0, rollout"):
        AlgoConfig(preset="dapo", overlong_buffer=24).overlong_buffer_for(24)


def test_overlong_shaping_uses_the_buffer(tmp_path: Path, tiny_model: Path) -> None:
    data = grpo_data(tmp_path, tiny_model)
    data["algo"] = {**data.get("algo", {}), "preset": "dapo", "overlong_buffer": 2}
    data["rollout"] = {**data.get("rollout", {}), "max_new_tokens": 4}
    cfg = grpo_config(tmp_path, data)
    r = rollouts([1.0, 1.0, 0.0, 0.0], [True] * 4, 4)
    r.groups[0] = replace(r.groups[0], completion_ids=((5,), (5, 5, 5), (5,) * 4, (5, 5)))
    # buffer [2, 4): length 3 loses 1/2, length 4 loses 1 (DAPO eq. 13)
    torch.testing.assert_close(shaped_rewards(r, cfg), torch.tensor([1.0, 0.5, -1.0, 0.0]))


class ScriptedEngine:
    """Returns completions whose rewards follow a script: row k of call c gets script[c][k]."""

    def __init__(self, script: list[list[str]]) -> None:
        self.script, self.calls = script, 0

    def generate(self, samples, *, n, sampling: SamplingParams):  # type: ignore[no-untyped-def]
        texts = self.script[self.calls]
        self.calls += 1
        return [
            RolloutGroup(
                s,
                (1,),
                ((5,),) * n,
                ((0.0,),) * n,
                tuple(texts[i * n : (i + 1) * n]),
                ("stop",) * n,
            )
            for i, s in enumerate(samples)
        ]

    def update_weights(self, model: object) -> None:
        return None


def test_dynamic_sampling_drops_flat_groups_and_refills(tmp_path: Path, tiny_model: Path) -> None:
    data = grpo_data(tmp_path, tiny_model)
    data["algo"] = {"preset": "dapo", "group_size": 2, "prompts_per_step": 2}
    cfg = grpo_config(tmp_path, data)
    samples = [Sample("q", "7", "math")] * 8
    right, wrong = "\\boxed{7}", "\\boxed{8}"
    engine = ScriptedEngine(
        [
            [right, right, right, wrong],  # group 0 flat (dropped), group 1 kept
            [wrong, wrong, wrong, right],  # group 0 flat (dropped), group 1 kept
        ]
    )
    with RewardRuntime(workers=0) as runtime:
        rollout = Rollout(engine, RolloutConfig())
        rounds = round_config(cfg, cfg.algo.resolved())
        r, stats = collect(rollout, runtime, Batches(8, 0), samples, rounds, step=0)
    assert engine.calls == 2 and len(r.groups) == 2
    assert r.scores.tolist() == [1.0, 0.0, 0.0, 1.0]
    assert stats == {
        "rollout/rounds": 2,
        "rollout/dropped_groups": 2,
        "rollout/refill_short": 0,
        "rollout/zero_variance_share": 0.5,  # 2 flat groups of the 4 sampled over both rounds
    }


def test_algo_overrides_apply_on_top_of_preset() -> None:
    algo = AlgoConfig(preset="dapo", eps_high=0.3, dynamic_sampling=False).resolved()
    assert (algo.eps_low, algo.eps_high, algo.dynamic_sampling) == (0.2, 0.3, False)
    assert algo.agg_mode == "token-mean" and algo.kl_coef == 0.0


def test_smoke_run_changes_weights_and_logs(tmp_path: Path, tiny_model: Path) -> None:
    # the untrained model never answers right: coin-flip rewards give non-zero advantages
    cfg = grpo_config(tmp_path, grpo_data(tmp_path, tiny_model, random_reward=True))
    result = train(cfg)
    assert result.steps == 4 and result.accuracy_after is not None
    rows = [
        json.loads(x) for x in (tmp_path / "runs/grpo/metrics.jsonl").read_text().split("\n") if x
    ]
    steps = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for key in (
        "train/kl",
        "train/entropy",
        "train/clip_frac",
        "completion/length_mean",
        "completion/truncated_share",
        "reward/math/pass_rate",
        "rollout/tokens_per_s",
    ):
        assert all(key in r for r in steps), key
    assert all(torch.isfinite(torch.tensor(r["train/loss"])) for r in steps)
    # mu = 2: the second optimizer step on a batch sees ratios away from 1
    assert any(r["train/ratio_mean"] != 1.0 for r in steps)
    before = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    after = AutoModelForCausalLM.from_pretrained(result.final).state_dict()
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])


def test_kl_to_the_start_is_logged_without_a_kl_term_and_the_stop_is_named(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = grpo_data(tmp_path, tiny_model, random_reward=True, kl_every=2)
    data["algo"] = {**data["algo"], "preset": "dapo", "dynamic_sampling": False}
    result = train(grpo_config(tmp_path, data))
    assert (result.stopped_by, result.steps) == ("max_steps", 4) and result.trained_s > 0
    rows = _metrics(tmp_path / "runs/grpo/metrics.jsonl")
    kl = {r["step"]: r["train/kl"] for r in rows if "train/kl" in r}
    assert sorted(kl) == [1, 3]  # steps 0 and 2 of the loop, logged as 1 and 3
    assert kl[1] > 0 and kl[3] > 0  # mu = 2: the last pass of a step follows an update
    summary = json.loads((tmp_path / "runs/grpo/summary.json").read_text())
    assert summary["stopped_by"] == "max_steps"
    data["train"] = {**data["train"], "max_seconds": 1e-9}
    data["run"] = {**data["run"], "name": "timed"}
    assert train(grpo_config(tmp_path, data)).stopped_by == "max_seconds"


def _metrics(path: Path) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x]
    return [{k: v for k, v in r.items() if not any(t in k for t in VOLATILE)} for r in rows]


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_metrics_stream(tmp_path: Path, tiny_model: Path) -> None:
    common = {"max_steps": 6, "random_reward": True}
    train(grpo_config(tmp_path, grpo_data(tmp_path, tiny_model, "straight", **common)))
    data = grpo_data(tmp_path, tiny_model, "killed", **common)
    config = write_config(tmp_path / "killed.yaml", data)
    metrics = tmp_path / "runs/killed/metrics.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    cmd = [sys.executable, "-m", "rlvr.cli", "train", str(config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill after step 3 is logged (checkpoint at step 2)
        if metrics.exists() and '"step": 3' in metrics.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert '"step": 6' not in metrics.read_text()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    resumed, straight = _metrics(metrics), _metrics(tmp_path / "runs/straight/metrics.jsonl")
    assert [sorted(r) for r in resumed] == [sorted(r) for r in straight]
    # Same steps, keys, rollouts and rewards. Float metrics may differ in the last bits of
    # float32: the resumed process reloads weights and optimizer state bit for bit, but CPU
    # kernels (the shared-prefix forward's cache gathers among them) have been seen to round
    # differently across processes by up to ~1e-7 relative. 1e-6 bounds that, and a wrong
    # restore (data cursor, optimizer state, RNG) moves these metrics by orders more.
    for got, want in zip(resumed, straight, strict=True):
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (got["step"], key)
            else:
                assert got[key] == value, (got["step"], key)
