"""The `math` verifier: is the final answer of a completion mathematically equal to the reference?

Pipeline: `extract` finds the answer (last `\\boxed{}`, else an explicit final-answer phrase),
`normalize` and `lexer` clean and tokenise it, `parse` builds sympy values without `eval`
while `guard` refuses hang-prone input, and `compare` decides equivalence (`numeric` for
scalars). See docs/verifiers/math.md for every rule.

Reasons (a closed set):
  * `correct`: the answer equals the reference (score 1).
  * `wrong_answer`: an answer was found and read, and it differs.
  * `no_answer`: no `\\boxed{}` and no final-answer phrase (or an empty one).
  * `multiple_answers`: different boxed answers, "1 or 2", or a list of options where one value
    is expected.
  * `parse_error`: the answer is not mathematics this verifier reads (or `\\boxed{` never closes).
  * `refused`: the answer is hang-prone (power tower, huge factorial, too long, too deep) and
    was never evaluated.
  * `reference_error`: the reference itself cannot be read (a data problem, not the model's).
  * `verifier_error`: an unexpected internal failure; the verifier never raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from verifiers.math.clock import Clock, as_ratio, judge_times, read_clock
from verifiers.math.compare import equal, judge
from verifiers.math.examples import EXAMPLES
from verifiers.math.extract import EXTRACTION_MODES, ExtractionMode, extract, reference_text
from verifiers.math.guard import AnswerError, Limits, ParseError, Refused
from verifiers.math.inequality import as_interval
from verifiers.math.notation import base_of, in_base
from verifiers.math.numeric import clear_caches as _clear_numeric_caches
from verifiers.math.parse import parse_answer
from verifiers.math.values import Value, render
from verifiers.registry import register
from verifiers.verdict import Example, Verdict

__all__ = ["REASONS", "MathVerifier", "clear_caches"]

REASONS = (
    "correct",
    "wrong_answer",
    "no_answer",
    "multiple_answers",
    "parse_error",
    "refused",
    "reference_error",
    "verifier_error",
)
"""Every reason `MathVerifier` returns."""

_MAX_DISTINCT_BOXED = 8


@register("math")
@dataclass(frozen=True, slots=True)
class MathVerifier:
    """Score 1 when the completion's final answer equals the reference, else 0 with a reason.

    >>> verify = MathVerifier()
    >>> verify(r"Hence the angle is $\\boxed{\\dfrac{\\pi}{2}}$.", reference="pi/2").reason
    'correct'
    >>> verify(r"$x = \\boxed{\\pm 2021}$", reference="2021").reason
    'wrong_answer'
    >>> verify(r"It is \\boxed{1} or \\boxed{2}.", reference="2").reason
    'multiple_answers'
    >>> verify(r"\\boxed{9^{9^{9^9}}}", reference="1").reason
    'refused'
    """

    name: ClassVar[str] = "math"
    version: ClassVar[str] = "1.1.1"
    examples: ClassVar[tuple[Example, ...]] = EXAMPLES

    extraction: ExtractionMode = "boxed_or_phrase"
    """Where the answer is: `boxed_or_phrase` (last `\\boxed{}`, else an explicit final-answer
    phrase), `boxed`, `phrase`, or `whole` (the completion is the answer)."""
    rel_tol: float = 1e-6
    """Relative tolerance, of the reference, used when either side is a decimal."""
    max_chars: int = 20_000
    """Only the last `max_chars` characters of a completion are searched for an answer."""
    max_answer_chars: int = 1_000
    """An extracted answer longer than this is refused."""
    max_depth: int = 32
    """Deepest bracket nesting accepted in an answer."""
    max_digits: int = 2_000
    """Most digits of any number, written or computed (powers, factorials); more is refused."""
    max_exponent: int = 1_000
    """Largest exponent on a symbolic base (`x^{1000}`); more is refused."""
    max_items: int = 64
    """Most items in a list, set, tuple or matrix, and most `\\pm` alternatives."""

    def __post_init__(self) -> None:
        if self.extraction not in EXTRACTION_MODES:
            raise ValueError(
                f"extraction must be one of {EXTRACTION_MODES}, got {self.extraction!r}"
            )
        tol = self.rel_tol
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < 1:
            raise ValueError(f"rel_tol must be a float in [0, 1), got {tol!r}")
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int):
            raise ValueError(f"max_chars must be a positive int, got {self.max_chars!r}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be a positive int, got {self.max_chars!r}")
        self.limits()

    def limits(self) -> Limits:
        """The parse limits these options describe."""
        return Limits(
            self.max_answer_chars,
            self.max_depth,
            self.max_digits,
            self.max_exponent,
            self.max_items,
        )

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        """Verify one completion against its reference; never raises."""
        try:
            return self._verify(completion, reference)
        except Exception as exc:  # model output must never raise
            return Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:300])

    def _verify(self, completion: str, reference: Any) -> Verdict:
        limits = self.limits()
        try:
            gold_text = _reference_string(reference)
            clock = read_clock(gold_text)
            gold = clock if clock is not None else parse_answer(gold_text, limits)
        except AnswerError as exc:
            return Verdict(0.0, "reference_error", f"reference {reference!r:.80}: {exc}")
        if not isinstance(completion, str):
            return Verdict(0.0, "parse_error", f"completion is {type(completion).__name__}")
        try:
            found = extract(completion[-self.max_chars :], self.extraction)
        except ParseError as exc:
            return Verdict(0.0, "parse_error", str(exc))
        answers = tuple(dict.fromkeys(found))
        if not answers:
            return Verdict(0.0, "no_answer", f"no answer found ({self.extraction})")
        shown = " | ".join(answers)[:500]
        if len(answers) > _MAX_DISTINCT_BOXED:
            return Verdict(0.0, "multiple_answers", f"{len(answers)} boxed answers", shown)
        if isinstance(gold, Clock):
            ratio = as_ratio(gold_text, answers, limits)
            if ratio is None:
                return judge_times(gold, answers, shown)
            gold = ratio
        parsed = []
        for answer in answers:
            try:
                parsed.append(parse_answer(answer, limits))
            except Refused as exc:
                return Verdict(0.0, "refused", str(exc), answer[:500])
            except ParseError as exc:
                return Verdict(0.0, "parse_error", str(exc), answer[:500])
        final = parsed[-1]
        if not all(equal(final, other, self.rel_tol) for other in parsed[:-1]):
            return Verdict(0.0, "multiple_answers", "different boxed answers", shown)
        verdict = self._judged(gold, final, answers[-1])
        base = base_of(gold_text) if verdict.score == 0.0 else None
        rebased = None if base is None else in_base(answers[-1], base)
        if rebased is not None and len(answers) == 1:
            return self._judged(gold, parse_answer(rebased, limits), answers[-1])
        return verdict

    def _judged(self, gold: Value, answer: Value, extracted: str) -> Verdict:
        outcome = judge(gold, answer, self.rel_tol)
        if outcome == "correct":
            return Verdict(1.0, "correct", "", extracted)
        detail = f"expected {render(gold)}, got {render(answer)}"
        return Verdict(0.0, outcome, detail, extracted)


def clear_caches() -> None:
    """Drop every memoised parse and comparison, so the next calls run cold (for benchmarks)."""
    parse_answer.cache_clear()
    as_interval.cache_clear()
    _clear_numeric_caches()


def _reference_string(reference: Any) -> str:
    """A reference as answer text; int and float references are accepted.

    Raises:
        ParseError: a reference of another type, or a non-finite float.
    """
    if isinstance(reference, str):
        return reference_text(reference)
    if isinstance(reference, bool) or not isinstance(reference, int | float):
        raise ParseError(f"reference must be str, int or float, not {type(reference).__name__}")
    if isinstance(reference, int):
        try:
            return str(reference)
        except ValueError as exc:
            raise ParseError(f"reference integer is too large: {exc}") from exc
    if not math.isfinite(reference):
        raise ParseError(f"reference {reference!r} is not a finite number")
    mantissa, e, exponent = repr(reference).partition("e")
    return (mantissa if "." in mantissa else mantissa + ".0") + e + exponent
