"""Number notations rewritten to plain LaTeX before tokenising: Unicode forms, digit-group
separators, repeating decimals and numerals in another base.

Implementation details:
  1. Fullwidth forms (`１２３`, `＋`, `／`, U+FF01-U+FF5E) and mathematical digits (`𝟏`) become
     their ASCII characters (their NFKC form); the ideographic space is a space. Digits of
     other scripts are not read.
  2. Vulgar fractions become `\\frac{a}{b}` (`½`, `⅔`; `1⅓` is the mixed number 4/3), the
     fraction slash `⁄` is `/`, and runs of superscript or subscript digits become an
     exponent or a subscript group (`x¹⁰` is `x^{10}`, `101₂` is `101_{2}`).
  3. Digit groups of exactly three after a group of one to three digits, joined by a LaTeX
     space (`\\,`, `\\!`, `\\;`, `\\:`, `\\ `, `~`, `\\thinspace`) or a thin or narrow
     no-break space, are one number: `10\\,000`, `1\\;000\\;000`. A plain space still separates.
  4. Repeating decimals become the exact fraction: `0.\\overline{3}`, `0.\\bar{3}`, `0.(3)`
     (no space before the bracket), `0.1\\overline{6}`, and dots over the first and last
     repeating digits, `1.\\dot{3}`, `0.\\dot{1}\\dot{2}`.
  5. A numeral with a base subscript (2 to 36), `101_2`, `101_{2}`, `{12}_{5}`, `(101)_2`,
     `1A_{16}`, `1f_{16}`, `101_{(2)}`, `101_\\text{two}`, becomes its decimal value when every
     digit is valid in that base. A numeral with lower-case letter digits needs a decimal digit;
     one of upper-case letters alone needs two or more of them, so `F_{16}`, `ff_{16}`, `a_{12}`
     and `x_2` stay subscripted symbols.
"""

from __future__ import annotations

import re
from fractions import Fraction

_FULLWIDTH = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH["\u3000"] = " "
_MATH_DIGITS = {
    chr(start + offset): str(offset)
    for start in (0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6)
    for offset in range(10)
}
_VULGAR = {
    "\u00bd": (1, 2),
    "\u2153": (1, 3),
    "\u2154": (2, 3),
    "\u00bc": (1, 4),
    "\u00be": (3, 4),
    "\u2155": (1, 5),
    "\u2156": (2, 5),
    "\u2157": (3, 5),
    "\u2158": (4, 5),
    "\u2159": (1, 6),
    "\u215a": (5, 6),
    "\u2150": (1, 7),
    "\u215b": (1, 8),
    "\u215c": (3, 8),
    "\u215d": (5, 8),
    "\u215e": (7, 8),
    "\u2151": (1, 9),
    "\u2152": (1, 10),
    "\u2189": (0, 3),
}
_SUPERSCRIPTS = dict(
    zip("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789", strict=True)
)
_SUPERSCRIPTS.update({"\u207a": "+", "\u207b": "-"})
_SUBSCRIPTS = {chr(0x2080 + digit): str(digit) for digit in range(10)}
_CHARACTERS = {**_FULLWIDTH, **_MATH_DIGITS, "\u2044": "/"}
_CHARACTER_RE = re.compile("|".join(map(re.escape, _CHARACTERS)))
_VULGAR_RE = re.compile("[" + "".join(_VULGAR) + "]")
_SUPER_RE = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_SUB_RE = re.compile("[" + "".join(_SUBSCRIPTS) + "]+")

_SPACER = r"(?:\\[,!;:> ]|~|\\thinspace(?![a-zA-Z])\s*|\{,\}|[\u00a0\u2009\u202f])"
_GROUPED_RE = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_SPACER}\d{{3}})+(?![\d])")
_SPACER_RE = re.compile(_SPACER)

_REPEAT_RE = re.compile(
    r"(?<![\d.])(\d*)\.(\d*)(?:\\(?:overline|bar)\s*(?:\{\s*(\d+)\s*\}|(\d))|\((\d+)\)(?!\s*[\^!]))"
)
_DOTTED_RE = re.compile(r"(?<![\d.])(\d*)\.((?:\d|\\dot\s*\{\s*\d\s*\}|\\dot\s*\d)+)")
_DOT_RE = re.compile(r"\\dot\s*\{?\s*(\d)\s*\}?")

_BASE_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "sixteen": 16,
}
_NUMERAL = r"[0-9A-Z]+|[0-9a-z]*[0-9][0-9a-z]*"
_BARE_RE = re.compile(r"[0-9]+|[0-9A-Z]*[0-9][0-9A-Z]*")
_BASE_RE = re.compile(
    rf"(?<![\w.\\}}])(?:\(\s*({_NUMERAL})\s*\)|\{{\s*({_NUMERAL})\s*\}}|({_NUMERAL}))"
    r"\s*_\s*(?:\{\s*(?:\\text\s*\{\s*([a-z]+)\s*\}|\(?\s*(\d{1,2})\s*\)?|([a-z]+))\s*\}"
    r"|\\text\s*\{\s*([a-z]+)\s*\}|(\d))(?![\d])"
)


def rewrite(text: str) -> str:
    """Apply every rewrite of the module docstring to one answer string.

    >>> rewrite(r"1\\!000 + ½ + 0.\\overline{3} + 101_2")
    '1000 + \\\\frac{1}{2} +  \\\\frac{1}{3}  + 5'
    """
    if not text.isascii():
        text = _CHARACTER_RE.sub(lambda m: _CHARACTERS[m.group(0)], text)
        text = _VULGAR_RE.sub(_vulgar, text)
        text = _SUPER_RE.sub(_superscript, text)
        text = _SUB_RE.sub(lambda m: "_{" + "".join(_SUBSCRIPTS[c] for c in m.group(0)) + "}", text)
    if "\\" in text or "~" in text or not text.isascii():
        text = _GROUPED_RE.sub(lambda m: _SPACER_RE.sub("", m.group(0)), text)
    if "." in text:
        text = _REPEAT_RE.sub(_repeating, text)
        text = _DOTTED_RE.sub(_dotted, text)
    return _BASE_RE.sub(_based, text) if "_" in text else text


def _superscript(match: re.Match[str]) -> str:
    return "^{" + "".join(_SUPERSCRIPTS[c] for c in match.group(0)) + "}"


def _vulgar(match: re.Match[str]) -> str:
    numerator, denominator = _VULGAR[match.group(0)]
    return f"\\frac{{{numerator}}}{{{denominator}}}"


def _fraction(whole: str, fixed: str, repeat: str) -> str:
    """`whole.fixed(repeat)` repeating, as ` \\frac{p}{q} ` (spaces keep it apart)."""
    value = Fraction(int(whole or "0"))
    if fixed:
        value += Fraction(int(fixed), 10 ** len(fixed))
    value += Fraction(int(repeat), (10 ** len(repeat) - 1) * 10 ** len(fixed))
    return f" \\frac{{{value.numerator}}}{{{value.denominator}}} "


def _repeating(match: re.Match[str]) -> str:
    whole, fixed, braced, single, bracketed = match.groups()
    return _fraction(whole, fixed, braced or single or bracketed)


def _dotted(match: re.Match[str]) -> str:
    whole, decimals = match.groups()
    if "\\dot" not in decimals:
        return match.group(0)
    digits, dotted = [], []
    for part in re.finditer(r"\\dot\s*\{?\s*\d\s*\}?|\d", decimals):
        dot = _DOT_RE.fullmatch(part.group(0))
        digits.append(dot.group(1) if dot else part.group(0))
        if dot:
            dotted.append(len(digits) - 1)
    first, last = dotted[0], dotted[-1]
    if len(dotted) > 2 or last != len(digits) - 1:
        return match.group(0)
    return _fraction(whole, "".join(digits[:first]), "".join(digits[first : last + 1]))


def _numeral(match: re.Match[str]) -> tuple[str, int] | None:
    """(digits, base) of a `_BASE_RE` match, or None when it is not a numeral in that base."""
    numeral = next(group for group in match.groups()[:3] if group)
    base_text = next(group for group in match.groups()[3:] if group)
    base = int(base_text) if base_text.isdigit() else _BASE_WORDS.get(base_text, 0)
    if not 2 <= base <= 36 or _value(numeral, base) is None:
        return None
    if not any(c.isdigit() for c in numeral) and (len(numeral) < 2 or base <= 10):
        return None
    return numeral, base


def _value(numeral: str, base: int) -> int | None:
    try:
        return int(numeral, base)
    except ValueError:
        return None


def _based(match: re.Match[str]) -> str:
    found = _numeral(match)
    return match.group(0) if found is None else str(int(found[0], found[1]))


def base_of(reference: str) -> int | None:
    """The base of a reference that is exactly one numeral with a base subscript other than 10.

    >>> base_of("{12}_{5}"), base_of("12"), base_of("x_2")
    (5, None, None)
    """
    text = _CHARACTER_RE.sub(lambda m: _CHARACTERS[m.group(0)], reference.strip().strip("$"))
    match = _BASE_RE.fullmatch(text.strip())
    found = None if match is None else _numeral(match)
    return None if found is None or found[1] == 10 else found[1]


def in_base(answer: str, base: int) -> str | None:
    """A bare numeral answer (`101`) written with the reference's base (`101_{2}`), or None
    when `answer` is not a bare numeral whose digits are all valid in `base`."""
    digits = answer.strip()
    if not _BARE_RE.fullmatch(digits) or _value(digits, base) is None:
        return None
    return f"{digits}_{{{base}}}"


__all__ = ["base_of", "in_base", "rewrite"]
