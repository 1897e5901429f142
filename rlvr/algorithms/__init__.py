"""Pure tensor functions for RL on language models: advantages, losses, KL, and presets.

Tensors in, ``(loss, stats)`` out; every option is an explicit keyword. GRPO, DAPO and Dr. GRPO
are ``presets.PRESETS`` entries, i.e. argument values for these functions, not trainers. See
``docs/algorithms.md`` for the paper-to-argument table.
"""

from rlvr.algorithms.advantages import (
    STD_SCALINGS,
    StdScaling,
    gae,
    group_advantages,
    masked_mean,
    overlong_penalty,
    whiten,
    zero_variance_groups,
)
from rlvr.algorithms.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    FixedKLController,
    KLController,
    KLEstimator,
    entropy_from_logits,
    kl_estimate,
)
from rlvr.algorithms.losses import (
    AGGREGATIONS,
    AggMode,
    Stats,
    aggregate,
    policy_loss,
    sft_loss,
    value_loss,
)
from rlvr.algorithms.preference import (
    PAIR_LOSSES,
    PairLoss,
    bradley_terry_loss,
    kto_baseline,
    kto_loss,
    pair_loss,
)
from rlvr.algorithms.presets import PRESETS, LossPreset, get_preset

__all__ = [
    "AGGREGATIONS",
    "KL_ESTIMATORS",
    "PAIR_LOSSES",
    "PRESETS",
    "STD_SCALINGS",
    "AdaptiveKLController",
    "AggMode",
    "FixedKLController",
    "KLController",
    "KLEstimator",
    "LossPreset",
    "PairLoss",
    "Stats",
    "StdScaling",
    "aggregate",
    "bradley_terry_loss",
    "entropy_from_logits",
    "gae",
    "get_preset",
    "group_advantages",
    "kl_estimate",
    "kto_baseline",
    "kto_loss",
    "masked_mean",
    "overlong_penalty",
    "pair_loss",
    "policy_loss",
    "sft_loss",
    "value_loss",
    "whiten",
    "zero_variance_groups",
]
