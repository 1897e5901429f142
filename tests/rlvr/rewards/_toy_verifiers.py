"""Test-only verifiers that misbehave on purpose, loaded as
`"tests.rlvr.rewards._toy_verifiers:Name"`.

Only `Exact`, `Sleeps` and `BuildCount` follow the verifier rules; the others hang, raise, exit
or exhaust memory so the reward runtime's protections can be tested.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from verifiers import Example, Verdict

PREFIX = "tests.rlvr.rewards._toy_verifiers:"

_builds = 0


@dataclass(frozen=True)
class Exact:
    """Score 1 when the stripped completion equals the reference string."""

    name: ClassVar[str] = "toy_exact"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = (Example("4", "4", 1.0, "correct"),)

    ignore_case: bool = False
    """Compare case-insensitively."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        if not isinstance(reference, str):
            return Verdict(0.0, "reference_error", f"reference is {type(reference).__name__}")
        got, want = completion.strip(), reference
        if self.ignore_case:
            got, want = got.lower(), want.lower()
        return Verdict(float(got == want), "correct" if got == want else "wrong_answer", "", got)


@dataclass(frozen=True)
class Sleeps:
    """Sleep for `seconds`, then answer `correct` (to check that calls run in parallel)."""

    name: ClassVar[str] = "toy_sleeps"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    seconds: float = 0.3
    """How long each call sleeps."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        time.sleep(self.seconds)
        return Verdict(1.0, "correct")


@dataclass(frozen=True)
class BuildCount:
    """Answer with how many times this class was built in the current process."""

    name: ClassVar[str] = "toy_build_count"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    def __post_init__(self) -> None:
        global _builds
        _builds += 1

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        return Verdict(1.0, "correct", f"{os.getpid()}:{_builds}")


@dataclass(frozen=True)
class SleepsForever:
    """Never returns (a Python-level hang that releases the GIL)."""

    name: ClassVar[str] = "toy_sleeps_forever"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        while True:
            time.sleep(3600)


@dataclass(frozen=True)
class BusyRegex:
    """Catastrophic regex backtracking: hours of C code holding the GIL."""

    name: ClassVar[str] = "toy_busy_regex"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        matched = re.match(r"(x+x+)+y", "x" * 64)
        return Verdict(float(matched is not None), "wrong_answer")


@dataclass(frozen=True)
class Raises:
    """Raises on every call (a verifier bug)."""

    name: ClassVar[str] = "toy_raises"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        raise RuntimeError(f"boom on {completion!r}")


@dataclass(frozen=True)
class ExitsHard:
    """Kills its own process with `os._exit(3)` when the completion is `exit`."""

    name: ClassVar[str] = "toy_exits_hard"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        if completion == "exit":
            os._exit(3)
        return Verdict(1.0, "correct")


@dataclass(frozen=True)
class Allocates:
    """Allocates and touches `mb` MiB. Only run it under a memory cap smaller than `mb`."""

    name: ClassVar[str] = "toy_allocates"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = ()

    mb: int = 4096
    """How much to allocate."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        block = bytearray(self.mb * 1024 * 1024)
        return Verdict(1.0, "correct", str(len(block)))
