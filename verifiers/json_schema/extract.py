"""Find the JSON value a completion answers with.

Extraction rule, first match wins:
    1. Fenced code blocks (CommonMark style: a line of three or more backticks or tildes, an
       optional info string, and a closing line of the same fence; a content line that ends
       in the fence also closes it, as models often write `}```). The last block whose
       language is `json` (any case) is the answer. Failing that, the last block with no
       language whose content starts with `{` or `[` is. A fence left open at the end of the
       text (a truncated generation) runs to the end. Blocks in other languages are never used.
       Once a block is chosen it must parse: there is no fallback past a broken block.
    2. The whole completion, stripped, when it is exactly one strict JSON value (`42`, `"x"`,
       `null` count too).
    3. Top-level bracketed spans of the text: a `{` or `[` outside any span opens one, and it
       closes at its matching bracket; brackets inside JSON strings are skipped and a
       mismatched closer abandons the span. The last span that parses is the answer; when spans
       exist but none parses, the last one's parse error is reported.
    4. Otherwise there is no JSON.

Implementation details:
    1. Everything is linear in the text: fences are found line by line, spans with one scan
       whose string skipping is a linear regular expression, and the spans tried in step 3 do
       not overlap, so all parse attempts together read the text once.
    2. Parsing is `strict.loads`, so an answer must be strict JSON wherever it was found.
"""

from __future__ import annotations

import re
from typing import Any

from verifiers.json_schema.strict import JsonError, loads

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*([^`\s]*)[^\n]*")
_SPAN_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*("?)|[\[\]{}]', re.DOTALL)
_OPENER = re.compile(r"[\[{]")
_CLOSES = {"]": "[", "}": "{"}


class InvalidJson(ValueError):
    """The chosen candidate is not strict JSON.

    Args:
        message: What is wrong and where.
        text: The candidate that failed to parse.
    """

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


def _opening(line: str) -> tuple[str, str] | None:
    """`(fence, language)` when `line` opens a fence; a backtick fence's info has no backtick."""
    opening = _FENCE.fullmatch(line)
    if opening is None or (opening.group(1)[0] == "`" and "`" in line[opening.end(1) :]):
        return None
    return opening.group(1), opening.group(2).lower()


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced code block as `(language, content)`, in order; an open fence runs to the end.

    A content line ending in the fence (`{"a": 1}```) closes the block there.

    >>> fenced_blocks("a\\n```json\\n{}\\n```\\n~~~\\n[1]")
    [('json', '{}'), ('', '[1]')]
    >>> fenced_blocks('```json\\n{"a": 1}```\\ntext')
    [('json', '{"a": 1}')]
    """
    blocks: list[tuple[str, str]] = []
    fence, language = "", ""
    body: list[str] = []
    for line in text.split("\n"):
        if not fence:
            opened = _opening(line)
            if opened is not None:
                (fence, language), body = opened, []
            continue
        stripped = line.rstrip()
        if not stripped.endswith(fence):
            body.append(line)
            continue
        if content := stripped.rstrip(fence[0]).strip():
            body.append(content)
        blocks.append((language, "\n".join(body)))
        fence = ""
    if fence:
        blocks.append((language, "\n".join(body)))
    return blocks


def _close_span(text: str, position: int, opener: str) -> tuple[int, bool | None]:
    """Scan from just past `opener`: `(end, True)` when the span closes at `end`,
    `(end, False)` when a mismatched closer ends it there, `(len(text), None)` if it never closes.
    """
    stack = [opener]
    for token in _SPAN_TOKEN.finditer(text, position):
        symbol = token.group()
        if symbol[0] == '"':
            if not token.group(1):
                break
        elif symbol in "[{":
            stack.append(symbol)
        elif stack.pop() != _CLOSES[symbol]:
            return token.end(), False
        elif not stack:
            return token.end(), True
    return len(text), None


def bracket_spans(text: str) -> list[str]:
    """Top-level `{...}` and `[...]` spans of `text`, in order (see the module docstring).

    >>> bracket_spans('say {"a": "}"} or [1, [2]] but not {] or {"open": [')
    ['{"a": "}"}', '[1, [2]]']
    """
    spans: list[str] = []
    position = 0
    while (opener := _OPENER.search(text, position)) is not None:
        position, closed = _close_span(text, opener.end(), opener.group())
        if closed:
            spans.append(text[opener.start() : position])
    return spans


def _fenced_candidate(text: str) -> str | None:
    blocks = fenced_blocks(text)
    for language, content in reversed(blocks):
        if language == "json":
            return content
    for language, content in reversed(blocks):
        if not language and content.lstrip()[:1] in ("{", "["):
            return content
    return None


def find_json(text: str, *, max_depth: int) -> tuple[str, Any] | None:
    """The answer's JSON text and parsed value, or None when the text holds no JSON.

    Args:
        text: The completion.
        max_depth: The deepest nesting accepted (see `strict.loads`).

    Raises:
        InvalidJson: The chosen candidate does not parse.

    >>> find_json('Sure! {"a": 1} Hope that helps.', max_depth=8)
    ('{"a": 1}', {'a': Decimal('1')})
    """
    fenced = _fenced_candidate(text)
    if fenced is not None:
        try:
            return fenced.strip(), loads(fenced, max_depth=max_depth)
        except JsonError as exc:
            raise InvalidJson(str(exc), fenced.strip()) from None
    whole = text.strip()
    try:
        return whole, loads(whole, max_depth=max_depth)
    except JsonError:
        pass
    failures: list[InvalidJson] = []
    for span in reversed(bracket_spans(text)):
        try:
            return span, loads(span, max_depth=max_depth)
        except JsonError as exc:
            failures.append(InvalidJson(str(exc), span))
    if failures:
        raise failures[0]
    return None


__all__ = ["InvalidJson", "bracket_spans", "fenced_blocks", "find_json"]
