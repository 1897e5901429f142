"""Held-out accuracy in a launch of several ranks: measured once, given to every rank."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.backends import Dist
from rlvr.config.sections import GenerationConfig
from rlvr.data import Sample
from rlvr.evaluate import held_out_accuracy
from rlvr.rewards import RewardRuntime


@dataclass(frozen=True)
class FakeRank(Dist):
    """A rank of a 2-process launch whose broadcast hands out rank 0's value."""

    def broadcast_object(self, obj: Any) -> Any:
        return 0.75 if not self.is_main else obj


@pytest.mark.parametrize(
    ("rank", "collective", "generates"), [(0, False, True), (1, False, False), (1, True, True)]
)
def test_only_rank_zero_scores_and_others_generate_only_when_passes_are_collective(
    tiny_model: Path, rank: int, collective: bool, generates: bool
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    samples = [Sample("What is 1 + 1?", "2", "math"), Sample("What is 2 + 3?", "5", "math")]
    scored: list[int] = []

    class Runtime(RewardRuntime):
        def score_batch(self, completions: Any, samples: Any, extra: Any = ()) -> Any:
            scored.append(len(completions))
            return super().score_batch(completions, samples, extra=extra)

    dist = FakeRank(rank=rank, world_size=2)
    with Runtime(workers=0) as runtime:
        accuracy = held_out_accuracy(
            model,
            AutoTokenizer.from_pretrained(tiny_model),
            samples,
            generation=GenerationConfig(max_new_tokens=4),
            runtime=runtime,
            dist=dist,
            collective_forward=collective,
        )
    assert bool(calls) == generates
    assert scored == ([2] if rank == 0 else [])
    assert accuracy == (0.0 if rank == 0 else 0.75)
