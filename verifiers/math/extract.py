"""Find the final answer(s) in a completion; never a number picked from the prose.

Implementation details:
  1. `boxed`: every `\\boxed{...}` and `\\fbox{...}` (braces matched, `\\{`/`\\}` skipped), and
     the short form `\\boxed 5`. All of them are returned, in order, so the caller can tell a
     repeated answer from several different ones. An unclosed `\\boxed{` is a parse error.
  2. `phrase`: the text after the last explicit phrase "final answer is", "final answer:",
     "answer:", "the answer is", "the answer should be" (also would, will, must), or a
     "Final Answer" heading ending its line (case-insensitive, markdown `**` and `#` allowed):
     the display-math segment if it starts with `$$` or `\\[`, else the rest of the line up to a
     full stop. In that sentence inline math delimiters (`$`, `\\(`) are dropped (their content
     kept) and a leading subject with its verb, then an adverb, are cut: "The largest $n$ is
     $34$" gives `34`, "there are 12 ways" gives `12 ways`, "therefore 34" gives `34`. Nothing
     else is cut, so "$3$ or $4$" stays a hedge.
  3. `boxed_or_phrase` (the default) tries `boxed`, then `phrase`; `whole` takes the whole text
     (for completions that are just an answer). References always use `reference_text`.
"""

from __future__ import annotations

import re
from typing import Literal

from verifiers.math.guard import ParseError
from verifiers.math.lexer import braced

ExtractionMode = Literal["boxed_or_phrase", "boxed", "phrase", "whole"]
"""Where the answer is looked for; see the module docstring."""
EXTRACTION_MODES: tuple[str, ...] = ("boxed_or_phrase", "boxed", "phrase", "whole")

_BOXED_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_PHRASE_RE = re.compile(
    r"(?:final\s+answer|\banswer)\s*\**\s*(?::|\bis\b|=)\s*\**"
    r"|\bthe\s+answer\s+(?:is|(?:should|would|will|must)\s+be)\b\s*\**"
    r"|\bfinal\s+answer\s*[*#]*[ \t]*(?=\r?\n)",
    re.IGNORECASE,
)
_SUBJECT_RE = re.compile(
    r"(?:[A-Za-z][\w'\u2019()-]*\s+){0,8}?"
    r"(?:is|are|was|were|equals|becomes|be)\s+(?:that\s+)?(?=\S)",
    re.IGNORECASE,
)
_ADVERB_RE = re.compile(
    r"(?:therefore|thus|hence|so|then|clearly|indeed|simply|just|exactly|precisely)\b,?\s+",
    re.IGNORECASE,
)
_MATH_SEGMENT_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)", re.DOTALL)
_DISPLAY = (("$$", "$$"), ("\\[", "\\]"))
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_SHORT_BOXED_RE = re.compile(r"[^\s$]+")


def extract(completion: str, mode: ExtractionMode) -> tuple[str, ...]:
    """The candidate answers in `completion` for `mode`; empty when there is none.

    >>> extract(r"so $x = \\boxed{4}$. The final answer is 4.", "boxed_or_phrase")
    ('4',)
    >>> extract("The final answer is $\\\\frac{1}{2}$. I hope it is correct.", "phrase")
    ('\\\\frac{1}{2}',)

    Raises:
        ParseError: a `\\boxed{` that is never closed.
    """
    if mode == "whole":
        return (completion.strip(),) if completion.strip() else ()
    if mode != "phrase":
        boxed = find_boxed(completion)
        if boxed or mode == "boxed":
            return boxed
    phrase = find_phrase(completion)
    return (phrase,) if phrase else ()


def find_boxed(text: str) -> tuple[str, ...]:
    """The contents of every outermost `\\boxed`/`\\fbox`, in order (empty boxes are skipped).

    Raises:
        ParseError: a `\\boxed{` that is never closed.
    """
    found, end = [], 0
    for match in _BOXED_RE.finditer(text):
        if match.start() < end:
            continue
        start = match.end() + len(text[match.end() :]) - len(text[match.end() :].lstrip())
        if text.startswith("{", start):
            try:
                content, end = braced(text, start)
            except ParseError as exc:
                raise ParseError("unclosed \\boxed{") from exc
        else:
            short = _SHORT_BOXED_RE.match(text, start)
            content, end = (short.group(0), short.end()) if short else ("", start)
        if content.strip():
            found.append(content.strip())
    return tuple(found)


def find_phrase(text: str) -> str:
    """The answer after the last explicit final-answer phrase, or "" when there is none."""
    matches = list(_PHRASE_RE.finditer(text))
    if not matches:
        return ""
    rest = text[matches[-1].end() :].lstrip(" \t\r\n:*#")
    for opener, closer in _DISPLAY:
        if rest.startswith(opener):
            end = rest.find(closer, len(opener))
            if end >= 0:
                return rest[len(opener) : end].strip()
    line = rest.split("\n", 1)[0]
    sentence = _SENTENCE_END_RE.split(line, maxsplit=1)[0]
    return answer_in_sentence(sentence.strip().strip("*").rstrip(".").strip())


def answer_in_sentence(sentence: str) -> str:
    """The answer in a final-answer sentence: math delimiters dropped, a leading subject cut.

    >>> answer_in_sentence("The largest $n$ is $34$")
    '34'
    >>> answer_in_sentence("34 or 35")
    '34 or 35'
    """
    plain = _MATH_SEGMENT_RE.sub(lambda m: next(g for g in m.groups() if g is not None), sentence)
    subject = _SUBJECT_RE.match(plain)
    answer = plain[subject.end() :].strip() if subject else plain.strip()
    adverb = _ADVERB_RE.match(answer)
    return answer[adverb.end() :] if adverb else answer


def reference_text(reference: str) -> str:
    """A reference string, reduced to its last `\\boxed{}` when it has one (full solutions)."""
    boxed = find_boxed(reference)
    return boxed[-1] if boxed else reference.strip()
