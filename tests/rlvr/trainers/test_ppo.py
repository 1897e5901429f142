"""PPO trainer: config checks, critic checks, sequence scores, smoke runs of both critic kinds
and REINFORCE++, the KL ceiling (stop and rollback), and resume."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from rlvr.cli.main import main as cli_main
from rlvr.config import ConfigError, load_config
from rlvr.models.tiny import TinyModelConfig, build_tiny
from rlvr.models.value_head import CriticError
from rlvr.trainers.ppo import PPOConfig, PPOResult, train
from tests.rlvr.trainers.conftest import write_config

VOLATILE = ("time", "_s", "/s", "elapsed")


def ppo_data(tmp_path: Path, model: Path, name: str = "ppo", **train: object) -> dict[str, Any]:
    return {
        "stage": "ppo",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 64, "seed": 0},
        "eval_data": {"synthetic": "arithmetic", "n": 4, "seed": 99},
        "algo": {"prompts_per_step": 4, "samples_per_prompt": 2, "ppo_epochs": 2},
        "kl": {"beta": 0.1},
        "rollout": {"max_new_tokens": 6},
        "optim": {"lr": 1e-3},
        "train": {"max_steps": 2, "eval_every": 2, "save_every": 2, **train},
        "generation": {"max_new_tokens": 6},
        "reward": {"workers": 0},
        "run": {"name": name, "output_dir": str(tmp_path / "runs")},
    }


def ppo_config(tmp_path: Path, data: dict[str, Any]) -> PPOConfig:
    config = load_config(write_config(tmp_path / f"{data['run']['name']}.yaml", data))
    assert isinstance(config, PPOConfig)
    return config


def rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("kl", {"target": 6.0, "ceiling": 3.0}, r"kl.ceiling \(3.0\) must be above kl.target"),
        ("kl", {"beta": -0.1}, r"kl.beta must be >= 0, got -0.1"),
        ("kl", {"controller": "adaptive"}, "kl.controller: adaptive needs kl.target"),
        ("algo", {"ppo_epochs": 0}, "algo.ppo_epochs must be >= 1"),
        ("critic", {"kind": "head"}, "critic.kind: head samples with rollout.engine: hf"),
        (
            "reward",
            {"model": {"path": "rm", "normalize": "group"}},
            r"normalize: group .* needs algo.samples_per_prompt >= 2, got 1",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, section: str, values: dict[str, Any], message: str
) -> None:
    data = ppo_data(tmp_path, tmp_path / "model")
    data[section] = {**data.get(section, {}), **values}
    if section == "critic":
        data["rollout"]["engine"] = "vllm"
    if section == "reward":
        data["algo"]["samples_per_prompt"] = 1
    with pytest.raises(ConfigError, match=message):
        ppo_config(tmp_path, data)


def test_the_cli_prints_a_bad_ceiling_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ppo_data(tmp_path, tmp_path / "model")
    data["kl"] = {"target": 2.0, "ceiling": 1.0, "controller": "adaptive"}
    code = cli_main(["train", str(write_config(tmp_path / "bad.yaml", data))])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("rlvr train:") and "kl.ceiling (1.0) must be above kl.target" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("shape", "kind", "message"),
    [
        ({"vocab_size": 400}, "separate", "its tokenizer differs from the policy's"),
        (
            {"hidden_size": 64, "num_attention_heads": 1, "num_key_value_heads": 1},
            "head",
            "size 64",
        ),
    ],
)
def test_a_critic_that_does_not_fit_the_policy_is_refused_before_the_run_starts(
    tmp_path: Path, tiny_model: Path, shape: dict[str, int], kind: str, message: str
) -> None:
    other = build_tiny(tmp_path / "other", TinyModelConfig(**shape))
    data = ppo_data(tmp_path, tiny_model)
    data["critic"] = {"kind": kind, "path": str(other)}
    with pytest.raises(CriticError, match=message):
        train(ppo_config(tmp_path, data))
    assert not (tmp_path / "runs").exists()


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def test_ppo_with_a_separate_critic_trains_both_and_logs_its_metrics(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = ppo_data(tmp_path, tiny_model)
    data["algo"] = {**data["algo"], "mini_batch_size": 4, "micro_batch_size": 2}
    data["kl"] = {"beta": 0.1, "controller": "adaptive", "target": 0.5, "horizon": 16}
    result = train(ppo_config(tmp_path, data))
    assert (result.steps, result.stopped_by, result.accuracy_after is not None) == (
        2,
        "max_steps",
        True,
    )
    steps = [r for r in rows(tmp_path / "runs/ppo") if "policy/clipfrac" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for key in (
        "kl/mean",
        "kl/beta",
        "train/kl",
        "value/loss",
        "value/explained_variance",
        "policy/clipfrac",
        "returns/mean",
        "advantages/mean",
        "reward/math/pass_rate",
        "value/grad_norm",
    ):
        assert all(key in r and r[key] is not None for r in steps), key
    assert steps[0]["kl/mean"] == pytest.approx(0.0, abs=1e-6)  # the policy is the reference
    # adaptive: beta after step 1 follows Ziegler's update with KL 0 (error clipped to -0.2)
    assert steps[1]["kl/beta"] == pytest.approx(0.1 * (1 - 0.2 * 8 / 16))
    # several optimizer steps per batch: the later mini-batches see ratios away from 1
    assert any(r["train/ratio_mean"] != 1.0 for r in steps)
    final = Path(result.final)
    start, after = _weights(tiny_model), _weights(final)
    assert not torch.equal(start["lm_head.weight"], after["lm_head.weight"])
    critic = load_file(str(final / "critic/model.safetensors"))
    assert critic["score.weight"].shape == (1, 128)
    summary = json.loads((tmp_path / "runs/ppo/summary.json").read_text())
    assert summary["stopped_by"] == "max_steps" and summary["masked_rows"] == 0


def test_a_value_head_trains_with_the_policy_and_stays_out_of_the_final_model(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = ppo_data(tmp_path, tiny_model, save_every=1)
    data["critic"] = {"kind": "head", "vf_coef": 0.5}
    result = train(ppo_config(tmp_path, data))
    checkpoint = _weights(tmp_path / "runs/ppo/checkpoints/step-00000002")
    assert checkpoint["v_head.weight"].abs().sum() > 0  # it started at zero and learned
    final = _weights(Path(result.final))
    assert not any(k.startswith("v_head") for k in final)
    AutoModelForCausalLM.from_pretrained(result.final)  # a plain causal LM
    assert all(r["value/loss"] >= 0 for r in rows(tmp_path / "runs/ppo") if "value/loss" in r)


def test_reinforce_pp_keeps_no_critic(tmp_path: Path, tiny_model: Path) -> None:
    data = ppo_data(tmp_path, tiny_model, "rpp")
    data["algo"] = {**data["algo"], "preset": "reinforce_pp"}
    result = train(ppo_config(tmp_path, data))
    assert not (Path(result.final) / "critic").exists()
    steps = [r for r in rows(tmp_path / "runs/rpp") if "policy/clipfrac" in r]
    assert len(steps) == 2 and not any("value/loss" in r for r in steps)
    # no critic: the advantage of a token is its return before whitening
    assert all(r["advantages/mean"] == pytest.approx(r["returns/mean"]) for r in steps)


def _ceiling_data(tmp_path: Path, model: Path, name: str, **kl: object) -> dict[str, Any]:
    data = ppo_data(tmp_path, model, name, max_steps=4, save_every=1)
    data["optim"] = {"lr": 3e-2}  # one update moves the policy well past the ceiling
    data["kl"] = {"beta": 0.0, "ceiling": 1e-3, **kl}
    data.pop("eval_data")
    return data


def test_the_kl_ceiling_stops_the_run_and_says_when_and_why(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = train(ppo_config(tmp_path, _ceiling_data(tmp_path, tiny_model, "stop")))
    # step 1 samples from the start (KL 0); step 2 from the updated policy, past the ceiling
    assert (result.stopped_by, result.steps) == ("kl_ceiling", 2)
    assert (
        result.stop_reason.startswith("step 2: KL ")
        and "passed kl.ceiling 0.001" in result.stop_reason
    )
    assert result.stop_reason in capsys.readouterr().out  # the console line
    logged = rows(tmp_path / "runs/stop")
    assert logged[-1]["step"] == 2 and logged[-1]["kl/ceiling_crossed"] == 1.0
    assert "policy/clipfrac" not in logged[-1]  # the crossing batch is not trained on
    summary = json.loads((tmp_path / "runs/stop/summary.json").read_text())
    assert summary["stopped_by"] == "kl_ceiling" and summary["stop_reason"] == result.stop_reason
    report = (tmp_path / "runs/stop/report/report.md").read_text()
    assert f"| stopped by | kl_ceiling: {result.stop_reason} |" in report


def test_rollback_restores_the_last_checkpoint_under_the_ceiling_and_raises_beta(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = _ceiling_data(tmp_path, tiny_model, "back", on_ceiling="rollback", max_rollbacks=1)
    result: PPOResult = train(ppo_config(tmp_path, data))
    kl = {r["step"]: r["kl/mean"] for r in rows(tmp_path / "runs/back") if "kl/mean" in r}
    beta = {r["step"]: r["kl/beta"] for r in rows(tmp_path / "runs/back") if "kl/beta" in r}
    # 1: start, under; 2: crossed -> back to the step-0 checkpoint, beta 0 -> 0.05 (the floor);
    # 3: sampled from the restored start again, KL 0; 4: crossed again, no rollback left
    assert sorted(kl) == [1, 2, 3, 4]
    assert kl[2] > 1e-3 and kl[3] == pytest.approx(0.0, abs=1e-6) and kl[4] > 1e-3
    assert (beta[2], beta[3]) == (0.0, 0.05)
    assert (result.rollbacks, result.stopped_by) == (1, "kl_ceiling")
    assert "after 1 rollbacks" in result.stop_reason
    assert sorted(p.name for p in (tmp_path / "runs/back/checkpoints").glob("step-*")) == [
        "step-00000000",
        "step-00000003",
    ]


def _stable(path: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not any(t in k for t in VOLATILE)} for r in rows(path)]


def test_a_resumed_run_continues_as_an_uninterrupted_one(tmp_path: Path, tiny_model: Path) -> None:
    common = {"max_steps": 4, "save_every": 2}
    train(ppo_config(tmp_path, ppo_data(tmp_path, tiny_model, "straight", **common)))
    data = ppo_data(tmp_path, tiny_model, "resumed", **common)
    data["train"]["max_steps"] = 2
    train(ppo_config(tmp_path, data))
    data["train"]["max_steps"] = 4
    data["run"]["accept_contract_change"] = True  # the step budget grew
    train(ppo_config(tmp_path, data))
    resumed, straight = _stable(tmp_path / "runs/resumed"), _stable(tmp_path / "runs/straight")
    assert [r["step"] for r in resumed] == [r["step"] for r in straight]
    for got, want in zip(resumed, straight, strict=True):
        for key, value in want.items():
            if isinstance(value, float) and math.isfinite(value):
                assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-7), (got["step"], key)


DS_KEYS = ("kl/mean", "train/loss", "train/grad_norm", "value/loss", "value/grad_norm")


@pytest.mark.parametrize(
    ("stage", "critic"),
    [
        pytest.param(2, "separate", marks=pytest.mark.slow),
        pytest.param(3, "head", marks=pytest.mark.slow),
    ],
    ids=["zero2-separate", "zero3-head"],
)
def test_two_deepspeed_ranks_match_the_torch_backend(
    tmp_path: Path, tiny_model: Path, stage: int, critic: str
) -> None:
    """Both ranks sample the whole batch (`data_parallel: false`), as one process does, and
    each trains on its half: losses, gradient norms, the policy and the critic match."""
    pytest.importorskip("deepspeed")
    from tests.rlvr.backends._launch import launch, metrics

    configs = {}
    for name, backend in (("torch", {}), ("ds", {"kind": "deepspeed", "zero_stage": stage})):
        data = ppo_data(tmp_path, tiny_model, name)
        data.pop("eval_data")
        data["algo"] = {**data["algo"], "mini_batch_size": 4, "micro_batch_size": 2}
        data["rollout"] = {"max_new_tokens": 6, "data_parallel": False}
        data["critic"] = {"kind": critic}
        configs[name] = write_config(tmp_path / f"{name}.yaml", {**data, "backend": backend})
    train(load_config(configs["torch"]))
    launch(configs["ds"], 2)
    for key in DS_KEYS[: None if critic == "separate" else -1]:  # a head has no optimizer
        want = metrics(tmp_path / "runs/torch", key)
        assert len(want) == 2, key
        torch.testing.assert_close(
            metrics(tmp_path / "runs/ds", key), want, rtol=1e-4, atol=1e-6, msg=key
        )
    for part in ("", "critic/") if critic == "separate" else ("",):
        ref, got = (
            _weights(tmp_path / f"runs/torch/final/{part}"),
            _weights(tmp_path / f"runs/ds/final/{part}"),
        )
        assert ref.keys() == got.keys()
        for key in ref:
            torch.testing.assert_close(got[key], ref[key], rtol=1e-4, atol=1e-5, msg=key)
    assert (tmp_path / "runs/ds/checkpoints/step-00000002/critic").is_dir() == (
        critic == "separate"
    )


@pytest.mark.vllm
def test_vllm_rollouts_stay_in_sync_with_the_trained_policy(
    tmp_path: Path, tiny_model: Path
) -> None:
    pytest.importorskip("vllm")
    data = ppo_data(tmp_path, tiny_model, "vllm")
    data.pop("eval_data")
    data["rollout"] = {"max_new_tokens": 6, "engine": "vllm"}
    result = train(ppo_config(tmp_path, data))
    steps = [r for r in rows(tmp_path / "runs/vllm") if "policy/clipfrac" in r]
    assert [r["sync/count"] for r in steps] == [1, 2]
    # sampled on the weights the trainer holds: the engine's log-probs are the trainer's
    assert all(r["rollout/logprob_gap"] < 1e-3 for r in steps)
    assert not torch.equal(
        _weights(tiny_model)["lm_head.weight"], _weights(Path(result.final))["lm_head.weight"]
    )


@pytest.fixture(scope="module")
def reward_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-label reward model on the tiny model's body (its head untrained)."""
    from rlvr.config.sections import ModelConfig
    from rlvr.models.reward_head import load_reward_backbone

    model, tokenizer, _ = load_reward_backbone(ModelConfig(path=str(tiny_model)))
    out = tmp_path_factory.mktemp("rm") / "rm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("normalize", ["none", "group"])
def test_a_reward_model_that_returns_nan_masks_those_rows_and_the_run_goes_on(
    tmp_path: Path,
    tiny_model: Path,
    reward_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    normalize: str,
) -> None:
    from rlvr.rewards.learned import LearnedReward

    real = LearnedReward.score

    def every_third_nan(self: LearnedReward, rows: Any) -> list[float]:
        return [math.nan if i % 3 == 0 else s for i, s in enumerate(real(self, rows))]

    monkeypatch.setattr(LearnedReward, "score", every_third_nan)
    data = ppo_data(tmp_path, tiny_model, "nan")
    data["reward"] = {"workers": 0, "model": {"path": str(reward_model), "normalize": normalize}}
    data["score"] = {"verifier_weight": 0.0}  # the verifier is gold only
    data["critic"] = {"path": str(reward_model)}  # the critic starts from the reward model
    result = train(ppo_config(tmp_path, data))
    steps = [r for r in rows(tmp_path / "runs/nan") if "kl/mean" in r]
    # 8 completions a step: rows 0, 3 and 6 get NaN and are left out, the others train (with
    # `group`, 2 samples a prompt: rows 1, 2 and 7 are then alone in their groups and score 0)
    assert [r["reward/model_nonfinite"] for r in steps] == [3.0, 3.0]
    assert [r["reward/masked_rows"] for r in steps] == [3.0, 3.0]
    assert all(math.isfinite(r["train/loss"]) and "reward/model_mean" in r for r in steps)
    assert (result.masked_rows, result.stopped_by, result.steps) == (6, "max_steps", 2)


def test_critic_warmup_trains_the_critic_alone(tmp_path: Path, tiny_model: Path) -> None:
    data = ppo_data(tmp_path, tiny_model, "warm", max_steps=1)
    data["critic"] = {"warmup_steps": 1}
    data.pop("eval_data")
    result = train(ppo_config(tmp_path, data))
    step = next(r for r in rows(tmp_path / "runs/warm") if "value/loss" in r)
    assert "train/grad_norm" not in step and "policy/clipfrac" not in step
    assert step["value/grad_norm"] > 0
    final = Path(result.final)
    start, after = _weights(tiny_model), _weights(final)
    assert all(torch.equal(start[k], after[k]) for k in start)  # the policy did not move
    critic = load_file(str(final / "critic/model.safetensors"))
    assert critic["score.weight"].abs().sum() > 0
