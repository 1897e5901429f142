"""Guarded construction of sympy expressions, one `\\pm` alternative at a time.

Every arithmetic result is a tuple of alternatives: `1 \\pm \\sqrt{2}` is
`(1 + sqrt(2), 1 - sqrt(2))`, and operations combine alternatives pairwise, so `\\pm` inside a
fraction (`\\frac{-1 \\pm \\sqrt{5}}{2}`) works. Nothing here calls `sympify` or `eval`: numbers,
symbols and functions are built directly.

Implementation details:
  1. Integers and scientific numbers without a decimal point are exact (`1e3` is 1000); a
     decimal point makes a sympy Float with enough precision for every written digit, which
     marks the value as inexact for comparison.
  2. `e` is Euler's number and `i` the imaginary unit; every other letter is a plain symbol
     (`O`, `l` and `I` are symbols, never digits).
  3. Powers, factorials, binomials and `exp`/`sinh`/`cosh` are sized by `guard` before sympy
     builds them; division by zero is a parse error.
  4. Odd roots of negative reals are real: `\\sqrt[3]{-8}` is -2.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import sympy

from verifiers.math.guard import (
    Limits,
    ParseError,
    Refused,
    check_factorial,
    check_power,
    check_size,
)

Alts = tuple[Any, ...]
"""The values of an expression, one per `\\pm` choice (usually just one)."""

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "ln": sympy.log,
    "log": sympy.log,
    "exp": sympy.exp,
    "lfloor": sympy.floor,
    "lceil": sympy.ceiling,
}
_EXPONENTIAL = frozenset(("exp", "sinh", "cosh"))


def number(text: str) -> Any:
    """An exact Integer/Rational, or a Float when the literal has a decimal point."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." in mantissa:
        digits = sum(c.isdigit() for c in mantissa)
        return sympy.Float(text, max(digits, 15) + 10)
    value = sympy.Integer(mantissa)
    shift = int(exponent) if exponent else 0
    return value * sympy.Integer(10) ** shift


def symbol(name: str) -> Any:
    """A sympy symbol, with `e` as Euler's number and `i` as the imaginary unit."""
    if name == "e":
        return sympy.E
    if name == "i":
        return sympy.I
    return sympy.Symbol(name)


def combine(op: Callable[[Any, Any], Any], left: Alts, right: Alts, limits: Limits) -> Alts:
    """Apply a binary operation to every pair of alternatives, dropping duplicates."""
    if len(left) * len(right) > limits.max_items:
        raise Refused(f"more than {limits.max_items} \\pm alternatives")
    return _unique((op(a, b) for a, b in itertools.product(left, right)), limits)


def apply(op: Callable[[Any], Any], alts: Alts, limits: Limits) -> Alts:
    """Apply a unary operation to every alternative."""
    return _unique((op(a) for a in alts), limits)


def plus_minus(left: Alts, right: Alts, limits: Limits) -> Alts:
    """`left \\pm right`: both the sum and the difference of every pair."""
    if 2 * len(left) * len(right) > limits.max_items:
        raise Refused(f"more than {limits.max_items} \\pm alternatives")
    pairs = itertools.product(left, right)
    return _unique((v for a, b in pairs for v in (a + b, a - b)), limits)


def divide(a: Any, b: Any) -> Any:
    """`a / b`, refusing a zero denominator."""
    if b.is_zero:
        raise ParseError("division by zero")
    return a / b


def power(limits: Limits) -> Callable[[Any, Any], Any]:
    """A guarded `a ** b` for `combine`."""

    def build(base: Any, exponent: Any) -> Any:
        check_power(base, exponent, limits)
        if base.is_zero and exponent.is_negative:
            raise ParseError("division by zero")
        return base**exponent

    return build


def factorial(n: Any, limits: Limits) -> Any:
    """A guarded `n!`; negative integers are a parse error."""
    check_factorial(n, limits)
    if n.is_integer and n.is_negative:
        raise ParseError(f"factorial of the negative integer {n}")
    return sympy.factorial(n)


def binomial(n: Any, k: Any, limits: Limits) -> Any:
    """A guarded binomial coefficient `n choose k`."""
    check_factorial(n, limits)
    return sympy.binomial(n, k)


def root(x: Any, n: Any, limits: Limits) -> Any:
    """The `n`-th root, real for odd roots of negative reals."""
    if n.is_zero:
        raise ParseError("zeroth root")
    if n.is_integer:
        return sympy.real_root(x, n)
    return power(limits)(x, 1 / n)


def function(name: str, arg: Any, limits: Limits, base: Any = None) -> Any:
    """Apply a named function (`sin`, `log`, `lfloor`, ...); `base` is a logarithm's base."""
    if name in _EXPONENTIAL:
        check_power(sympy.E, sympy.Abs(arg), limits)
    if name == "log" and base is not None:
        if base.is_zero or base == 1:
            raise ParseError(f"logarithm to base {base}")
        return sympy.log(arg, base)
    return _FUNCTIONS[name](arg)


def is_function(name: str) -> bool:
    """Whether `name` is a function `function` can apply."""
    return name in _FUNCTIONS


def _unique(values: Iterable[Any], limits: Limits) -> Alts:
    """The distinct values, in order, each checked by `guard.check_size`."""
    seen: list[Any] = []
    for value in values:
        check_size(value, limits)
        if value not in seen:
            seen.append(value)
    return tuple(seen)
