"""Parsed answers: scalars, text, relations, intervals, collections and matrices.

Every value is a frozen dataclass holding sympy objects, so parsed answers can be cached and
shared. `render` turns a value back into short text for `Verdict.detail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import sympy

CollectionKind = Literal["tuple", "pair", "set", "list", "pm", "union", "choice"]
"""How a collection compares:

* `tuple`: ordered, from brackets with three or more items (`(1, 2, 3)`, `[1, 2, 3]`);
* `pair`: ordered, `(a, b)`: a point, or equally the open interval from a to b;
* `set`: unordered, from `\\{...\\}` or `\\emptyset`;
* `list`: unordered, a bare list `1, 2` (or `1 and 2`);
* `pm`: unordered, the values of an expression with `\\pm`/`\\mp` (`\\pm 2` is {2, -2});
* `union`: unordered, intervals or sets joined by `\\cup`;
* `choice`: unordered alternatives joined by "or", a hedge unless the reference has one too.
"""
UNORDERED: frozenset[str] = frozenset(("set", "list", "pm"))
"""Collection kinds that compare with each other as sets."""
ORDERED: frozenset[str] = frozenset(("tuple", "pair"))
"""Collection kinds that compare item by item, in order."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """One number or symbolic expression. Decimals are sympy Floats (compared with tolerance)."""

    expr: Any
    """The sympy expression."""


@dataclass(frozen=True, slots=True)
class Text:
    """A word answer such as `yes` or `\\text{no solution}`, compared case-insensitively."""

    text: str
    """The words, lower-cased and joined by single spaces."""


@dataclass(frozen=True, slots=True)
class Relation:
    """An equation or inequality, possibly chained: `x = 3`, `1 < x \\le 2`, `x = 1 + 2 = 3`."""

    ops: tuple[str, ...]
    """The relation symbols between consecutive terms: `=`, `<`, `<=`, `>`, `>=`, `!=`."""
    terms: tuple[Any, ...]
    """The sympy expressions, one more than `ops`."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A real interval written with at least one square bracket (`[1, 2)`, `[0, \\infty)`)."""

    lo: Any
    """Lower end (a sympy expression, possibly `-oo`)."""
    hi: Any
    """Upper end (a sympy expression, possibly `oo`)."""
    lo_open: bool
    """Whether the lower end is excluded."""
    hi_open: bool
    """Whether the upper end is excluded."""


@dataclass(frozen=True, slots=True)
class Collection:
    """Several values; `kind` says whether order matters."""

    kind: CollectionKind
    """See `CollectionKind`."""
    items: tuple[Value, ...]
    """The values, in the order written."""


@dataclass(frozen=True, slots=True)
class Matrix:
    """A matrix from a `pmatrix`/`bmatrix`/`matrix`/`array` environment."""

    rows: tuple[tuple[Value, ...], ...]
    """The rows, each a tuple of cells of equal length."""


Value = Scalar | Text | Relation | Interval | Collection | Matrix
"""Any parsed answer."""

_BRACKETS = {"tuple": "()", "pair": "()", "set": "{}", "list": "", "pm": "{}", "choice": ""}
_RELATION_TEXT = {"<=": "\u2264", ">=": "\u2265", "!=": "\u2260"}


def render(value: Value, limit: int = 200) -> str:
    """Short human-readable text for a value, cut to `limit` characters."""
    text = _render(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(value: Value) -> str:
    if isinstance(value, Scalar):
        return _short(value.expr)
    if isinstance(value, Text):
        return repr(value.text)
    if isinstance(value, Relation):
        parts = [_short(value.terms[0])]
        for op, term in zip(value.ops, value.terms[1:], strict=True):
            parts += [_RELATION_TEXT.get(op, op), _short(term)]
        return " ".join(parts)
    if isinstance(value, Interval):
        lo, hi = _short(value.lo), _short(value.hi)
        return f"{'(['[not value.lo_open]}{lo}, {hi}{')]'[not value.hi_open]}"
    if isinstance(value, Matrix):
        return "[" + "; ".join(", ".join(map(_render, row)) for row in value.rows) + "]"
    if value.kind == "union":
        return " \u222a ".join(map(_render, value.items))
    joiner = " or " if value.kind == "choice" else ", "
    body = joiner.join(map(_render, value.items))
    brackets = _BRACKETS[value.kind]
    return f"{brackets[:1]}{body}{brackets[1:]}"


def _short(expr: Any) -> str:
    """An expression as text, with decimals shown to 15 significant digits."""
    floats = expr.atoms(sympy.Float)
    if floats:
        expr = expr.xreplace({f: sympy.Float(f, 15) for f in floats})
    return str(expr)
