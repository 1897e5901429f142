"""The `code` verifier: run the completion's program against tests in a sandbox.

References:
  - `{"kind": "asserts", "tests": "<python>", "entry_point": "f"}`: each top-level assert is one
    test (see `verifiers.code.asserts` for what can and cannot be faked);
  - `{"kind": "stdio", "tests": [{"input": "...", "output": "..."}]}`: the program reads the
    input on stdin; it passes when it exits 0 and its output matches after trailing whitespace
    per line and trailing blank lines are removed. Expected outputs never enter the sandbox.
  - `{"kind": "check", "tests": "<python defining check(candidate)>", "entry_point": "f",
    "prefix": "...", "stop": [...]}` (HumanEval's form): the tests run in the sandbox, in a
    process apart from the candidate's, on plain-data values (see `verifiers.code.check`).

All tests of a reference run in one sandbox: the harness (`verifiers.code.harness`) forks a
fresh process per test, enforces the per-test timeout and returns authenticated results. For
`asserts` and `stdio` no expected value, expected output or assert enters the sandbox: the
candidate's results come out as plain data and are compared here.

`partial_credit` picks the score of a program that passes some tests: the fraction passed
(the default), or 0 (all-or-nothing: only a program that passes every test scores).
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import marshal
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import sandboxes
from verifiers.code import outcome
from verifiers.code.asserts import Reference, ReferenceProblem, parse_asserts
from verifiers.code.check import CheckReference, judge_check, parse_check, program_for
from verifiers.code.checks import Judge, prepare
from verifiers.code.examples import EXAMPLES
from verifiers.code.extract import extract_program
from verifiers.registry import register
from verifiers.verdict import Example, Verdict

_HARNESS = Path(__file__).with_name("harness.py").read_text()
_CHECK_HARNESS = Path(__file__).with_name("check_harness.py").read_text()
_BACKENDS = ("auto", "bwrap", "process", "docker")
_SIGNALS = frozenset(signal.Signals)


def _check_stdio(tests: Any) -> list[tuple[str, str]]:
    if not isinstance(tests, list) or not tests:
        raise ReferenceProblem("stdio tests must be a non-empty list of {input, output}")
    pairs = []
    for i, test in enumerate(tests):
        if not isinstance(test, Mapping) or not isinstance(test.get("output"), str):
            raise ReferenceProblem(f"stdio test #{i} needs string 'input' and 'output'")
        if not isinstance(test.get("input", ""), str):
            raise ReferenceProblem(f"stdio test #{i}: 'input' must be a string")
        pairs.append((str(test.get("input", "")), str(test["output"])))
    return pairs


@register("code")
@dataclass(frozen=True)
class CodeVerifier:
    """Score a program by the fraction of tests it passes, run in a sandbox.

    >>> ref = {"kind": "asserts", "tests": "assert add(1, 2) == 3", "entry_point": "add"}
    >>> CodeVerifier()("```python\\ndef add(a, b):\\n    return a + b\\n```", reference=ref).reason
    'correct'
    """

    name: ClassVar[str] = "code"
    version: ClassVar[str] = "3"
    examples: ClassVar[tuple[Example, ...]] = EXAMPLES

    timeout_s: float = 2.0
    """Wall-clock limit of each test, in seconds (the program's import or start included)."""
    limits: sandboxes.Limits = sandboxes.DEFAULT_LIMITS
    """Per-process limits (memory, CPU time, processes, file size, open files, tmpfs) and the
    output cap per test; `wall_s` is the allowance for sandbox start-up beyond the tests. A
    mapping of `Limits` fields is accepted from config files."""
    backend: sandboxes.BackendName = "auto"
    """Sandbox backend: `auto`, `bwrap`, `process` or `docker` (see `sandboxes`)."""
    partial_credit: bool = True
    """Score a program by the fraction of tests it passes; False: 1 only when it passes all
    of them, else 0 (the reason still says how many passed)."""

    def __post_init__(self) -> None:
        if isinstance(self.limits, Mapping):
            known = {f.name for f in fields(sandboxes.Limits)}
            unknown = set(self.limits) - known
            if unknown:
                raise ValueError(f"code verifier: unknown limits {sorted(unknown)}")
            object.__setattr__(self, "limits", sandboxes.Limits(**self.limits))
        if not isinstance(self.limits, sandboxes.Limits):
            raise TypeError("code verifier: limits must be a sandboxes.Limits or a mapping")
        if self.backend not in _BACKENDS:
            raise ValueError(f"code verifier: backend must be one of {_BACKENDS}")
        if not self.timeout_s > 0:
            raise ValueError(f"code verifier: timeout_s must be positive, got {self.timeout_s}")
        if not isinstance(self.partial_credit, bool):
            raise TypeError("code verifier: partial_credit must be true or false")

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        """Verify `completion` against the `asserts`, `stdio` or `check` tests of `reference`."""
        verdict = self._verify(completion if isinstance(completion, str) else "", reference)
        if self.partial_credit or verdict.score in (0.0, 1.0):
            return verdict
        return replace(verdict, score=0.0)

    def _verify(self, completion: str, reference: Any) -> Verdict:
        kind = reference.get("kind") if isinstance(reference, Mapping) else None
        try:
            if kind == "check":
                return self._check(completion, parse_check(reference))
        except ReferenceProblem as exc:
            return Verdict(0.0, "reference_error", str(exc), None)
        program = extract_program(completion)
        if not program.strip():
            return Verdict(0.0, "no_code", "no program found in the completion", None)
        try:
            if kind == "asserts":
                parsed = parse_asserts(reference.get("tests"), reference.get("entry_point"))
                return self._asserts(program, parsed)
            if kind == "stdio":
                return self._stdio(program, _check_stdio(reference.get("tests")))
            raise ReferenceProblem(
                "reference must be a mapping with kind 'asserts', 'stdio' or 'check'"
            )
        except ReferenceProblem as exc:
            return Verdict(0.0, "reference_error", str(exc), program)
        except sandboxes.SandboxUnavailable as exc:
            return Verdict(0.0, "sandbox_error", str(exc), program)

    def _asserts(self, program: str, reference: Reference) -> Verdict:
        records = self._run(
            program, {"kind": "asserts", "entry": reference.entry}, prepare(reference)
        )
        if isinstance(records, Verdict):
            return Verdict(records.score, records.reason, records.detail, program)
        judge = Judge(reference)
        outcomes = [
            outcome.judge_assert(judge, test, record)
            for test, record in zip(reference.tests, records, strict=True)
        ]
        return outcome.verdict(outcomes, program)

    def _stdio(self, program: str, tests: list[tuple[str, str]]) -> Verdict:
        records = self._run(program, {"kind": "stdio"}, [{"input": given} for given, _ in tests])
        if isinstance(records, Verdict):
            return Verdict(records.score, records.reason, records.detail, program)
        outcomes = [
            outcome.judge_stdio(want, r) for (_, want), r in zip(tests, records, strict=True)
        ]
        return outcome.verdict(outcomes, program)

    def _check(self, completion: str, reference: CheckReference) -> Verdict:
        program = program_for(completion, reference)
        if not program:
            return Verdict(0.0, "no_code", "no program found in the completion", None)
        try:
            records = self._run(
                program,
                {"kind": "check", "entry": reference.entry},
                [{"prefix": reference.prefix, "tests": reference.tests}],
                harness=_CHECK_HARNESS,
            )
        except sandboxes.SandboxUnavailable as exc:
            return Verdict(0.0, "sandbox_error", str(exc), program)
        if isinstance(records, Verdict):
            return Verdict(records.score, records.reason, records.detail, program)
        return outcome.verdict([judge_check(records[0])], program)

    def _run(
        self,
        program: str,
        header: dict[str, Any],
        tests: list[dict[str, Any]],
        harness: str = _HARNESS,
    ) -> list[dict[str, Any]] | Verdict:
        """Run the harness; its authenticated per-test records, or a verdict when there are none.

        The `check` harness imports the main harness, shipped beside it as `rlvr_harness.py`."""
        cap = self.limits.output_bytes
        job = {**header, "count": len(tests), "timeout_s": self.timeout_s, "output_bytes": cap}
        job["path"] = "solution.py"
        limits = replace(
            self.limits,
            wall_s=self.limits.wall_s + len(tests) * (self.timeout_s + 0.5),
            output_bytes=65536 + len(tests) * (6 * cap + 65536),
        )
        nonce = secrets.token_hex(32)
        stdin = b"".join(_message(m) for m in (job, *tests)) + nonce.encode()
        files = {"solution.py": program}
        if harness is _CHECK_HARNESS:
            files["rlvr_harness.py"] = _HARNESS
        result = sandboxes.run(
            harness,
            stdin=stdin,
            files=files,
            limits=limits,
            backend=self.backend,
        )
        if result.status is sandboxes.Status.SANDBOX_ERROR:
            return Verdict(0.0, "sandbox_error", result.detail, None)
        records = _authentic(result.stdout, nonce, len(tests))
        if records is not None:
            return records
        return _unreported(result)


def _message(data: Any) -> bytes:
    """One stdin message for the harness: 8-byte length, then `marshal` data."""
    body = marshal.dumps(data)
    return len(body).to_bytes(8, "big") + body


def _unreported(result: sandboxes.ExecResult) -> Verdict:
    """The verdict when the harness printed no authentic results: the program stopped it."""
    why = f"the test harness did not report ({result.status.value}, {result.detail})"
    reason = {
        sandboxes.Status.TIMEOUT: "timeout",
        sandboxes.Status.MEMORY: "memory_limit",
        sandboxes.Status.OUTPUT_LIMIT: "output_limit",
    }.get(result.status, "runtime_error")
    code = result.exit_code
    if result.status is sandboxes.Status.ERROR and code is not None and code < 0:
        reason = "crashed"
        why += (
            f": the harness was killed by {signal.Signals(-code).name}" if -code in _SIGNALS else ""
        )
    return Verdict(0.0, reason, why, None)


def _authentic(stdout: str, nonce: str, count: int) -> list[dict[str, Any]] | None:
    """The records of the harness's last line if its HMAC under `nonce` checks out."""
    line = stdout.rstrip("\n").rpartition("\n")[2]
    tag, _, payload = line.partition(" ")
    expected = hmac.new(nonce.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(tag, expected):
        return None
    try:
        records = ast.literal_eval(payload)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(records, list) or len(records) != count:
        return None
    if not all(isinstance(r, dict) for r in records):
        return None
    return records
