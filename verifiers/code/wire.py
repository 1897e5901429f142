"""Decode the plain-data values that the sandboxed harness reports (`harness.encode`).

The format is JSON with one-key tags, so types survive exactly: `null`, `true`/`false` and
strings stand for themselves; `{"i": hex}` int, `{"f": float.hex}` float (NaN, infinities and
-0.0 included), `{"c": [re, im]}` complex, `{"b": hex}` bytes, `{"l"|"t"|"s"|"fs": [...]}` list,
tuple, set, frozenset, `{"d": [[k, v], ...]}` dict, and `{"o": type name}` for anything else,
which decodes to an `Opaque` that equals nothing but itself. Decoding builds only built-in
objects, never imports or calls anything named by the data, and rejects anything malformed.

>>> decode({"t": [{"i": "0x2a"}, "x", {"f": "0x1.8000000000000p+0"}]})
(42, 'x', 1.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 100


class WireError(ValueError):
    """Malformed value data."""


@dataclass(frozen=True, eq=False)
class Opaque:
    """A returned object that is not plain data: it compares equal only to itself and has no
    truth value (`assert f(x)` fails on it rather than pass on any object)."""

    type_name: str
    """The candidate's type name, for people to read."""

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __bool__(self) -> bool:
        raise TypeError(f"a returned {self.type_name} object is not plain data")


def _items(body: Any, depth: int) -> list[Any]:
    if not isinstance(body, list):
        raise WireError("container body must be a list")
    return [decode(v, depth + 1) for v in body]


def _number(tag: str, body: Any) -> Any:
    if tag == "i" and isinstance(body, str):
        return int(body, 16)
    if tag == "f" and isinstance(body, str):
        return float.fromhex(body)
    if tag == "c" and isinstance(body, list) and len(body) == 2:
        return complex(float.fromhex(str(body[0])), float.fromhex(str(body[1])))
    if tag == "b" and isinstance(body, str):
        return bytes.fromhex(body)
    raise WireError(f"bad {tag!r} value")


def decode(data: Any, depth: int = 0) -> Any:
    """The Python value that `data` (parsed JSON) stands for.

    Raises:
        WireError: unknown tags, wrong shapes, unhashable set members, too deep nesting.
    """
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or isinstance(data, bool | str):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise WireError(f"unexpected value data of type {type(data).__name__}")
    ((tag, body),) = data.items()
    try:
        if tag in ("i", "f", "c", "b"):
            return _number(tag, body)
        if tag == "l":
            return _items(body, depth)
        if tag == "t":
            return tuple(_items(body, depth))
        if tag == "s":
            return set(_items(body, depth))
        if tag == "fs":
            return frozenset(_items(body, depth))
        if tag == "d":
            if not isinstance(body, list):
                raise WireError("dict body must be a list of pairs")
            pairs = [_pair(p) for p in body]
            return {decode(k, depth + 1): decode(v, depth + 1) for k, v in pairs}
        if tag == "o" and isinstance(body, str):
            return Opaque(body[:100])
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"bad {tag!r} value: {exc}") from exc
    raise WireError(f"unknown value tag {tag!r}")


def _pair(pair: Any) -> tuple[Any, Any]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise WireError("dict items must be [key, value] pairs")
    return pair[0], pair[1]
