"""Schema regular expressions: ECMA-262 patterns run on the `regex` engine under a time budget.

JSON Schema patterns are ECMA-262 regular expressions, evaluated by whoever validates. A pattern
that backtracks catastrophically (`^(a|aa)+$` against forty `a`s and a `!`) would hang Python's
`re` for years, and the string it runs on comes from the model. Every `pattern` and
`patternProperties` match therefore goes through `PatternBudget.search`, which uses the `regex`
module's `timeout=` with one budget of engine time shared by all matches of a verification.

Implementation details:
    1. `$` outside a character class becomes `\\Z`: in ECMA-262 it matches only at the very end,
       while Python's `$` also matches before a final newline (`^\\d+$` would accept `"42\\n"`).
    2. `\\d`, `\\w` and their negations become the ASCII classes ECMA-262 defines (`[0-9]`,
       `[A-Za-z0-9_]`); Python's versions match every Unicode digit and letter. Inside a
       character class only `\\d` and `\\w` are rewritten; `[\\D]` and `[\\W]` stay Unicode.
    3. Not bridged (documented differences): `\\b` uses Unicode word characters; `.` excludes
       only `\\n` (ECMA-262 also excludes `\\r`, U+2028, U+2029); ECMA-only syntax such as
       `\\u{1F600}`, `\\cX` or `[^]` fails to compile, and Python-only syntax such as inline
       flags `(?i)` or possessive quantifiers is accepted. A pattern that does not compile is
       the schema's fault (`BadPattern`), never the model's.
    4. Compiled patterns are cached by the `regex` module itself.
    5. The budget of the verification in progress lives in a context variable (`budget` sets
       it for a `with` block, `current_budget` reads it), so validators compiled once per
       schema and shared by every call still give each verification its own budget, also
       across threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import regex

_ASCII_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]"}
_ASCII_INSIDE = {"d": "0-9", "w": "A-Za-z0-9_"}


class BadPattern(ValueError):
    """A schema pattern that does not compile."""


class PatternTimeout(Exception):
    """The time budget for pattern matching, or the validation deadline, ran out."""


def _class_start(pattern: str, start: int) -> int:
    """Index just past `[`, `[^` and a leading literal `]`, as Python's parser reads them."""
    index = start + 1
    if index < len(pattern) and pattern[index] == "^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    return index


def translate(pattern: str) -> str:
    """Rewrite an ECMA-262 pattern so that the `regex` engine gives ECMA-262 answers.

    >>> translate(r"^\\d+$")
    '^[0-9]+\\\\Z'
    >>> translate(r"[$\\d]\\$")
    '[$0-9]\\\\$'
    """
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            table = _ASCII_INSIDE if in_class else _ASCII_OUTSIDE
            out.append(table.get(escaped, pattern[index : index + 2]))
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            end = _class_start(pattern, index)
            out.append(pattern[index:end])
            index, in_class = end, True
            continue
        elif char == "$":
            char = "\\Z"
        out.append(char)
        index += 1
    return "".join(out)


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a schema pattern (after `translate`).

    Raises:
        BadPattern: The pattern does not compile; the message quotes it.
    """
    try:
        return regex.compile(translate(pattern))
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise BadPattern(f"pattern {pattern[:200]!r} does not compile: {exc}") from None


class PatternBudget:
    """Pattern matching with one time budget for a whole verification, and a wall-clock
    deadline for the whole validation.

    Only the time spent inside the regex engine counts against `seconds`, so a large instance
    with many cheap matches does not run out, while one catastrophic match does. The deadline
    stops validations that blow up without any regex: recursive schemas whose applicators
    revisit each subtree (`anyOf` branches that both descend, `unevaluatedProperties` under
    recursion) take time exponential in the document's depth.

    Args:
        seconds: Total time all `search` calls together may spend matching.
        validation_s: Wall-clock seconds, from now, that validation may take; None for no limit.
    """

    def __init__(self, seconds: float, validation_s: float | None = None) -> None:
        self._left = seconds
        self._validation_s = validation_s
        self._deadline = None if validation_s is None else time.perf_counter() + validation_s

    def check_deadline(self) -> None:
        """Raise `PatternTimeout` once the validation deadline has passed."""
        if self._deadline is not None and time.perf_counter() > self._deadline:
            raise PatternTimeout(
                f"validation ran past its {self._validation_s} s budget (the schema revisits "
                "parts of the document exponentially often)"
            )

    def search(self, pattern: str, text: str) -> bool:
        """Whether `pattern` matches anywhere in `text` (ECMA-262 `test` semantics).

        Raises:
            BadPattern: The pattern does not compile.
            PatternTimeout: The budget is spent.
        """
        compiled = compile_pattern(pattern)
        start = time.perf_counter()
        try:
            if self._left <= 0:
                raise TimeoutError
            return compiled.search(text, timeout=self._left) is not None
        except TimeoutError:
            raise PatternTimeout(
                f"pattern {pattern[:200]!r} ran out of time on a {len(text)}-character string"
            ) from None
        finally:
            self._left -= time.perf_counter() - start


_CURRENT: ContextVar[PatternBudget | None] = ContextVar("pattern_budget", default=None)


@contextmanager
def budget(seconds: float, validation_s: float | None = None) -> Iterator[PatternBudget]:
    """Give the pattern matches inside the `with` block one fresh `PatternBudget`."""
    fresh = PatternBudget(seconds, validation_s)
    token = _CURRENT.set(fresh)
    try:
        yield fresh
    finally:
        _CURRENT.reset(token)


def current_budget() -> PatternBudget:
    """The budget set by the innermost `budget` block.

    Raises:
        RuntimeError: No `budget` block is active (a validator used outside a verification).
    """
    found = _CURRENT.get()
    if found is None:
        raise RuntimeError("pattern matching outside a `budget` block")
    return found


__all__ = [
    "BadPattern",
    "PatternBudget",
    "PatternTimeout",
    "budget",
    "compile_pattern",
    "current_budget",
    "translate",
]
