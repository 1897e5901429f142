"""Side-by-side benchmark: GRPO on two DeepSpeed ranks, data-parallel rollouts against every rank
sampling the whole batch, on CPU.

Run it from the repository root::

    pip install -e '.[deepspeed]'
    python benchmarks/dp_rollouts.py [--preset tiny] [--steps 8] [--rounds 2] [--threads 1] \
        [--out runs/bench-dp-rollouts]

Sides (all GRPO on the hf engine, same prompts, group size and completion length):
  - `torch-1proc`: the torch backend in one process (the reference for one rank's work).
  - `zero2-replicate`: DeepSpeed ZeRO-2 on two ranks, `rollout.data_parallel: false`: every
    rank generates and scores the whole batch with the same seed (how multi-rank GRPO worked
    before data-parallel rollouts; it reproduces the one-process run).
  - `zero2-shard`: the same with `rollout.data_parallel: true` (default): each rank generates
    and scores its half of the prompts, and the halves are gathered.

Implementation details:
  1. Each run is a fresh `python -m rlvr.cli train` per rank (see `deepspeed_overhead._launch`);
     the sides alternate for `--rounds` rounds, so machine drift hits them alike.
  2. Reported per side, as means over the steps after `--warmup`, pooled over rounds: the step
     time (`time/step_s`: rollout, scoring, training, weight bookkeeping) and the rollout time
     (`rollout/s`: generation and scoring, gather included), both on rank 0's clock.
  3. Held-out evaluation is off and no checkpoint is written before the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import package_versions, write_results  # noqa: E402
from benchmarks.deepspeed_overhead import _launch  # noqa: E402

SIDES: dict[str, tuple[dict[str, Any], int, bool]] = {
    "torch-1proc": ({"kind": "torch"}, 1, True),
    "zero2-replicate": ({"kind": "deepspeed", "zero_stage": 2}, 2, False),
    "zero2-shard": ({"kind": "deepspeed", "zero_stage": 2}, 2, True),
}
"""Side name -> (backend section, processes, rollout.data_parallel)."""


def _config(args: argparse.Namespace, model: Path, side: str) -> Path:
    import yaml

    backend, _, data_parallel = SIDES[side]
    data = {
        "stage": "grpo",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 512, "seed": 0},
        "algo": {
            "preset": "grpo",
            "group_size": args.group_size,
            "prompts_per_step": args.prompts,
        },
        "rollout": {"max_new_tokens": args.tokens, "data_parallel": data_parallel},
        "optim": {"lr": 1e-4},
        "backend": backend,
        "train": {"max_steps": args.warmup + args.steps, "save_every": 10**6, "kl_every": 0},
        "reward": {"workers": 0},
        "run": {"name": side, "output_dir": str(args.out / "runs"), "overwrite": True},
    }
    path = args.out / f"{side}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _times(run_dir: Path, warmup: int) -> tuple[list[float], list[float]]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    steps = [r for r in rows if "time/step_s" in r and r["step"] > warmup]
    return [r["time/step_s"] for r in steps], [r["rollout/s"] for r in steps]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=["tiny", "small"], default="tiny")
    p.add_argument("--steps", type=int, default=8, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--prompts", type=int, default=16, help="prompts per step")
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--tokens", type=int, default=32, help="max completion tokens")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES))
    p.add_argument("--out", type=Path, default=Path("runs/bench-dp-rollouts"))
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    from rlvr.models.tiny import PRESETS, build_tiny

    model = build_tiny(args.out / f"model-{args.preset}", PRESETS[args.preset])
    step_s: dict[str, list[float]] = {side: [] for side in args.sides}
    rollout_s: dict[str, list[float]] = {side: [] for side in args.sides}
    for round_ in range(args.rounds):
        for side in args.sides:
            start = time.perf_counter()
            _launch(_config(args, model, side), SIDES[side][1], args.threads, args.out / "log")
            steps, rollouts = _times(args.out / "runs" / side, args.warmup)
            step_s[side] += steps
            rollout_s[side] += rollouts
            print(
                f"round {round_ + 1} {side:>16}: {statistics.mean(steps):.3f} s/step, "
                f"rollout {statistics.mean(rollouts):.3f} s "
                f"(run {time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    mean_step = {s: statistics.mean(v) for s, v in step_s.items()}
    mean_roll = {s: statistics.mean(v) for s, v in rollout_s.items()}
    base = mean_step.get("zero2-replicate")
    print(f"\n{'side':>16}  {'s/step':>7}  {'rollout s':>9}  {'step vs replicate':>17}")
    for side in mean_step:
        ratio = f"{mean_step[side] / base:17.3f}" if base else " " * 16 + "-"
        print(f"{side:>16}  {mean_step[side]:7.3f}  {mean_roll[side]:9.3f}  {ratio}")
    write_results(
        args.out,
        {
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "s_per_step": mean_step,
            "rollout_s": mean_roll,
            "step_ratio_vs_replicate": (
                {s: v / base for s, v in mean_step.items()} if base else None
            ),
            "timed_steps": {s: len(v) for s, v in step_s.items()},
            "versions": package_versions(["torch", "deepspeed", "transformers"]),
        },
    )


if __name__ == "__main__":
    main()
