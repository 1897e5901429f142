"""Rollout engines: `generate(samples, *, n, sampling) -> list[RolloutGroup]`, `update_weights`.

`HFEngine` (transformers, shares the trainer's model) is imported eagerly. `VLLMEngine` and
`StaleWeightsError` are loaded on first access from `rlvr.rollout.vllm`, and vLLM itself only
when a `VLLMEngine` is built, so importing this package never imports vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rlvr.data.types import RolloutGroup, Sample
from rlvr.rollout.hf import HFEngine, SamplingParams, render_prompt

if TYPE_CHECKING:
    from rlvr.rollout.vllm import StaleWeightsError, VLLMEngine


class RolloutEngine(Protocol):
    """What trainers call to sample completions and to push new weights."""

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]: ...

    def update_weights(self, model: Any) -> None: ...


_LAZY = {"VLLMEngine", "StaleWeightsError"}
"""Names served from `rlvr.rollout.vllm` on first access (it imports `rlvr.batching`, which
imports this package, so an eager import would be circular)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rlvr.rollout import vllm

        return getattr(vllm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HFEngine",
    "RolloutEngine",
    "SamplingParams",
    "StaleWeightsError",
    "VLLMEngine",
    "render_prompt",
]
