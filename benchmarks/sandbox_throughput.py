"""Sandbox throughput: per-run overhead over bare Python, and runs/s with concurrent workers.

For every backend that passes its probe here, side by side with two baselines:
  - `python -c 'print(1)'` in a subprocess (the interpreter with `site`, as a user runs it);
  - `python -S -c 'print(1)'` (the interpreter as the sandbox starts it, without `site`).

Usage: `python benchmarks/sandbox_throughput.py [--runs 40] [--workers 2]`

Implementation details:
  1. Latency is the median of `--runs` sequential runs of `print(1)` after two warm-up runs
     (the first run of a backend pays its probe and, as root, the mount helper's start).
  2. Throughput is `--runs` runs spread over `--workers` threads calling `sandboxes.run`;
     the baselines use the same threads with `subprocess.run`.
  3. Targets checked at the end: overhead <= 10 ms over bare Python, >= 35 runs/s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sandboxes

OVERHEAD_TARGET_MS = 10.0
THROUGHPUT_TARGET = 35.0


def _bare(flags: list[str]) -> Callable[[], None]:
    def one() -> None:
        done = subprocess.run([sys.executable, *flags, "-c", "print(1)"], capture_output=True)
        assert done.stdout == b"1\n"

    return one


def _sandboxed(backend: sandboxes.BackendName) -> Callable[[], None]:
    def one() -> None:
        result = sandboxes.run("print(1)", backend=backend)
        assert result.stdout == "1\n", result

    return one


def latency_ms(one: Callable[[], None], runs: int) -> float:
    """Median wall time of one call, in milliseconds."""
    for _ in range(2):
        one()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        one()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def runs_per_second(one: Callable[[], None], runs: int, workers: int) -> float:
    """Calls completed per second with `workers` threads."""
    with ThreadPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: one(), range(runs)))
        return runs / (time.perf_counter() - start)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per measurement")
    parser.add_argument("--workers", type=int, default=2, help="threads for the throughput test")
    args = parser.parse_args()
    rows: list[tuple[str, float, float]] = []
    cases = {"python -c": _bare([]), "python -S -c": _bare(["-S"])}
    for backend in sandboxes.available():
        cases[f"sandbox:{backend}"] = _sandboxed(backend)
    for name, one in cases.items():
        rows.append(
            (name, latency_ms(one, args.runs), runs_per_second(one, args.runs, args.workers))
        )
    bare, bare_s = rows[0][1], rows[1][1]
    print(f"{'case':<18} {'ms/run':>8} {'vs python':>10} {'vs -S':>8} {'runs/s':>8}")
    for name, ms, rate in rows:
        print(f"{name:<18} {ms:8.1f} {ms - bare:+10.1f} {ms - bare_s:+8.1f} {rate:8.1f}")
    print(f"({args.workers} workers; {args.runs} runs each; auto backend: {sandboxes.describe()})")
    for name, ms, rate in rows[2:]:
        ok = ms - bare <= OVERHEAD_TARGET_MS and rate >= THROUGHPUT_TARGET
        print(
            f"{name}: {'meets' if ok else 'misses'} the targets "
            f"(<= {OVERHEAD_TARGET_MS:.0f} ms over python -c, >= {THROUGHPUT_TARGET:.0f} runs/s)"
        )


if __name__ == "__main__":
    main()
