"""Times of day: a reference such as `9:30`, `09:30`, `9:30 AM` or `21:30` is compared as a
time, never as the ratio 9/30.

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
  4. When the reference is a time, an answer that is not one (`0.3`, `3:10` read as a ratio,
     `9:30 or 10:30`) is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    if ":" not in text:
        return None
    plain = _WRAPPER_RE.sub(r"\1", text).replace("{:}", ":")
    plain = _SPACING_RE.sub("", plain).replace(" ", "").rstrip(".")
    match = _TIME_RE.fullmatch(plain)
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


def same_time(reference: Clock, answer: Clock) -> bool:
    """Whether `answer` names the time `reference` asks for (module docstring, item 3)."""
    if reference.seconds == answer.seconds:
        return True
    on_face = not reference.meridiem and 3600 <= reference.seconds < 13 * 3600
    return (
        on_face and answer.meridiem and reference.seconds % _HALF_DAY == answer.seconds % _HALF_DAY
    )


def judge_times(reference: Clock, answers: tuple[str, ...], shown: str) -> Verdict:
    """The verdict on distinct extracted `answers` when the reference is the time `reference`."""
    clocks = [read_clock(answer) for answer in answers]
    final = clocks[-1]
    if final is None:
        return Verdict(0.0, "wrong_answer", "expected a time of day", answers[-1][:500])
    if any(other is None or other.seconds != final.seconds for other in clocks[:-1]):
        return Verdict(0.0, "multiple_answers", "different boxed answers", shown)
    if same_time(reference, final):
        return Verdict(1.0, "correct", "", answers[-1])
    detail = f"expected {_render(reference)}, got {_render(final)}"
    return Verdict(0.0, "wrong_answer", detail, answers[-1][:500])


def _render(clock: Clock) -> str:
    hours, rest = divmod(clock.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


__all__ = ["Clock", "judge_times", "read_clock", "same_time"]
