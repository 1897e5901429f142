"""What the monitors read from the completions themselves: in-group diversity, and the top- and
bottom-quartile completions a person reads in `samples/step_K.jsonl`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlvr.data.types import RolloutGroup


def distinct_ngrams(completions: Sequence[Sequence[int]], n: int) -> float | None:
    """Distinct token n-grams over all n-grams of a group's completions (1.0: no n-gram repeats
    anywhere in the group; 1/G: G copies of one completion). None when no completion has n
    tokens.

    >>> distinct_ngrams([(1, 2, 3), (1, 2, 3)], 2)
    0.5
    >>> distinct_ngrams([(1, 2, 3), (4, 5, 6)], 2)
    1.0
    """
    grams = [tuple(ids[i : i + n]) for ids in completions for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def group_distinct(groups: Sequence[RolloutGroup], n: int) -> float | None:
    """Mean over groups of `distinct_ngrams` of each group's G completions (None: no group
    has an n-gram)."""
    values = [distinct_ngrams(g.completion_ids, n) for g in groups]
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def quartile_rows(
    step: int, groups: Sequence[RolloutGroup], rewards: Sequence[float]
) -> list[dict[str, Any]]:
    """The top quartile of a step's completions by reward (best first), then the bottom
    quartile (worst first), as JSON rows. `rewards` are prompt-major, one per completion."""
    flat = [(g, i) for g in groups for i in range(len(g.texts))]
    if len(flat) != len(rewards):
        raise ValueError(f"{len(flat)} completions but {len(rewards)} rewards")
    order = sorted(range(len(flat)), key=lambda j: rewards[j], reverse=True)
    quarter = math.ceil(len(order) / 4)
    rows = []
    for label, picks in (("top", order[:quarter]), ("bottom", order[::-1][:quarter])):
        for j in picks:
            group, i = flat[j]
            prompt = group.sample.prompt
            rows.append(
                {
                    "step": step,
                    "quartile": label,
                    "reward": rewards[j],
                    "id": group.sample.id,
                    "verifier": group.sample.verifier,
                    "prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt],
                    "reference": group.sample.reference,
                    "completion": group.texts[i],
                    "tokens": len(group.completion_ids[i]),
                    "finish_reason": group.finish_reasons[i],
                }
            )
    return rows


def write_samples(
    directory: Path, step: int, groups: Sequence[RolloutGroup], rewards: Sequence[float]
) -> Path:
    """Write `quartile_rows` to `directory/step_<step>.jsonl`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step_{step}.jsonl"
    rows = quartile_rows(step, groups, rewards)
    path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    return path
