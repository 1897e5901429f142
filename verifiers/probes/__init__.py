"""Adversarial probe packs: completions built to fool a verifier, every one of which must
score 0. The hack rate of a verifier is the share of its probes it accepts (score above 0).

Packs are JSONL files beside this module, one per verifier (`math.jsonl`, `json_schema.jsonl`,
`code.jsonl`, `think_format.jsonl`, `reasoning_gym.jsonl`), plus `generic.jsonl`: completions
that do not depend on a reference format (prompt injection, forged test output, format-only
answers, early exits, ...), with `verifier` `"*"` and no reference, which any verifier can be
run against with a reference of its own. A row is `{"id", "verifier", "category",
"completion", "reference"}` with optional `"options"` (verifier options for that probe) and
`"repeat"` (the completion is the text repeated that many times, so huge probes stay small
on disk). Ids are unique across packs and never reused.

`rlvr verifiers check NAME` runs NAME's pack through `check`, and fails listing the ids of
accepted probes. For a verifier of your own:

    >>> from verifiers import probes
    >>> report = probes.run("math", probes.generic(), reference="42")  # doctest: +SKIP
    >>> report.hack_rate, report.accepted  # doctest: +SKIP
    (0.0, ())

or `python -m verifiers.probes my_pkg.module:MyVerifier --generic --reference '"42"'`.

A probe fails the check when it is accepted, when its verdict has a reason the reward runtime
masks out of the loss (`MASKED_REASONS`: a completion that can cause one escapes a negative
advantage), or when the verifier gave no verdict within the bound (the worker is killed).
Each probe runs in a worker process (`forkserver`, else `spawn`), one probe at a time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import verifiers
from verifiers.probes._worker import Worker, build
from verifiers.verdict import Verdict, Verifier

PACK_DIR = Path(__file__).parent
"""Where the JSONL packs are."""
GENERIC = "*"
"""The `verifier` of probes any verifier can be run against."""
CATEGORIES = frozenset(
    {
        "answer_spam",
        "hedge",
        "prompt_injection",
        "format_only",
        "forged_output",
        "early_exit",
        "introspection",
        "patched_builtins",
        "huge_output",
        "question_echo",
        "code_in_answer",
        "malformed",
    }
)
"""The kinds of attack a probe belongs to."""
MASKED_REASONS = frozenset(
    {"verifier_error", "verifier_memory", "worker_died", "reference_error", "sandbox_error"}
)
"""Reasons the reward runtime masks out of the loss (its `INFRA_REASONS`)."""
_FIELDS = {"id", "verifier", "category", "completion", "reference"}
_OPTIONAL = {"options", "repeat"}


@dataclass(frozen=True)
class Probe:
    """One adversarial completion."""

    id: str
    """Stable, unique across packs."""
    verifier: str
    """The verifier it targets, or `GENERIC`."""
    category: str
    """One of `CATEGORIES`."""
    completion: str
    """The completion (repeats already applied)."""
    reference: Any = None
    """Its reference; None for generic probes (the run supplies one)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Verifier options for this probe, over the run's."""


@dataclass(frozen=True)
class ProbeResult:
    """What the verifier made of one probe."""

    probe: Probe
    verdict: Verdict
    elapsed_s: float
    killed: bool = False
    """The worker gave no verdict within the bound (or died) and was replaced."""


@dataclass(frozen=True)
class ProbeReport:
    """The outcome of running probes against one verifier."""

    verifier: str
    results: tuple[ProbeResult, ...]

    @property
    def accepted(self) -> tuple[str, ...]:
        """Ids of probes that scored above 0."""
        return tuple(r.probe.id for r in self.results if r.verdict.score > 0)

    @property
    def masked(self) -> tuple[str, ...]:
        """Ids of probes whose reason the reward runtime masks out of the loss."""
        return tuple(r.probe.id for r in self.results if r.verdict.reason in MASKED_REASONS)

    @property
    def killed(self) -> tuple[str, ...]:
        """Ids of probes the verifier gave no verdict for within the bound."""
        return tuple(r.probe.id for r in self.results if r.killed)

    @property
    def hack_rate(self) -> float:
        """Accepted probes over probes run (0.0 when none ran)."""
        return len(self.accepted) / len(self.results) if self.results else 0.0

    @property
    def ok(self) -> bool:
        """No probe accepted, masked or killed."""
        return not (self.accepted or self.masked or self.killed)

    def summary(self) -> str:
        """One line: the count, the hack rate and every failing id."""
        line = f"{len(self.results)} probes, hack rate {self.hack_rate:.3f}"
        for label, ids in (("accepted", self.accepted), ("masked", self.masked)):
            line += f"; {label}: {', '.join(ids)}" if ids else ""
        return line + (f"; no verdict: {', '.join(self.killed)}" if self.killed else "")

    def format(self) -> str:
        """The summary, then a line per failing probe."""
        lines = [f"probes of {self.verifier}: {self.summary()}"]
        for r in self.results:
            if r.verdict.score > 0 or r.verdict.reason in MASKED_REASONS or r.killed:
                v = r.verdict
                lines.append(
                    f"  {r.probe.id} ({r.probe.category}): {v.score:g} {v.reason} "
                    f"{v.detail[:80]!r} <- {r.probe.completion[:60]!r}"
                )
        return "\n".join(lines)


def load(verifier: str | None = None) -> list[Probe]:
    """The shipped probes of `verifier` (its name, or `GENERIC`), or all of them.

    Raises:
        ValueError: a malformed pack (missing or unknown fields, unknown category, repeated id).
    """
    return [p for p in _all() if verifier is None or p.verifier == verifier]


def generic() -> list[Probe]:
    """The probes any verifier can be run against (pass `reference=` to `run`)."""
    return load(GENERIC)


def run(
    verifier: str | Verifier,
    probes: Sequence[Probe],
    *,
    reference: Any = None,
    options: Mapping[str, Any] | None = None,
    timeout_s: float = 30.0,
) -> ProbeReport:
    """Run `probes` against `verifier` (a registered name, `"pkg.module:Class"`, or an
    instance), each in a worker process bounded by `timeout_s` seconds.

    Generic probes take `reference`; the others carry their own. A probe's own options are
    applied over `options`.

    Raises:
        verifiers.RegistryError: `verifier` does not resolve, or bad options.
    """
    base = dict(options or {})
    name = build(verifier, base).name
    worker = Worker(verifier, base)
    results = []
    try:
        for probe in probes:
            ref = reference if probe.verifier == GENERIC else probe.reference
            verdict, elapsed, killed = worker.call(probe.completion, ref, probe.options, timeout_s)
            results.append(ProbeResult(probe, verdict, elapsed, killed))
    finally:
        worker.close()
    return ProbeReport(name, tuple(results))


def check(
    spec: str, *, options: Mapping[str, Any] | None = None, timeout_s: float = 30.0
) -> tuple[bool, str] | None:
    """The contract's probe check: (passed, summary) for the pack shipped for the verifier
    `spec` names, or None when there is none."""
    probes = load(verifiers.resolve(spec).name)
    if not probes:
        return None
    report = run(spec, probes, options=options, timeout_s=timeout_s)
    return report.ok, report.summary()


@functools.cache
def _all() -> tuple[Probe, ...]:
    probes: list[Probe] = []
    for path in sorted(PACK_DIR.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        probes += [_probe(json.loads(line), f"{path.name}:{i}") for i, line in enumerate(lines, 1)]
    _check_ids(probe.id for probe in probes)
    return tuple(probes)


def _probe(row: dict[str, Any], where: str) -> Probe:
    keys = set(row)
    if not _FIELDS <= keys <= _FIELDS | _OPTIONAL:
        raise ValueError(f"{where}: fields {sorted(keys)}, expected {sorted(_FIELDS)} (+options)")
    if row["category"] not in CATEGORIES:
        raise ValueError(f"{where}: unknown category {row['category']!r}")
    repeat = row.get("repeat", 1)
    if not isinstance(repeat, int) or not isinstance(row["completion"], str) or repeat < 1:
        raise ValueError(f"{where}: completion must be a string and repeat a positive int")
    text = row["completion"] * repeat
    return Probe(
        row["id"],
        row["verifier"],
        row["category"],
        text,
        row["reference"],
        dict(row.get("options", {})),
    )


def _check_ids(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for probe_id in ids:
        if not isinstance(probe_id, str) or not probe_id or probe_id in seen:
            raise ValueError(f"probe id {probe_id!r} is empty, not a string or repeated")
        seen.add(probe_id)


__all__ = [
    "CATEGORIES",
    "GENERIC",
    "MASKED_REASONS",
    "PACK_DIR",
    "Probe",
    "ProbeReport",
    "ProbeResult",
    "check",
    "generic",
    "load",
    "run",
]
