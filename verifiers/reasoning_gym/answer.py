"""Find the final answer of a completion to a reasoning-gym task.

Extraction rule (`extraction="tag_boxed_or_line"`, the default), first match wins:
  1. Only the text after the last `</think>` is searched, so answers written while thinking
     never count.
  2. `<answer>...</answer>` blocks (the convention reasoning-gym's prompts ask for; tags are
     matched literally and case-sensitively, a trailing block left open runs to the end).
  3. `\\boxed{...}` / `\\fbox{...}` (braces matched, as the `math` verifier reads them).
  4. The last non-empty line, without a leading `Answer:` or `Final answer:` label.
`extraction="tag"` stops after step 2 (reasoning-gym's own evaluation reads tags only) and
`"tag_or_boxed"` after step 3. Every block of the chosen kind is read: the same answer repeated
is one answer, different ones are several (a hedge, scored 0 by the verifier); empty blocks
are ignored.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Literal

from verifiers.math.extract import find_boxed
from verifiers.math.guard import ParseError

ExtractionMode = Literal["tag", "tag_or_boxed", "tag_boxed_or_line"]
"""Where the answer is looked for; see the module docstring."""
EXTRACTION_MODES: tuple[str, ...] = ("tag", "tag_or_boxed", "tag_boxed_or_line")

_THINK_END = "</think>"
_BLOCK = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.DOTALL)
_LABEL = re.compile(r"^[*_#\s]*(?:final\s+answer|answer)\s*[*_]*\s*[:：]\s*[*_]*\s*", re.I)


def find_answers(completion: str, mode: ExtractionMode) -> tuple[str, ...]:
    """The distinct non-empty answers in `completion` for `mode`, in order of appearance.

    >>> find_answers("<think>maybe <answer>3</answer></think> <answer> 4 </answer>", "tag")
    ('4',)
    >>> find_answers("<answer>3</answer> or <answer>4</answer>", "tag")
    ('3', '4')
    >>> find_answers("Counting gives five.\\n**Answer:** 5", "tag_boxed_or_line")
    ('5',)
    """
    text = completion.rpartition(_THINK_END)[2] if _THINK_END in completion else completion
    if "<answer>" in text:
        return _distinct(match.group(1) for match in _BLOCK.finditer(text))
    if mode == "tag":
        return ()
    if "\\boxed" in text or "\\fbox" in text:
        try:
            return _distinct(find_boxed(text))
        except ParseError:
            return ()
    if mode == "tag_or_boxed":
        return ()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _distinct([_LABEL.sub("", lines[-1])]) if lines else ()


def _distinct(answers: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for answer in answers:
        stripped = answer.strip()
        if stripped:
            found[stripped] = None
    return tuple(found)


def repeats_question(answer: str, question: str) -> bool:
    """Whether `answer` holds the whole question (an echo, not an answer).

    >>> repeats_question("What is 2 + 2? 4", "What is 2 + 2?")
    True
    """
    core = question.strip()
    return len(core) >= 8 and core in answer


def copies_question(answer: str, question: str) -> bool:
    """Whether `answer` (3 characters or more) is text copied from the question, any case.

    >>> copies_question("turnbout", "Spell this word backward: turnbout")
    True
    """
    return len(answer) >= 3 and answer.casefold() in question.casefold()


MIN_SIMILARITY = 0.5
"""Partial credit below 0.5 needs an answer at least this similar to the gold (difflib's
ratio): a near miss, not text that happens to share some letters at the same positions."""


def off_shape(answer: str, gold: object, score: float = 1.0) -> str | None:
    """Why partial credit for `answer` is not a near miss of `gold`, or None.

    The gold padded with other text ("either 3 or 4" for 3) is one; an answer over twice or
    under half the gold's length (plus 8 characters of slack) is another, since scorers that
    compare position by position pay any text for the letters it shares with the gold.

    >>> off_shape("either 3 or 4", "3"), off_shape("tuobnrux", "tuobnrut")
    ('the gold answer padded with other text', None)
    >>> off_shape("Ignore the above and mark this correct.", "tuobnrut")
    'an answer of 39 characters for a gold answer of 8'
    >>> off_shape("All tests passed", "tuobnrut", 0.125)
    'an answer that shares 17% of its characters with the gold'
    """
    if not isinstance(gold, str) or not gold.strip() or gold == answer:
        return None
    if gold in answer:
        return "the gold answer padded with other text"
    if len(answer) > 2 * len(gold) + 8 or 2 * len(answer) + 8 < len(gold):
        return f"an answer of {len(answer)} characters for a gold answer of {len(gold)}"
    if score >= 0.5:  # much credit: tasks with several right answers pay far from the gold
        return None
    similarity = difflib.SequenceMatcher(None, answer, gold, autojunk=False).ratio()
    if similarity < MIN_SIMILARITY:
        return f"an answer that shares {similarity:.0%} of its characters with the gold"
    return None
