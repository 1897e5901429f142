"""rlvr side of `benchmarks/reward_model_vs_trl.py`: `rlvr.trainers.reward_model.train` for a
fixed step count.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_rm_rlvr_worker.py SPEC.json RESULT.json

Implementation details:
  1. The pairs file the parent wrote, read in rlvr's seeded order (the TRL side gets the same
     pairs in the same order), one micro-batch per optimizer step, a constant learning rate,
     gradient clipping at 1.0, no centring, no margin.
  2. Per-step seconds (`train/step_s`: batch padding, forward, backward and optimizer step),
     tokens (`train/tokens`: both sides of every pair, prompt included, as TRL's attention
     mask counts them) and the training accuracy come from the run's `metrics.jsonl`
     (`log_every: 1`); no held-out scoring inside the timed steps (`eval_every` past the end).
  3. The run still ends as every reward-model run does: final model, then the audit of the
     held-out pairs (outside the timed steps, inside the process wall time and peak RSS).
  4. Module-level imports are standard library only (see `_rlvr_worker.py`, item 4).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import peak_rss_mib

if TYPE_CHECKING:
    from rlvr.trainers.reward_model import RewardModelConfig


def build_config(spec: dict[str, Any]) -> RewardModelConfig:
    """The reward-model stage config of the benchmark spec."""
    from rlvr.config.sections import DataConfig, ModelConfig, OptimConfig, RunConfig
    from rlvr.trainers.reward_model import RewardModelConfig, RewardModelTrainConfig

    steps = int(spec["steps"])
    out = Path(spec["out_dir"])
    return RewardModelConfig(
        model=ModelConfig(path=spec["model"], dtype="float32"),
        data=DataConfig(source=spec["train_file"], n=spec["train_n"]),
        eval_data=DataConfig(source=spec["eval_file"], n=spec["eval_n"]),
        run=RunConfig(name=out.name, output_dir=out.parent, seed=spec["seed"], overwrite=True),
        optim=OptimConfig(lr=spec["lr"], schedule="constant", warmup_steps=0, grad_clip=1.0),
        train=RewardModelTrainConfig(
            max_steps=steps,
            batch_size=spec["batch"],
            max_len=spec["max_length"],
            eval_every=steps + 1,
            save_every=steps + 1,
            log_every=1,
        ),
    )


def main(spec_path: str, result_path: str) -> None:
    """Train as the spec says and write the measurements to `result_path`."""
    import torch

    from rlvr.trainers.reward_model import train

    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    cfg = build_config(spec)
    result = train(cfg)
    run_dir = cfg.run.output_dir / cfg.run.name
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    rows = sorted((r for r in rows if "train/step_s" in r), key=lambda r: r["step"])
    record = {
        "side": "ours",
        "step_s": [float(r["train/step_s"]) for r in rows],
        "tokens": [int(r["train/tokens"]) for r in rows],
        "accuracy": [float(r["train/accuracy"]) for r in rows],
        "loss": [float(r["train/loss"]) for r in rows],
        "final": result.final,
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
    }
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
