"""`check` references: HumanEval-style test code that defines `check(candidate)`.

A reference `{"kind": "check", "tests": "<python defining check(candidate)>", "entry_point":
"f", "prefix": "<code the program continues>", "stop": ["\\ndef ", ...]}` runs the tests on the
program `prefix + completion` (HumanEval's prompt and a model's continuation). The tests and
the prefix run in a sandboxed process that never runs candidate code (`check_harness.py`);
the candidate's values reach them as plain data, so neither `__eq__` overrides, patched
builtins nor redefined prompt helpers (HumanEval/32's `poly`) can make a test pass.

`prefix` and `stop` are optional. When the completion holds no code fence, it is a raw
continuation: it is cut at the first `stop` string (the Codex paper's stop sequences, which
end a function body at the next top-level statement), then appended to `prefix`. A fenced
completion gives its program (see `verifiers.code.extract`), appended to `prefix` as is, so a
chat model that writes the whole function works too (the later definition wins).

The whole `check` call is one test, with the verifier's per-test timeout: the score is 1 or 0.

>>> ref = parse_check({"kind": "check", "entry_point": "f", "prefix": "def f(x):\\n",
...                    "tests": "def check(c):\\n    assert c(1) == 2\\n"})
>>> program_for("    return x + 1\\n\\n\\nprint(f(3))\\n", ref)
'def f(x):\\n    return x + 1\\n'
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifiers.code.asserts import ReferenceProblem
from verifiers.code.extract import extract_program

STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")
"""Stop strings of a `check` reference that names none (the Codex paper's, plus asserts)."""


@dataclass(frozen=True, slots=True)
class CheckReference:
    """A parsed `check` reference."""

    tests: str
    """Test code defining `check(candidate)`."""
    entry: str
    """The entry point's name."""
    prefix: str
    """Code the program continues; it also runs (trusted) before the tests."""
    stop: tuple[str, ...]
    """Where a raw continuation ends."""


def parse_check(reference: Mapping[str, Any]) -> CheckReference:
    """The fields of a `check` reference.

    Raises:
        ReferenceProblem: a field is missing or has a wrong type, the tests or the prefix do
            not parse, or the tests define no top-level `check`.
    """
    entry, tests = reference.get("entry_point"), reference.get("tests")
    prefix, stop = reference.get("prefix", ""), reference.get("stop", STOP)
    if not isinstance(entry, str) or not entry.isidentifier():
        raise ReferenceProblem(f"entry_point must be a function name, got {entry!r}")
    if not isinstance(tests, str) or not isinstance(prefix, str):
        raise ReferenceProblem("check tests and prefix must be Python source text")
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) and s for s in stop):
        raise ReferenceProblem("check stop must be a list of non-empty strings")
    try:
        body = ast.parse(tests).body
        ast.parse(prefix)
    except SyntaxError as exc:
        raise ReferenceProblem(f"check tests or prefix do not parse: {exc}") from exc
    if not any(isinstance(s, ast.FunctionDef) and s.name == "check" for s in body):
        raise ReferenceProblem("check tests must define a top-level function check(candidate)")
    return CheckReference(tests, entry, prefix, tuple(stop))


def program_for(completion: str, reference: CheckReference) -> str:
    """The program a completion stands for: the prefix, then the fenced program or the raw
    continuation cut at the first stop string; empty when the completion holds no code."""
    if "```" in completion:
        program = extract_program(completion)
        return reference.prefix + program if program.strip() else ""
    cut = min((i for s in reference.stop if (i := completion.find(s)) >= 0), default=None)
    program = completion[:cut].rstrip() + "\n"
    return reference.prefix + program if program.strip() else ""


def judge_check(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, detail) of a check test from the harness's record (see `outcome`)."""
    status = record.get("status")
    if status == "timeout":
        return "timeout", "the tests ran past the time limit"
    if status != "reported":
        return "error", "the tester stopped without reporting"
    try:
        message = ast.literal_eval(str(record.get("report")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "error", "unreadable report"
    kind = message.get("status") if isinstance(message, dict) else None
    detail = str(message.get("error", "")) if isinstance(message, dict) else ""
    if kind == "ok":
        return "pass", ""
    if kind == "memory":
        return "memory_limit", "MemoryError"
    return ("wrong" if kind == "wrong" else "error"), detail
