"""Math RL on a tiny local model, end to end: the README's main job.

1. Build the tiny model (tokenizer + Qwen2-style LM) and SFT it on synthetic 2-digit arithmetic
   until held-out greedy accuracy reaches the SFT config's target.
2. GRPO (DAPO preset) from the SFT model with the `math` verifier as reward, for a fixed
   wall-clock budget; with `--control`, the same run again with coin-flip rewards.
3. Print and record held-out accuracy before and after, and write a report with plots.

`--smoke` runs every part at toy size (a few SFT and GRPO steps, small held-out sets, the model
built under `--out`) in well under a minute: the test suite runs it end to end.

Usage: python recipes/math_tiny.py [--out runs/math-tiny] [--grpo-seconds 180] [--control]
                                   [--smoke]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlvr.cli import exit_on_user_error
from rlvr.config import load_config
from rlvr.runs.report import plot_runs, write_summary
from rlvr.trainers.grpo import GRPOConfig, GRPOResult
from rlvr.trainers.pipeline import run_stage

CONFIGS = Path(__file__).parent / "configs"

SMOKE_SFT = ["train.max_steps=4", "train.eval_every=2", "train.batch_size=8", "data.n=64"]
SMOKE_GRPO = ["train.max_steps=2", "train.eval_every=1", "train.kl_every=1", "data.n=32"]
SMOKE_GRPO += ["algo.prompts_per_step=2", "algo.group_size=4", "algo.dynamic_sampling=false"]
SMOKE_BOTH = ["eval_data.n=8", "reward.workers=1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/math-tiny"), help="output root")
    parser.add_argument("--grpo-seconds", type=float, default=180.0, help="GRPO time budget")
    parser.add_argument("--control", action="store_true", help="also run a random-reward GRPO")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a quick check")
    args = parser.parse_args()
    common = [f"run.output_dir={args.out}", "run.overwrite=true"]
    smoke = [*SMOKE_BOTH, f"model.path={args.out}/models/tiny"] if args.smoke else []

    sft_cfg = load_config(
        CONFIGS / "sft/math_tiny.yaml", overrides=[*common, *smoke, *(SMOKE_SFT * args.smoke)]
    )
    sft = run_stage(sft_cfg, "sft")
    print(f"SFT: {sft.steps} steps, held-out accuracy {sft.eval_accuracy:.3f}")

    arms = {"grpo": [], **({"control": ["train.random_reward=true"]} if args.control else {})}
    results: dict[str, tuple[GRPOResult, GRPOConfig]] = {}
    for arm, extra in arms.items():
        overrides = [
            *common,
            *smoke,
            *(SMOKE_GRPO * args.smoke),
            f"model.path={sft.final}",
            f"run.name={arm}-math-tiny",
            f"train.max_seconds={args.grpo_seconds}",
            *extra,
        ]
        cfg = load_config(CONFIGS / "grpo/math_tiny.yaml", GRPOConfig, overrides)
        r = run_stage(cfg, "grpo")
        results[arm] = (r, cfg)
        print(
            f"{arm}: {r.steps} steps ({_ended(r, cfg)}), held-out accuracy "
            f"{r.accuracy_before:.3f} -> {r.accuracy_after:.3f}"
        )

    runs = {arm: args.out / f"{arm}-math-tiny" for arm in results}
    plot = plot_runs(runs, args.out / "report.png", title="GRPO on tiny-model arithmetic")
    plot_runs({"sft": args.out / sft_cfg.run.name}, args.out / "sft.png", title="SFT warm-up")
    rows = [("SFT steps", str(sft.steps)), ("SFT held-out accuracy", f"{sft.eval_accuracy:.3f}")]
    for arm, (r, cfg) in results.items():
        rows += [
            (f"{arm}: steps", f"{r.steps} ({_ended(r, cfg)})"),
            (
                f"{arm}: accuracy before -> after",
                f"{r.accuracy_before:.3f} -> {r.accuracy_after:.3f}",
            ),
        ]
    write_summary(args.out / "report.md", "math_tiny", rows, plot)
    summary = {
        "sft": sft.eval_accuracy,
        **{arm: [r.accuracy_before, r.accuracy_after] for arm, (r, _) in results.items()},
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"report: {args.out / 'report.md'}")


def _ended(r: GRPOResult, cfg: GRPOConfig) -> str:
    """Which limit ended a GRPO run, in words."""
    train = cfg.train
    if r.stopped_by == "max_seconds":
        return f"time budget of {train.max_seconds:.0f} s reached"
    budget = f" of the {train.max_seconds:.0f} s budget" if train.max_seconds else ""
    return f"max_steps={train.max_steps} reached after {r.trained_s:.0f} s{budget}"


if __name__ == "__main__":
    with exit_on_user_error("math_tiny"):
        main()
