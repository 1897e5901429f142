"""Side-by-side benchmark: rlvr's `math` verifier against Hugging Face Math-Verify.

Both verifiers score every case of the math case table (`tests/verifiers/cases/math.jsonl`,
each case labelled with the expected score). Run it from the repository root::

    pip install 'math-verify[antlr4_13_2]'
    python benchmarks/verifiers_vs_math_verify.py [--timeout 5] [--repeats 3]

Implementation details:
  1. Correctness pass: every call runs in a one-worker process pool with a hard wall-clock
     timeout. When it fires, the call counts as a hang (score 0) and the pool is terminated
     and replaced. A call whose wall time, kill included, exceeds the timeout by more than
     1 s counts as an overrun (a timeout that did not hold).
  2. Math-Verify is called through its documented API with its defaults:
     `verify(parse(gold), parse(prediction))`. Its README requires LaTeX to sit in a LaTeX
     environment, so a reference without delimiters is wrapped in `$...$` (`--raw-gold`
     passes it as stored). Integer and float references are passed as strings, a missing
     reference as "". An exception scores 0 and counts as an error.
  3. Throughput pass: the cases that finished in the correctness pass are scored in-process,
     `--repeats` times, one verifier after the other; cases/s is calls over seconds spent,
     next to the median time per call. rlvr's caches are cleared before every repetition,
     so each repetition parses and compares from scratch, as Math-Verify does.
  4. Accuracy is the share of cases whose score equals the label; a false positive is a
     score of 1 where the label is 0, a false negative the reverse. Cases whose note starts
     with "policy:" are labelled by one of rlvr's documented conventions (50% reads as 50, a
     comma and a space separate items, answers over the length cap are refused, ...) rather
     than by mathematics alone; "acc factual" leaves them out.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import multiprocessing.pool
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from verifiers.math import MathVerifier, clear_caches

CASES = Path(__file__).resolve().parents[1] / "tests" / "verifiers" / "cases" / "math.jsonl"
OURS, THEIRS = "rlvr math", "math-verify"
OVERRUN_S = 1.0


@dataclass
class Tally:
    """What one verifier did over the whole table."""

    name: str
    """Display name."""
    scores: list[float] = field(default_factory=list)
    """Score per case (0 for hangs and errors)."""
    reasons: list[str] = field(default_factory=list)
    """Reason per case (`hang`, `error: ...` or the verifier's own)."""
    finished: list[bool] = field(default_factory=list)
    """Whether the case finished before the hard timeout."""
    overruns: int = 0
    """Calls whose wall time, kill included, exceeded the timeout by more than 1 s."""
    cases_per_s: float = 0.0
    """In-process throughput over the cases that finished."""
    median_ms: float = 0.0
    """In-process median time per call, in milliseconds."""


def score_ours(completion: str, reference: Any) -> tuple[float, str]:
    """Score one case with rlvr's math verifier."""
    verdict = MathVerifier()(completion, reference=reference)
    return verdict.score, verdict.reason


def score_theirs(completion: str, reference: Any, raw_gold: bool = False) -> tuple[float, str]:
    """Score one case with Math-Verify's documented `parse`/`verify` API and its defaults.

    Its README says LaTeX must sit in a LaTeX environment to be parsed, so a reference with
    no delimiters is wrapped in `$...$` unless `raw_gold` is set.
    """
    from math_verify import parse, verify

    gold_text = "" if reference is None else str(reference)
    if not raw_gold and not any(m in gold_text for m in ("$", "\\boxed", "\\(", "\\[")):
        gold_text = f"${gold_text}$"
    try:
        ok = verify(parse(gold_text), parse(completion))
    except Exception as exc:  # a crash in the peer scores 0, like a wrong answer
        return 0.0, f"error: {type(exc).__name__}"
    return float(bool(ok)), "correct" if ok else "not verified"


def score_theirs_raw(completion: str, reference: Any) -> tuple[float, str]:
    """Math-Verify with the reference passed exactly as stored (no `$...$` added)."""
    return score_theirs(completion, reference, raw_gold=True)


Scorer = Callable[[str, Any], tuple[float, str]]


def _new_pool() -> multiprocessing.pool.Pool:
    return multiprocessing.get_context("fork").Pool(processes=1)


def correctness_pass(
    cases: list[dict[str, Any]], scorers: dict[str, Scorer], timeout: float
) -> dict[str, Tally]:
    """Score every case with both verifiers, each call under a hard timeout in a worker."""
    tallies = {name: Tally(name) for name in scorers}
    pool = _new_pool()
    try:
        for case in cases:
            for name, scorer in scorers.items():
                pool = _score_one(pool, tallies[name], scorer, case, timeout)
    finally:
        pool.terminate()
        pool.join()
    return tallies


def _score_one(
    pool: multiprocessing.pool.Pool,
    tally: Tally,
    scorer: Scorer,
    case: dict[str, Any],
    timeout: float,
) -> multiprocessing.pool.Pool:
    start = time.perf_counter()
    pending = pool.apply_async(scorer, (case["completion"], case["reference"]))
    try:
        score, reason = pending.get(timeout=timeout)
        finished = True
    except multiprocessing.TimeoutError:
        pool.terminate()
        pool.join()
        pool = _new_pool()
        score, reason, finished = 0.0, "hang", False
    if time.perf_counter() - start > timeout + OVERRUN_S:
        tally.overruns += 1
    tally.scores.append(score)
    tally.reasons.append(reason)
    tally.finished.append(finished)
    return pool


def throughput_pass(
    cases: list[dict[str, Any]], scorers: dict[str, Scorer], tallies: dict[str, Tally], repeats: int
) -> None:
    """In-process cases/s and median latency over the cases each verifier finished."""
    for name, scorer in scorers.items():
        done = [c for c, ok in zip(cases, tallies[name].finished, strict=True) if ok]
        latencies = []
        for _ in range(repeats):
            clear_caches()
            for case in done:
                start = time.perf_counter()
                scorer(case["completion"], case["reference"])
                latencies.append(time.perf_counter() - start)
        total = sum(latencies)
        tallies[name].cases_per_s = len(latencies) / total if total else 0.0
        tallies[name].median_ms = 1000 * statistics.median(latencies) if latencies else 0.0


def summary(labels: list[float], policy: list[bool], tally: Tally) -> dict[str, float]:
    """Accuracy (all cases, and without `policy:` cases), false positives, false negatives,
    hangs, overruns, errors, cases/s and median latency."""
    pairs = list(zip(labels, tally.scores, strict=True))
    factual = [(label, score) for (label, score), p in zip(pairs, policy, strict=True) if not p]
    return {
        "accuracy": sum(label == score for label, score in pairs) / len(pairs),
        "acc factual": sum(label == score for label, score in factual) / len(factual),
        "false pos": sum(label == 0 and score == 1 for label, score in pairs),
        "false neg": sum(label == 1 and score == 0 for label, score in pairs),
        "hangs": tally.finished.count(False),
        "overruns": tally.overruns,
        "errors": sum(r.startswith("error") for r in tally.reasons),
        "cases/s": tally.cases_per_s,
        "median ms": tally.median_ms,
    }


def print_table(cases: list[dict[str, Any]], tallies: dict[str, Tally]) -> None:
    """The summary table, one row per verifier and a row of ratios ours/theirs."""
    labels = [float(c["score"]) for c in cases]
    policy = [c["note"].startswith("policy:") for c in cases]
    rows = {name: summary(labels, policy, tally) for name, tally in tallies.items()}
    columns = list(rows[OURS])
    print(f"{'':14}" + "".join(f"{c:>12}" for c in columns))
    for name, row in rows.items():
        cells = (
            f"{v:>12.3f}"
            if k in ("accuracy", "acc factual", "cases/s", "median ms")
            else f"{v:>12.0f}"
            for k, v in row.items()
        )
        print(f"{name:14}" + "".join(cells))
    ratios = (
        f"{rows[OURS][c] / rows[THEIRS][c]:>12.2f}" if rows[THEIRS][c] else f"{'n/a':>12}"
        for c in columns
    )
    print(f"{'ours/theirs':14}" + "".join(ratios))


def print_disagreements(cases: list[dict[str, Any]], tallies: dict[str, Tally]) -> None:
    """Every case the two verifiers score differently, with the label and both reasons."""
    ours, theirs = tallies[OURS], tallies[THEIRS]
    rows = [i for i in range(len(cases)) if ours.scores[i] != theirs.scores[i]]
    print(f"\n{len(rows)} cases scored differently (label / ours / theirs):")
    for i in rows:
        case = cases[i]
        completion = (
            case["completion"] if len(case["completion"]) <= 60 else case["completion"][:57] + "..."
        )
        print(
            f"  #{i:03d} {case['note'][:48]:48} label={case['score']:.0f} "
            f"ours={ours.scores[i]:.0f} ({ours.reasons[i]}) "
            f"theirs={theirs.scores[i]:.0f} ({theirs.reasons[i]})"
        )
        print(f"        completion={completion!r} reference={case['reference']!r}")


def print_hangs(cases: list[dict[str, Any]], tallies: dict[str, Tally]) -> None:
    """Every case on which a verifier hit the hard timeout."""
    for name, tally in tallies.items():
        hung = [i for i, ok in enumerate(tally.finished) if not ok]
        print(f"\n{name}: {len(hung)} calls hit the hard timeout")
        for i in hung:
            print(f"  #{i:03d} {cases[i]['note']}: {cases[i]['completion'][:60]!r}")


def main(argv: list[str] | None = None) -> int:
    """Run both passes and print the comparison."""
    parser = argparse.ArgumentParser(description="rlvr math verifier vs Math-Verify")
    parser.add_argument("--cases", type=Path, default=CASES, help="JSONL case table")
    parser.add_argument("--timeout", type=float, default=5.0, help="hard timeout per call, s")
    parser.add_argument("--repeats", type=int, default=3, help="throughput repetitions")
    parser.add_argument(
        "--raw-gold", action="store_true", help="pass references to Math-Verify without $...$"
    )
    args = parser.parse_args(argv)
    try:
        version = metadata.version("math-verify")
    except metadata.PackageNotFoundError:
        print(
            "math-verify is not installed: pip install 'math-verify[antlr4_13_2]'", file=sys.stderr
        )
        return 2
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    gold = "as stored" if args.raw_gold else "wrapped in $...$ when undelimited"
    print(f"{len(cases)} cases from {args.cases}; math-verify {version}; timeout {args.timeout}s")
    print(f"Math-Verify references: {gold}")
    scorers: dict[str, Scorer] = {
        OURS: score_ours,
        THEIRS: score_theirs_raw if args.raw_gold else score_theirs,
    }
    tallies = correctness_pass(cases, scorers, args.timeout)
    throughput_pass(cases, scorers, tallies, args.repeats)
    print_table(cases, tallies)
    print_disagreements(cases, tallies)
    print_hangs(cases, tallies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
