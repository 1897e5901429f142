"""Split an `asserts` reference into candidate calls, run in the sandbox, and checks, run here.

Each top-level `assert` statement is one test. The other top-level statements (imports,
helpers, constants, `candidate = f`, `result = f(3)`) run before it, in source order.

Implementation details:
  1. A *call site* is a call of the entry point, or of an alias (`candidate = f`), at the
     outermost level of a simple top-level statement. For each test the sandbox computes the
     values of the call sites of the statements before the assert and of the assert itself, in
     order, and returns them as plain data.
  2. Nothing else of the reference enters the sandbox: no assert, no expected value. A call's
     arguments are evaluated here (`verifiers.code.checks`) and sent as data when they are
     plain built-in values; otherwise the call's own source goes in, with only the statements
     whose names it needs (`CallSite.setup`), and a value bound by `name = f(...)` is bound
     inside too.
  3. Here, the statements and the assert's expression run with each call site replaced by its
     value, so neither `__eq__` overrides nor patched builtins can make a test pass.
  4. A reference that cannot be checked this way is refused (`ReferenceProblem`), never run
     whole in the sandbox: the entry point used other than by a direct call before an assert
     (passed as a value, called inside a lambda, comprehension, function, loop or `with`), or
     a call that needs a value computed from the candidate other than by `name = f(...)`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

PLACEHOLDER = "__rlvr_value_{}"
COLLECT = "__rlvr_args"
"""Name of the function that returns `(args, kwargs)`, standing in for the callee here."""
_SIMPLE = (ast.Assert, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)


class ReferenceProblem(ValueError):
    """The reference cannot be used; the message names the problem."""


@dataclass(frozen=True, slots=True)
class CallSite:
    """One call of the candidate whose value the sandbox computes."""

    call: str
    """The call's source, run in the sandbox when its arguments cannot go in as data."""
    collect: str | None
    """The call with the callee replaced by `COLLECT`, evaluated here for its arguments; None
    when they need the candidate (a nested call, a value computed from it)."""
    bind: str | None
    """Targets of `targets = call`, bound in the sandbox too; else None."""
    setup: tuple[int, ...] | str
    """Indices of the statements `call` needs in the sandbox, or why it cannot have them."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One top-level statement that is not an assert."""

    raw: str
    """The statement as written (sent into the sandbox only as a call's setup)."""
    here: str
    """The statement with call sites replaced by placeholders, run here."""
    tainted: bool
    """It calls the candidate or uses a value computed from it (not run before the sandbox)."""
    alias: bool
    """`name = entry_point`: not run here."""


@dataclass(frozen=True, slots=True)
class AssertTest:
    """One top-level assert."""

    source: str
    """The assert statement, for people to read."""
    index: int
    """Its position among the top-level statements."""
    sites: tuple[int, ...]
    """Call sites the sandbox computes for it: the statements' before it, then its own."""
    check: str
    """The assert's expression with call sites replaced by placeholders, evaluated here."""


@dataclass(frozen=True)
class Reference:
    """A parsed `asserts` reference."""

    entry: str
    """The entry point's name."""
    statements: tuple[Statement | None, ...]
    """Top-level statements by position; None where an assert stands."""
    sites: tuple[CallSite, ...]
    """Every call site, numbered in source order (the placeholders' numbers)."""
    site_statement: tuple[int, ...]
    """Position of the statement holding each call site."""
    tests: tuple[AssertTest, ...]
    """The tests, in source order."""


def _names(node: ast.AST, ctx: type[ast.expr_context] | None = None) -> set[str]:
    """Names in `node` (only those used in context `ctx`, when given)."""
    return {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and (ctx is None or isinstance(n.ctx, ctx))
    }


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_SCOPES = (*_FUNCTIONS, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.ClassDef)


def _parameters(arguments: ast.arguments) -> set[str]:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return {a.arg for a in [*every, arguments.vararg, arguments.kwarg] if a is not None}


def _uses(node: ast.AST) -> set[str]:
    """Names `node` reads from its surroundings: those read anywhere in it, less the parameters
    and the names bound inside its functions, lambdas, comprehensions and classes."""
    local: set[str] = set()
    for scope in ast.walk(node):
        if isinstance(scope, _SCOPES):
            inner = scope.body if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else []
            local |= _names(scope, ast.Store) if scope is not node else set()
            local |= {n for stmt in inner for n in _names(stmt, ast.Store)}
            if isinstance(scope, _FUNCTIONS):
                local |= _parameters(scope.args)
    return _names(node, ast.Load) - local


def _binds(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return _names(stmt, ast.Store) | _names(stmt, ast.Del)


def _plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Starred):
        return _plain_target(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        return all(_plain_target(t) for t in target.elts)
    return isinstance(target, ast.Name)


class _Cut(ast.NodeTransformer):
    """Replace outermost calls of the candidate by placeholders; note what cannot be cut."""

    def __init__(self, aliases: set[str], first: int) -> None:
        self.aliases, self.next = aliases, first
        self.calls: list[ast.Call] = []
        self.problem = ""
        self._scopes = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not (isinstance(node.func, ast.Name) and node.func.id in self.aliases):
            return self.generic_visit(node)
        if self._scopes:
            self.problem = "calls the entry point inside a lambda, comprehension or `:=`"
            return node
        self.calls.append(node)
        self.next += 1
        return ast.Name(PLACEHOLDER.format(self.next - 1), ast.Load())

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.aliases:
            self.problem = f"uses `{node.id}` other than by calling it"
        return node

    def _scoped(self, node: ast.AST) -> ast.AST:
        self._scopes += 1
        try:
            return self.generic_visit(node)
        finally:
            self._scopes -= 1

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = _scoped
    visit_GeneratorExp = visit_NamedExpr = _scoped


class _Parser:
    """Walks the top-level statements once, in order (see the module docstring)."""

    def __init__(self, body: list[ast.stmt], entry: str) -> None:
        self.body = body
        self.aliases = {entry}
        self.sites: list[CallSite] = []
        self.site_statement: list[int] = []
        self.statements: list[Statement | None] = []
        self.tainted: set[str] = set()
        """Names bound by statements that depend on the candidate."""
        self.broken = ""
        """Why the statements so far cannot be reproduced here ("" when they can)."""

    def alias(self, stmt: ast.stmt) -> bool:
        """Record `name = <alias>`; True when `stmt` is one."""
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            return False
        target, value = stmt.targets[0], stmt.value
        if not (isinstance(target, ast.Name) and isinstance(value, ast.Name)):
            return False
        if value.id not in self.aliases:
            return False
        self.aliases.add(target.id)
        self.statements.append(Statement(ast.unparse(stmt), "", False, True))
        return True

    def statement(self, index: int, stmt: ast.stmt) -> tuple[str, list[int]]:
        """Cut `stmt`; returns its source with placeholders and its new call sites."""
        copy = ast.parse(ast.unparse(stmt)).body[0]
        mentions = bool(_names(copy) & self.aliases)
        cut = _Cut(self.aliases, len(self.sites))
        if mentions and not isinstance(copy, _SIMPLE):
            self.broken = f"`{ast.unparse(stmt)[:80]}` uses the entry point in a compound statement"
        value = copy.value if isinstance(copy, ast.Assign | ast.AnnAssign) else None
        if isinstance(copy, ast.Assert):
            here = ast.unparse(cut.visit(copy.test) if mentions else copy.test)
        else:
            here = ast.unparse(cut.visit(copy) if mentions and isinstance(copy, _SIMPLE) else copy)
        if cut.problem:
            self.broken = f"`{ast.unparse(stmt)[:80]}` {cut.problem}"
        ids = []
        for call in cut.calls:
            bind = None
            if call is value and isinstance(copy, ast.Assign | ast.AnnAssign):
                targets = copy.targets if isinstance(copy, ast.Assign) else [copy.target]
                if all(_plain_target(t) for t in targets):
                    bind = " = ".join(ast.unparse(t) for t in targets)
            ids.append(len(self.sites))
            self.sites.append(self._site(index, call, bind))
            self.site_statement.append(index)
        if not isinstance(copy, ast.Assert):
            tainted = mentions or bool(_uses(copy) & self.tainted)
            if tainted:
                self.tainted |= _binds(copy)
            self.statements.append(Statement(ast.unparse(stmt), here, tainted, False))
        return here, ids

    def _site(self, index: int, call: ast.Call, bind: str | None) -> CallSite:
        arguments = [*call.args, *(k.value for k in call.keywords)]
        needs = set().union(*(_names(a) for a in arguments)) if arguments else set()
        collect = None
        if not needs & (self.aliases | self.tainted):
            callee = ast.Name(COLLECT, ast.Load())
            collect = ast.unparse(ast.Call(callee, call.args, call.keywords))
        return CallSite(ast.unparse(call), collect, bind, self._setup(index, call))

    def _setup(self, index: int, call: ast.Call) -> tuple[int, ...] | str:
        """Statements before `index` that `call` needs in the sandbox (see the module doc)."""
        needed = _uses(call)
        chosen: list[int] = []
        for i in range(index - 1, -1, -1):
            stmt, known = self.body[i], self.statements[i]
            if known is None:
                continue
            binds = _binds(stmt)
            star = isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names)
            if not (binds & needed or star or (not binds and _uses(stmt) & needed)):
                continue
            if known.tainted:
                pairs = zip(self.sites, self.site_statement, strict=True)
                bound = [site.bind for site, at in pairs if at == i]
                if not bound or None in bound:
                    what = f"`{ast.unparse(call)[:60]}` needs `{known.raw[:60]}`"
                    return f"{what}, a value computed from the entry point"
                needed -= binds
                continue
            chosen.append(i)
            needed = (needed - binds) | _uses(stmt)
        return tuple(sorted(chosen))


def parse_asserts(tests: str, entry_point: str) -> Reference:
    """The tests of an `asserts` reference.

    Raises:
        ReferenceProblem: the tests do not parse, the entry point is not an identifier, there
            is no top-level assert, or an assert cannot be checked outside the sandbox.
    """
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise ReferenceProblem(f"entry_point must be a function name, got {entry_point!r}")
    if not isinstance(tests, str):
        raise ReferenceProblem("tests must be Python source text")
    try:
        body = ast.parse(tests).body
    except SyntaxError as exc:
        raise ReferenceProblem(f"tests do not parse: {exc}") from exc
    parser = _Parser(body, entry_point)
    found: list[AssertTest] = []
    for index, stmt in enumerate(body):
        if parser.alias(stmt):
            continue
        check, own = parser.statement(index, stmt)
        if not isinstance(stmt, ast.Assert):
            continue
        parser.statements.append(None)
        if parser.broken:
            raise ReferenceProblem(
                f"test #{len(found)} cannot be checked outside the sandbox: {parser.broken}"
            )
        earlier = [
            s
            for s, at in enumerate(parser.site_statement)
            if at < index and parser.statements[at] is not None
        ]
        found.append(AssertTest(ast.unparse(stmt), index, (*earlier, *own), check))
    if not found:
        raise ReferenceProblem("tests have no top-level assert statement")
    return Reference(
        entry_point,
        tuple(parser.statements),
        tuple(parser.sites),
        tuple(parser.site_statement),
        tuple(found),
    )
