"""Pure tensor functions for RL on language models: advantages, losses, KL, and presets.

Tensors in, ``(loss, stats)`` out; every option is an explicit keyword. GRPO, DAPO and Dr. GRPO
(``presets.PRESETS``), PPO and REINFORCE++ (``presets.RLHF_PRESETS``) are argument values for
these functions, not trainers. See ``docs/algorithms.md`` for the paper-to-argument table.
"""

from rlvr.algorithms.advantages import (
    STD_SCALINGS,
    StdScaling,
    discounted_returns,
    explained_variance,
    gae,
    group_advantages,
    masked_mean,
    overlong_penalty,
    sequence_scores,
    whiten,
    zero_variance_groups,
)
from rlvr.algorithms.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    FixedKLController,
    KLController,
    KLEstimator,
    StepKLController,
    entropy_from_logits,
    kl_estimate,
    kl_reward,
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
from rlvr.algorithms.presets import (
    PRESETS,
    RLHF_PRESETS,
    LossPreset,
    RLHFPreset,
    get_preset,
    get_rlhf_preset,
)

__all__ = [
    "AGGREGATIONS",
    "KL_ESTIMATORS",
    "PAIR_LOSSES",
    "PRESETS",
    "RLHF_PRESETS",
    "STD_SCALINGS",
    "AdaptiveKLController",
    "AggMode",
    "FixedKLController",
    "KLController",
    "KLEstimator",
    "LossPreset",
    "PairLoss",
    "RLHFPreset",
    "Stats",
    "StdScaling",
    "StepKLController",
    "aggregate",
    "bradley_terry_loss",
    "discounted_returns",
    "entropy_from_logits",
    "explained_variance",
    "gae",
    "get_preset",
    "get_rlhf_preset",
    "group_advantages",
    "kl_estimate",
    "kl_reward",
    "kto_baseline",
    "kto_loss",
    "masked_mean",
    "overlong_penalty",
    "pair_loss",
    "policy_loss",
    "sequence_scores",
    "sft_loss",
    "value_loss",
    "whiten",
    "zero_variance_groups",
]
