"""Rollout engines: `generate(samples, *, n, sampling) -> list[RolloutGroup]`, `update_weights`.

`hf` (rlvr's decoding loop on the trainer's own model), `vllm` (a colocated vLLM engine; vLLM
itself is imported only when one is built), the `Rollout` a trainer holds (`build`: placement
over ranks, weight sync) and one training step's rounds (`collect`). May import `config`,
`data`, `models`, `rewards` and `backends.Dist`; never a trainer, `distributed` or `evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rlvr.data.types import RolloutGroup, Sample
from rlvr.models.tokens import render_prompt
from rlvr.rollout.hf import HFEngine, SamplingParams
from rlvr.rollout.vllm import StaleWeightsError, VLLMEngine


class RolloutEngine(Protocol):
    """What trainers call to sample completions and to push new weights."""

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]: ...

    def update_weights(self, model: Any) -> None: ...


__all__ = [
    "HFEngine",
    "RolloutEngine",
    "SamplingParams",
    "StaleWeightsError",
    "VLLMEngine",
    "render_prompt",
]
