"""Times of day: a reference such as `9:30`, `09:30`, `9:30 AM` or `21:30` is compared as a
time when the answer is one too, and as the ratio 9/30 when the answer is a number.

Implementation details:
  1. A time is `H:MM` or `HH:MM`, optionally `:SS`, optionally followed by AM/PM (any case,
     with or without dots: `p.m.`), inside `\\text{}`/`\\mathrm{}` or not, with LaTeX spacing
     allowed. Hours run 0-24 without AM/PM and 1-12 with it; minutes and seconds 0-59.
     `3:4` (one minute digit) is not a time, so ratios keep their meaning.
  2. Times compare as seconds since midnight: `12:00 AM` is `0:00`, `9:30 PM` is `21:30`,
     `9:30:00` is `9:30`, `09:30` is `9:30`.
  3. A reference on a 12-hour face without AM/PM (`9:30`) names a clock reading, so an answer
     that adds AM or PM (`9:30 PM`) matches it; an answer in 24-hour form still has to agree
     exactly (`21:30` is not `9:30`). A reference with AM/PM needs the same half of the day.
  4. A reference that could also be a ratio (`H:MM` or `HH:MM`, no seconds, no AM/PM, not
     `x:00`) compares as a ratio when no answer reads as a time: `3:10` accepts `\\frac{3}{10}`
     and `0.3` (ratio questions are common), and a time answer is still held to the time
     (`3:10` vs `9:30` is wrong, not 3/10 = 9/30). Otherwise (`9:30 PM`, `9:30:00`, `12:00`)
     an answer that is not a time is wrong. Answers mixing a time and a number are
     `multiple_answers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifiers.math.guard import AnswerError, Limits
from verifiers.math.parse import parse_answer
from verifiers.math.values import Value
from verifiers.verdict import Verdict

_WRAPPER_RE = re.compile(r"\\(?:text|textrm|textnormal|mathrm|mbox|rm)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,!;: ]|~|\$|\\[()\[\]]")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:([ap])\.?m\.?)?", re.IGNORECASE)
_HALF_DAY = 12 * 3600


@dataclass(frozen=True, slots=True)
class Clock:
    """A time of day."""

    seconds: int
    """Seconds since midnight."""
    meridiem: bool
    """Whether AM or PM was written."""


def read_clock(text: str) -> Clock | None:
    """The time of day `text` names, or None when it is not one.

    >>> read_clock(r"9:30\\text{ PM}")
    Clock(seconds=77400, meridiem=True)
    >>> read_clock("3:4") is None
    True
    """
    match = _time_match(text)
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    seconds = int(match.group(3) or 0)
    half = (match.group(4) or "").lower()
    if minutes > 59 or seconds > 59:
        return None
    if half:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half == "p" else 0)
    elif hours > 24 or (hours == 24 and minutes + seconds):
        return None
    return Clock((hours % 24) * 3600 + minutes * 60 + seconds, bool(half))


def may_be_ratio(text: str) -> bool:
    """Whether the time `text` could also be a ratio: no seconds and no AM/PM (item 4).

    >>> may_be_ratio("3:10"), may_be_ratio("9:30 PM"), may_be_ratio("9:30:00")
    (True, False, False)
    """
    match = _time_match(text)
    return match is not None and match.group(3) is None and match.group(4) is None


def as_ratio(reference: str, answers: tuple[str, ...], limits: Limits) -> Value | None:
    """The time `reference` read as a ratio, when it may be one and no answer is a time (item 4).

    >>> as_ratio("3:10", ("0.3",), Limits()) is not None
    True
    >>> as_ratio("3:10", ("9:30",), Limits()) is None
    True
    """
    if not may_be_ratio(reference) or any(read_clock(a) is not None for a in answers):
        return None
    try:
        return parse_answer(reference, limits)
    except AnswerError:
        return None


def _time_match(text: str) -> re.Match[str] | None:
    if ":" not in text:
        return None
    plain = _WRAPPER_RE.sub(r"\1", text).replace("{:}", ":")
    plain = _SPACING_RE.sub("", plain).replace(" ", "").rstrip(".")
    return _TIME_RE.fullmatch(plain)


def same_time(reference: Clock, answer: Clock) -> bool:
    """Whether `answer` names the time `reference` asks for (module docstring, item 3)."""
    if reference.seconds == answer.seconds:
        return True
    on_face = not reference.meridiem and 3600 <= reference.seconds < 13 * 3600
    return (
        on_face and answer.meridiem and reference.seconds % _HALF_DAY == answer.seconds % _HALF_DAY
    )


def judge_times(reference: Clock, answers: tuple[str, ...], shown: str) -> Verdict:
    """The verdict on distinct extracted `answers` when the reference is the time `reference`
    and it is compared as a time (module docstring, items 3 and 4)."""
    clocks = [read_clock(answer) for answer in answers]
    final = clocks[-1]
    if all(clock is None for clock in clocks):
        return Verdict(0.0, "wrong_answer", "expected a time of day", answers[-1][:500])
    if final is None or any(other is None or other.seconds != final.seconds for other in clocks):
        return Verdict(0.0, "multiple_answers", "different boxed answers", shown)
    if same_time(reference, final):
        return Verdict(1.0, "correct", "", answers[-1])
    detail = f"expected {_render(reference)}, got {_render(final)}"
    return Verdict(0.0, "wrong_answer", detail, answers[-1][:500])


def _render(clock: Clock) -> str:
    hours, rest = divmod(clock.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


__all__ = ["Clock", "as_ratio", "judge_times", "may_be_ratio", "read_clock", "same_time"]
