"""Strict JSON parsing: RFC 8259 and nothing more, with bounded work.

Python's `json` module accepts several things that are not JSON and loses information on others.
`loads` closes those gaps.

Implementation details:
    1. Duplicate object keys, at any depth, are errors (`json` silently keeps the last one, so
       `{"ok": false, "ok": true}` would read as whatever the last key says).
    2. `NaN`, `Infinity` and `-Infinity` are errors (`json` accepts them; JSON does not).
    3. Every number becomes a `decimal.Decimal`, so `0.1` stays exactly `0.1`, `1e999999` does
       not overflow to infinity and a 100,000-digit integer does not hit Python's int-from-string
       limit. Exponents beyond `decimal`'s range (about 10**18) are errors.
    4. Nesting deeper than `max_depth` is an error found by a linear pre-scan, before the
       recursive decoder runs, so `[[[[...]]]]` cannot exhaust the stack. Within the cap the
       decoder runs through `stack.call_with_frames`, so a document as deep as the cap allows
       parses whatever the caller's own stack depth.
    5. Trailing commas, comments, single quotes and control characters inside strings are
       rejected by `json` itself; its error position is kept in the message.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from verifiers.json_schema.stack import call_with_frames

_DEPTH_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_DECODER_FRAMES = 16


class JsonError(ValueError):
    """Text that is not strict JSON; the message says what is wrong and where."""


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise JsonError(f"number {text[:40]!r} is out of the supported range")
    return value


def _reject_constant(text: str) -> Any:
    raise JsonError(f"{text} is not valid JSON (only finite numbers are)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(f"duplicate key {key[:80]!r} in an object")
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_float=_number,
    parse_int=_number,
    parse_constant=_reject_constant,
)


def _scan(text: str, max_depth: int) -> tuple[int, int | None]:
    """(deepest nesting seen, index of the first bracket past `max_depth` or None); linear."""
    depth = deepest = 0
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return depth, match.start()
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest, None


def nesting_error(text: str, max_depth: int) -> str | None:
    """Why `text` nests arrays and objects deeper than `max_depth`, or None when it does not.

    Brackets inside strings are skipped; the scan is linear in `len(text)` and stops at the
    first bracket past the cap.
    """
    _, position = _scan(text, max_depth)
    if position is None:
        return None
    return f"nesting deeper than {max_depth} levels at char {position}"


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar).

    >>> nesting_depth('{"a": [[1], "]]]"]}')
    3
    """
    return _scan(text, len(text) + 1)[0]


def loads(text: str, *, max_depth: int) -> Any:
    """Parse `text` as one strict JSON value; numbers come back as `Decimal`.

    Args:
        text: The JSON text. Leading and trailing JSON whitespace is allowed.
        max_depth: The deepest nesting of arrays and objects accepted.

    Returns:
        The value: dict, list, str, Decimal, bool or None.

    Raises:
        JsonError: The text is not strict JSON, nests too deeply, or has an unsupported number.

    >>> loads('{"a": [0.1, 2]}', max_depth=8)
    {'a': [Decimal('0.1'), Decimal('2')]}
    >>> loads('{"a": 1, "a": 2}', max_depth=8)
    Traceback (most recent call last):
    ...
    verifiers.json_schema.strict.JsonError: duplicate key 'a' in an object
    """
    depth, too_deep = _scan(text, max_depth)
    if too_deep is not None:
        raise JsonError(f"nesting deeper than {max_depth} levels at char {too_deep}")
    try:
        return call_with_frames(lambda: _DECODER.decode(text), frames=depth + _DECODER_FRAMES)
    except json.JSONDecodeError as exc:
        raise JsonError(
            f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None
    except RecursionError:
        raise JsonError("nesting too deep for the decoder") from None


__all__ = ["JsonError", "loads", "nesting_depth", "nesting_error"]
