"""GRPO, DAPO and Dr. GRPO presets: their values, immutability, and use by the loss functions."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rlvr.algorithms import (
    AGGREGATIONS,
    PRESETS,
    RLHF_PRESETS,
    STD_SCALINGS,
    LossPreset,
    RLHFPreset,
    get_preset,
    get_rlhf_preset,
    group_advantages,
    overlong_penalty,
    policy_loss,
    zero_variance_groups,
)


def test_preset_values_match_the_papers() -> None:
    assert PRESETS["grpo"] == LossPreset(
        0.2, 0.2, "seq-mean-token-mean", "group", 0.04, False, None, False
    )
    assert PRESETS["dapo"] == LossPreset(0.2, 0.28, "token-mean", "group", 0.0, True, 4096, False)
    assert PRESETS["dr_grpo"] == LossPreset(
        0.2, 0.2, "seq-mean-token-sum-norm", "none", 0.0, False, None, False
    )


def test_presets_are_read_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["dapo"].eps_high = 0.3  # type: ignore[misc]
    with pytest.raises(TypeError):
        PRESETS["mine"] = PRESETS["dapo"]  # type: ignore[index]


def test_unknown_preset_names_list_the_known_ones() -> None:
    assert get_preset("dr_grpo") is PRESETS["dr_grpo"]
    with pytest.raises(ValueError, match="dapo"):
        get_preset("ppo2")


@pytest.mark.parametrize(
    ("eps_low", "eps_high", "kl_coef", "overlong_buffer"),
    [(1.0, 0.2, 0.0, None), (0.2, -0.1, 0.0, None), (0.2, 0.2, -0.01, None), (0.2, 0.2, 0.0, 0)],
)
def test_invalid_presets_are_rejected(
    eps_low: float, eps_high: float, kl_coef: float, overlong_buffer: int | None
) -> None:
    with pytest.raises(ValueError):
        LossPreset(eps_low, eps_high, "token-mean", "group", kl_coef, False, overlong_buffer, False)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_drives_one_loss_step(name: str) -> None:
    """A trainer's use of a preset: fields go one by one to the pure functions."""
    preset = PRESETS[name]
    assert preset.agg_mode in AGGREGATIONS and preset.std_scaling in STD_SCALINGS
    torch.manual_seed(0)
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])  # B = 2 prompts, G = 4
    lengths = torch.tensor([3, 5, 2, 4, 5, 1, 3, 2])
    if preset.overlong_buffer is not None:
        rewards = rewards + overlong_penalty(
            lengths, max_len=5, buffer_len=min(preset.overlong_buffer, 5)
        )
    keep = torch.ones(2, dtype=torch.bool)
    if preset.dynamic_sampling:
        keep = ~zero_variance_groups(rewards, group_size=4)
    adv = group_advantages(
        rewards, group_size=4, std_scaling=preset.std_scaling, leave_one_out=preset.leave_one_out
    )
    mask = (torch.arange(5)[None, :] < lengths[:, None]) & keep.repeat_interleave(4)[:, None]
    logprobs = torch.randn(8, 5, requires_grad=True)
    ref = logprobs.detach() - 0.1
    loss, stats = policy_loss(
        logprobs,
        logprobs.detach(),
        adv,
        mask,
        eps_low=preset.eps_low,
        eps_high=preset.eps_high,
        agg_mode=preset.agg_mode,
        norm_len=5,
        ref_logprobs=ref,
        kl_coef=preset.kl_coef,
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert logprobs.grad is not None and logprobs.grad.abs().sum() > 0
    assert stats["clip_frac"] == 0.0


def test_rlhf_presets_match_their_sources() -> None:
    # ppo: TRL's former PPOConfig (gamma 1, lam 0.95, cliprange 0.2, cliprange_value 0.2,
    # kl_coef 0.05) with whitened advantages; reinforce_pp: no critic, gamma 1, global
    # normalisation (Hu 2025, section 3)
    assert RLHF_PRESETS["ppo"] == RLHFPreset(True, 1.0, 0.95, 0.2, 0.2, True, 0.05)
    assert RLHF_PRESETS["reinforce_pp"] == RLHFPreset(False, 1.0, 1.0, 0.2, 0.2, True, 0.01)
    assert get_rlhf_preset("reinforce_pp") is RLHF_PRESETS["reinforce_pp"]
    with pytest.raises(ValueError, match="reinforce_pp"):
        get_rlhf_preset("grpo")
    with pytest.raises(TypeError):
        RLHF_PRESETS["mine"] = RLHF_PRESETS["ppo"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("gamma", "lam", "eps", "value_clip", "kl_coef"),
    [(1.1, 0.9, 0.2, 0.2, 0.0), (1.0, -0.1, 0.2, 0.2, 0.0), (1.0, 1.0, 0.0, 0.2, 0.0),
     (1.0, 1.0, 0.2, 0.0, 0.0), (1.0, 1.0, 0.2, 0.2, -1.0)],
)  # fmt: skip
def test_invalid_rlhf_presets_are_rejected(
    gamma: float, lam: float, eps: float, value_clip: float, kl_coef: float
) -> None:
    with pytest.raises(ValueError):
        RLHFPreset(True, gamma, lam, eps, value_clip, True, kl_coef)
