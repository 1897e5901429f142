"""Turn the harness's per-test records into outcomes, and outcomes into a `Verdict`.

A test ends in one of: `pass`, `wrong` (ran, wrong result), or a failure of the program:
`timeout` (wall clock or CPU time), `memory_limit` (out of its address space),
`output_limit` (stdio output past the cap), `crashed` (killed by a signal) or `error` (raised,
exited early, exited non-zero). All of these are the program's doing and score 0 for that
test; the reward runtime keeps them in the loss.

The verdict's score is the fraction of passes; its reason is `correct` when all pass, else the
common kind of failure when nothing passed and every failure is of one kind (`timeout`,
`memory_limit`, `output_limit`, `crashed`, `runtime_error`), else `tests_failed`.
"""

from __future__ import annotations

import ast
import signal
from collections import Counter
from collections.abc import Sequence
from typing import Any

from verifiers.code import wire
from verifiers.code.asserts import AssertTest
from verifiers.code.checks import Judge
from verifiers.verdict import Verdict

REASONS = {
    "timeout": "timeout",
    "memory_limit": "memory_limit",
    "output_limit": "output_limit",
    "crashed": "crashed",
    "error": "runtime_error",
}
"""Failure kind of a test -> the verdict's reason when every test failed that way."""


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


def _ended(code: Any, stderr: str) -> tuple[str, str]:
    """The failure of a program that exited with status `code` instead of reporting."""
    if isinstance(code, int) and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "crashed", f"killed by {name}"
    if "MemoryError" in stderr:
        return "memory_limit", "MemoryError"
    return "error", f"exit status {code}"


def _failure(record: dict[str, Any]) -> tuple[str, str] | None:
    """The failure of a record whose program did not run to its end normally, else None."""
    status = record.get("status")
    if status == "timeout":
        return "timeout", str(record.get("error", "timeout"))
    if status == "output_limit":
        return "output_limit", "output past the cap"
    if status == "exit":
        return _ended(record.get("exit"), str(record.get("stderr", "")))
    return None


def _message(record: dict[str, Any]) -> dict[str, Any]:
    """The child's own report inside a `reported` record (read as a literal, never evaluated)."""
    try:
        message = ast.literal_eval(str(record.get("report")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"status": "error", "error": "unreadable report"}
    return message if isinstance(message, dict) else {"status": "error", "error": "unreadable"}


def judge_assert(judge: Judge, test: AssertTest, record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, detail) of one asserts test.

    Raises:
        ReferenceProblem: the reference's own code fails here.
    """
    failure = _failure(record)
    if failure is not None:
        return failure
    message = _message(record) if record.get("status") == "reported" else {"status": "error"}
    if message.get("status") == "memory":
        return "memory_limit", "MemoryError"
    if message.get("status") != "ok":
        return "error", str(message.get("error", record.get("status", "")))
    try:
        values = [wire.decode(v) for v in message.get("values", [])]
    except wire.WireError as exc:
        return "error", f"unreadable value: {exc}"
    passed, why = judge(test, values)
    return ("pass" if passed else "wrong"), why


def judge_stdio(expected: str, record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, detail) of one stdio test."""
    failure = _failure(record)
    if failure is not None:
        return failure
    if record.get("status") != "ok":
        return "error", str(record.get("status"))
    if record.get("exit") != 0:
        return _ended(record.get("exit"), str(record.get("stderr", "")))
    same = normalize_output(str(record.get("stdout", ""))) == normalize_output(expected)
    return ("pass" if same else "wrong"), "" if same else "wrong output"


def verdict(outcomes: Sequence[tuple[str, str]], program: str) -> Verdict:
    """The verdict for per-test outcomes (see the module docstring)."""
    counts = Counter(kind for kind, _ in outcomes)
    total, passed = len(outcomes), counts["pass"]
    summary = f"{passed}/{total} tests passed"
    failed = [
        f"#{i}: {kind} {why}".strip() for i, (kind, why) in enumerate(outcomes) if kind != "pass"
    ]
    if failed:
        summary += "; " + "; ".join(failed[:5]) + ("; ..." if len(failed) > 5 else "")
    if passed == total:
        return Verdict(1.0, "correct", summary, program)
    kinds = set(counts) - {"pass"}
    reason = "tests_failed"
    if passed == 0 and len(kinds) == 1 and next(iter(kinds)) in REASONS:
        reason = REASONS[next(iter(kinds))]
    return Verdict(passed / total, reason, summary, program)
