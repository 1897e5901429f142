"""Split an `asserts` reference into tests that a candidate cannot fake.

Each top-level `assert` statement is one test; the other top-level statements (imports, helper
functions, constants) are its setup, in source order.

Implementation details:
  1. A *checked* test is an assert whose candidate calls (calls of the entry point by name,
     outermost ones only) can be cut out: each call's source runs in the sandbox, its return
     value comes back as plain data, and the rest of the assert (the expected side, trusted test
     code) is evaluated here with the values in place of the calls. So `assert f(x) == y`,
     `assert f(x)`, `assert not f(x)`, `assert abs(f(x) - y) < 1e-6`, `assert sorted(f(x)) == y`
     are all checked, and neither `__eq__` overrides nor a patched `assert` can make them pass.
  2. An *opaque* test is any other assert: one that mentions the entry point other than by
     calling it, calls it inside a lambda or comprehension, does not call it at all, or follows
     setup that mentions the entry point (`candidate = f`). It runs whole inside the sandbox and
     its pass/fail comes from there, so a hostile candidate could fake it; `detail` counts them.
  3. The setup runs in the sandbox before the calls, and, without the statements that mention
     the entry point, here before the expected side is evaluated.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = "__rlvr_value_{}"


class ReferenceProblem(ValueError):
    """The reference cannot be used; the message names the problem."""


@dataclass(frozen=True, slots=True)
class AssertTest:
    """One top-level assert of the reference."""

    source: str
    """The assert statement."""
    setup: str
    """Every non-assert statement before it, run in the sandbox first."""
    calls: tuple[str, ...]
    """Candidate-call expressions run in the sandbox (empty for opaque tests)."""
    check: str | None
    """The assert's expression with the calls replaced by placeholders; None if opaque."""
    outside_setup: str
    """The setup without statements that mention the entry point, run here for `check`."""


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


class _CutCalls(ast.NodeTransformer):
    """Replace outermost candidate calls by placeholders; note when a cut is impossible."""

    def __init__(self, entry_point: str) -> None:
        self.entry_point = entry_point
        self.calls: list[str] = []
        self.opaque = False
        self._scopes = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id == self.entry_point:
            if self._scopes:
                self.opaque = True
                return node
            self.calls.append(ast.unparse(node))
            return ast.Name(PLACEHOLDER.format(len(self.calls) - 1), ast.Load())
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.entry_point:
            self.opaque = True
        return node

    def _scoped(self, node: ast.AST) -> ast.AST:
        self._scopes += 1
        try:
            return self.generic_visit(node)
        finally:
            self._scopes -= 1

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = _scoped
    visit_GeneratorExp = visit_NamedExpr = _scoped


def parse_asserts(tests: str, entry_point: str) -> list[AssertTest]:
    """The tests of an `asserts` reference.

    Raises:
        ReferenceProblem: the tests do not parse, the entry point is not an identifier, or
            there is no top-level assert.
    """
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise ReferenceProblem(f"entry_point must be a function name, got {entry_point!r}")
    if not isinstance(tests, str):
        raise ReferenceProblem("tests must be Python source text")
    try:
        module = ast.parse(tests)
    except SyntaxError as exc:
        raise ReferenceProblem(f"tests do not parse: {exc}") from exc
    setup: list[ast.stmt] = []
    found: list[AssertTest] = []
    tainted = False
    for stmt in module.body:
        if not isinstance(stmt, ast.Assert):
            setup.append(stmt)
            tainted = tainted or _mentions(stmt, entry_point)
            continue
        cutter = _CutCalls(entry_point)
        expr = cutter.visit(ast.parse(ast.unparse(stmt.test), mode="eval"))
        opaque = tainted or cutter.opaque or not cutter.calls
        outside = [s for s in setup if not _mentions(s, entry_point)]
        found.append(
            AssertTest(
                source=ast.unparse(stmt),
                setup=ast.unparse(ast.Module(setup, [])),
                calls=() if opaque else tuple(cutter.calls),
                check=None if opaque else ast.unparse(expr),
                outside_setup=ast.unparse(ast.Module(outside, [])),
            )
        )
    if not found:
        raise ReferenceProblem("tests have no top-level assert statement")
    return found


def outside_namespace(test: AssertTest) -> dict[str, Any]:
    """A namespace with the test's outside setup executed (trusted test code).

    Raises:
        ReferenceProblem: the setup fails when run here.
    """
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "rlvr_tests"}
    try:
        exec(compile(test.outside_setup, "<tests>", "exec"), namespace)
    except Exception as exc:
        raise ReferenceProblem(f"test setup fails: {type(exc).__name__}: {exc}") from exc
    return namespace


def judge(test: AssertTest, values: list[Any], namespace: dict[str, Any]) -> tuple[bool, str]:
    """Evaluate a checked test's expected side on the candidate's values: (passed, why not)."""
    assert test.check is not None
    if len(values) != len(test.calls):
        return False, "wrong number of values"
    scope = dict(namespace)
    scope.update({PLACEHOLDER.format(i): v for i, v in enumerate(values)})
    try:
        outcome = eval(compile(test.check, "<tests>", "eval"), scope)
        passed = bool(outcome)
    except Exception as exc:
        return False, f"{type(exc).__name__} while checking"
    return passed, "" if passed else "wrong value"
