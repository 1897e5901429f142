"""Rewards: the runtime that scores completions with verifiers in worker processes (`runtime`,
`workers`), scoring a JSONL file (`verify`) and a verifier's contract check (`contract`).
Imports `verifiers`, `rlvr.config` and `rlvr.data`; never torch, so a verifier author's tools
run without it.
"""

from rlvr.rewards.runtime import (
    INFRA_REASONS,
    CallResult,
    RewardResult,
    RewardRuntime,
    RewardSpec,
    VerifierCall,
    is_infra_failure,
    reward_specs,
)

__all__ = [
    "INFRA_REASONS",
    "CallResult",
    "RewardResult",
    "RewardRuntime",
    "RewardSpec",
    "VerifierCall",
    "is_infra_failure",
    "reward_specs",
]
