"""The `math` verifier: the case table, the shipped examples, and the verifier contract."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
import sympy

import verifiers
from verifiers import Verdict
from verifiers.math import REASONS, MathVerifier
from verifiers.math.clock import Clock, as_ratio, may_be_ratio, read_clock
from verifiers.math.extract import answer_in_sentence
from verifiers.math.inequality import as_interval
from verifiers.math.notation import base_of, rewrite
from verifiers.math.parse import parse_answer
from verifiers.math.values import Interval, Relation

CASES_PATH = Path(__file__).parent / "cases" / "math.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in CASES_PATH.read_text().splitlines()]
NOTATION_PATH = Path(__file__).parent / "cases" / "math_notation.jsonl"
NOTATION: list[dict[str, Any]] = [
    json.loads(line) for line in NOTATION_PATH.read_text(encoding="utf-8").splitlines()
]
"""Families of answers written in other notations (degrees, separators, bases, times, ...):
each note starts with its family, and every family has cases to accept and cases to reject."""
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


def test_notation_table_covers_each_family_both_ways() -> None:
    families: dict[str, set[float]] = {}
    for case in NOTATION:
        assert set(case) == {"completion", "reference", "score", "reason", "note"}
        assert case["reason"] in REASONS
        assert case["score"] == (1.0 if case["reason"] == "correct" else 0.0)
        families.setdefault(case["note"].split(":")[0], set()).add(case["score"])
    assert len(families) == 11
    assert all(scores == {0.0, 1.0} for scores in families.values()), families


@pytest.mark.parametrize(
    "case", NOTATION, ids=[f"{i:03d}-{c['note']}" for i, c in enumerate(NOTATION)]
)
def test_notation_case(case: dict[str, Any]) -> None:
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
        "\\boxed{0.\\overline{" + "3" * 900 + "}}",
        "\\boxed{0." + "\\dot{3}" * 120 + "}",
        "\\boxed{" + "1" * 900 + "_2}",
        "\\boxed{" + "\u00bd" * 900 + "}",
        "\\boxed{x" + "\u00b9" * 900 + "}",
        "\\boxed{1" + "\\,000" * 150 + "}",
        "Final Answer: " + "$" * 5_000 + " is 5",
        "Final Answer: " + "the " * 3_000 + "is 5",
        "\\boxed{" + "1 < " * 200 + "x}",
        "\\boxed{\\sin" + "(\\sin" * 30 + " 30^\\circ" + ")" * 30 + "}",
        "\\boxed{" + "9:30 " * 150 + "}",
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


@pytest.mark.parametrize(
    "module",
    ["clock", "compare", "extract", "inequality", "normalize", "notation", "parse"],
)
def test_module_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"verifiers.math.{module}"))
    assert result.failed == 0


@pytest.mark.parametrize(
    ("text", "seconds", "meridiem"),
    [
        ("9:30", 34_200, False),
        ("09:30", 34_200, False),
        (r"9:30\text{ PM}", 77_400, True),
        ("9:30 p.m.", 77_400, True),
        ("12:00 AM", 0, True),
        ("12:00 pm", 43_200, True),
        ("0:00", 0, False),
        ("24:00", 0, False),
        ("21:30:15", 77_415, False),
        (r"\text{7:05 am}", 25_500, True),
        (r"9{:}30", 34_200, False),
    ],
)
def test_read_clock(text: str, seconds: int, meridiem: bool) -> None:
    assert read_clock(text) == Clock(seconds, meridiem)


@pytest.mark.parametrize(
    "text",
    ["3:4", "9:60", "25:00", "13:00 PM", "0:30 AM", "9:30 or 10:30", "9.30", "24:01", "x:30"],
)
def test_read_clock_refuses_what_is_not_a_time(text: str) -> None:
    assert read_clock(text) is None


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("3:10", True),
        ("09:30", True),
        (r"\text{7:05}", True),
        ("9:30 PM", False),
        ("9:30:00", False),
        ("3:4", False),
        ("x:30", False),
    ],
)
def test_may_be_ratio(text: str, ratio: bool) -> None:
    assert may_be_ratio(text) is ratio


@pytest.mark.parametrize(
    ("reference", "answers", "expected"),
    [
        ("3:10", ("0.3",), sympy.Rational(3, 10)),
        ("9:30", (r"\frac{3}{10}",), sympy.Rational(3, 10)),
        ("3:10", ("9:30",), None),
        ("3:10", ("0.3", "3:10"), None),
        ("9:30 PM", ("0.3",), None),
        ("12:00", ("1",), None),
    ],
)
def test_time_references_read_as_ratios_only_against_numbers(
    reference: str, answers: tuple[str, ...], expected: Any
) -> None:
    ratio = as_ratio(reference, answers, MathVerifier().limits())
    if expected is None:
        assert ratio is None
    else:
        assert ratio is not None and getattr(ratio, "expr", None) == expected


X = sympy.Symbol("x")


@pytest.mark.parametrize(
    ("ops", "terms", "interval"),
    [
        ((">",), (X, 3), (3, sympy.oo, True, True)),
        (("<",), (3, X), (3, sympy.oo, True, True)),
        (("<",), (-X, -3), (3, sympy.oo, True, True)),
        (("<=",), (2 * X, 6), (-sympy.oo, 3, True, False)),
        ((">=",), (-2 * X, -6), (-sympy.oo, 3, True, False)),
        ((">",), (2 * X - 6, 0), (3, sympy.oo, True, True)),
        ((">",), ((X + 1) ** 2, X**2), (sympy.Rational(-1, 2), sympy.oo, True, True)),
        (("<", "<="), (1, 2 * X, 4), (sympy.Rational(1, 2), 2, True, False)),
        (("<", "<"), (-4, -2 * X, -1), (sympy.Rational(1, 2), 2, True, True)),
        (("<", "<"), (0, X, 5), (0, 5, True, True)),
    ],
)
def test_linear_inequalities_read_as_intervals(
    ops: tuple[str, ...], terms: tuple[Any, ...], interval: tuple[Any, ...]
) -> None:
    found = as_interval(Relation(ops, tuple(sympy.sympify(t) for t in terms)))
    assert found is not None
    assert found[0] == X
    assert found[1] == Interval(*interval)


@pytest.mark.parametrize(
    ("ops", "terms"),
    [
        ((">",), (X**2, 9)),
        ((">",), (X * sympy.Symbol("y"), 1)),
        (("=",), (X, 3)),
        (("!=",), (X, 3)),
        ((">",), (sympy.Integer(4), sympy.Integer(3))),
        ((">",), (X - X, 1)),
        ((">",), (sympy.Symbol("a") * X, 3)),
        ((">",), ((X + 1) ** 20, X**20)),
    ],
)
def test_other_relations_are_not_intervals(ops: tuple[str, ...], terms: tuple[Any, ...]) -> None:
    assert as_interval(Relation(ops, tuple(sympy.sympify(t) for t in terms))) is None


@pytest.mark.parametrize(
    ("text", "rewritten"),
    [
        (r"10\,000 + 1\;000 + 1~000", "10000 + 1000 + 1000"),
        (r"1\ 00", r"1\ 00"),
        ("\uff11\uff12\uff0b\uff13", "12+3"),
        ("1\u2153", r"1\frac{1}{3}"),
        ("x\u00b9\u2070", "x^{10}"),
        ("101\u2082", "5"),
        (r"0.1\overline{6}", r" \frac{1}{6} "),
        (r"0.(3)", r" \frac{1}{3} "),
        (r"1.\dot{3}", r" \frac{4}{3} "),
        (r"{12}_{5} + (101)_2 + 1A_{16} + 101_\text{two}", "7 + 5 + 26 + 5"),
        (r"F_{16} + a_{12} + x_2 + 102_2", r"F_{16} + a_{12} + x_2 + 102_2"),
        (r"\overline{AB} + 2.5(3)^2", r"\overline{AB} + 2.5(3)^2"),
    ],
)
def test_notation_rewrites(text: str, rewritten: str) -> None:
    assert rewrite(text) == rewritten


@pytest.mark.parametrize(
    ("reference", "base"),
    [("101_2", 2), ("{12}_{5}", 5), ("$1A_{16}$", 16), ("101_{10}", None), ("101", None)],
)
def test_base_of_a_reference(reference: str, base: int | None) -> None:
    assert base_of(reference) == base


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        ("The largest $n$ is $34$", "34"),
        ("the probability is \\(\\frac14\\)", "\\frac14"),
        ("There are 12 ways", "12 ways"),
        ("that there are 12 ways", "12 ways"),
        ("$x = 3$ or $x = 4$", "x = 3 or x = 4"),
        ("34", "34"),
        ("It is not 34", "not 34"),
        (
            "the the the the the the the the the the is 5",
            "the the the the the the the the the the is 5",
        ),
    ],
)
def test_answer_in_a_final_sentence(sentence: str, answer: str) -> None:
    assert answer_in_sentence(sentence) == answer
