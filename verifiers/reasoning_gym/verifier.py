"""The `reasoning_gym` verifier: a task's own reasoning-gym scorer judges the final answer.

Reference: `{"task": "<reasoning-gym task name>", "entry": {"question", "answer",
"metadata"}}`, JSON data as `generate_rows` writes it (`entry` is the dataset item).

Steps, each ending the call when it decides:
  1. The reference is read (`reference_error` when it is not of that shape or names no task).
  2. The answer is extracted (`verifiers.reasoning_gym.answer`): none is `no_answer`; several
     different ones (answer spam, a hedge across blocks) are `wrong_answer`.
  3. Guards before the scorer, each `wrong_answer`: an answer over `max_answer_chars`; an
     answer that holds the whole question; for tasks whose scorer evaluates the answer as code,
     anything but plain data or arithmetic (`verifiers.reasoning_gym.evaluated`).
  4. The task's `score_answer(answer, entry)` gives the score, on a copy of the entry. A scorer
     that raises, or returns something that is not a number in [0, 1], is `verifier_error`.
  5. Partial credit is dropped (`wrong_answer`) for answers shaped unlike the gold (kept with
     `shape_credit`): the gold padded with other text (reasoning-gym's default scorer gives
     `len(gold) / len(answer)` when the gold is a substring, so "either 3 or 4" earns 1/13
     for 3) and an answer over twice or under half the gold's length (spell_backward pays any
     text for the letters it shares with the gold, position by position); for an answer
     copied from the question (word sorting gives 0.2 for the unsorted input words); and at
     or below `floor` (many scorers give 0.01 to 0.05 for any parseable wrong answer, and
     countdown gives 0.01 to any text). What is left is `correct` (1), `partial` or
     `wrong_answer`.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from verifiers.reasoning_gym import tasks
from verifiers.reasoning_gym.answer import (
    EXTRACTION_MODES,
    ExtractionMode,
    copies_question,
    find_answers,
    off_shape,
    repeats_question,
)
from verifiers.reasoning_gym.evaluated import refusal
from verifiers.reasoning_gym.examples import EXAMPLES
from verifiers.registry import RegistryError, register
from verifiers.verdict import Example, Verdict

REASONS = ("correct", "partial", "wrong_answer", "no_answer", "reference_error", "verifier_error")
"""Every reason `ReasoningGymVerifier` returns."""


class _BadReference(ValueError):
    pass


@register("reasoning_gym")
@dataclass(frozen=True, slots=True)
class ReasoningGymVerifier:
    """Score a completion with the reasoning-gym task's own scorer (partial credit kept).

    >>> entry = {"question": "Spell 'cat' backward.", "answer": "tac", "metadata": {}}
    >>> ref = {"task": "spell_backward", "entry": entry}
    >>> ReasoningGymVerifier()("Reversed: <answer>tac</answer>", reference=ref).reason
    'correct'
    >>> ReasoningGymVerifier()("<answer>tac</answer> <answer>cat</answer>", reference=ref).reason
    'wrong_answer'
    """

    name: ClassVar[str] = "reasoning_gym"
    version: ClassVar[str] = "1.0.1"
    examples: ClassVar[tuple[Example, ...]] = EXAMPLES

    extraction: ExtractionMode = "tag_boxed_or_line"
    """Where the answer is: `<answer>` tags, then `\\boxed{}`, then the last line (`tag` and
    `tag_or_boxed` stop earlier)."""
    max_answer_chars: int = 10_000
    """A longer extracted answer is `wrong_answer` without being scored."""
    floor: float = 0.05
    """A scorer's score at or below this counts as 0 (token credit for any parseable answer)."""
    shape_credit: bool = False
    """Keep partial credit for answers shaped unlike the gold: the gold with other text around
    it, or an answer over twice or under half the gold's length."""

    def __post_init__(self) -> None:
        if self.extraction not in EXTRACTION_MODES:
            raise ValueError(
                f"extraction must be one of {EXTRACTION_MODES}, got {self.extraction!r}"
            )
        chars = self.max_answer_chars
        if isinstance(chars, bool) or not isinstance(chars, int) or chars < 1:
            raise ValueError(f"max_answer_chars must be a positive int, got {chars!r}")
        floor = self.floor
        if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor < 1:
            raise ValueError(f"floor must be a number in [0, 1), got {floor!r}")
        if not isinstance(self.shape_credit, bool):
            raise ValueError(f"shape_credit must be a bool, got {self.shape_credit!r}")
        if not tasks.installed():
            raise RegistryError(tasks.MISSING)

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        """Verify one completion against its reference; never raises."""
        try:
            return self._verify(completion, reference)
        except Exception as exc:  # model output must never raise
            return Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:300])

    def _verify(self, completion: str, reference: Any) -> Verdict:
        try:
            task, entry = _read_reference(reference)
            score_answer = tasks.scorer(task)
        except (_BadReference, ValueError) as exc:
            return Verdict(0.0, "reference_error", str(exc)[:300])
        except ImportError as exc:
            return Verdict(0.0, "verifier_error", str(exc)[:300])
        if not isinstance(completion, str):
            return Verdict(0.0, "no_answer", f"completion is {type(completion).__name__}")
        answers = find_answers(completion, self.extraction)
        if not answers:
            return Verdict(0.0, "no_answer", f"no answer found ({self.extraction})")
        if len(answers) > 1:
            shown = " | ".join(answers)[:500]
            return Verdict(0.0, "wrong_answer", f"{len(answers)} different answers", shown)
        answer = answers[0]
        refused = self._refusal(task, entry, answer)
        if refused is not None:
            return Verdict(0.0, "wrong_answer", refused, answer[:500])
        try:
            raw = score_answer(answer, copy.deepcopy(entry))
        except (Exception, SystemExit) as exc:
            detail = f"scorer of {task} raised {type(exc).__name__}: {exc}"[:300]
            return Verdict(0.0, "verifier_error", detail, answer[:500])
        return self._judged(raw, answer, entry)

    def _refusal(self, task: str, entry: Mapping[str, Any], answer: str) -> str | None:
        if len(answer) > self.max_answer_chars:
            return f"answer has {len(answer)} characters, over {self.max_answer_chars}"
        if repeats_question(answer, entry["question"]):
            return "the answer repeats the question"
        return refusal(task, answer)

    def _judged(self, raw: Any, answer: str, entry: Mapping[str, Any]) -> Verdict:
        shown = answer[:500]
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real) or not math.isfinite(raw):
            return Verdict(0.0, "verifier_error", f"scorer returned {raw!r:.80}", shown)
        score = float(raw)
        if not 0.0 <= score <= 1.0:
            return Verdict(0.0, "verifier_error", f"scorer returned {score} outside [0, 1]", shown)
        if score == 1.0:
            return Verdict(1.0, "correct", "", shown)
        shape = None if self.shape_credit else off_shape(answer, entry.get("answer"), score)
        if score > 0.0 and shape is not None:
            return Verdict(0.0, "wrong_answer", f"{shape} (scorer gave {score:g})", shown)
        if score > 0.0 and copies_question(answer, entry["question"]):
            detail = f"the answer is copied from the question (scorer gave {score:g})"
            return Verdict(0.0, "wrong_answer", detail, shown)
        if score <= self.floor:
            detail = f"scorer gave {score:g}" + (
                f", at or below floor {self.floor:g}" if score else ""
            )
            return Verdict(0.0, "wrong_answer", detail, shown)
        return Verdict(score, "partial", f"scorer gave {score:g}", shown)


def _read_reference(reference: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(reference, Mapping):
        raise _BadReference(f"reference must be a mapping, not {type(reference).__name__}")
    task, entry = reference.get("task"), reference.get("entry")
    if not isinstance(task, str) or not task:
        raise _BadReference("reference needs 'task', a reasoning-gym task name")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("question"), str):
        raise _BadReference("reference needs 'entry' with a 'question' string")
    if "answer" not in entry or not isinstance(entry.get("metadata", {}), Mapping):
        raise _BadReference("reference 'entry' needs 'answer' and a 'metadata' mapping")
    return task, {"metadata": {}, **entry}
