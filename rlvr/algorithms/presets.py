"""GRPO, DAPO and Dr. GRPO, and PPO and REINFORCE++, as argument values (data), not as trainers.

A trainer reads a ``LossPreset`` and passes its fields, one by one, to ``group_advantages``,
``zero_variance_groups``, ``overlong_penalty`` and ``policy_loss``; the PPO trainer reads an
``RLHFPreset`` and passes its fields to ``kl_reward``, ``gae`` or ``discounted_returns``,
``whiten``, ``policy_loss`` and ``value_loss``. ``docs/algorithms.md`` maps each paper to these
values.

Implementation details:
    1. ``grpo`` (Shao et al. 2024, https://arxiv.org/abs/2402.03300): eq. 3 objective, i.e. the
       group mean and std advantage of §4.1.2, per-sequence token mean then mean over the group,
       and a k3 KL term with ``beta = 0.04`` (§4.2). The paper gives no clip range; 0.2 is the
       PPO default (Schulman et al. 2017, §6.1) and TRL's ``epsilon``.
    2. ``dapo`` (Yu et al. 2025, https://arxiv.org/abs/2503.14476): clip-higher with
       ``eps_low = 0.2`` and ``eps_high = 0.28`` (§3.1), dynamic sampling (§3.2), token-level loss
       (§3.3), soft overlong punishment with a 4096-token cache (§3.4; 16384 expected tokens plus
       4096, so generation stops at 20480), and no KL term (§2.3).
    3. ``dr_grpo`` (Liu et al. 2025, https://arxiv.org/abs/2503.20783, §3.1): no std scaling,
       per-sequence token sum over a constant, and no KL (the released Oat-Zero recipes set
       ``--beta 0``). The constant ``norm_len`` is the run's maximum completion length, which the
       trainer passes; it is a property of the run, not of the algorithm.
    4. ``ppo`` (Ziegler et al. 2019, https://arxiv.org/abs/1909.08593; Ouyang et al. 2022,
       https://arxiv.org/abs/2203.02155): a critic, GAE with ``gamma = 1``, ``lambda = 0.95``,
       whitened advantages, clip 0.2, value clip 0.2, the k1 KL penalty in the reward with
       ``beta = 0.05`` to start (the values of TRL's former ``PPOConfig``: ``gamma``, ``lam``,
       ``cliprange``, ``cliprange_value``, ``kl_coef``).
    5. ``reinforce_pp`` (Hu 2025, https://arxiv.org/abs/2501.03262): no critic; the advantage
       is the return of the per-token rewards (score at the last token, k1 KL penalty on every
       token, ``gamma = 1``), normalised over the whole batch (§3, "global advantage
       normalisation"); clip 0.2 as PPO. Its ``beta = 0.01`` start is this project's choice
       for short tiny-model runs, not a value from the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rlvr.algorithms.advantages import StdScaling
from rlvr.algorithms.losses import AggMode


@dataclass(frozen=True)
class LossPreset:
    """The argument values that tell the group-relative algorithms apart."""

    eps_low: float
    """Lower clip: the ratio is clipped below at ``1 - eps_low``."""
    eps_high: float
    """Upper clip: the ratio is clipped above at ``1 + eps_high`` (clip-higher if > eps_low)."""
    agg_mode: AggMode
    """Loss aggregation passed to ``losses.aggregate``."""
    std_scaling: StdScaling
    """Advantage scaling passed to ``advantages.group_advantages``."""
    kl_coef: float
    """Weight of the per-token k3 KL to the reference model; 0 needs no reference model."""
    dynamic_sampling: bool
    """Drop groups flagged by ``advantages.zero_variance_groups`` and sample more to refill."""
    overlong_buffer: int | None
    """Soft-punishment interval (tokens) for ``advantages.overlong_penalty``; None disables it."""
    leave_one_out: bool
    """Use the RLOO leave-one-out baseline instead of the group mean."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.eps_low < 1.0 and self.eps_high >= 0.0):
            raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {self}")
        if self.kl_coef < 0.0 or (self.overlong_buffer is not None and self.overlong_buffer <= 0):
            raise ValueError(f"need kl_coef >= 0 and a positive overlong_buffer, got {self}")


PRESETS: Mapping[str, LossPreset] = MappingProxyType(
    {
        "grpo": LossPreset(
            eps_low=0.2,
            eps_high=0.2,
            agg_mode="seq-mean-token-mean",
            std_scaling="group",
            kl_coef=0.04,
            dynamic_sampling=False,
            overlong_buffer=None,
            leave_one_out=False,
        ),
        "dapo": LossPreset(
            eps_low=0.2,
            eps_high=0.28,
            agg_mode="token-mean",
            std_scaling="group",
            kl_coef=0.0,
            dynamic_sampling=True,
            overlong_buffer=4096,
            leave_one_out=False,
        ),
        "dr_grpo": LossPreset(
            eps_low=0.2,
            eps_high=0.2,
            agg_mode="seq-mean-token-sum-norm",
            std_scaling="none",
            kl_coef=0.0,
            dynamic_sampling=False,
            overlong_buffer=None,
            leave_one_out=False,
        ),
    }
)
"""Preset name -> values; read-only. Sources in the module docstring and docs/algorithms.md."""


def get_preset(name: str) -> LossPreset:
    """The preset called ``name``.

    Raises:
        ValueError: ``name`` is not in ``PRESETS``; the message lists the known names.

    Example:
        >>> get_preset("dapo").eps_high
        0.28
    """
    if name not in PRESETS:
        raise ValueError(f"unknown loss preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class RLHFPreset:
    """The argument values that tell PPO and REINFORCE++ apart (implementation details 4-5)."""

    critic: bool
    """Learn a value function and take GAE advantages (PPO); False: returns as advantages."""
    gamma: float
    """Discount over completion tokens."""
    lam: float
    """GAE ``lambda`` (unused without a critic)."""
    eps: float
    """Ratio clip: ``[1 - eps, 1 + eps]``."""
    value_clip: float
    """Largest move of a value prediction from its rollout-time value in one batch."""
    whiten_advantages: bool
    """Normalise the advantages over every completion token of the batch."""
    kl_coef: float
    """Starting beta of the KL penalty in the reward."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError(f"need gamma and lam in [0, 1], got {self.gamma} and {self.lam}")
        if not (0.0 < self.eps < 1.0 and self.value_clip > 0.0 and self.kl_coef >= 0.0):
            raise ValueError(f"need 0 < eps < 1, value_clip > 0 and kl_coef >= 0, got {self}")


RLHF_PRESETS: Mapping[str, RLHFPreset] = MappingProxyType(
    {
        "ppo": RLHFPreset(
            critic=True,
            gamma=1.0,
            lam=0.95,
            eps=0.2,
            value_clip=0.2,
            whiten_advantages=True,
            kl_coef=0.05,
        ),
        "reinforce_pp": RLHFPreset(
            critic=False,
            gamma=1.0,
            lam=1.0,
            eps=0.2,
            value_clip=0.2,
            whiten_advantages=True,
            kl_coef=0.01,
        ),
    }
)
"""PPO-trainer preset name -> values; read-only. Sources in the module docstring."""


def get_rlhf_preset(name: str) -> RLHFPreset:
    """The PPO-trainer preset called ``name``.

    Raises:
        ValueError: ``name`` is not in ``RLHF_PRESETS``; the message lists the known names.

    Example:
        >>> get_rlhf_preset("reinforce_pp").critic
        False
    """
    if name not in RLHF_PRESETS:
        raise ValueError(f"unknown PPO preset {name!r}; known: {sorted(RLHF_PRESETS)}")
    return RLHF_PRESETS[name]
