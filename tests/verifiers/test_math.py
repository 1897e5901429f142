"""The `math` verifier: the case table, the shipped examples, and the verifier contract."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

import verifiers
from verifiers import Verdict
from verifiers.math import REASONS, MathVerifier
from verifiers.math.parse import parse_answer

CASES_PATH = Path(__file__).parent / "cases" / "math.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in CASES_PATH.read_text().splitlines()]
HANG_BOUND_S = 2.0
"""A call slower than this means a hang guard failed (calls normally take milliseconds)."""


def test_case_table_is_large_and_well_formed() -> None:
    assert len(CASES) >= 150
    for case in CASES:
        assert set(case) == {"completion", "reference", "score", "reason", "note"}
        assert case["reason"] in REASONS
        assert case["score"] == (1.0 if case["reason"] == "correct" else 0.0)


def test_case_table_covers_every_reason_but_internal_failure() -> None:
    assert {case["reason"] for case in CASES} == set(REASONS) - {"verifier_error"}


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}-{c['note']}" for i, c in enumerate(CASES)])
def test_case(case: dict[str, Any]) -> None:
    verify = MathVerifier()
    start = time.perf_counter()
    verdict = verify(case["completion"], reference=case["reference"])
    elapsed = time.perf_counter() - start
    assert (verdict.score, verdict.reason) == (case["score"], case["reason"]), verdict
    assert elapsed < HANG_BOUND_S, f"{elapsed:.2f}s: a hang guard did not fire"


def test_shipped_examples() -> None:
    verify = MathVerifier()
    kinds = {example.kind for example in MathVerifier.examples}
    assert kinds == {"true", "false", "adversarial"}
    assert len(MathVerifier.examples) >= 15
    for example in MathVerifier.examples:
        verdict = verify(example.completion, reference=example.reference)
        assert (verdict.score, verdict.reason) == (example.score, example.reason), example


def test_registered_under_its_name() -> None:
    assert verifiers.resolve("math") is MathVerifier
    built = verifiers.get("math", {"rel_tol": 1e-3})
    assert isinstance(built, MathVerifier)
    assert built.rel_tol == 1e-3


def test_pickles_and_scores_the_same_after_a_round_trip() -> None:
    verify = MathVerifier(rel_tol=1e-4, extraction="boxed")
    clone = pickle.loads(pickle.dumps(verify))
    assert clone == verify
    for case in CASES[:40]:
        kwargs = {"reference": case["reference"]}
        assert clone(case["completion"], **kwargs) == verify(case["completion"], **kwargs)


def test_deterministic_with_and_without_the_parse_cache() -> None:
    verify = MathVerifier()
    first = [verify(c["completion"], reference=c["reference"]) for c in CASES]
    parse_answer.cache_clear()
    second = [verify(c["completion"], reference=c["reference"]) for c in CASES]
    assert first == second


def test_rel_tol_option_widens_decimal_matches() -> None:
    assert MathVerifier()(r"\boxed{0.333}", reference="1/3").reason == "wrong_answer"
    assert MathVerifier(rel_tol=1e-2)(r"\boxed{0.333}", reference="1/3").reason == "correct"
    assert MathVerifier(rel_tol=1e-2)(r"\boxed{2^{64}-1}", reference="2^{64}").score == 0.0


@pytest.mark.parametrize(
    ("extraction", "completion", "reason"),
    [
        ("boxed", "The final answer is 5.", "no_answer"),
        ("boxed", r"\boxed{5}", "correct"),
        ("phrase", r"\boxed{4}. Final answer: 5", "correct"),
        ("phrase", r"\boxed{5}", "no_answer"),
        ("whole", "  5  ", "correct"),
        ("whole", "It is 5", "parse_error"),
    ],
)
def test_extraction_modes(extraction: str, completion: str, reason: str) -> None:
    verdict = MathVerifier(extraction=extraction)(completion, reference="5")  # type: ignore[arg-type]
    assert verdict.reason == reason


def test_only_the_tail_of_a_long_completion_is_searched() -> None:
    completion = r"\boxed{5}" + " filler" * 5_000
    assert MathVerifier()(completion, reference="5").reason == "no_answer"
    assert MathVerifier(max_chars=100_000)(completion, reference="5").reason == "correct"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extraction": "first"}, "extraction"),
        ({"rel_tol": -1.0}, "rel_tol"),
        ({"rel_tol": "small"}, "rel_tol"),
        ({"max_chars": 0}, "max_chars"),
        ({"max_digits": 0}, "max_digits"),
        ({"max_depth": 2.5}, "max_depth"),
    ],
)
def test_bad_options_are_rejected_with_their_name(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MathVerifier(**options)


@pytest.mark.parametrize("completion", [None, 5, b"\\boxed{5}", ["\\boxed{5}"]])
def test_a_non_string_completion_is_a_parse_error(completion: Any) -> None:
    assert MathVerifier()(completion, reference="5").reason == "parse_error"


@pytest.mark.parametrize("reference", [None, True, [5], float("nan"), float("inf"), "", "\\frac{"])
def test_a_bad_reference_is_a_reference_error(reference: Any) -> None:
    verdict = MathVerifier()(r"\boxed{5}", reference=reference)
    assert (verdict.score, verdict.reason) == (0.0, "reference_error")


@pytest.mark.parametrize(
    "completion",
    [
        "\x00\x01\x02 \\boxed{\x00}",
        "\\boxed{" + "\\frac{" * 500,
        "\\boxed{" + "}" * 500,
        "\\boxed{\\sqrt[\\sqrt[\\sqrt[2]{2}]{2}]{2}}",
        "\\boxed{" + "x^" * 400 + "x}",
        "\\boxed{" + "a_" * 300 + "1}",
        "\\boxed{\\begin{pmatrix}" + "1&" * 300 + "1\\end{pmatrix}}",
        "\U0001f600 \\boxed{\U0001f600}",
    ],
)
def test_garbage_never_raises_and_finishes_fast(completion: str) -> None:
    start = time.perf_counter()
    verdict = MathVerifier()(completion, reference="5")
    assert isinstance(verdict, Verdict)
    assert verdict.score == 0.0
    assert verdict.reason in REASONS
    assert time.perf_counter() - start < HANG_BOUND_S


def test_an_internal_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> str:
        raise RuntimeError("comparison exploded")

    monkeypatch.setattr("verifiers.math.judge", broken)
    verdict = MathVerifier()(r"\boxed{5}", reference="5")
    assert (verdict.score, verdict.reason) == (0.0, "verifier_error")
    assert "comparison exploded" in verdict.detail


def test_verdict_shows_what_was_compared() -> None:
    verdict = MathVerifier()(r"so $x = \boxed{\pm 2021}$", reference="2021")
    assert verdict.extracted == r"\pm 2021"
    assert verdict.detail == "expected 2021, got {2021, -2021}"
