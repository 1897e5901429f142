"""`rlvr verifiers check`: the contract runner catches broken verifiers without hanging."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rlvr.rewards.contract import check_verifier
from verifiers import Example, Verdict

HERE = "tests.rlvr.rewards.test_contract"


class Upper:
    """Correct when the completion is the reference in upper case."""

    name: ClassVar[str] = "upper"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("ABC", "abc", 1.0, "correct"),
        Example("abc", "abc", 0.0, "wrong_answer", kind="false"),
    )

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        ok = completion == str(reference).upper()
        return Verdict(float(ok), "correct" if ok else "wrong_answer")


class WrongExample(Upper):
    """Ships an example whose expected verdict it does not give."""

    examples: ClassVar[tuple[Example, ...]] = (
        *Upper.examples,
        Example("ABC ", "abc", 1.0, "correct"),
    )


class HangsOnHuge(Upper):
    """Never returns on long completions."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        while len(completion) > 500_000:
            time.sleep(0.05)
        return super().__call__(completion, reference=reference)


class RaisesOnEmpty(Upper):
    """Raises on an empty completion."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        return super().__call__(completion[0] + completion[1:], reference=reference)


def checks(spec: str) -> dict[str, bool]:
    return {c.name: c.ok for c in check_verifier(f"{HERE}:{spec}", timeout_s=1.0).checks}


def test_good_verifier_passes_everything() -> None:
    report = check_verifier(f"{HERE}:Upper", timeout_s=2.0)
    assert report.ok, report.format()
    assert [c.name for c in report.checks] == [
        "build",
        "examples",
        "garbage",
        "huge_input",
        "determinism",
        "pickling",
        "time_bound",
    ]


def test_wrong_example_is_reported() -> None:
    report = check_verifier(f"{HERE}:WrongExample", timeout_s=2.0)
    assert not report.ok
    failed = [c for c in report.checks if not c.ok]
    assert [c.name for c in failed] == ["examples"]
    assert "#2" in failed[0].detail


def test_hang_fails_time_bound_without_hanging() -> None:
    start = time.perf_counter()
    result = checks("HangsOnHuge")
    assert time.perf_counter() - start < 30
    assert result["huge_input"] is False and result["time_bound"] is False
    assert result["examples"] is True


def test_raise_fails_garbage_and_unknown_name_fails_build() -> None:
    assert checks("RaisesOnEmpty")["garbage"] is False
    report = check_verifier("no_such_verifier")
    assert [(c.name, c.ok) for c in report.checks] == [("build", False)]
