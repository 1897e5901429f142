"""Equivalence of a parsed answer and a parsed reference, structure by structure.

Implementation details:
  1. Hedging: an answer that is a choice ("1 or 2") or a bare list ("1, 2") of different values
     is `multiple_answers` when the reference is a single value. A choice is accepted only
     against a reference that is itself a choice. Repeating one value ("2 or 2") is no hedge.
  2. Scalars compare with `numeric.scalars_equal` (exact, or `rel_tol` for decimals).
  3. Unordered collections (sets, bare lists, `\\pm` values, unions, choices) are equal when
     every item of each side equals some item of the other; `\\pm 2` is {2, -2}, never 2.
     Ordered ones (tuples, pairs, matrices) compare item by item, so `(1, 2) != (2, 1)`.
     A one-item set or list is its item (`\\{3\\}` = 3). A one-row or one-column matrix equals
     a tuple of the same entries.
  4. Intervals: ends and openness must match (`[1, 2) != (1, 2)`); a pair `(a, b)` equals the
     open interval. A one-variable linear inequality is its interval (`inequality`):
     `x > 3` = `3 < x` = `-x < -3` = `(3, \\infty)`, `2x \\le 6` = `x \\le 3`. Two inequalities
     must also be about the same variable (`y > 3` differs from `x > 3`).
  5. Equations: `x = 3` (or `f(x) = 3`) equals the bare value 3, whichever side is the
     reference. Two equations with a name on the left must name the same thing (`x = 3`
     differs from `y = 3`) and have equal right-hand sides; other equations are equal when
     `lhs - rhs` of one is a non-zero constant multiple of the other's.
  6. Text compares case-insensitively; text never equals a number. Text that says there is
     nothing ("no solution", "no real roots", "none", "the empty set") is the empty set, so it
     equals `\\emptyset` and `\\{\\}` (and each other); "no" alone is a word answer.
  7. A reference that is a choice ("-2 or 2") also accepts the same values as a `\\pm` value,
     a set or a list; a choice answer stays a hedge unless the reference is a choice. A choice
     of inequalities in one variable ("x < -2 or x > 2") is no hedge: it is the union of their
     intervals, on either side.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from verifiers.math.inequality import as_interval
from verifiers.math.numeric import proportional, scalars_equal
from verifiers.math.values import (
    ORDERED,
    UNORDERED,
    Collection,
    Interval,
    Matrix,
    Relation,
    Scalar,
    Text,
    Value,
)

Outcome = Literal["correct", "wrong_answer", "multiple_answers"]
_SINGLE = (Scalar, Text, Relation)
_UNWRAP = frozenset(("set", "list", "pm", "union", "choice"))
_AS_CHOICE = frozenset(("choice", "pm", "set", "list"))
_QUALIFIERS = r"(?:real|integer|integral|positive|negative|possible|such|valid|rational|complex)"
_NOUNS = r"(?:solutions?|roots?|values?|numbers?|zeros|zeroes|answers?|pairs?|points?|x)"
_NOTHING_RE = re.compile(
    rf"(?:there (?:is|are|exists?) |(?:[a-z]+ ){{0,3}}(?:has|have) )?"
    rf"(?:none(?: exists?)?|no(?: {_QUALIFIERS})* {_NOUNS}(?: exists?)?)"
    r"|(?:the )?(?:empty|null) set"
)


def judge(reference: Value, answer: Value, rel_tol: float) -> Outcome:
    """Classify `answer` against `reference`: correct, wrong, or a hedge between answers."""
    reference, answer = _as_union(reference), _as_union(_collapse(answer, rel_tol))
    hedge = isinstance(answer, Collection) and answer.kind in ("choice", "list")
    if hedge and isinstance(reference, _SINGLE):
        return "multiple_answers"
    if _is_kind(answer, "choice") and not _is_kind(reference, "choice"):
        return "multiple_answers"
    return "correct" if equal(reference, answer, rel_tol) else "wrong_answer"


def equal(reference: Value, answer: Value, rel_tol: float) -> bool:
    """Whether two parsed values are mathematically the same answer."""
    reference, answer = _unwrap(_nothing(reference)), _unwrap(_nothing(answer))
    if isinstance(reference, Relation) or isinstance(answer, Relation):
        return _relations_equal(reference, answer, rel_tol)
    if isinstance(reference, Scalar) and isinstance(answer, Scalar):
        return scalars_equal(reference.expr, answer.expr, rel_tol)
    if isinstance(reference, Text) and isinstance(answer, Text):
        return reference.text == answer.text
    if isinstance(reference, Interval) or isinstance(answer, Interval):
        return _intervals_equal(_as_interval(reference), _as_interval(answer), rel_tol)
    if isinstance(reference, Matrix) or isinstance(answer, Matrix):
        return _matrices_equal(reference, answer, rel_tol)
    if isinstance(reference, Collection) and isinstance(answer, Collection):
        return _collections_equal(reference, answer, rel_tol)
    return False


def _is_kind(value: Value, kind: str) -> bool:
    return isinstance(value, Collection) and value.kind == kind


def _collapse(value: Value, rel_tol: float) -> Value:
    """A choice or bare list whose items are all the same value is that value."""
    if not (isinstance(value, Collection) and value.kind in ("choice", "list") and value.items):
        return value
    first = value.items[0]
    if all(equal(first, item, rel_tol) for item in value.items[1:]):
        return first
    return value


def _as_union(value: Value) -> Value:
    """Inequalities in one variable joined by "or" (`x < -2 or x > 2`), as a union of intervals."""
    if not (isinstance(value, Collection) and value.kind == "choice"):
        return value
    found = [as_interval(item) if isinstance(item, Relation) else None for item in value.items]
    variables = {pair[0] for pair in found if pair is not None}
    if None in found or len(variables) != 1:
        return value
    return Collection("union", tuple(pair[1] for pair in found if pair is not None))


def _nothing(value: Value) -> Value:
    """Text saying there is no solution, as the empty set."""
    if isinstance(value, Text) and _NOTHING_RE.fullmatch(value.text):
        return Collection("set", ())
    return value


def _unwrap(value: Value) -> Value:
    while isinstance(value, Collection) and value.kind in _UNWRAP and len(value.items) == 1:
        value = value.items[0]
    return value


def _relations_equal(reference: Value, answer: Value, rel_tol: float) -> bool:
    if isinstance(reference, Relation) and isinstance(answer, Relation):
        ref_lhs, ans_lhs = _lone_variable(reference), _lone_variable(answer)
        if ref_lhs is not None and ans_lhs is not None:
            same_rhs = scalars_equal(reference.terms[-1], answer.terms[-1], rel_tol)
            return bool(ref_lhs == ans_lhs) and same_rhs
        ref_interval, ans_interval = as_interval(reference), as_interval(answer)
        if ref_interval is not None and ans_interval is not None:
            same_variable = ref_interval[0] == ans_interval[0]
            return same_variable and _intervals_equal(ref_interval[1], ans_interval[1], rel_tol)
        if set(reference.ops) == set(answer.ops) == {"="}:
            ref_form = reference.terms[0] - reference.terms[-1]
            ans_form = answer.terms[0] - answer.terms[-1]
            return proportional(ref_form, ans_form, rel_tol)
        return reference.ops == answer.ops and all(
            scalars_equal(r, a, rel_tol) for r, a in zip(reference.terms, answer.terms, strict=True)
        )
    ref_value, ans_value = _relation_value(reference), _relation_value(answer)
    if ref_value is None or ans_value is None:
        return False
    return equal(ref_value, ans_value, rel_tol)


def _lone_variable(relation: Relation) -> Any:
    """The name on the left of an equation such as `x = 3`, `f(x) = 2x` or `x = 1 + 2 = 3`.

    A name is a symbol or a product of symbols (`f(x)` reads as `f*x`); no numbers.
    """
    lhs = relation.terms[0]
    if set(relation.ops) != {"="}:
        return None
    if lhs.is_Symbol or (lhs.is_Mul and all(factor.is_Symbol for factor in lhs.args)):
        return lhs
    return None


def _relation_value(value: Value) -> Value | None:
    """A relation as the value it states: `x = 3` is 3, `x > 3` is `(3, oo)`."""
    if not isinstance(value, Relation):
        return value
    if _lone_variable(value) is not None:
        return Scalar(value.terms[-1])
    return _inequality(value)


def _inequality(relation: Relation) -> Interval | None:
    """A one-variable linear inequality as an interval, or None."""
    found = as_interval(relation)
    return None if found is None else found[1]


def _as_interval(value: Value) -> Interval | None:
    if isinstance(value, Interval):
        return value
    if isinstance(value, Relation):
        return _inequality(value)
    if isinstance(value, Collection) and value.kind == "pair":
        lo, hi = value.items
        if isinstance(lo, Scalar) and isinstance(hi, Scalar):
            return Interval(lo.expr, hi.expr, True, True)
    return None


def _intervals_equal(reference: Interval | None, answer: Interval | None, rel_tol: float) -> bool:
    if reference is None or answer is None:
        return False
    if (reference.lo_open, reference.hi_open) != (answer.lo_open, answer.hi_open):
        return False
    return scalars_equal(reference.lo, answer.lo, rel_tol) and scalars_equal(
        reference.hi, answer.hi, rel_tol
    )


def _matrices_equal(reference: Value, answer: Value, rel_tol: float) -> bool:
    ref_shape, ans_shape = _shape(reference), _shape(answer)
    if ref_shape is None or ans_shape is None:
        return False
    if len(ref_shape) == len(ans_shape) == 2:
        if ref_shape != ans_shape:
            return False
    elif not all(len(s) == 1 or 1 in s for s in (ref_shape, ans_shape)):
        return False
    return _ordered_equal(_cells(reference), _cells(answer), rel_tol)


def _shape(value: Value) -> tuple[int, ...] | None:
    """A matrix's (rows, columns); `(n,)` for a tuple, which may stand for a vector."""
    if isinstance(value, Matrix):
        return (len(value.rows), len(value.rows[0]))
    if isinstance(value, Collection) and value.kind in ORDERED:
        return (len(value.items),)
    return None


def _cells(value: Value) -> tuple[Value, ...]:
    if isinstance(value, Matrix):
        return tuple(cell for row in value.rows for cell in row)
    return value.items if isinstance(value, Collection) else ()


def _collections_equal(reference: Collection, answer: Collection, rel_tol: float) -> bool:
    kinds = {reference.kind, answer.kind}
    if kinds <= ORDERED:
        return _ordered_equal(reference.items, answer.items, rel_tol)
    as_choice = reference.kind == "choice" and answer.kind in _AS_CHOICE
    if kinds <= UNORDERED or len(kinds) == 1 or as_choice:
        return _unordered_equal(reference.items, answer.items, rel_tol)
    return False


def _ordered_equal(reference: tuple[Value, ...], answer: tuple[Value, ...], rel_tol: float) -> bool:
    if len(reference) != len(answer):
        return False
    return all(equal(r, a, rel_tol) for r, a in zip(reference, answer, strict=True))


def _unordered_equal(
    reference: tuple[Value, ...], answer: tuple[Value, ...], rel_tol: float
) -> bool:
    """Set equality: every item of each side equals some item of the other."""
    if not reference or not answer:
        return not reference and not answer
    exact = set(reference)
    unmatched = [a for a in dict.fromkeys(answer) if a not in exact]
    for ref_item in dict.fromkeys(reference):
        if ref_item in answer:
            continue
        hits = [a for a in answer if equal(ref_item, a, rel_tol)]
        if not hits:
            return False
        unmatched = [a for a in unmatched if a not in hits]
    return all(any(equal(r, a, rel_tol) for r in reference) for a in unmatched)
