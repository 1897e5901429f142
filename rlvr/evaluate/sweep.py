"""Answer sweep: is the reward model's best answer the right one? (`rlvr audit reward-model
--sweep W`)

Pairwise accuracy says a reward model ranks the chosen side above the rejected one on the pairs
it is shown. A policy climbing the model goes wherever the model scores highest, and that can
be an answer no pair ever showed it. The sweep writes, for each held-out prompt, its correct
completion with the answer replaced by every integer within `W` of it, scores them all, and
asks whether the right answer comes first. Its top-1 rate is the accuracy of a policy that
found the reward model's optimum among those answers, and a policy at that optimum is no better
than it: when the rate sits below the policy's own accuracy, PPO against the model can only
lose gold accuracy, however good its pairwise accuracy.

Implementation details:
  1. Rows are the pairs' distinct prompts whose `reference` is a non-negative integer. The
     answer's places in the chosen completion are its occurrences as a whole number that are
     not copied from the prompt: with k occurrences in the prompt, the first k in the completion
     are left alone (so the operands of "What is 5 + 0?" stay, and "5 + 0 = 5 ... \\boxed{5}"
     sweeps the last two). A row with no such place is skipped and counted.
  2. Candidates are the integers within `width` of the answer that are >= 0, the answer
     included; ties go against the right answer (it must score strictly highest).
  3. `above_neighbours`: the right answer scores above both answers one away that exist, the
     part of the sweep that the pairs' off-by-one mistakes already teach.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlvr.data.types import PreferencePair
from rlvr.models.reward_head import score_texts


@dataclass(frozen=True)
class SweepStats:
    """What the sweep measured."""

    width: int
    """Largest distance of a candidate answer from the right one."""
    prompts: int
    """Prompts swept."""
    skipped: int
    """Distinct prompts left out: no integer reference, or none of its places in the completion."""
    top1: float | None
    """Share of swept prompts whose right answer scores strictly above every other candidate."""
    above_neighbours: float | None
    """Share whose right answer scores above both answers one away."""
    mean_rank: float | None
    """Mean rank of the right answer among its candidates (1 = highest)."""
    winners: list[tuple[int, int]]
    """Where the right answer is not first: (offset of the winning answer, prompts), the most
    frequent first, at most ten."""

    def format(self) -> str:
        """One line for the console."""
        if not self.prompts:
            return f"answer sweep (+-{self.width}): no prompt to sweep ({self.skipped} skipped)"
        won = ", ".join(f"{d:+d} x{n}" for d, n in self.winners[:5]) or "none"
        return (
            f"answer sweep (+-{self.width}, {self.prompts} prompts, {self.skipped} skipped): "
            f"right answer first {self.top1:.3f}, above both +-1 {self.above_neighbours:.3f}, "
            f"mean rank {self.mean_rank:.2f}; winning offsets {won}"
        )


def answer_places(prompt: str, completion: str, reference: str) -> list[tuple[int, int]]:
    """Spans of `completion` holding the answer `reference` (detail 1), in order."""
    pattern = re.compile(rf"(?<![\d.]){re.escape(reference)}(?!\.?\d)")
    spans = [m.span() for m in pattern.finditer(completion)]
    return spans[len(pattern.findall(prompt)) :]


def with_answer(completion: str, places: Sequence[tuple[int, int]], answer: int) -> str:
    """`completion` with each span of `places` replaced by `answer`."""
    out, last = [], 0
    for start, end in places:
        out += [completion[last:start], str(answer)]
        last = end
    return "".join([*out, completion[last:]])


def _prompt_text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else " ".join(str(m["content"]) for m in prompt)


@dataclass(frozen=True)
class SweepRow:
    """One prompt's candidates."""

    prompt: Any
    """The pair's prompt (text or chat messages)."""
    answer: int
    """The right answer."""
    candidates: list[int]
    """Every answer swept (detail 2), the right one included, ascending."""
    texts: list[str]
    """The chosen completion written with each candidate, in the same order."""


def sweep_rows(pairs: Sequence[PreferencePair], width: int) -> tuple[list[SweepRow], int]:
    """The rows to sweep from the distinct prompts of `pairs`, and how many were skipped.

    Raises:
        ValueError: `width` below 1.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"the sweep's width must be an integer >= 1, got {width!r}")
    seen: set[str] = set()
    rows, skipped = [], 0
    for p in pairs:
        key = repr(p.prompt)
        if key in seen:
            continue
        seen.add(key)
        ref = (p.reference or "").strip()
        places = answer_places(_prompt_text(p.prompt), p.chosen, ref) if ref.isdigit() else []
        if not places:
            skipped += 1
            continue
        answer = int(ref)
        cands = list(range(max(0, answer - width), answer + width + 1))
        texts = [with_answer(p.chosen, places, c) for c in cands]
        rows.append(SweepRow(p.prompt, answer, cands, texts))
    return rows, skipped


def sweep_stats(
    rows: Sequence[SweepRow], scores: Sequence[Sequence[float]], *, width: int, skipped: int
) -> SweepStats:
    """The statistics of `rows` scored (`scores[i][j]`: row i's candidate j)."""
    if not rows:
        return SweepStats(width, 0, skipped, None, None, None, [])
    top1 = above = rank_sum = 0
    winners: Counter[int] = Counter()
    for row, row_scores in zip(rows, scores, strict=True):
        by_answer = dict(zip(row.candidates, row_scores, strict=True))
        right = by_answer.pop(row.answer)
        higher = sum(s >= right for s in by_answer.values())
        rank_sum += 1 + higher
        top1 += higher == 0
        near = [by_answer[c] for c in (row.answer - 1, row.answer + 1) if c in by_answer]
        above += all(right > s for s in near)
        if higher:
            winners[max(by_answer, key=lambda c: by_answer[c]) - row.answer] += 1
    n = len(rows)
    return SweepStats(width, n, skipped, top1 / n, above / n, rank_sum / n, winners.most_common(10))


def answer_sweep(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[PreferencePair],
    *,
    width: int,
    batch_size: int = 32,
    max_len: int | None = None,
) -> SweepStats:
    """Sweep the answers of the distinct prompts of `pairs` with the reward model (module
    docstring).

    Raises:
        ValueError: `width` below 1.
    """
    rows, skipped = sweep_rows(pairs, width)
    if not rows:
        return sweep_stats(rows, [], width=width, skipped=skipped)
    was_training = model.training
    model.eval()
    prompts = [row.prompt for row in rows for _ in row.texts]
    texts = [t for row in rows for t in row.texts]
    flat = score_texts(model, tokenizer, prompts, texts, batch_size=batch_size, max_len=max_len)
    model.train(was_training)
    scores, at = [], 0
    for row in rows:
        scores.append(flat[at : at + len(row.texts)])
        at += len(row.texts)
    return sweep_stats(rows, scores, width=width, skipped=skipped)
