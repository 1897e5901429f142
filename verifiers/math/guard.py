"""Limits that keep every parse and comparison fast, and the errors raised when input breaks them.

Hang-prone input is refused before sympy sees it, never evaluated and then interrupted:

  * answers longer than `Limits.max_answer_chars`, or nested deeper than `Limits.max_depth`;
  * digit strings longer than `Limits.max_digits`;
  * powers, factorials and binomials whose result would have more than `Limits.max_digits`
    digits (power towers such as `9^9^9^9` and `10^{10^{10}}`, `1000000!`), estimated from
    logarithms before the value is built;
  * symbolic powers with an exponent above `Limits.max_exponent` (expanding them is slow);
  * results of any operation holding a number with more than `Limits.max_digits` digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sympy


class AnswerError(ValueError):
    """An answer that cannot be compared; the subclass says why."""


class ParseError(AnswerError):
    """The answer is not a mathematical expression this verifier reads."""


class Refused(AnswerError):
    """The answer is hang-prone (huge, deeply nested, a power tower): it is never evaluated."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds applied while parsing one answer."""

    max_answer_chars: int = 1_000
    """Longest extracted answer, in characters, that is parsed at all."""
    max_depth: int = 32
    """Deepest nesting of brackets, braces and parentheses."""
    max_digits: int = 2_000
    """Most decimal digits of any number, written or computed (powers, factorials)."""
    max_exponent: int = 1_000
    """Largest exponent magnitude on a symbolic base such as `x^{1000}`."""
    max_items: int = 64
    """Most items in one list, set, tuple or matrix, and most `\\pm` alternatives."""

    def __post_init__(self) -> None:
        for field in ("max_answer_chars", "max_depth", "max_digits", "max_exponent", "max_items"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{field} must be a positive int, got {value!r}")


_OPENERS = frozenset("([{")
_BITS_PER_DIGIT = math.log2(10)
_CLOSERS = frozenset(")]}")


def check_text(text: str, limits: Limits) -> None:
    """Refuse an answer string that is too long or nested too deeply, before tokenising it.

    Raises:
        Refused: the text breaks `limits.max_answer_chars` or `limits.max_depth`.
    """
    if len(text) > limits.max_answer_chars:
        raise Refused(f"answer has {len(text)} characters, over the cap {limits.max_answer_chars}")
    depth = 0
    for char in text:
        if char in _OPENERS:
            depth += 1
            if depth > limits.max_depth:
                raise Refused(f"answer is nested deeper than {limits.max_depth} levels")
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)


def log10_abs(value: Any) -> float:
    """Base-10 logarithm of `|value|` for a sympy number; `-inf` for zero.

    Rationals use exact bit lengths, so huge integers never go through floats.
    """
    if value.is_zero:
        return -math.inf
    if value.is_Rational:
        p, q = abs(int(value.p)), int(value.q)
        return _log10_int(p) - _log10_int(q)
    magnitude = sympy.Abs(value).evalf(15)
    if not magnitude.is_Float or magnitude <= 0:
        raise ParseError(f"cannot size the number {value}")
    return float(sympy.log(magnitude, 10).evalf(15))


def _log10_int(n: int) -> float:
    bits = n.bit_length()
    if bits < 1000:
        return math.log10(n)
    shift = bits - 64
    return math.log10(n >> shift) + shift * math.log10(2)


def check_power(base: Any, exponent: Any, limits: Limits) -> None:
    """Refuse `base ** exponent` when it would be huge; the power is not built here.

    Raises:
        Refused: the result would exceed `limits.max_digits` digits, or a symbolic base has an
            exponent above `limits.max_exponent`.
    """
    if not exponent.is_number:
        return
    size = log10_abs(exponent)
    if size > math.log10(limits.max_digits) + 2:
        raise Refused(f"exponent {_short(exponent)} is too large")
    magnitude = 10.0**size
    if not base.is_number:
        if magnitude > limits.max_exponent:
            raise Refused(f"exponent {_short(exponent)} on a symbolic base is too large")
        return
    digits = magnitude * abs(log10_abs(base)) if not base.is_zero else 0.0
    if digits > limits.max_digits:
        raise Refused(f"power {_short(base)}^{_short(exponent)} would have ~{digits:.3g} digits")


def check_size(value: Any, limits: Limits) -> None:
    """Refuse a built value holding an integer or fraction with over `limits.max_digits` digits.

    Products and sums of allowed numbers can still grow past the cap (`10^{1999} \\cdot
    10^{1999}`); this catches them after each operation, while they are still small enough
    to have been built quickly.

    Raises:
        Refused: some rational number inside `value` is too long.
    """
    max_bits = limits.max_digits * _BITS_PER_DIGIT
    for atom in value.atoms(sympy.Rational):
        if max(int(atom.p).bit_length(), int(atom.q).bit_length()) > max_bits:
            raise Refused(f"a number in the answer has over {limits.max_digits} digits")


def check_factorial(n: Any, limits: Limits) -> None:
    """Refuse `n!` (and the binomials built from factorials) when it would be huge.

    Raises:
        Refused: `n!` would exceed `limits.max_digits` digits.
    """
    if not n.is_number:
        return
    size = log10_abs(n)
    if size > 7:
        raise Refused(f"factorial of {_short(n)} is too large")
    value = float(sympy.re(n).evalf(15))
    if value > 1 and math.lgamma(value + 1) / math.log(10) > limits.max_digits:
        raise Refused(f"factorial of {_short(n)} would have over {limits.max_digits} digits")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
