"""Rollout engines: `generate(samples, *, n, sampling) -> list[RolloutGroup]`, `update_weights`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rlvr.data.types import RolloutGroup, Sample
from rlvr.rollout.hf import HFEngine, SamplingParams, render_prompt


class RolloutEngine(Protocol):
    """What trainers call to sample completions and to push new weights."""

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]: ...

    def update_weights(self, model: Any) -> None: ...


__all__ = ["HFEngine", "RolloutEngine", "SamplingParams", "render_prompt"]
