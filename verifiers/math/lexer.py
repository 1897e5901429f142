"""Tokeniser for normalised answers written in LaTeX or plain text.

Implementation details:
  1. Only ASCII digits are digits and only ASCII letters are letters; any other character is a
     parse error. A digit written straight after a letter (`1O0`, `l0`) is a parse error, so
     letters that look like digits never read as digits.
  2. Numbers are `12`, `1.5`, `.5` and scientific `1.5e-3`; more than `Limits.max_digits`
     digits, or a scientific exponent above it, is refused.
  3. Plain words: function names (`sqrt`, `sin`, `ln`, ...), `pi` and `inf`/`infinity` become
     commands; `or`, `and`, `either` become connectives; unit words (`cm`, `meters`, ...) and
     `no` become text; other runs of two or more letters stay one `letters` token (a word
     answer such as `yes`, or a product of symbols inside an expression); a single letter is a
     symbol.
  4. `\\text{...}`, `\\mbox{...}`, `\\mathrm{...}` and `\\operatorname{...}`: a single letter is a
     symbol, a function name alone is that function (`\\operatorname{exp}`), words and compound
     units (`m/s`, `cm^2`) are text (dropped as units after a value), connectives stay
     connectives and anything else (`\\text{5 cm}`) is tokenised in place.
  5. `°` (every degree mark, after `normalize`) is an operator token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from verifiers.math.guard import Limits, ParseError, Refused

TokenKind = Literal[
    "num", "id", "letters", "text", "word", "cmd", "op", "open", "close", "begin", "end", "row"
]


def names(text: str) -> frozenset[str]:
    """The whitespace-separated names in `text`, as a set."""
    return frozenset(text.split())


GREEK = names(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi "
    "Omega"
)
FUNCTIONS = names("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh ln log exp")
COMMANDS = FUNCTIONS | names(
    "frac sqrt binom pi infty cdot times div pm mp cup le ge ne approx in lfloor rfloor lceil "
    "rceil emptyset"
)
_ALIASES = {
    "leq": "le",
    "leqslant": "le",
    "geq": "ge",
    "geqslant": "ge",
    "neq": "ne",
    "varnothing": "emptyset",
    "ast": "cdot",
    "lt": "<",
    "gt": ">",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "mid": "|",
    "lbrace": r"\{",
    "rbrace": r"\}",
    "langle": "(",
    "rangle": ")",
    "lor": "or",
    "vee": "or",
}
_TEXT_COMMANDS = names("text textbf textit textrm textnormal mbox mathrm operatorname")
UNITS = names(
    "cm mm km ft yd kg mg ml hr hrs sec cents dollars degrees degree units unit meters meter "
    "metres inches inch feet foot miles mile hours hour minutes minute seconds second grams gram "
    "liters litres square cubic mph kilometers centimeters"
)
CONNECTIVES = frozenset(("or", "and", "either"))
_CONSTANT_WORDS = {"pi": "pi", "inf": "infty", "infty": "infty", "infinity": "infty", "oo": "infty"}
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")
_LETTERS_RE = re.compile(r"[A-Za-z]+")
_UNIT_RE = re.compile(r"[A-Za-z]+(?:\s*[/^]\s*[A-Za-z0-9]+)+")
_SINGLE: dict[str, TokenKind] = {
    "(": "open",
    "[": "open",
    "{": "open",
    ")": "close",
    "]": "close",
    "}": "close",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical unit."""

    kind: TokenKind
    """What the token is; see `TokenKind`."""
    text: str
    """The digits, name (without backslash), operator or bracket."""
    space: bool = False
    """Whether whitespace came right before it."""


def tokenize(text: str, limits: Limits) -> list[Token]:
    """Split a normalised answer into tokens.

    Raises:
        ParseError: an unknown command or character, unbalanced braces in `\\text{}`.
        Refused: a number longer than `limits.max_digits`.
    """
    tokens: list[Token] = []
    i, space = 0, False
    while i < len(text):
        if text[i].isspace():
            i, space = i + 1, True
            continue
        i = _next_token(text, i, space, tokens, limits)
        space = False
    return tokens


def _next_token(text: str, i: int, space: bool, out: list[Token], limits: Limits) -> int:
    char = text[i]
    number = _NUMBER_RE.match(text, i)
    if number:
        _check_number(number, limits)
        if out and out[-1].kind in ("id", "letters") and not space:
            raise ParseError(f"digit right after the letter {out[-1].text!r}")
        out.append(Token("num", number.group(0), space))
        return number.end()
    letters = _LETTERS_RE.match(text, i)
    if letters:
        _plain_word(letters.group(0), space, out)
        return letters.end()
    if char == "\\":
        return _command(text, i, space, out, limits)
    if char in _SINGLE:
        out.append(Token(_SINGLE[char], char, space))
        return i + 1
    if char in "+-*/^_!=<>,;|&:'\u00b0":
        out.append(Token("op", char, space))
        return i + 1
    raise ParseError(f"unexpected character {char!r}")


def _check_number(number: re.Match[str], limits: Limits) -> None:
    mantissa = number.group(0).split("e")[0].split("E")[0]
    digits = sum(c.isdigit() for c in mantissa)
    if digits > limits.max_digits:
        raise Refused(f"number with {digits} digits, over the cap {limits.max_digits}")
    exponent = number.group(1)
    if exponent is not None and abs(int(exponent)) > limits.max_digits:
        raise Refused(f"scientific exponent {exponent} over the cap {limits.max_digits}")


def _plain_word(word: str, space: bool, out: list[Token]) -> None:
    lower = word.lower()
    if lower in FUNCTIONS or lower == "sqrt":
        out.append(Token("cmd", lower, space))
    elif lower in _CONSTANT_WORDS:
        out.append(Token("cmd", _CONSTANT_WORDS[lower], space))
    elif lower in CONNECTIVES:
        out.append(Token("word", lower, space))
    elif lower in UNITS or lower == "no":
        out.append(Token("text", lower, space))
    elif len(word) > 1:
        out.append(Token("letters", word, space))
    else:
        out.append(Token("id", word, space))


def _command(text: str, i: int, space: bool, out: list[Token], limits: Limits) -> int:
    if text.startswith("\\\\", i):
        out.append(Token("row", "\\\\", space))
        return i + 2
    if text[i + 1 : i + 2] in ("{", "}"):
        out.append(Token("open" if text[i + 1] == "{" else "close", text[i : i + 2], space))
        return i + 2
    name_match = _LETTERS_RE.match(text, i + 1)
    if not name_match:
        raise ParseError(f"unknown command {text[i : i + 2]!r}")
    name, end = name_match.group(0), name_match.end()
    name = _ALIASES.get(name, name)
    if name in _TEXT_COMMANDS:
        content, end = braced(text, end)
        _text(content, space, out, limits)
    elif name == "begin":
        env, end = braced(text, end)
        out.append(Token("begin", env.strip(), space))
        if env.strip() == "array":
            _, end = braced(text, end)
    elif name == "end":
        env, end = braced(text, end)
        out.append(Token("end", env.strip(), space))
    elif name in GREEK:
        out.append(Token("id", name, space))
    elif name in CONNECTIVES:
        out.append(Token("word", name, space))
    elif name in COMMANDS:
        out.append(Token("cmd", name, space))
    elif name in ("<", ">", "|"):
        out.append(Token("op", name, space))
    elif name in ("(", ")", r"\{", r"\}"):
        out.append(Token("open" if name in ("(", r"\{") else "close", name, space))
    else:
        raise ParseError(f"unknown command \\{name}")
    return end


def braced(text: str, i: int) -> tuple[str, int]:
    """The content of the `{...}` group at `text[i:]` (after spaces) and the index past it.

    Raises:
        ParseError: no group there, or its braces do not balance.
    """
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        raise ParseError("expected '{' after a command")
    depth, j = 0, i
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j], j + 1
        j += 1
    raise ParseError("unbalanced braces")


def _text(content: str, space: bool, out: list[Token], limits: Limits) -> None:
    words = content.split()
    if not words:
        return
    if _UNIT_RE.fullmatch(content.strip()):
        out.append(Token("text", content.strip(), space or content[:1].isspace()))
        return
    if not all(_LETTERS_RE.fullmatch(w.strip(".,'")) for w in words):
        out.extend(tokenize(content, limits))
        return
    for k, raw in enumerate(words):
        word = raw.strip(".,'")
        first = space or k > 0 or content[:1].isspace()
        if word.lower() in CONNECTIVES:
            out.append(Token("word", word.lower(), first))
        elif len(words) == 1 and (word.lower() in FUNCTIONS or word.lower() == "sqrt"):
            out.append(Token("cmd", word.lower(), first))
        elif len(word) == 1 and len(words) == 1:
            out.append(Token("id", word, first))
        else:
            out.append(Token("text", word, first))
