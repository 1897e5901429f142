"""The arithmetic half of the answer parser: sums, products, powers, functions, numbers.

Grammar (lowest precedence first)::

    sum      := ["\\pm"] term (("+" | "-" | "\\pm" | "\\mp") term)*
    term     := factor (("*" | "/" | ":" | "\\cdot" | "\\times" | "\\div") factor | unit | power)*
    factor   := ("-" | "+") factor | power
    power    := postfix ["^" exponent]                  (right-associative: 9^9^9 = 9^(9^9))
    postfix  := primary ("!" | "°")*
    primary  := number | symbol | command | "|" sum "|" | bracket or environment (`parse`)

Implementation details:
  1. `3\\frac12` (an integer followed by a fraction of integer literals) is the mixed number 7/2;
     `2\\frac{\\pi}{3}` is a product. `\\frac12` reads one digit per argument, as LaTeX does;
     `2^10` reads the whole number (1024), as people mean it.
  2. A word after a value is a unit and is dropped (`5 \\text{ cm}^2`, `12 meters`: text, or
     three or more letters after a space); other runs of letters are products of symbols
     (`2xy`, `2 xy`).
  3. Two numbers side by side (`1 000`) are a parse error, never a product. A ratio `3:4`
     reads as the quotient 3/4.
  4. Recursion depth is bounded by `4 * Limits.max_depth`; deeper input is refused.
  5. A degree mark `°` leaves a value as it is, except inside the argument of `\\sin`, `\\cos`,
     `\\tan`, `\\cot`, `\\sec` or `\\csc`, where it multiplies by pi/180: `\\sin 30^\\circ` is
     1/2 while `\\sin 30` is the sine of 30 radians and `30^\\circ` alone is 30.
  6. A run of letters is a product whose power binds to its last letter, as with separate
     letters: `xe^x` is x times e^x, `ab^2` is a times b^2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from verifiers.math import expr
from verifiers.math.expr import Alts
from verifiers.math.guard import Limits, ParseError, Refused
from verifiers.math.lexer import Token, names
from verifiers.math.values import Collection, Value

Node = Alts | Value
"""A parse result: arithmetic alternatives, or a structured value."""
Nested = Callable[["Terms", Token], Node]
"""Parses the bracket or environment that `Token` opens; supplied by `parse`."""

_NOT_PRIMARY = names("cdot times div pm mp cup le ge ne approx in rfloor rceil")
_CONSTANTS = {"pi": sympy.pi, "infty": sympy.oo}
_TRIG = names("sin cos tan cot sec csc")
_RADIANS_PER_DEGREE = sympy.pi / 180


def alts(node: Node) -> Alts:
    """The alternatives of an arithmetic node.

    Raises:
        ParseError: the node is a structured value, which takes no arithmetic.
    """
    if isinstance(node, tuple):
        return node
    raise ParseError("arithmetic on a structured value (tuple, set, interval, matrix, text)")


def _add(a: Any, b: Any) -> Any:
    return a + b


def _sub(a: Any, b: Any) -> Any:
    return a - b


def _mul(a: Any, b: Any) -> Any:
    return a * b


def _neg(a: Any) -> Any:
    return -a


class Terms:
    """A cursor over tokens that parses arithmetic; brackets are delegated to `nested`."""

    def __init__(self, tokens: list[Token], limits: Limits, nested: Nested) -> None:
        self.tokens = tokens
        self.pos = 0
        self.limits = limits
        self.depth = 0
        self.nested = nested
        self.degree: Any = sympy.Integer(1)
        """What a degree mark multiplies by: pi/180 inside a trigonometric argument, else 1."""

    def peek(self) -> Token | None:
        """The current token, or None at the end."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at(self, kind: str, *texts: str) -> bool:
        """Whether the current token has `kind` (and one of `texts`, when given)."""
        token = self.peek()
        return token is not None and token.kind == kind and (not texts or token.text in texts)

    def take(self) -> Token:
        """Consume and return the current token."""
        token = self.peek()
        if token is None:
            raise ParseError("answer ends too early")
        self.pos += 1
        return token

    def expect(self, kind: str, *texts: str) -> Token:
        """Consume a token that must match `at(kind, *texts)`."""
        if not self.at(kind, *texts):
            token = self.peek()
            found = "the end" if token is None else repr(token.text)
            raise ParseError(f"expected {' or '.join(texts) or kind}, found {found}")
        return self.take()

    def enter(self) -> None:
        """Count one more level of recursion; refuse input nested too deeply."""
        self.depth += 1
        if self.depth > 4 * self.limits.max_depth:
            raise Refused(f"expression nested deeper than {4 * self.limits.max_depth} levels")

    def sum(self) -> Node:
        """`sum` in the grammar: terms joined by `+`, `-`, `\\pm`, `\\mp`."""
        lead = self.take().text if self.at("cmd", "pm", "mp") else None
        node = self.term()
        if lead is not None:
            node = expr.plus_minus((sympy.Integer(0),), alts(node), self.limits)
        while self.at("op", "+", "-") or self.at("cmd", "pm", "mp"):
            op = self.take().text
            right = alts(self.term())
            if op in ("pm", "mp"):
                node = expr.plus_minus(alts(node), right, self.limits)
            else:
                node = expr.combine(_add if op == "+" else _sub, alts(node), right, self.limits)
        return node

    def term(self) -> Node:
        """`term`: factors joined by products, quotients, units and juxtaposition."""
        node = self.factor()
        while True:
            if self.at("op", "*") or self.at("cmd", "cdot", "times"):
                self.take()
                node = expr.combine(_mul, alts(node), alts(self.factor()), self.limits)
            elif self.at("op", "/", ":") or self.at("cmd", "div"):
                self.take()
                node = expr.combine(expr.divide, alts(node), alts(self.factor()), self.limits)
            elif self._at_unit():
                self._skip_unit()
            elif self._starts_implicit():
                node = expr.combine(_mul, alts(node), alts(self.power()), self.limits)
            else:
                return node

    def _at_unit(self) -> bool:
        token = self.peek()
        if token is None or token.kind not in ("text", "letters"):
            return False
        return token.kind == "text" or (token.space and len(token.text) > 2)

    def _skip_unit(self) -> None:
        while self.at("text") or self.at("letters"):
            self.take()
            if self.at("op", "^"):
                self.take()
                self.expect("num")

    def _starts_implicit(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        if token.kind == "num":
            raise ParseError("two numbers side by side")
        if token.kind == "cmd":
            return token.text not in _NOT_PRIMARY
        return token.kind in ("id", "letters") or (token.kind == "open" and token.text == "(")

    def factor(self) -> Node:
        """`factor`: a power with any number of leading signs (read without recursion)."""
        negate = False
        while self.at("op", "-", "+"):
            negate ^= self.take().text == "-"
        node = self.power()
        return expr.apply(_neg, alts(node), self.limits) if negate else node

    def power(self) -> Node:
        """`power`: a postfix expression with an optional, right-associative exponent."""
        self.enter()
        node = self.postfix()
        if self.at("op", "^"):
            self.take()
            node = expr.combine(expr.power(self.limits), alts(node), self.exponent(), self.limits)
        self.depth -= 1
        return node

    def exponent(self) -> Alts:
        """The exponent after `^`: a `{...}` group or one signed power."""
        negate = False
        while self.at("op", "-", "+"):
            negate ^= self.take().text == "-"
        node = alts(self.group() if self.at("open", "{") else self.power())
        return expr.apply(_neg, node, self.limits) if negate else node

    def postfix(self) -> Node:
        """`postfix`: a primary followed by factorials and degree marks."""
        node = self.primary()
        while self.at("op", "!", "\u00b0"):
            if self.take().text == "!":
                factorial = lambda n: expr.factorial(n, self.limits)  # noqa: E731
                node = expr.apply(factorial, alts(node), self.limits)
            else:
                node = self._degrees(node)
        return node

    def _degrees(self, node: Node) -> Node:
        degree = self.degree
        return expr.apply(lambda n: n * degree, alts(node), self.limits)

    def group(self) -> Node:
        """A `{...}` group holding one sum."""
        self.expect("open", "{")
        self.enter()
        node = self.sum()
        self.expect("close", "}")
        self.depth -= 1
        return node

    def primary(self) -> Node:
        """`primary`: a number, symbol, command, absolute value or bracketed structure."""
        token = self.take()
        if token.kind == "num":
            return self._number(token)
        if token.kind == "id":
            return (expr.symbol(token.text + self._subscript()),)
        if token.kind == "letters":
            rest = token.text[1:]
            self.pos -= 1
            self.tokens[self.pos] = Token("letters" if len(rest) > 1 else "id", rest)
            return (expr.symbol(token.text[0]),)
        if token.kind == "cmd":
            return self._command(token.text)
        if token.kind == "op" and token.text == "|":
            node = self.sum()
            self.expect("op", "|")
            return expr.apply(sympy.Abs, alts(node), self.limits)
        if token.kind in ("open", "begin"):
            return self.nested(self, token)
        raise ParseError(f"unexpected {token.text!r}")

    def _subscript(self) -> str:
        if not self.at("op", "_"):
            return ""
        self.take()
        if not self.at("open", "{"):
            return "_" + self.expect("num" if self.at("num") else "id").text
        self.take()
        parts = []
        while not self.at("close", "}"):
            parts.append(self.take().text)
        self.take()
        return "_" + "".join(parts)

    def _number(self, token: Token) -> Node:
        value = expr.number(token.text)
        if not (value.is_Integer and self.at("cmd", "frac")):
            return (value,)
        self.take()
        (num, num_literal), (den, den_literal) = self._argument(True), self._argument(True)
        if num_literal and den_literal:
            return (value + expr.divide(alts(num)[0], alts(den)[0]),)
        fraction = expr.combine(expr.divide, alts(num), alts(den), self.limits)
        return expr.combine(_mul, (value,), fraction, self.limits)

    def argument(self, split_digits: bool = False) -> Node:
        """One argument of `\\frac`, `\\sqrt` or a function: a `{...}` group or one token.

        With `split_digits` (`\\frac`, `\\binom`) a bare number gives only its first digit.
        """
        return self._argument(split_digits)[0]

    def _argument(self, split_digits: bool) -> tuple[Node, bool]:
        token = self.peek()
        if token is not None and token.kind == "num":
            literal = "." not in token.text and "e" not in token.text.lower()
            if len(token.text) > 1 and literal and split_digits:
                self.tokens[self.pos] = Token("num", token.text[1:])
                return (expr.number(token.text[0]),), True
            return (expr.number(self.take().text),), literal
        if self.at("open", "{"):
            start = self.pos
            node = self.group()
            inner = self.tokens[start + 1 : self.pos - 1]
            literal = len(inner) == 1 and inner[0].kind == "num" and inner[0].text.isdigit()
            return node, literal
        return self.power(), False

    def _command(self, name: str) -> Node:
        if name == "frac":
            num, den = alts(self.argument(True)), alts(self.argument(True))
            return expr.combine(expr.divide, num, den, self.limits)
        if name == "binom":
            n, k = alts(self.argument(True)), alts(self.argument(True))
            return expr.combine(lambda a, b: expr.binomial(a, b, self.limits), n, k, self.limits)
        if name == "sqrt":
            return self._sqrt()
        if name in _CONSTANTS:
            return (_CONSTANTS[name],)
        if name == "emptyset":
            return Collection("set", ())
        if expr.is_function(name):
            return self._function(name)
        raise ParseError(f"unexpected \\{name}")

    def _sqrt(self) -> Node:
        if not self.at("open", "["):
            return expr.apply(sympy.sqrt, alts(self.argument()), self.limits)
        self.take()
        index = alts(self.sum())
        self.expect("close", "]")
        radicand = alts(self.argument())
        return expr.combine(lambda x, n: expr.root(x, n, self.limits), radicand, index, self.limits)

    def _function(self, name: str) -> Node:
        base = None
        if name == "log" and self.at("op", "_"):
            self.take()
            base = alts(self.argument())
        exponent = None
        if self.at("op", "^"):
            self.take()
            exponent = self.exponent()
        outer, self.degree = self.degree, _RADIANS_PER_DEGREE if name in _TRIG else self.degree
        if name in ("lfloor", "lceil"):
            arg = alts(self.sum())
            self.expect("cmd", "rfloor" if name == "lfloor" else "rceil")
        else:
            arg = alts(self.primary() if self.at("open", "(") else self.argument())
            if self.at("op", "\u00b0"):
                self.take()
                arg = alts(self._degrees(arg))
        self.degree = outer
        if base is None:
            node = expr.apply(lambda a: expr.function(name, a, self.limits), arg, self.limits)
        else:
            build = lambda a, b: expr.function(name, a, self.limits, b)  # noqa: E731
            node = expr.combine(build, arg, base, self.limits)
        if exponent is None:
            return node
        return expr.combine(expr.power(self.limits), node, exponent, self.limits)
