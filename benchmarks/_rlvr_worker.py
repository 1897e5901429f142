"""rlvr side of `benchmarks/grpo_vs_trl.py`: `rlvr.trainers.grpo.train` for a fixed step count.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_rlvr_worker.py SPEC.json RESULT.json

Implementation details:
  1. The loss is DAPO's without dynamic sampling or overlong shaping: the `dapo` preset with
     `dynamic_sampling: false` and `overlong_buffer: 0`. The resolved values are checked
     against that target before training starts.
  2. Per-step wall time and completion length come from the run's `metrics.jsonl`
     (`time/step_s`: from the start of rollout to after the optimizer step, excluding logging,
     checkpoints and evaluation, none of which run inside the timed steps here).
  3. No held-out evaluation and no checkpoint during training; the final model is written by
     the trainer and evaluated by the parent, with the same code as the other side's.
  4. Module-level imports are standard library only; torch and rlvr are imported inside the
     functions. The reward runtime's worker processes import the parent's `__main__` module
     when they start (multiprocessing's fork server and spawn do), so this keeps them as light
     as under `rlvr train`, whose entry module imports nothing heavy. A script importing torch
     at module level would make every reward worker import it too (about 330 MiB and several
     seconds per worker start on the tiny CPU set-up).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import peak_rss_mib

if TYPE_CHECKING:
    from rlvr.trainers.grpo import GRPOConfig

TARGET: dict[str, Any] = {
    "eps_low": 0.2,
    "eps_high": 0.28,
    "agg_mode": "token-mean",
    "std_scaling": "group",
    "kl_coef": 0.0,
    "dynamic_sampling": False,
    "overlong_buffer": None,
    "leave_one_out": False,
}
"""The algorithm both sides run: TRL's `loss_type="dapo"`, `beta=0`, epsilon 0.2 / 0.28."""


def build_config(spec: dict[str, Any]) -> GRPOConfig:
    """The GRPO stage config of the benchmark spec."""
    from rlvr.config.sections import DataConfig, ModelConfig, OptimConfig, RewardConfig, RunConfig
    from rlvr.rollout.build import RolloutConfig
    from rlvr.trainers.grpo import AlgoConfig, GRPOConfig, GRPOTrainConfig

    steps = int(spec["steps"])
    algo = AlgoConfig(
        preset="dapo",
        dynamic_sampling=TARGET["dynamic_sampling"],
        overlong_buffer=0,
        group_size=spec["group"],
        prompts_per_step=spec["prompts"],
        num_iterations=1,
        micro_batch_size=None,
    )
    out = Path(spec["out_dir"])
    return GRPOConfig(
        model=ModelConfig(path=spec["model"], dtype="float32"),
        data=DataConfig(source=spec["train_file"], n=spec["train_n"]),
        run=RunConfig(name=out.name, output_dir=out.parent, seed=spec["seed"], overwrite=True),
        eval_data=None,
        algo=algo,
        rollout=RolloutConfig(
            engine=spec["engine"],
            max_new_tokens=spec["max_new_tokens"],
            temperature=spec["temperature"],
            top_p=1.0,
            batch_size=spec["prompts"] * spec["group"],
        ),
        optim=OptimConfig(lr=spec["lr"], schedule="constant", warmup_steps=0, grad_clip=1.0),
        train=GRPOTrainConfig(
            max_steps=steps, eval_every=steps + 1, save_every=steps + 1, kl_every=0
        ),
        reward=RewardConfig(workers=spec["reward_workers"]),
    )


def read_steps(metrics: Path, completions_per_step: int) -> dict[str, list[float]]:
    """Per-step seconds, completion tokens and mean reward from a run's `metrics.jsonl`."""
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    rows = sorted((r for r in rows if "time/step_s" in r), key=lambda r: r["step"])
    return {
        "step_s": [float(r["time/step_s"]) for r in rows],
        "tokens": [round(r["completion/length_mean"] * completions_per_step) for r in rows],
        "reward_mean": [float(r.get("reward/mean", 0.0)) for r in rows],
    }


def main(spec_path: str, result_path: str) -> None:
    """Train as the spec says and write the measurements to `result_path`."""
    import torch

    from rlvr.trainers.grpo import train

    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    cfg = build_config(spec)
    resolved = asdict(cfg.algo.resolved())
    if resolved != TARGET:
        raise SystemExit(f"resolved algorithm {resolved} differs from the target {TARGET}")
    result = train(cfg)
    run_dir = cfg.run.output_dir / cfg.run.name
    steps = read_steps(run_dir / "metrics.jsonl", spec["prompts"] * spec["group"])
    record = {
        "side": "ours",
        **steps,
        "final": result.final,
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
        "algorithm": resolved,
    }
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
