"""Side-by-side benchmark: the DeepSpeed ZeRO-2 backend against the torch backend, on CPU.

Every side trains the same tiny model on the same arithmetic rows in the same order for the
same number of SFT steps; only the backend and the process count differ. Run it from the
repository root::

    pip install -e '.[deepspeed]'
    python benchmarks/deepspeed_overhead.py [--preset small] [--steps 12] [--rounds 2] \
        [--interleaved-steps 40] [--batch-size 16] [--micro-batch-size 8] [--threads 1] \
        [--out runs/bench-deepspeed]

Part 1, interleaved (one process): a torch backend and a DeepSpeed ZeRO-2 backend (a world of
one, gloo) over two copies of the model, stepped alternately (torch step k, DeepSpeed step k,
...) on the same batches with the SFT trainer's own step function. Alternating cancels the
drift of a shared machine, which moves whole runs by 20% here; the ratio of the medians is the
backend's overhead.

Part 2, trainer runs, sides:
  - `torch`: the default backend, one process.
  - `deepspeed-zero2`: DeepSpeed ZeRO-2 (gloo, `DS_ACCELERATOR=cpu`), one process: the same
    work as `torch`, so its s/step over torch's is the backend's own overhead.
  - `deepspeed-zero2-2proc`: ZeRO-2 on two ranks, each training on half of every batch (with
    `--threads` threads each, so it uses twice the cores of the one-process sides).

Implementation details:
  1. Part 2: each run is a fresh `python -m rlvr.cli train` (per rank for two processes,
     launched with the variables `torchrun` sets); the sides alternate for `--rounds` rounds.
  2. Part 2's s/step is the mean of the trainer's `train/step_s` (zero_grad, forward/backward
     over the micro-batches, optimizer step; rank 0's clock for two processes) over the steps after
     `--warmup`, pooled over rounds. Held-out evaluation is off and no checkpoint is written
     before the end, so nothing else is timed.
  3. The last step's loss of every side is reported: the sides compute the same training
     step, so their losses agree (to float rounding).
  4. Torch threads: `--threads` per process (`OMP_NUM_THREADS`, which torch reads at start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import package_versions, write_results  # noqa: E402
from rlvr.backends import free_port, rank_env  # noqa: E402

SIDES: dict[str, tuple[dict[str, Any], int]] = {
    "torch": ({"kind": "torch"}, 1),
    "deepspeed-zero2": ({"kind": "deepspeed", "zero_stage": 2}, 1),
    "deepspeed-zero2-2proc": ({"kind": "deepspeed", "zero_stage": 2}, 2),
}
"""Side name -> (backend section, processes)."""


def _config(args: argparse.Namespace, model: Path, name: str, backend: dict[str, Any]) -> Path:
    import yaml

    data = {
        "stage": "sft",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 512, "seed": 0},
        "optim": {"lr": 1e-4},
        "backend": backend,
        "train": {
            "max_steps": args.warmup + args.steps,
            "batch_size": args.batch_size,
            "micro_batch_size": args.micro_batch_size,
            "max_len": 96,
            "log_every": 1,
            "save_every": 10**6,
        },
        "reward": {"workers": 0},
        "run": {"name": name, "output_dir": str(args.out / "runs"), "overwrite": True},
    }
    path = args.out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _launch(config: Path, world_size: int, threads: int, log: Path) -> None:
    port = free_port()
    procs = []
    with log.open("w") as out:
        for rank in range(world_size):
            env = {
                **os.environ,
                **rank_env(rank, world_size, port),
                "PYTHONPATH": str(ROOT),
                "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads),
            }
            cmd = [sys.executable, "-m", "rlvr.cli", "train", str(config)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
        codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"{config.name}: exit codes {codes}; see {log}")


def _steps(run_dir: Path, warmup: int) -> tuple[list[float], float]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    steps = [r for r in rows if "train/step_s" in r]
    return [r["train/step_s"] for r in steps if r["step"] > warmup], steps[-1]["train/loss"]


def interleaved(args: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    """Part 1: torch and DeepSpeed ZeRO-2 backends stepped alternately in this process."""
    import torch

    from rlvr.backends import build_backend, launch
    from rlvr.config.sections import BackendConfig, DataConfig, ModelConfig, OptimConfig
    from rlvr.data.batches import Batches
    from rlvr.data.rows import load_sft
    from rlvr.models.loading import load_policy
    from rlvr.models.tokens import encode_pairs
    from rlvr.trainers.sft import _step

    torch.set_num_threads(args.threads)
    rows, _ = load_sft(DataConfig(synthetic="arithmetic", n=512, seed=0))
    optim, total = OptimConfig(lr=1e-4), args.interleaved_steps + args.warmup
    ds_cfg = BackendConfig(kind="deepspeed", zero_stage=2)
    dist = launch(ds_cfg)
    sides = {}
    for name, cfg in (("torch", BackendConfig()), ("deepspeed-zero2", ds_cfg)):
        model, tokenizer = load_policy(ModelConfig(str(model_dir)))
        model.train()
        sides[name] = build_backend(cfg, dist, model, optim, total_steps=total)
    prompts, completions = [p for p, _ in rows], [c for _, c in rows]
    pairs = encode_pairs(tokenizer, prompts, completions, eos_id=tokenizer.eos_token_id, max_len=96)
    batches = Batches(len(pairs), seed=0)
    times: dict[str, list[float]] = {name: [] for name in sides}
    losses: dict[str, float] = {}
    for i in range(total):
        batch = [pairs[j] for j in batches.next(args.batch_size)]
        for name, backend in sides.items():
            start = time.perf_counter()
            backend.zero_grad()
            stats = _step(
                backend, batch, pad_id=tokenizer.pad_token_id, micro=args.micro_batch_size
            )
            backend.step()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
            losses[name] = stats["loss"]
    for backend in sides.values():
        backend.close()
    median = {name: statistics.median(v) for name, v in times.items()}
    return {
        "s_per_step_median": median,
        "s_per_step_mean": {name: statistics.mean(v) for name, v in times.items()},
        "ratio_of_medians": median["deepspeed-zero2"] / median["torch"],
        "last_loss": losses,
        "timed_steps": len(times["torch"]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=["tiny", "small"], default="small")
    p.add_argument("--steps", type=int, default=12, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=2, help="rounds of part 2 (0: skip it)")
    p.add_argument("--interleaved-steps", type=int, default=40, help="part 1 (0: skip it)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--micro-batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES))
    p.add_argument("--out", type=Path, default=Path("runs/bench-deepspeed"))
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    from rlvr.models.tiny import PRESETS, build_tiny

    model = build_tiny(args.out / f"model-{args.preset}", PRESETS[args.preset])
    part1 = None
    if args.interleaved_steps:
        part1 = interleaved(args, model)
        m = part1["s_per_step_median"]
        print(
            f"interleaved, one process: torch {m['torch']:.4f} s/step, deepspeed-zero2 "
            f"{m['deepspeed-zero2']:.4f} s/step (medians), ratio {part1['ratio_of_medians']:.3f}, "
            f"last losses {part1['last_loss']}",
            flush=True,
        )
    times: dict[str, list[float]] = {side: [] for side in args.sides}
    losses: dict[str, float] = {}
    for round_ in range(args.rounds):
        for side in args.sides:
            backend, world = SIDES[side]
            config = _config(args, model, side, backend)
            start = time.perf_counter()
            _launch(config, world, args.threads, args.out / f"{side}.log")
            step_s, losses[side] = _steps(args.out / "runs" / side, args.warmup)
            times[side] += step_s
            print(
                f"round {round_ + 1} {side:>22}: {statistics.mean(step_s):.4f} s/step "
                f"(run {time.perf_counter() - start:.1f} s, last loss {losses[side]:.6f})",
                flush=True,
            )
    mean = {side: statistics.mean(v) for side, v in times.items() if v}
    base = mean.get("torch")
    print(f"\n{'side':>22}  {'s/step':>8}  {'vs torch':>8}  last loss")
    for side in mean:
        ratio = f"{mean[side] / base:8.3f}" if base else "       -"
        print(f"{side:>22}  {mean[side]:8.4f}  {ratio}  {losses[side]:.6f}")
    write_results(
        args.out,
        {
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "interleaved": part1,
            "s_per_step": mean,
            "s_per_step_stdev": {
                s: statistics.stdev(v) if len(v) > 1 else 0.0 for s, v in times.items()
            },
            "ratio_vs_torch": {s: mean[s] / base for s in mean} if base else None,
            "last_loss": losses,
            "timed_steps": {s: len(v) for s, v in times.items()},
            "versions": package_versions(["torch", "deepspeed", "transformers"]),
        },
    )


if __name__ == "__main__":
    main()
