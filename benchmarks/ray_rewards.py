"""Side-by-side benchmark: reward scoring on Ray actors against the local `RewardRuntime`.

Both sides score the same completions with the same verifier, with the same number of verifier
processes, in one run. The difference of their per-sample times is the cost of going through
Ray (task submission, serialisation to and from the actors, the driver's wait). Run it from
the repository root::

    python benchmarks/ray_rewards.py [--batch 256] [--batches 20] [--actors 2] \
        [--processes 1] [--verifier math] [--out runs/bench-ray-rewards]

Implementation details:
  1. Completions: synthetic arithmetic rows (seed 7) answered with their worked solution
     (`\\boxed{...}`); every third answer is changed to a wrong one, so both verdict paths run.
  2. Local side: `RewardRuntime(workers=actors * processes)`. Ray side: `RayRewardRuntime`
     with `actors` reward actors of `processes` worker processes each, on a local Ray cluster
     this script starts (`num_cpus` = this machine's CPUs, no dashboard) and stops.
  3. Each side scores one untimed warm-up batch (worker start-up, verifier builds), then the
     sides alternate, one batch each, for `--batches` rounds, so drifts in machine load hit
     both. The time of a batch is the wall time of `score_batch`.
  4. Reported per side: per-sample time (median over batches of batch time / batch size, and
     the mean), then the overhead (Ray minus local, per sample) and the ratio of the medians.
     The verdicts of both sides are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _common import package_versions, peak_rss_mib, write_results

from rlvr.data import Sample, generate
from rlvr.distributed.cluster import RayCluster
from rlvr.distributed.config import DistributedConfig
from rlvr.distributed.rewards import RayRewardRuntime
from rlvr.rewards import RewardResult, RewardRuntime

DATA_SEED = 7


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256, help="completions per score_batch call")
    p.add_argument("--batches", type=int, default=20, help="timed batches per side")
    p.add_argument("--actors", type=int, default=2, help="Ray reward actors")
    p.add_argument("--processes", type=int, default=1, help="verifier processes per actor")
    p.add_argument("--timeout", type=float, default=5.0, help="per-call timeout, seconds")
    p.add_argument("--out", type=Path, default=Path("runs/bench-ray-rewards"))
    return p.parse_args(argv)


def workload(n: int) -> tuple[list[str], list[Sample]]:
    """`n` arithmetic rows and a completion for each (every third one wrong)."""
    tasks = generate("arithmetic", n, seed=DATA_SEED)
    completions = []
    for i, task in enumerate(tasks):
        answer = str(task.sample.reference)
        wrong = str(int(answer) + 1) if answer.lstrip("-").isdigit() else answer + "0"
        completions.append(task.solution if i % 3 else f"The answer is \\boxed{{{wrong}}}.")
    return completions, [task.sample for task in tasks]


def _timed(
    runtime: RewardRuntime, completions: list[str], rows: list[Sample]
) -> tuple[float, RewardResult]:
    start = time.perf_counter()
    result = runtime.score_batch(completions, rows)
    return time.perf_counter() - start, result


def _summary(seconds: list[float], batch: int) -> dict[str, float]:
    per_sample = [s / batch * 1e3 for s in seconds]
    return {
        "per_sample_ms_median": statistics.median(per_sample),
        "per_sample_ms_mean": statistics.fmean(per_sample),
        "per_sample_ms_min": min(per_sample),
        "batch_s_median": statistics.median(seconds),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Time both sides on the same batch; returns the per-side summaries and the overhead."""
    completions, rows = workload(args.batch)
    processes = args.actors * args.processes
    cfg = DistributedConfig(
        kind="ray", num_cpus=os.cpu_count() or 1, rollout_workers=0, reward_workers=args.actors
    )
    times: dict[str, list[float]] = {"local": [], "ray": []}
    with (
        RayCluster(cfg),
        RewardRuntime(workers=processes, timeout_s=args.timeout) as local,
        RayRewardRuntime(
            actors=args.actors, processes_per_actor=args.processes, timeout_s=args.timeout
        ) as on_ray,
    ):
        sides = {"local": local, "ray": on_ray}
        verdicts = {}
        for name, runtime in sides.items():  # warm-up: workers start, verifiers build
            verdicts[name] = _timed(runtime, completions, rows)[1].verdicts_for_rows()
        if verdicts["local"] != verdicts["ray"]:
            raise AssertionError("the two runtimes gave different verdicts")
        for _ in range(args.batches):
            for name, runtime in sides.items():
                times[name].append(_timed(runtime, completions, rows)[0])
    local_s, ray_s = _summary(times["local"], args.batch), _summary(times["ray"], args.batch)
    overhead = ray_s["per_sample_ms_median"] - local_s["per_sample_ms_median"]
    return {
        "local": local_s,
        "ray": ray_s,
        "overhead_ms_per_sample": overhead,
        "overhead_ms_per_sample_mean": ray_s["per_sample_ms_mean"] - local_s["per_sample_ms_mean"],
        "ratio": ray_s["per_sample_ms_median"] / local_s["per_sample_ms_median"],
        "target_ms_per_sample": 1.0,
        "meets_target": overhead <= 1.0,
        "raw_batch_s": times,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table, write `--out/results.json`."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    found = measure(args)
    print(f"\n{args.batch} completions per batch, {args.batches} batches per side, math verifier")
    print(
        f"{args.actors} Ray actors x {args.processes} processes "
        f"vs {args.actors * args.processes} local workers\n"
    )
    print(f"{'side':<8}{'ms/sample (median)':>20}{'ms/sample (mean)':>18}{'batch s (median)':>18}")
    for side in ("local", "ray"):
        s = found[side]
        print(
            f"{side:<8}{s['per_sample_ms_median']:>20.3f}{s['per_sample_ms_mean']:>18.3f}"
            f"{s['batch_s_median']:>18.3f}"
        )
    print(
        f"\nRay overhead: {found['overhead_ms_per_sample']:+.3f} ms/sample (median), "
        f"{found['overhead_ms_per_sample_mean']:+.3f} (mean); ratio {found['ratio']:.2f}; "
        f"target <= 1 ms/sample: {'met' if found['meets_target'] else 'MISSED'}"
    )
    write_results(
        args.out,
        {
            "args": {k: str(v) for k, v in vars(args).items()},
            "cpus": os.cpu_count(),
            "versions": package_versions(["ray", "torch"]),
            "peak_rss_mib": peak_rss_mib(),
            **found,
        },
    )


if __name__ == "__main__":
    main()
