"""Inequalities in one variable read as the interval of values that satisfy them.

Implementation details:
  1. A relation whose operators are all `<`, `<=`, `>`, `>=` and whose terms share exactly one
     free symbol is split into consecutive pairs (`1 < 2x < 4` is `1 < 2x` and `2x < 4`).
  2. Each pair must be linear in that symbol: `lhs - rhs` has a constant, non-zero derivative
     (expanded first when it is a small polynomial). Dividing by that slope gives one bound,
     and a negative slope flips the direction, so `-x < -3`, `3 < x` and `2x - 6 > 0` all
     read as `x > 3`.
  3. The bounds are intersected into one interval; an infinite end is open. Anything else
     (a quadratic, two variables, a symbolic slope of unknown sign) is not read here.
  4. Pure, so results are cached (`as_interval.cache_clear` empties the cache).
"""

from __future__ import annotations

import functools
from typing import Any

import sympy

from verifiers.math.values import Interval, Relation

_ORDER = frozenset(("<", "<=", ">", ">="))
_MAX_EXPAND_EXPONENT = 8
Bound = tuple[Any, bool]
"""A bound's value and whether it is excluded (strict)."""


@functools.lru_cache(maxsize=1024)
def as_interval(relation: Relation) -> tuple[Any, Interval] | None:
    """`(variable, interval)` for a one-variable linear inequality, else None.

    >>> from sympy import Symbol
    >>> x = Symbol("x")
    >>> as_interval(Relation(("<",), (-x, sympy.Integer(-3))))
    (x, Interval(lo=3, hi=oo, lo_open=True, hi_open=True))
    """
    if not relation.ops or not set(relation.ops) <= _ORDER:
        return None
    symbols = set().union(*(sympy.sympify(term).free_symbols for term in relation.terms))
    if len(symbols) != 1:
        return None
    (variable,) = symbols
    lower: list[Bound] = []
    upper: list[Bound] = []
    for op, lhs, rhs in zip(relation.ops, relation.terms[:-1], relation.terms[1:], strict=True):
        bound = _half_line(lhs, op, rhs, variable)
        if bound is None:
            return None
        is_lower, value, strict = bound
        (lower if is_lower else upper).append((value, strict))
    lo, lo_open = _tightest(lower, larger=True) if lower else (-sympy.oo, True)
    hi, hi_open = _tightest(upper, larger=False) if upper else (sympy.oo, True)
    if lo is None or hi is None:
        return None
    return variable, Interval(lo, hi, lo_open, hi_open)


def _half_line(lhs: Any, op: str, rhs: Any, variable: Any) -> tuple[bool, Any, bool] | None:
    """For `lhs op rhs`: (whether it bounds the variable from below, the bound, strict)."""
    strict, greater = op in ("<", ">"), op in (">", ">=")
    if lhs == variable and not rhs.has(variable):
        return greater, rhs, strict
    if rhs == variable and not lhs.has(variable):
        return not greater, lhs, strict
    difference = lhs - rhs
    slope = sympy.diff(difference, variable)
    if slope.has(variable) and _small_polynomial(slope):
        slope = sympy.expand(slope)
    if slope.free_symbols or not slope.is_number:
        return None
    if slope.is_positive:
        positive = True
    elif slope.is_negative:
        positive = False
    else:
        return None
    offset = (difference - slope * variable).subs(variable, 0)
    if offset.free_symbols or not offset.is_finite:
        return None
    return greater == positive, -offset / slope, strict


def _small_polynomial(value: Any) -> bool:
    """Whether expanding `value` is cheap: no power with an exponent over a small cap."""
    for power in value.atoms(sympy.Pow):
        exponent = power.exp
        if not exponent.is_Integer or abs(int(exponent)) > _MAX_EXPAND_EXPONENT:
            return False
    return True


def _tightest(bounds: list[Bound], *, larger: bool) -> Bound | tuple[None, bool]:
    """The strongest of several lower (`larger`) or upper bounds; None when not comparable."""
    best, strict = bounds[0]
    for value, value_strict in bounds[1:]:
        stronger = sympy.sympify(value > best if larger else value < best)
        if stronger == sympy.true:
            best, strict = value, value_strict
        elif sympy.sympify(sympy.Eq(value, best)) == sympy.true:
            strict = strict or value_strict
        elif stronger != sympy.false:
            return None, False
    return best, strict


__all__ = ["as_interval"]
