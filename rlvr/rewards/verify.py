"""Score a JSONL file of completions with one verifier: the library side of `rlvr verify`.

Input lines are `{"id", "completion", "reference"}`; each output line is
`{"id", "score", "reason", "extracted", "elapsed_s"}`, in input order. The file is streamed in
chunks, so its size is not bounded by memory.

Implementation details:
  1. Bad input lines (invalid JSON or UTF-8, not an object, missing `completion` or `reference`,
     non-string completion) are reported on stderr as `PATH:LINE: problem` and written as
     `{"id", "score": null, "reason": "bad_input", "detail"}`; the other lines go on. `id`
     defaults to the 1-based line number. Blank lines are skipped.
  2. Infrastructure failures (`rlvr.rewards.INFRA_REASONS`) are written with `score: null` and a
     `detail`, since their 0 would say nothing about the completion; timeouts score 0.
  3. A missing input file, an output path equal to the input, or a verifier that cannot be
     built are errors raised before the output file is opened.
  4. The progress bar counts scored records; a quick first pass counts the file's non-blank
     lines for its total.
  5. The summary states over how many scored lines the mean is taken, beside the bad and
     infrastructure-failed lines left out of it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

import verifiers
from rlvr.rewards import INFRA_REASONS, CallResult, RewardRuntime, VerifierCall

CHUNK_LINES = 256
"""Lines read, scored and written together (times the worker count, when that is larger)."""


@dataclass
class VerifySummary:
    """What `verify_file` did, for the summary printed at the end."""

    n_lines: int = 0
    """Records read (blank lines excluded), bad ones included."""
    n_bad_lines: int = 0
    """Lines written as `bad_input`."""
    counts: dict[str, int] = field(default_factory=dict)
    """Reason -> number of lines (including `bad_input`)."""
    score_sum: float = 0.0
    """Sum of the scores of lines that got a real score."""
    n_scored: int = 0
    """Lines that got a real score (not bad input, not an infrastructure failure)."""
    n_timeouts: int = 0
    """Calls that hit the timeout (scored 0)."""
    n_infra_failures: int = 0
    """Calls that failed for infrastructure reasons (written with a null score)."""
    elapsed_s: float = 0.0
    """Wall-clock seconds for the whole file."""

    @property
    def mean_score(self) -> float | None:
        """Mean score over lines that got a real score; None when there are none."""
        return self.score_sum / self.n_scored if self.n_scored else None

    @property
    def cases_per_s(self) -> float:
        """Verified lines per second of wall-clock time."""
        verified = self.n_lines - self.n_bad_lines
        return verified / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def format(self) -> str:
        """Human-readable summary: rates, failures, then counts per reason (most frequent first)."""
        mean = "n/a" if self.mean_score is None else f"{self.mean_score:.4f}"
        left_out = self.n_bad_lines + self.n_infra_failures
        lines = [
            f"lines: {self.n_lines}  mean score: {mean} over {self.n_scored} scored "
            f"line{'s' if self.n_scored != 1 else ''}"
            + (f" ({left_out} left out: bad or infra failure)" if left_out else "")
            + f"  ({self.cases_per_s:.1f} cases/s, {self.elapsed_s:.1f} s)",
            f"timeouts: {self.n_timeouts}  infra failures: {self.n_infra_failures}  "
            f"bad lines: {self.n_bad_lines}",
        ]
        width = max((len(reason) for reason in self.counts), default=0)
        for reason, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            share = n / self.n_lines if self.n_lines else 0.0
            lines.append(f"  {reason:<{width}}  {n:>8}  {share:6.1%}")
        return "\n".join(lines)

    def add_row(self, row: Mapping[str, Any]) -> None:
        """Count one output row."""
        reason = str(row["reason"])
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if reason == "bad_input":
            self.n_bad_lines += 1
        elif reason in INFRA_REASONS:
            self.n_infra_failures += 1
        else:
            self.n_timeouts += reason == "timeout"
            self.n_scored += 1
            self.score_sum += float(row["score"])


@dataclass(frozen=True, slots=True)
class _Line:
    """One parsed input line: either a call to make or a bad-input row to write."""

    id: Any
    """The `id` field, or the line number."""
    call: VerifierCall | None
    """What to verify, None for a bad line."""
    problem: str = ""
    """Why the line is bad."""


def _parse(raw: bytes, lineno: int, verifier: str, options: tuple[tuple[str, Any], ...]) -> _Line:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return _Line(lineno, None, f"not valid UTF-8: {exc}")
    except json.JSONDecodeError as exc:
        return _Line(lineno, None, f"invalid JSON: {exc}")
    if not isinstance(record, dict):
        return _Line(lineno, None, f"expected a JSON object, got {type(record).__name__}")
    line_id = record.get("id", lineno)
    for name in ("completion", "reference"):
        if name not in record:
            return _Line(line_id, None, f"missing field {name!r}")
    completion = record["completion"]
    if not isinstance(completion, str):
        kind = type(completion).__name__
        return _Line(line_id, None, f"field 'completion' must be a string, got {kind}")
    return _Line(line_id, VerifierCall(completion, verifier, record["reference"], options))


def _output_row(line: _Line, result: CallResult | None) -> dict[str, Any]:
    if result is None:
        return {"id": line.id, "score": None, "reason": "bad_input", "detail": line.problem}
    verdict = result.verdict
    row: dict[str, Any] = {
        "id": line.id,
        "score": None if verdict.reason in INFRA_REASONS else verdict.score,
        "reason": verdict.reason,
        "extracted": verdict.extracted,
        "elapsed_s": round(result.elapsed_s, 6),
    }
    if verdict.reason in INFRA_REASONS:
        row["detail"] = verdict.detail
    return row


def _count_records(path: Path) -> int:
    """Non-blank lines of a file (the progress bar's total)."""
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip())


def _chunks(f: Any, size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for lineno, raw in enumerate(f, start=1):
        if raw.strip():
            chunk.append((lineno, raw))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _report_bad_lines(path: Path, raw: list[tuple[int, bytes]], parsed: list[_Line]) -> None:
    for (lineno, _), line in zip(raw, parsed, strict=True):
        if line.call is None:
            print(f"{path}:{lineno}: {line.problem}", file=sys.stderr)


def _score_chunk(
    runtime: RewardRuntime,
    chunk: list[_Line],
    out: TextIO,
    summary: VerifySummary,
) -> None:
    calls = [line.call for line in chunk if line.call is not None]
    results = iter(runtime.verify(calls))
    for line in chunk:
        row = _output_row(line, None if line.call is None else next(results))
        summary.add_row(row)
        out.write(json.dumps(row, ensure_ascii=False, default=repr) + "\n")


def verify_file(
    verifier: str,
    input_path: Path,
    output_path: Path,
    *,
    workers: int | None,
    timeout_s: float,
    options: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> VerifySummary:
    """Score every line of `input_path` with one verifier and write `output_path`.

    Args:
        verifier: Registered verifier name or `"pkg.module:Class"`.
        input_path: JSONL with `{"id", "completion", "reference"}` per line.
        output_path: JSONL written with one result per input record, in input order.
        workers: Worker processes (None: CPU count; 0: in this process, no timeout).
        timeout_s: Wall-clock seconds per call.
        options: Keyword options of the verifier class.
        progress: Show a progress bar on stderr.

    Raises:
        FileNotFoundError: `input_path` does not exist.
        ValueError: `output_path` is the input file.
        RegistryError: the verifier cannot be built with these options.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"input file not found: {input_path}")
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise ValueError(f"output {output_path} would overwrite the input file")
    opts = tuple((options or {}).items())
    verifiers.get(verifier, dict(opts))
    summary = VerifySummary()
    start = time.perf_counter()
    with (
        RewardRuntime(workers=workers, timeout_s=timeout_s) as runtime,
        input_path.open("rb") as f,
        output_path.open("w", encoding="utf-8") as out,
        tqdm(
            total=_count_records(input_path) if progress else None,
            unit="line",
            desc=f"verify {verifier}",
            disable=not progress,
        ) as bar,
    ):
        for raw_chunk in _chunks(f, max(CHUNK_LINES, 16 * runtime.workers)):
            parsed = [_parse(raw, lineno, verifier, opts) for lineno, raw in raw_chunk]
            _report_bad_lines(input_path, raw_chunk, parsed)
            summary.n_lines += len(parsed)
            _score_chunk(runtime, parsed, out, summary)
            bar.update(len(parsed))
    summary.elapsed_s = time.perf_counter() - start
    return summary
