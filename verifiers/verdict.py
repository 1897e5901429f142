"""The verifier protocol: a completion and a reference go in, a `Verdict` comes out.

Rules every verifier follows (checked by `rlvr verifiers check NAME`):
  1. Pure: no I/O except through `sandboxes`, no global state, deterministic.
  2. Picklable, so the reward runtime can ship it to worker processes.
  3. Never raises on model output: bad output becomes a `Verdict` with a reason.
  4. The reference is keyword-only, because gold and prediction are not symmetric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

ExampleKind = Literal["true", "false", "adversarial"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of verifying one completion.

    >>> Verdict(1.0, "correct", extracted="42")
    Verdict(score=1.0, reason='correct', detail='', extracted='42')
    """

    score: float
    """In [0, 1] for correctness checks; code verifiers give the fraction of tests passed."""
    reason: str
    """Stable snake_case code from the verifier's closed set (`correct`, `wrong_answer`, ...)."""
    detail: str = ""
    """Free text for people to read; never parsed."""
    extracted: str | None = None
    """What was actually compared, after extraction from the completion."""


@dataclass(frozen=True, slots=True)
class Example:
    """One shipped contract case: the verifier must return exactly this score and reason."""

    completion: str
    """The model output."""
    reference: Any
    """The reference passed as `reference=`."""
    score: float
    """The expected score."""
    reason: str
    """The expected reason."""
    kind: ExampleKind = "true"
    """`true` (a correct answer), `false` (a wrong one) or `adversarial` (an attempt to cheat)."""


@runtime_checkable
class Verifier(Protocol):
    """What the reward runtime calls. Built-ins are frozen dataclasses whose fields are options."""

    name: ClassVar[str]
    version: ClassVar[str]
    examples: ClassVar[tuple[Example, ...]]

    def __call__(self, completion: str, *, reference: Any) -> Verdict: ...
