"""rlvr side of `benchmarks/dpo_vs_trl.py`: `rlvr.trainers.dpo.train` for a fixed step count.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_dpo_rlvr_worker.py SPEC.json RESULT.json

Implementation details:
  1. The data file the parent wrote (pairs, or unpaired rows for KTO), read in rlvr's seeded
     order; the TRL side gets the same rows in the same order, so step k of both sides trains
     on the same rows.
  2. `algo.loss` is the spec's (`sigmoid` or `kto`), beta as given, the reference a frozen copy
     of the starting model, or with `precompute` the cached log-probabilities (no reference
     model in memory).
  3. Per-step seconds (`time/step_s`: forward, backward and optimizer step, from the start of
     the step to after the optimizer step), tokens (`train/tokens`: prompt and completion
     tokens of every sequence, as TRL's attention mask counts them) and `rewards/accuracies`
     come from the run's `metrics.jsonl` (`log_every: 1`).
  4. Module-level imports are standard library only (see `_rlvr_worker.py`, item 4).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import peak_rss_mib

if TYPE_CHECKING:
    from rlvr.trainers.dpo import DPOConfig


def build_config(spec: dict[str, Any]) -> DPOConfig:
    """The preference stage config of the benchmark spec."""
    from rlvr.config.sections import DataConfig, ModelConfig, OptimConfig, RewardConfig, RunConfig
    from rlvr.trainers.dpo import DPOAlgoConfig, DPOConfig, DPOTrainConfig

    steps = int(spec["steps"])
    out = Path(spec["out_dir"])
    return DPOConfig(
        model=ModelConfig(path=spec["model"], dtype="float32"),
        data=DataConfig(source=spec["train_file"], n=spec["train_n"]),
        run=RunConfig(name=out.name, output_dir=out.parent, seed=spec["seed"], overwrite=True),
        algo=DPOAlgoConfig(
            loss=spec["loss"], beta=spec["beta"], precompute_reference=spec["precompute"]
        ),
        optim=OptimConfig(lr=spec["lr"], schedule="constant", warmup_steps=0, grad_clip=1.0),
        train=DPOTrainConfig(
            max_steps=steps,
            batch_size=spec["batch"],
            max_length=spec["max_length"],
            max_prompt_length=spec["max_length"] - 1,
            eval_every=steps + 1,
            save_every=steps + 1,
            log_every=1,
        ),
        reward=RewardConfig(workers=0),
    )


def main(spec_path: str, result_path: str) -> None:
    """Train as the spec says and write the measurements to `result_path`."""
    import torch

    from rlvr.trainers.dpo import train

    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    cfg = build_config(spec)
    result = train(cfg)
    run_dir = cfg.run.output_dir / cfg.run.name
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    rows = sorted((r for r in rows if "time/step_s" in r), key=lambda r: r["step"])
    record = {
        "side": "ours",
        "step_s": [float(r["time/step_s"]) for r in rows],
        "tokens": [int(r["train/tokens"]) for r in rows],
        "accuracy": [float(r.get("train/rewards/accuracies", float("nan"))) for r in rows],
        "loss": [float(r["train/loss"]) for r in rows],
        "final": result.final,
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
    }
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
