"""Math RL on a tiny local model, end to end: the README's main job.

1. Build the tiny model (tokenizer + Qwen2-style LM) and SFT it on synthetic 2-digit arithmetic
   until held-out greedy accuracy reaches the SFT config's target.
2. GRPO (DAPO preset) from the SFT model with the `math` verifier as reward, for a fixed
   wall-clock budget; with `--control`, the same run again with coin-flip rewards.
3. Print and record held-out accuracy before and after, and write a report with plots.

Usage: python recipes/math_tiny.py [--out runs/math-tiny] [--grpo-seconds 180] [--control]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlvr.config import load_config
from rlvr.pipeline import run_stage
from rlvr.report import plot_runs, write_summary

CONFIGS = Path(__file__).parent / "configs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/math-tiny"), help="output root")
    parser.add_argument("--grpo-seconds", type=float, default=180.0, help="GRPO time budget")
    parser.add_argument("--control", action="store_true", help="also run a random-reward GRPO")
    args = parser.parse_args()
    common = [f"run.output_dir={args.out}", "run.overwrite=true"]

    sft_cfg = load_config(CONFIGS / "sft/math_tiny.yaml", overrides=common)
    sft = run_stage(sft_cfg, "sft")
    print(f"SFT: {sft.steps} steps, held-out accuracy {sft.eval_accuracy:.3f}")

    arms = {"grpo": [], **({"control": ["train.random_reward=true"]} if args.control else {})}
    results = {}
    for arm, extra in arms.items():
        overrides = [
            *common,
            f"model.path={sft.final}",
            f"run.name={arm}-math-tiny",
            f"train.max_seconds={args.grpo_seconds}",
            *extra,
        ]
        cfg = load_config(CONFIGS / "grpo/math_tiny.yaml", overrides=overrides)
        results[arm] = run_stage(cfg, "grpo")
        r = results[arm]
        print(
            f"{arm}: {r.steps} steps, held-out accuracy {r.accuracy_before:.3f} -> "
            f"{r.accuracy_after:.3f}"
        )

    runs = {"sft": Path(sft_cfg.run.output_dir) / sft_cfg.run.name}
    runs.update({arm: args.out / f"{arm}-math-tiny" for arm in results})
    plot = plot_runs(
        {k: v for k, v in runs.items() if k != "sft"},
        args.out / "report.png",
        title="GRPO on tiny-model arithmetic",
    )
    plot_runs({"sft": runs["sft"]}, args.out / "sft.png", title="SFT warm-up")
    rows = [("SFT steps", str(sft.steps)), ("SFT held-out accuracy", f"{sft.eval_accuracy:.3f}")]
    for arm, r in results.items():
        rows += [
            (f"{arm}: steps in {args.grpo_seconds:.0f} s", str(r.steps)),
            (
                f"{arm}: accuracy before -> after",
                f"{r.accuracy_before:.3f} -> {r.accuracy_after:.3f}",
            ),
        ]
    write_summary(args.out / "report.md", "math_tiny", rows, plot)
    summary = {
        "sft": sft.eval_accuracy,
        **{arm: [r.accuracy_before, r.accuracy_after] for arm, r in results.items()},
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
