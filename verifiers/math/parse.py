"""The structure half of the answer parser: lists, relations, brackets, matrices.

Grammar (lowest precedence first; arithmetic below `sum` is in `terms`)::

    answer   := ["either"] listing ("or" listing)*        -> choice when "or" appears
    listing  := item (("," | ";" | "and") item)*           -> bare list (unordered)
    item     := words | relation ("\\cup" relation)*      -> text, relation or union
    relation := sum (("=" | "<" | "\\le" | "\\approx" | "\\in" | ...) sum)*

Implementation details:
  1. `(a, b)` is a pair (a point, or equally the open interval from a to b); a square bracket
     makes an interval (`[a, b)`, `[a, b]`); three or more items make a tuple; `\\{...\\}` (or a
     `{...}` group with commas) is a set.
  2. `x \\in S` and `(x, y) = (1, 2)` read as their right-hand side; `x = \\pm 2` reads as the
     unordered pair of equations `x = 2`, `x = -2`.
  3. "1, 2 or 3" is a choice among 1, 2 and 3, never a list.
  4. Inside a set or a bare list of several items, a `\\pm` item contributes both its values:
     `\\{\\pm 1, \\pm 2\\}` is {1, -1, 2, -2}. `\\{\\}` (also `\\left\\{ \\right\\}`) is the
     empty set.
"""

from __future__ import annotations

import functools
from typing import Any

from verifiers.math.guard import Limits, ParseError, Refused, check_text
from verifiers.math.lexer import Token, names, tokenize
from verifiers.math.normalize import normalize
from verifiers.math.terms import Node, Terms, alts
from verifiers.math.values import Collection, Interval, Matrix, Relation, Scalar, Text, Value

_RELATIONS = {"le": "<=", "ge": ">=", "ne": "!=", "approx": "=", "in": "in"}
_MATRICES = names("pmatrix bmatrix Bmatrix matrix smallmatrix array")
_CLOSERS = {"(": (")", "]"), "[": ("]", ")"), "{": ("}",), r"\{": (r"\}",)}


@functools.lru_cache(maxsize=4096)
def parse_answer(text: str, limits: Limits) -> Value:
    """Parse one extracted answer (LaTeX or plain text). Pure, so results are cached.

    >>> parse_answer(r"\\dfrac{\\pi}{2}", Limits())
    Scalar(expr=pi/2)

    Raises:
        ParseError: the text is not an answer this parser reads.
        Refused: the text is hang-prone (see `guard`).
    """
    check_text(text, limits)
    tokens = tokenize(normalize(text), limits)
    if not tokens:
        raise ParseError("empty answer")
    p = Terms(tokens, limits, _nested)
    if p.at("word", "either"):
        p.take()
    parts = [_listing(p)]
    while p.at("word", "or"):
        p.take()
        parts.append(_listing(p))
    if p.peek() is not None:
        raise ParseError(f"unexpected {p.take().text!r}")
    if len(parts) == 1:
        return parts[0]
    flat = [i for part in parts for i in _list_items(part)]
    return Collection("choice", tuple(flat))


def to_value(node: Node) -> Value:
    """A finished node as a value: one alternative is a scalar, several are a `pm` set."""
    if not isinstance(node, tuple):
        return node
    if len(node) == 1:
        return Scalar(node[0])
    return Collection("pm", tuple(Scalar(a) for a in node))


def _list_items(value: Value) -> tuple[Value, ...]:
    if isinstance(value, Collection) and value.kind == "list":
        return value.items
    return (value,)


def _listing(p: Terms) -> Value:
    items = [to_value(_item(p))]
    while p.at("op", ",", ";") or p.at("word", "and"):
        p.take()
        if p.at("word", "or"):
            break
        if p.at("word", "and"):
            p.take()
        items.append(to_value(_item(p)))
        if len(items) > p.limits.max_items:
            raise Refused(f"more than {p.limits.max_items} items")
    return items[0] if len(items) == 1 else Collection("list", _spread(items))


def _item(p: Terms) -> Node:
    start, words = p.pos, []
    while p.at("text") or p.at("letters"):
        words.append(p.take().text.lower())
    if len(words) == 1 and len(words[0]) <= 2 and p.tokens[start].kind == "letters":
        p.pos, words = start, []
    if words:
        if p.peek() is None or p.at("op", ",", ";") or p.at("word") or p.at("close"):
            return Text(" ".join(words))
        raise ParseError(f"text {' '.join(words)!r} before an expression")
    parts = [_relation(p)]
    while p.at("cmd", "cup"):
        p.take()
        parts.append(_relation(p))
    if len(parts) == 1:
        return parts[0]
    return Collection("union", tuple(_union_part(to_value(part)) for part in parts))


def _relation(p: Terms) -> Node:
    terms: list[Node] = [p.sum()]
    ops: list[str] = []
    while (op := _relation_op(p)) is not None:
        ops.append(op)
        terms.append(p.sum())
    if not ops:
        return terms[0]
    if ops == ["in"] or (ops == ["="] and not isinstance(terms[1], tuple)):
        return terms[1]
    if "in" in ops:
        raise ParseError("\\in inside a chain of relations")
    sides = [alts(t) for t in terms]
    if ops == ["="] and len(sides[0]) == 1 and len(sides[1]) > 1:
        equations = (Relation(("=",), (sides[0][0], rhs)) for rhs in sides[1])
        return Collection("pm", tuple(equations))
    if any(len(side) != 1 for side in sides):
        raise ParseError("\\pm inside a relation")
    return Relation(tuple(ops), tuple(side[0] for side in sides))


def _relation_op(p: Terms) -> str | None:
    if p.at("cmd", *_RELATIONS):
        return _RELATIONS[p.take().text]
    if not p.at("op", "=", "<", ">"):
        return None
    op = p.take().text
    if op != "=" and p.at("op", "="):
        p.take()
        return op + "="
    return op


def _spread(values: list[Value] | tuple[Value, ...]) -> tuple[Value, ...]:
    """The items of a set or list, each `\\pm` item replaced by its values."""
    spread: list[Value] = []
    for value in values:
        pm = isinstance(value, Collection) and value.kind == "pm"
        spread.extend(value.items if isinstance(value, Collection) and pm else (value,))
    return tuple(spread)


def _nested(p: Terms, opener: Token) -> Node:
    if opener.kind == "begin":
        return _matrix(p, opener.text)
    if opener.text == r"\{" and p.at("close", r"\}"):
        p.take()
        return Collection("set", ())
    p.enter()
    items = [_item(p)]
    while p.at("op", ","):
        p.take()
        items.append(_item(p))
        if len(items) > p.limits.max_items:
            raise Refused(f"more than {p.limits.max_items} items")
    closer = p.expect("close", *_CLOSERS[opener.text]).text
    p.depth -= 1
    if len(items) == 1 and opener.text + closer in ("()", "[]", "{}"):
        return items[0]
    values = tuple(to_value(item) for item in items)
    if opener.text in ("{", r"\{"):
        return Collection("set", _spread(values))
    if len(values) != 2:
        if opener.text + closer not in ("()", "[]"):
            raise ParseError(f"interval with {len(values)} ends")
        return Collection("tuple", values)
    if opener.text + closer == "()":
        return Collection("pair", values)
    lo, hi = (_scalar(v) for v in values)
    return Interval(lo, hi, opener.text == "(", closer == ")")


def _matrix(p: Terms, env: str) -> Value:
    if env not in _MATRICES:
        raise ParseError(f"unsupported environment {env!r}")
    rows: list[tuple[Value, ...]] = []
    row = [to_value(_item(p))]
    while not p.at("end"):
        if p.at("op", "&"):
            p.take()
            row.append(to_value(_item(p)))
        elif p.at("row"):
            p.take()
            rows.append(tuple(row))
            row = [] if p.at("end") else [to_value(_item(p))]
        else:
            raise ParseError("expected '&', '\\\\' or \\end in a matrix")
        if sum(map(len, rows)) + len(row) > p.limits.max_items:
            raise Refused(f"matrix with more than {p.limits.max_items} cells")
    p.expect("end", env)
    if row:
        rows.append(tuple(row))
    if len({len(r) for r in rows}) != 1:
        raise ParseError("matrix rows of different lengths")
    return Matrix(tuple(rows))


def _scalar(value: Value) -> Any:
    if not isinstance(value, Scalar):
        raise ParseError("an interval end is not a number")
    return value.expr


def _union_part(value: Value) -> Value:
    if isinstance(value, Collection) and value.kind == "pair":
        lo, hi = (_scalar(v) for v in value.items)
        return Interval(lo, hi, True, True)
    if isinstance(value, Interval) or (isinstance(value, Collection) and value.kind == "set"):
        return value
    raise ParseError("\\cup joins something that is not an interval or a set")
