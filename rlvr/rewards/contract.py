"""`rlvr verifiers check NAME`: hold a verifier to the protocol's contract.

Checks, each reported pass/fail with a detail:
  1. `build`: the verifier resolves, builds with the given options and has `name` and `version`.
  2. `examples`: every shipped example gives exactly its score and reason; at least one `true`
     and one `false` example are shipped.
  3. `garbage`: empty, binary-looking, unbalanced and unicode-heavy completions return a verdict
     with a score in [0, 1] and a snake_case reason, never an exception (`verifier_error`).
  4. `huge_input`: a 1 MB completion returns a verdict within the time bound.
  5. `determinism`: every call above, repeated, gives the same verdict.
  6. `pickling`: a pickled and unpickled verifier gives the same verdicts on the examples.
  7. `time_bound`: no call ran past the timeout (calls go through the reward runtime, whose
     workers are killed at the bound, so a hanging verifier cannot hang the check).
  8. `probes`: when `verifiers.probes` ships a pack for the verifier, every adversarial probe
     in it scores 0 with a reason that stays in the loss; fails listing the probe ids.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import verifiers
import verifiers.probes
from rlvr.rewards import RewardRuntime, VerifierCall
from verifiers import Example, Verdict

GARBAGE = (
    "",
    " ",
    "\x00\x01\x02\xff",
    "}{][)(",
    "\\boxed{",
    "\\boxed{}}}}",
    "```",
    "```python\n",
    "{" * 5000,
    "\\frac{" * 2000,
    "日本語のテキスト 🤖🔥 \u202e\u200b",
    "9" * 20000,
    "a" * 100_000,
    "null",
    "NaN",
    "<think></think>",
)
"""Completions no verifier may raise on."""

HUGE = ("The answer is 42. " * 60_000)[:1_000_000]
"""A 1 MB completion."""

REASON = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class CheckResult:
    """One contract check."""

    name: str
    """Check name (`build`, `examples`, ...)."""
    ok: bool
    """Whether the verifier passed it."""
    detail: str = ""
    """What failed, or a short summary."""


@dataclass(frozen=True)
class ContractReport:
    """All checks of one verifier."""

    verifier: str
    """The spec that was checked."""
    checks: list[CheckResult] = field(default_factory=list)
    """Results in the order they ran."""

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def format(self) -> str:
        """Human-readable report, one line per check."""
        lines = [f"contract of {self.verifier}:"]
        for c in self.checks:
            lines.append(f"  {'PASS' if c.ok else 'FAIL'} {c.name:<12} {c.detail}")
        lines.append("all checks passed" if self.ok else "some checks failed")
        return "\n".join(lines)


def _verdict_ok(verdict: Verdict) -> bool:
    return 0.0 <= verdict.score <= 1.0 and bool(REASON.match(verdict.reason))


def _example_failures(examples: Sequence[Example], verdicts: Sequence[Verdict]) -> list[str]:
    failures = []
    for i, (ex, got) in enumerate(zip(examples, verdicts, strict=True)):
        if (got.score, got.reason) != (ex.score, ex.reason):
            want = f"{ex.score} {ex.reason}"
            failures.append(
                f"#{i} ({ex.kind}) {ex.completion[:40]!r}: want {want}, got "
                f"{got.score} {got.reason} ({got.detail[:60]})"
            )
    return failures


def check_verifier(
    spec: str, *, options: Mapping[str, Any] | None = None, timeout_s: float = 5.0
) -> ContractReport:
    """Run every contract check on the verifier `spec` built with `options`."""
    report = ContractReport(spec)
    try:
        verifier = verifiers.get(spec, options)
    except verifiers.RegistryError as exc:
        report.checks.append(CheckResult("build", False, str(exc)))
        return report
    report.checks.append(CheckResult("build", True, f"{verifier.name} {verifier.version}"))
    examples = tuple(verifier.examples)
    reference = examples[0].reference if examples else None
    opts = tuple(sorted((options or {}).items()))
    calls = [VerifierCall(ex.completion, spec, ex.reference, opts) for ex in examples]
    calls += [VerifierCall(text, spec, reference, opts) for text in (*GARBAGE, HUGE)]
    with RewardRuntime(workers=2, timeout_s=timeout_s, max_completion_chars=None) as runtime:
        first_calls, second_calls = runtime.verify(calls), runtime.verify(calls)
    killed = [i for i, r in enumerate(first_calls + second_calls) if r.killed]
    first = [r.verdict for r in first_calls]
    second = [r.verdict for r in second_calls]
    report.checks.extend(_checks(verifier, examples, first, second, killed))
    report.checks.extend(_probe_check(spec, options))
    return report


def _checks(
    verifier: Any,
    examples: tuple[Example, ...],
    first: list[Verdict],
    second: list[Verdict],
    killed: list[int],
) -> list[CheckResult]:
    n = len(examples)
    kinds = {ex.kind for ex in examples}
    failures = _example_failures(examples, first[:n])
    if not {"true", "false"} <= kinds:
        failures.append(f"ships kinds {sorted(kinds)}; needs at least one true and one false")
    garbage = first[n:-1]
    bad = [
        f"{text[:20]!r} -> {v.reason}"
        for text, v in zip(GARBAGE, garbage, strict=True)
        if not _verdict_ok(v) or v.reason in ("verifier_error", "timeout", "worker_died")
    ]
    huge = first[-1]
    changed = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    copy = pickle.loads(pickle.dumps(verifier))
    # In-process calls: only on examples that finished in the runtime, so nothing can hang here.
    safe = [i for i in range(n) if i not in killed]
    pickle_diff = [
        i for i in safe if copy(examples[i].completion, reference=examples[i].reference) != first[i]
    ]
    return [
        CheckResult("examples", not failures, "; ".join(failures) or f"{n} examples"),
        CheckResult("garbage", not bad, "; ".join(bad) or f"{len(GARBAGE)} inputs"),
        CheckResult(
            "huge_input", _verdict_ok(huge) and huge.reason != "timeout", f"1 MB -> {huge.reason}"
        ),
        CheckResult("determinism", not changed, f"calls differing: {changed}" if changed else ""),
        CheckResult(
            "pickling", not pickle_diff, f"examples differing: {pickle_diff}" if pickle_diff else ""
        ),
        CheckResult("time_bound", not killed, f"{len(killed)} calls killed at the bound"),
    ]


# Adversarial probe packs: one call into `verifiers.probes`, which runs the pack in its own
# worker processes with its own bound per probe.
def _probe_check(spec: str, options: Mapping[str, Any] | None) -> list[CheckResult]:
    outcome = verifiers.probes.check(spec, options=options)
    return [] if outcome is None else [CheckResult("probes", *outcome)]
