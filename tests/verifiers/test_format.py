"""Contract tests for the `think_format` and `length` verifiers: tables of cases."""

from __future__ import annotations

import doctest
import pickle
import time
from typing import Any

import pytest

import verifiers.format as format_module
from verifiers import registry
from verifiers.format import LengthVerifier, ThinkFormatVerifier

BOXED = {"require_boxed": True}
STRICT_START = {"allow_leading_whitespace": False}
ANSWER_TAG = {"tag": "reasoning"}

THINK_CASES: list[tuple[str, str, dict[str, Any], float, str]] = [
    ("plain", "<think>2+2=4</think>The answer is 4.", {}, 1.0, "correct"),
    ("multiline", "<think>\nstep 1\nstep 2\n</think>\n\n4\n", {}, 1.0, "correct"),
    ("empty reasoning", "<think></think>4", {}, 1.0, "correct"),
    ("leading whitespace allowed", "\n  <think>x</think>4", {}, 1.0, "correct"),
    ("leading whitespace refused", "\n<think>x</think>4", STRICT_START, 0.0, "bad_format"),
    ("no leading whitespace, strict", "<think>x</think>4", STRICT_START, 1.0, "correct"),
    ("no tags", "The answer is 4.", {}, 0.0, "bad_format"),
    ("empty completion", "", {}, 0.0, "bad_format"),
    ("no answer", "<think>2+2=4</think>", {}, 0.0, "bad_format"),
    ("whitespace answer", "<think>2+2=4</think> \n\t ", {}, 0.0, "bad_format"),
    ("unclosed", "<think>2+2=4 so 4", {}, 0.0, "bad_format"),
    ("closing only", "2+2=4</think>4", {}, 0.0, "bad_format"),
    ("text before block", "Sure! <think>x</think>4", {}, 0.0, "bad_format"),
    ("nested block", "<think>a<think>b</think></think>4", {}, 0.0, "bad_format"),
    ("two blocks", "<think>a</think>4<think>b</think>4", {}, 0.0, "bad_format"),
    ("stray closing tag in answer", "<think>a</think>4</think>", {}, 0.0, "bad_format"),
    ("closing before opening", "</think><think>a", {}, 0.0, "bad_format"),
    ("tags are case-sensitive", "<THINK>a</THINK>4", {}, 0.0, "bad_format"),
    ("boxed answer", "<think>a</think>So \\boxed{\\frac{1}{2}}.", BOXED, 1.0, "correct"),
    ("boxed missing", "<think>a</think>So 1/2.", BOXED, 0.0, "bad_format"),
    ("boxed unbalanced", "<think>a</think>So \\boxed{1/2.", BOXED, 0.0, "bad_format"),
    ("boxed only in reasoning", "<think>\\boxed{1}</think>1", BOXED, 0.0, "bad_format"),
    ("boxed not required", "<think>a</think>1/2", {}, 1.0, "correct"),
    ("custom tag", "<reasoning>a</reasoning>4", ANSWER_TAG, 1.0, "correct"),
    ("custom tag, default tags used", "<think>a</think>4", ANSWER_TAG, 0.0, "bad_format"),
    ("many boxed openers", "<think>a</think>" + "\\boxed{" * 20_000, BOXED, 0.0, "bad_format"),
    ("huge reasoning", "<think>" + "x" * 1_000_000 + "</think>4", {}, 1.0, "correct"),
]


@pytest.mark.parametrize(
    ("completion", "options", "score", "reason"),
    [case[1:] for case in THINK_CASES],
    ids=[case[0] for case in THINK_CASES],
)
def test_think_format_table(
    completion: str, options: dict[str, Any], score: float, reason: str
) -> None:
    start = time.perf_counter()
    verdict = ThinkFormatVerifier(**options)(completion, reference=None)
    assert (verdict.score, verdict.reason) == (score, reason), verdict.detail
    assert time.perf_counter() - start < 1.0


def test_think_format_details_and_extraction() -> None:
    verify = ThinkFormatVerifier()
    assert verify("<think>a</think>  42 ", reference=None).extracted == "42"
    assert verify("<think>a", reference=None).detail == "expected one </think> tag, found 0"
    assert verify("x<think>a</think>4", reference=None).detail == (
        "the completion does not start with <think>"
    )


LENGTH_CASES: list[tuple[str, str, dict[str, Any], float, str]] = [
    ("default range", "x" * 100, {}, 1.0, "correct"),
    ("empty is within default", "", {}, 1.0, "correct"),
    ("at the default maximum", "x" * 4096, {}, 1.0, "correct"),
    ("over the default maximum", "x" * 4097, {}, 0.0, "too_long"),
    ("below the minimum", "abc", {"min_length": 4}, 0.0, "too_short"),
    ("at the minimum", "abcd", {"min_length": 4}, 1.0, "correct"),
    ("no upper bound", "x" * 100_000, {"max_length": None}, 1.0, "correct"),
    ("code points, not bytes", "é" * 5, {"max_length": 5}, 1.0, "correct"),
    ("words within", "one two  three\nfour", {"unit": "words", "max_length": 4}, 1.0, "correct"),
    ("words over", "one two three four five", {"unit": "words", "max_length": 4}, 0.0, "too_long"),
    ("words under", "  one  ", {"unit": "words", "min_length": 2}, 0.0, "too_short"),
    ("soft, just over", "x" * 6, {"max_length": 5, "soft_margin": 4}, 0.75, "too_long"),
    ("soft, far over", "x" * 20, {"max_length": 5, "soft_margin": 4}, 0.0, "too_long"),
    ("soft, just under", "x" * 8, {"min_length": 10, "soft_margin": 4}, 0.5, "too_short"),
    ("soft, within", "x" * 5, {"max_length": 5, "soft_margin": 4}, 1.0, "correct"),
]


@pytest.mark.parametrize(
    ("completion", "options", "score", "reason"),
    [case[1:] for case in LENGTH_CASES],
    ids=[case[0] for case in LENGTH_CASES],
)
def test_length_table(completion: str, options: dict[str, Any], score: float, reason: str) -> None:
    verdict = LengthVerifier(**options)(completion, reference=None)
    assert (verdict.score, verdict.reason) == (score, reason), verdict.detail


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (ThinkFormatVerifier, {"tag": "<think>"}),
        (ThinkFormatVerifier, {"tag": ""}),
        (ThinkFormatVerifier, {"require_boxed": "yes"}),
        (LengthVerifier, {"min_length": -1}),
        (LengthVerifier, {"min_length": 10, "max_length": 5}),
        (LengthVerifier, {"max_length": 2.5}),
        (LengthVerifier, {"unit": "tokens"}),
        (LengthVerifier, {"soft_margin": True}),
    ],
)
def test_bad_options_are_rejected(cls: type[Any], options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        cls(**options)


@pytest.mark.parametrize("cls", [ThinkFormatVerifier, LengthVerifier])
def test_contract(cls: type[Any]) -> None:
    verify = cls()
    assert registry.resolve(cls.name) is cls
    assert {example.kind for example in cls.examples} >= {"true", "false", "adversarial"}
    for example in cls.examples:
        verdict = verify(example.completion, reference=example.reference)
        assert (verdict.score, verdict.reason) == (example.score, example.reason), example
    clone = pickle.loads(pickle.dumps(verify))
    assert clone == verify
    assert clone("<think>a</think>b", reference=None) == verify("<think>a</think>b", reference=None)
    assert verify(None, reference=None).reason == "verifier_error"


def test_doctests() -> None:
    result = doctest.testmod(format_module)
    assert result.attempted > 0
    assert result.failed == 0
