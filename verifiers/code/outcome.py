"""Turn the harness's per-test records into pass/fail, and fail/pass counts into a `Verdict`.

A test ends in one of: `pass`, `wrong` (ran, wrong result), `timeout`, `memory`, `error`
(raised, crashed, exited early, output cap). The verdict's score is the fraction of passes;
its reason is `correct` when all pass, else the common kind of failure when nothing passed and
every failure is of one kind (`timeout`, `memory`, `runtime_error`), else `tests_failed`.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from typing import Any

from verifiers.code import wire
from verifiers.code.asserts import AssertTest, judge, outside_namespace
from verifiers.verdict import Verdict

_REASON = {"timeout": "timeout", "memory": "memory", "error": "runtime_error"}


def normalize_output(text: str) -> str:
    """Output as compared for stdio tests: trailing whitespace of each line and trailing blank
    lines removed, line endings unified.

    >>> normalize_output("1 2  \\r\\n3\\n\\n")
    '1 2\\n3'
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _message(record: dict[str, Any]) -> dict[str, Any]:
    """The child's own report inside a `reported` record (read as a literal, never evaluated)."""
    if record.get("status") != "reported":
        return record
    try:
        message = ast.literal_eval(str(record.get("report")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"status": "error", "error": "unreadable report"}
    if not isinstance(message, dict):
        return {"status": "error", "error": "unreadable report"}
    return message


def _failure(record: dict[str, Any]) -> str | None:
    """The failure kind of a record whose program did not finish normally, else None."""
    status = record.get("status")
    if status == "ok":
        return None
    return status if status in ("timeout", "memory") else "error"


def judge_assert(test: AssertTest, record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, detail) of one asserts test."""
    record = _message(record)
    failure = _failure(record)
    if failure is not None:
        return failure, str(record.get("error", record.get("status", "")))
    if test.check is None:
        passed = record.get("passed") is True
        return ("pass" if passed else "wrong"), "" if passed else "assertion failed"
    try:
        values = [wire.decode(v) for v in record.get("values", [])]
    except wire.WireError as exc:
        return "error", f"unreadable value: {exc}"
    passed, why = judge(test, values, outside_namespace(test))
    return ("pass" if passed else "wrong"), why


def judge_stdio(expected: str, record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, detail) of one stdio test."""
    failure = _failure(record)
    if failure is not None:
        return failure, str(record.get("status"))
    if record.get("exit") != 0:
        memory = "MemoryError" in str(record.get("stderr", ""))
        return ("memory" if memory else "error"), f"exit status {record.get('exit')}"
    same = normalize_output(str(record.get("stdout", ""))) == normalize_output(expected)
    return ("pass" if same else "wrong"), "" if same else "wrong output"


def verdict(outcomes: Sequence[tuple[str, str]], program: str, opaque: int = 0) -> Verdict:
    """The verdict for per-test outcomes (see the module docstring)."""
    counts = Counter(kind for kind, _ in outcomes)
    total, passed = len(outcomes), counts["pass"]
    summary = f"{passed}/{total} tests passed"
    failed = [
        f"#{i}: {kind} {why}".strip() for i, (kind, why) in enumerate(outcomes) if kind != "pass"
    ]
    if failed:
        summary += "; " + "; ".join(failed[:5]) + ("; ..." if len(failed) > 5 else "")
    if opaque:
        summary += f"; {opaque} opaque test(s) judged inside the sandbox"
    if passed == total:
        return Verdict(1.0, "correct", summary, program)
    kinds = set(counts) - {"pass"}
    reason = "tests_failed"
    if passed == 0 and len(kinds) == 1 and next(iter(kinds)) in _REASON:
        reason = _REASON[next(iter(kinds))]
    return Verdict(passed / total, reason, summary, program)
