"""Dataset rows from reasoning-gym's procedural generators (torch-free)."""

from __future__ import annotations

import json
from typing import Any

from verifiers.reasoning_gym import tasks
from verifiers.reasoning_gym.verifier import ReasoningGymVerifier

ANSWER_INSTRUCTION = (
    "Think it through, then give only the final answer between <answer> and </answer> tags."
)
"""Appended to every question (reasoning-gym's questions do not ask for the tags)."""


def generate_rows(task: str, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` dataset rows of the reasoning-gym task `task`, generated from `seed`.

    Each row is JSON data (`json.dumps` round-trips it unchanged):

    - `id`: `"rg-{task}-{seed}-{i}"` for i in 0..n-1, unique within a task and seed;
    - `prompt`: the task's question, a blank line, then `ANSWER_INSTRUCTION`;
    - `reference`: `{"task": task, "entry": {"question", "answer", "metadata"}}`, the dataset
      item as the task's scorer reads it (`answer` is None for tasks without a single gold
      answer, such as graph_color, whose scorer checks the answer's validity instead);
    - `verifier`: `"reasoning_gym"`.

    The items come from reasoning-gym's own constructor, `create_dataset(task, size=n,
    seed=seed)`, in the task's default configuration (the one the verifier scores with). The
    same task, n and seed give the same rows under one reasoning-gym version; a different
    version may generate other items, so pin it where rows must be reproducible. Every gold
    answer is checked to score 1 through the `reasoning_gym` verifier after the JSON round
    trip, so a task whose items do not survive JSON is refused rather than written (arc_agi
    and rearc in reasoning-gym 0.1.25: their boards are tuples). An empty gold answer (the ab
    task can reduce to nothing) is kept unchecked: reasoning-gym's scorers give 0 to an empty
    answer, so such a row scores 0 for every completion.

    Raises:
        ValueError: `task` is not a reasoning-gym task (the message lists close matches), `n`
            is not a positive int or `seed` not an int, reasoning-gym cannot build the task
            in its default configuration, or its items are not JSON data or do not score
            their own gold answer 1 once stored as JSON.
        ImportError: reasoning-gym is not installed (`pip install 'rlvr[reasoning-gym]'`).
    """
    tasks.check_task(task)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    try:
        dataset = tasks.module().create_dataset(task, size=n, seed=seed)
        items = [dataset[i] for i in range(n)]
    except Exception as exc:
        raise ValueError(f"reasoning-gym cannot build task {task!r}: {exc}") from exc
    rows = [_row(task, seed, i, item) for i, item in enumerate(items)]
    _check_golds(task, rows)
    return rows


def _row(task: str, seed: int, index: int, item: dict[str, Any]) -> dict[str, Any]:
    entry = {key: item.get(key) for key in ("question", "answer", "metadata")}
    try:
        entry = json.loads(json.dumps(entry))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task {task!r}: item {index} is not JSON data ({exc})") from exc
    return {
        "id": f"rg-{task}-{seed}-{index}",
        "prompt": f"{entry['question'].rstrip()}\n\n{ANSWER_INSTRUCTION}",
        "reference": {"task": task, "entry": entry},
        "verifier": "reasoning_gym",
    }


def _check_golds(task: str, rows: list[dict[str, Any]]) -> None:
    verify = ReasoningGymVerifier()
    for row in rows:
        gold = row["reference"]["entry"]["answer"]
        if not isinstance(gold, str) or not gold.strip():
            continue
        verdict = verify(f"<answer>{gold}</answer>", reference=row["reference"])
        if verdict.score != 1.0:
            raise ValueError(
                f"task {task!r}: the gold answer of {row['id']} scores {verdict.score} "
                f"({verdict.reason}: {verdict.detail}) once stored as JSON; not supported"
            )
