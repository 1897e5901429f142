"""Equality of two scalar sympy expressions: exact for exact values, tolerant for decimals.

Implementation details:
  1. Structurally equal expressions are equal. Infinities (`oo`, `-oo`, `zoo`) and `nan` are
     equal only structurally.
  2. Exact against exact (no decimal on either side): when the difference is rational (sympy
     folds integers, fractions and many radicals), it must be exactly zero, so
     `2^64 != 2^64 - 1`. Otherwise the difference is evaluated with adaptive precision (sympy
     `evalf`, working precision up to hundreds of digits beyond the operands' size) and must
     vanish to 100 significant digits relative to the operands: `sqrt(2^200 + 1) != 2^100`
     although they agree to 60 digits. No `simplify` call is made, so cost stays bounded.
  3. When either side holds a decimal (a sympy Float), the values must agree within `rel_tol`
     relative to the reference (absolute `rel_tol` when the reference is 0):
     `0.6666667 = 2/3`, `0.333 != 1/3` at the default 1e-6.
  4. Expressions with free symbols are compared at three fixed points (symbols sorted by name
     get distinct non-integer values), exact ones to 20 significant digits, decimal ones
     within `rel_tol`. Points where either side is undefined are skipped; fewer than two
     usable points means not equal. Different symbols (`x` vs `y`, `l` vs `1`) differ.
  5. Before any of that, a cached double-precision fingerprint of each side (its values at the
     points) rejects pairs that are plainly different, so matching large unordered sets costs
     one evaluation per item rather than one per pair.
"""

from __future__ import annotations

import cmath
import functools
import math
from typing import Any

import sympy

from verifiers.math.guard import AnswerError, log10_abs

_SPECIAL = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)
_EXACT_DIGITS = 100
_POINT_DIGITS = 20
_FINGERPRINT_TOL = 1e-9
_POINTS = (
    (sympy.Rational(7, 13), sympy.Rational(3, 11)),
    (sympy.Rational(17, 9), sympy.Rational(5, 23)),
    (sympy.Rational(-11, 7), sympy.Rational(13, 29)),
)
Fingerprint = tuple[complex | None, ...]


@functools.lru_cache(maxsize=4096)
def scalars_equal(reference: Any, answer: Any, rel_tol: float) -> bool:
    """Whether `answer` equals `reference` (see the module docstring for the rules). Cached."""
    if reference == answer:
        return True
    if any(side.has(s) for side in (reference, answer) for s in _SPECIAL):
        return False
    inexact = reference.has(sympy.Float) or answer.has(sympy.Float)
    symbols = tuple(sorted(reference.free_symbols | answer.free_symbols, key=str))
    tol = rel_tol if inexact else 0.0
    ref_print, ans_print = _fingerprint(reference, symbols), _fingerprint(answer, symbols)
    if _far(ref_print, ans_print, tol):
        return False
    if not symbols:
        if inexact:
            return _close(reference, answer, rel_tol)
        return _exactly_equal(reference, answer, ref_print + ans_print)
    return _equal_at_points(reference, answer, symbols, rel_tol if inexact else None)


def clear_caches() -> None:
    """Drop the memoised comparisons and fingerprints."""
    scalars_equal.cache_clear()
    _fingerprint.cache_clear()


def proportional(first: Any, second: Any, rel_tol: float) -> bool:
    """Whether `second = c * first` for a non-zero constant `c` (equations `a = b` as `a - b`).

    Compared at the same fixed points as symbolic scalars; both must have free symbols.
    """
    symbols = tuple(sorted(first.free_symbols | second.free_symbols, key=str))
    if not symbols:
        return False
    inexact = first.has(sympy.Float) or second.has(sympy.Float)
    tol = rel_tol if inexact else 10.0**-_POINT_DIGITS
    ratios = []
    for values in _assignments(symbols):
        a, b = first.evalf(30, subs=values), second.evalf(30, subs=values)
        if _finite_number(a) and _finite_number(b) and not a.is_zero:
            ratios.append((b / a).evalf(30))
    if len(ratios) < 2 or _magnitude(ratios[0]).is_zero:
        return False
    bound = tol * _magnitude(ratios[0])
    return all(bool(_magnitude(r - ratios[0]) <= bound) for r in ratios)


def _assignments(symbols: tuple[Any, ...]) -> list[dict[Any, Any]]:
    """The fixed points: one value per symbol, distinct across symbols and points."""
    return [{s: point[i % 2] + i for i, s in enumerate(symbols)} for point in _POINTS]


@functools.lru_cache(maxsize=4096)
def _fingerprint(expr: Any, symbols: tuple[Any, ...]) -> Fingerprint:
    """`expr` in double precision at each point (one value when there are no symbols)."""
    points = _assignments(symbols) if symbols else [{}]
    values: list[complex | None] = []
    for subs in points:
        try:
            value = complex(expr.evalf(17, subs=subs))
        except (TypeError, ValueError, OverflowError):
            value = None
        finite = value is not None and cmath.isfinite(value)
        values.append(value if finite else None)
    return tuple(values)


def _far(first: Fingerprint, second: Fingerprint, rel_tol: float) -> bool:
    """Whether two fingerprints differ by far more than rounding and `rel_tol` allow."""
    for a, b in zip(first, second, strict=True):
        if a is None or b is None:
            continue
        size = max(abs(a), abs(b))
        if abs(a - b) > (2 * rel_tol + _FINGERPRINT_TOL) * size + 2 * rel_tol:
            return True
    return False


def _magnitude(value: Any) -> Any:
    """`|re| + |im|` of an already evaluated number: a sympy Float, or 0."""
    real, imag = value.as_real_imag()
    return abs(real) + abs(imag)


def _exactly_equal(reference: Any, answer: Any, approx: Fingerprint) -> bool:
    difference = answer - reference
    if difference.is_Rational:
        return bool(difference == 0)
    try:
        sizes = [abs(v) for v in approx if v is not None]
        if len(sizes) == len(approx):
            scale = max(0.0, *(math.log10(v) for v in sizes if v > 0))
        else:
            scale = max(0.0, log10_abs(reference), log10_abs(answer))
    except AnswerError:
        return False
    value = difference.evalf(30, maxn=int(4 * scale) + 4 * _EXACT_DIGITS)
    if not value.is_number:
        return False
    bound = sympy.Float(10) ** (scale - _EXACT_DIGITS)
    return bool(_magnitude(value) <= bound)


def _close(reference: Any, answer: Any, rel_tol: float) -> bool:
    difference = (answer - reference).evalf(30)
    size = _magnitude(reference.evalf(30))
    if not (difference.is_number and size.is_number):
        return False
    bound = rel_tol * size if size != 0 else sympy.Float(rel_tol)
    return bool(_magnitude(difference) <= bound)


def _equal_at_points(
    reference: Any, answer: Any, symbols: tuple[Any, ...], rel_tol: float | None
) -> bool:
    usable = 0
    tol = rel_tol if rel_tol is not None else 10.0**-_POINT_DIGITS
    for values in _assignments(symbols):
        ref_value = reference.evalf(30, subs=values)
        ans_value = answer.evalf(30, subs=values)
        if not _finite_number(ref_value) or not _finite_number(ans_value):
            continue
        usable += 1
        size = _magnitude(ref_value)
        bound = tol * size if size != 0 else sympy.Float(tol)
        if not bool(_magnitude(ans_value - ref_value) <= bound):
            return False
    return usable >= 2


def _finite_number(value: Any) -> bool:
    if not value.is_number or any(value.has(s) for s in _SPECIAL):
        return False
    real, imag = value.as_real_imag()
    return bool(real.is_Float or real.is_zero) and bool(imag.is_Float or imag.is_zero)
