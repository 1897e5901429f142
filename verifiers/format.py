"""Format verifiers: `think_format` (a reasoning block, then an answer) and `length`.

Both ignore the reference (pass `None`); they judge the completion's shape, not its content, and
are meant as small shaping terms next to a correctness verifier in a composite reward.

Implementation details:
    1. `think_format` matches tags literally and case-sensitively (`<think>`, no attributes or
       inner spaces). The whole completion must hold exactly one opening and one closing tag, so
       nested, repeated, unclosed and stray closing tags are all `bad_format`. The reasoning may
       be empty (as chat templates emit in non-thinking mode); the answer may not.
    2. `\\boxed{...}` counts only with balanced braces after it (`\\boxed{\\frac{1}{2}}` does,
       `\\boxed{1` does not).
    3. `length` counts Unicode code points (`unit="chars"`) or whitespace-separated words
       (`unit="words"`, a tokenizer-free stand-in for tokens). With `soft_margin > 0` a length
       outside the range scores `1 - distance / soft_margin` (never below 0) instead of 0.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar, Literal

from verifiers.registry import register
from verifiers.verdict import Example, Verdict

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*")
_BRACE = re.compile(r"[{}]")
_BOXED = re.compile(r"\\boxed\{")


def _has_boxed(text: str) -> bool:
    """Whether `text` contains `\\boxed{...}` with balanced braces (one linear pass)."""
    open_braces: list[int] = []
    closed: set[int] = set()
    for brace in _BRACE.finditer(text):
        if brace.group() == "{":
            open_braces.append(brace.start())
        elif open_braces:
            closed.add(open_braces.pop())
    return any(boxed.end() - 1 in closed for boxed in _BOXED.finditer(text))


@register("think_format")
@dataclass(frozen=True, slots=True)
class ThinkFormatVerifier:
    """Score 1 for `<think>reasoning</think>` followed by a non-empty answer, else 0.

    >>> verify = ThinkFormatVerifier()
    >>> verify("<think>2+2=4</think>The answer is 4.", reference=None).reason
    'correct'
    >>> verify("<think>2+2=4<think>again</think></think>4", reference=None).detail
    'expected one <think> tag, found 2'
    """

    name: ClassVar[str] = "think_format"
    version: ClassVar[str] = "1.0.1"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("<think>2+2=4</think>The answer is 4.", None, 1.0, "correct"),
        Example("\n<think></think>4", None, 1.0, "correct"),
        Example("The answer is 4.", None, 0.0, "bad_format", "false"),
        Example("<think>2+2=4</think>   ", None, 0.0, "bad_format", "false"),
        Example("<think>2+2=4", None, 0.0, "bad_format", "false"),
        Example("4 <think>2+2=4</think>4", None, 0.0, "bad_format", "adversarial"),
        Example("<think>a<think>b</think></think>4", None, 0.0, "bad_format", "adversarial"),
        Example("<think>a</think>4</think>", None, 0.0, "bad_format", "adversarial"),
    )

    tag: str = "think"
    """Tag name of the reasoning block, without angle brackets."""
    require_boxed: bool = False
    """The answer must contain `\\boxed{...}` with balanced braces."""
    allow_leading_whitespace: bool = True
    """Whitespace may come before the opening tag."""

    def __post_init__(self) -> None:
        if not isinstance(self.tag, str) or _TAG_NAME.fullmatch(self.tag) is None:
            raise ValueError(f"tag must be a tag name like 'think', got {self.tag!r}")
        for option in ("require_boxed", "allow_leading_whitespace"):
            if not isinstance(getattr(self, option), bool):
                raise ValueError(f"{option} must be a bool, got {getattr(self, option)!r}")

    def __call__(self, completion: str, *, reference: object = None) -> Verdict:
        """Check the shape of `completion`; `reference` is ignored."""
        try:
            problem, answer = self._check(completion)
        except Exception as exc:
            return Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:400])
        if problem:
            return Verdict(0.0, "bad_format", problem, extracted=answer)
        return Verdict(1.0, "correct", extracted=answer)

    def _check(self, completion: str) -> tuple[str, str | None]:
        """(what is wrong or "", the answer when the tags are well formed)."""
        opening, closing = f"<{self.tag}>", f"</{self.tag}>"
        text = completion.lstrip() if self.allow_leading_whitespace else completion
        for tag in (opening, closing):
            count = completion.count(tag)
            if count != 1:
                return f"expected one {tag} tag, found {count}", None
        if not text.startswith(opening):
            return f"the completion does not start with {opening}", None
        answer = text[text.index(closing) + len(closing) :].strip()
        if not _visible(answer):
            return f"no answer after {closing}", answer
        if self.require_boxed and not _has_boxed(answer):
            return "the answer has no \\boxed{...}", answer
        return "", answer


def _visible(text: str) -> bool:
    """True when `text` holds a character that shows: not whitespace, a control or format
    character (zero-width space, word joiner, soft hyphen, NUL...) or an unassigned code point."""
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in text)


@register("length")
@dataclass(frozen=True, slots=True)
class LengthVerifier:
    """Score 1 when the completion's length is within `[min_length, max_length]`.

    >>> LengthVerifier(max_length=5)("abcdef", reference=None)
    Verdict(score=0.0, reason='too_long', detail='6 chars, above the maximum of 5', extracted=None)
    >>> LengthVerifier(max_length=5, soft_margin=4)("abcdef", reference=None).score
    0.75
    """

    name: ClassVar[str] = "length"
    version: ClassVar[str] = "1.0.0"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("x" * 100, None, 1.0, "correct"),
        Example("", None, 1.0, "correct"),
        Example("x" * 4097, None, 0.0, "too_long", "false"),
        Example("word " * 5000, None, 0.0, "too_long", "adversarial"),
    )

    min_length: int = 0
    """Shortest length that scores 1, in `unit`s."""
    max_length: int | None = 4096
    """Longest length that scores 1, in `unit`s; None for no upper bound."""
    unit: Literal["chars", "words"] = "chars"
    """`chars` counts code points; `words` counts whitespace-separated words."""
    soft_margin: int = 0
    """0: outside the range scores 0. Above 0: scores fall linearly to 0 over this distance."""

    def __post_init__(self) -> None:
        if self.unit not in ("chars", "words"):
            raise ValueError(f"unit must be 'chars' or 'words', got {self.unit!r}")
        for option in ("min_length", "soft_margin"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{option} must be a non-negative int, got {value!r}")
        upper = self.max_length
        if upper is not None and (
            isinstance(upper, bool) or not isinstance(upper, int) or upper < self.min_length
        ):
            raise ValueError(f"max_length must be None or an int >= min_length, got {upper!r}")

    def __call__(self, completion: str, *, reference: object = None) -> Verdict:
        """Measure `completion`; `reference` is ignored."""
        try:
            size = len(completion) if self.unit == "chars" else len(completion.split())
        except Exception as exc:
            return Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:400])
        if size < self.min_length:
            distance, reason = self.min_length - size, "too_short"
            detail = f"{size} {self.unit}, below the minimum of {self.min_length}"
        elif self.max_length is not None and size > self.max_length:
            distance, reason = size - self.max_length, "too_long"
            detail = f"{size} {self.unit}, above the maximum of {self.max_length}"
        else:
            return Verdict(1.0, "correct", f"{size} {self.unit}")
        score = max(0.0, 1.0 - distance / self.soft_margin) if self.soft_margin else 0.0
        return Verdict(score, reason, detail)


__all__ = ["LengthVerifier", "ThinkFormatVerifier"]
