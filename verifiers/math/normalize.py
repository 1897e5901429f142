"""String clean-up applied to an extracted answer before it is tokenised.

Implementation details:
  0. `notation.rewrite` first reads Unicode digit forms, vulgar fractions, digit groups joined by
     LaTeX spaces, repeating decimals and numerals in another base.
  1. Unicode maths (`−`, `×`, `π`, `√`, `∞`, `≤`, `±`, `²`, ...) becomes its LaTeX spelling.
  2. Math delimiters (`$`, `\\(`, `\\)`, `\\[`, `\\]`), dollar signs (`\\$`), sizing commands
     (`\\left`, `\\right`, `\\big`, ...), spacing commands (`\\!`, `\\,`, `\\;`, `\\quad`, `~`)
     and style commands (`\\displaystyle`, `\\mathbf`, ...) are dropped.
  3. `\\mathbb{R}` becomes `(-\\infty, \\infty)`; a nested `\\boxed` is dropped (its group stays).
  4. `\\dfrac`, `\\tfrac` and `\\cfrac` become `\\frac`; `\\dbinom` and `\\tbinom` become `\\binom`.
  5. Degree marks (`^\\circ`, `^{\\circ}`, `°`, `\\degree`, the word "degrees" after a number,
     with an optional C or F after them) become one `°` mark, which the parser drops (`30^\\circ`
     reads as 30) except in the argument of a trigonometric function, where it converts
     degrees to radians (`\\sin 30^\\circ` is 1/2). Percent signs are dropped: `50\\%` reads
     as 50.
  6. A thin space between digits (`1\\,000`, `1\\!000`) is a thousands separator and joins them.
  7. Thousands separators: a comma followed by exactly three digits inside a number whose first
     group has one to three digits (not starting with 0) is dropped, so `1,000` and `1{,}000`
     read as 1000. A comma followed by a space always separates items (`1, 000` is two items),
     and a number that is the whole content of a bracket pair keeps its comma (`(1,500)` is a
     pair, the open interval from 1 to 500).
"""

from __future__ import annotations

import re

from verifiers.math.notation import rewrite

_UNICODE = {
    "\u2212": "-",
    "\u2013": "-",
    "\u00d7": r"\times ",
    "\u00f7": r"\div ",
    "\u00b7": r"\cdot ",
    "\u22c5": r"\cdot ",
    "\u03c0": r"\pi ",
    "\u221a": r"\sqrt ",
    "\u221e": r"\infty ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u2260": r"\ne ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u222a": r"\cup ",
    "\u2205": r"\emptyset ",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

_DROP_RE = re.compile(
    r"(?P<row>\\\\)|\\[$%]|\$|\\[()\[\]]"
    r"|\\(?:left|right)\s*\.|\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])"
    r"|\\[!,;:>]|\\ |~|\\q?quad(?![a-zA-Z])"
    r"|\\(?:boxed|fbox|displaystyle|textstyle|scriptstyle|mathbf|boldsymbol|bm|mathit|mathsf|mathbb"
    r"|mathcal|limits)(?![a-zA-Z])"
)
_THIN_SPACE_RE = re.compile(r"(?<=[0-9])\\[,!](?=[0-9])")
_REALS_RE = re.compile(r"\\mathbb\s*\{?\s*R\s*\}?")
_FRAC_RE = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_BINOM_RE = re.compile(r"\\[dt]binom(?![a-zA-Z])")
_DEGREE_RE = re.compile(
    r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°"
    r"|(?<=[\d}])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*degrees?\s*\}|degrees?(?![a-zA-Z])))"
    r"(?:\s*(?:\\text\{\s*[CF]\s*\}|[CF](?![a-zA-Z])))?"
)
_THOUSANDS_RE = re.compile(r"(?<![\d.])[1-9]\d{0,2}(?:,\d{3})+(?![\d])")
_SPACE_RE = re.compile(r"\s+")


def _join_thousands(match: re.Match[str]) -> str:
    text = match.string
    before = text[: match.start()].rstrip()[-1:]
    after = text[match.end() :].lstrip()[:1]
    if before in ("(", "[") and after in (")", "]"):
        return match.group(0)
    return match.group(0).replace(",", "")


def normalize(text: str) -> str:
    """Clean one answer string: drop decoration, unify spellings, join thousands separators.

    >>> normalize(r"$\\left( \\dfrac{1}{2}, 1{,}000 \\right)$")
    '( \\\\frac{1}{2}, 1000 )'
    >>> normalize(r"45^{\\circ}")
    '45°'
    """
    text = rewrite(text)
    text = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], text)
    text = _DEGREE_RE.sub("° ", text)
    text = _REALS_RE.sub(r"(-\\infty, \\infty)", text)
    text = _THIN_SPACE_RE.sub("", text)
    text = _DROP_RE.sub(lambda m: m.group("row") or " ", text)
    text = text.replace("%", " ").replace("{,}", ",")
    text = _FRAC_RE.sub(r"\\frac", text)
    text = _BINOM_RE.sub(r"\\binom", text)
    text = _THOUSANDS_RE.sub(_join_thousands, text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text.rstrip(". ").strip()
