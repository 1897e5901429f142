"""The trusted side of an `asserts` reference, run here: arguments before the sandbox runs,
statements and expected sides after (see `verifiers.code.asserts` for the split).

Implementation details:
  1. `prepare` runs the statements that do not depend on the candidate, in source order, and
     evaluates each call site's arguments where it stands. Arguments made only of built-in
     values (exact `int`, `float`, `complex`, `str`, `bytes`, `bool`, `None`, `list`, `tuple`,
     `dict`, `set`, `frozenset`) go into the sandbox as `marshal` data; any other argument, or
     one that fails here, makes the call go in as source with the statements it needs.
  2. `Judge` runs each test's statements and assert expression here, with the candidate's
     values (plain data from `verifiers.code.wire`) in place of the call sites. Statements that
     do not depend on the candidate run once, shared by the tests before any that does.
  3. A statement that does not depend on the candidate and fails here is a reference problem;
     one that does is the candidate's failure (its value did not fit).
"""

from __future__ import annotations

import builtins
import marshal
from collections.abc import Callable
from typing import Any

from verifiers.code.asserts import (
    COLLECT,
    PLACEHOLDER,
    AssertTest,
    Reference,
    ReferenceProblem,
)

MAX_ARGUMENT_BYTES = 1 << 22
"""Arguments larger than this (marshalled) go in as source instead of data."""
_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, set, frozenset)


def _fresh() -> dict[str, Any]:
    return {"__builtins__": builtins, "__name__": "rlvr_tests"}


def _plain(value: Any, depth: int = 0) -> bool:
    """True when `value` is built of exact built-in types only (no subclass, no cycle)."""
    if depth > 100:
        return False
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind in _CONTAINERS:
        return all(_plain(v, depth + 1) for v in value)
    if kind is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _collect(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def _arguments(source: str, namespace: dict[str, Any]) -> bytes | None:
    """The marshalled `(args, kwargs)` of a call site, or None when they are not plain data."""
    try:
        found = eval(compile(source, "<tests>", "eval"), {**namespace, COLLECT: _collect})
    except Exception:
        return None
    if not _plain(found):
        return None
    data = marshal.dumps(found)
    return data if len(data) <= MAX_ARGUMENT_BYTES else None


def _run(source: str, namespace: dict[str, Any], on_error: Callable[[str], None]) -> bool:
    try:
        exec(compile(source, "<tests>", "exec"), namespace)
    except Exception as exc:
        on_error(f"{type(exc).__name__}: {exc}"[:300])
        return False
    return True


def _setup_failed(why: str) -> None:
    raise ReferenceProblem(f"test setup fails: {why}")


def prepare(reference: Reference) -> list[dict[str, Any]]:
    """Per test, the steps the sandbox runs (the harness's `steps`): statements as
    `("x", source)` and calls as `("c", marshalled arguments | None, source | None, bind)`.

    Raises:
        ReferenceProblem: a statement fails here, or a call can go in neither as data nor with
            the statements it needs.
    """
    namespace = _fresh()
    data: dict[int, bytes | None] = {}
    for index, stmt in enumerate(reference.statements):
        for site_id, at in enumerate(reference.site_statement):
            collect = reference.sites[site_id].collect
            if at == index and collect is not None:
                data[site_id] = _arguments(collect, namespace)
        if stmt is not None and not stmt.tainted and not stmt.alias:
            _run(stmt.raw, namespace, _setup_failed)
    return [_steps(reference, k, test, data) for k, test in enumerate(reference.tests)]


def _steps(
    reference: Reference, number: int, test: AssertTest, data: dict[int, bytes | None]
) -> dict[str, Any]:
    events: list[tuple[int, int, tuple[Any, ...]]] = []
    setup: set[int] = set()
    for order, site_id in enumerate(test.sites):
        site, args = reference.sites[site_id], data.get(site_id)
        if args is None:
            if isinstance(site.setup, str):
                raise ReferenceProblem(
                    f"test #{number} cannot be checked outside the sandbox: {site.setup}"
                )
            setup.update(site.setup)
        step = ("c", args, None if args is not None else site.call, site.bind)
        events.append((reference.site_statement[site_id], order, step))
    for index in setup:
        stmt = reference.statements[index]
        assert stmt is not None
        events.append((index, -1, ("x", stmt.raw)))
    return {"steps": [step for _, _, step in sorted(events, key=lambda e: e[:2])]}


class Judge:
    """Evaluates each test here on the candidate's values; call with the tests in order."""

    def __init__(self, reference: Reference) -> None:
        self._reference = reference
        self._clean = _fresh()
        self._done = 0
        """Statements run so far in `_clean`."""

    def __call__(self, test: AssertTest, values: list[Any]) -> tuple[bool, str]:
        """(passed, why not) of `test` given the values of its call sites.

        Raises:
            ReferenceProblem: a statement that does not depend on the candidate fails.
        """
        if len(values) != len(test.sites):
            return False, "wrong number of values"
        scope = {PLACEHOLDER.format(s): v for s, v in zip(test.sites, values, strict=True)}
        prior = self._reference.statements[: test.index]
        if any(s is not None and s.tainted for s in prior):
            namespace = {**_fresh(), **scope}
            failed: list[str] = []
            for stmt in prior:
                if stmt is None or stmt.alias:
                    continue
                if not _run(stmt.here, namespace, failed.append if stmt.tainted else _setup_failed):
                    return False, f"{failed[0]} in `{stmt.raw[:60]}`"
        else:
            for stmt in prior[self._done :]:
                if stmt is not None and not stmt.alias:
                    _run(stmt.here, self._clean, _setup_failed)
            self._done = len(prior)
            namespace = {**self._clean, **scope}
        try:
            passed = bool(eval(compile(test.check, "<tests>", "eval"), namespace))
        except Exception as exc:
            return False, f"{type(exc).__name__} while checking"
        return passed, "" if passed else "wrong value"
