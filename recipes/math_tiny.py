"""Math RL on a tiny local model, end to end: the README's main job.

1. Build the tiny model (tokenizer + Qwen2-style LM) and SFT it on synthetic 2-digit arithmetic
   until held-out greedy accuracy reaches the SFT config's target.
2. GRPO (DAPO preset) from the SFT model with the `math` verifier as reward, for a fixed
   wall-clock budget. `--compare-presets` adds the GRPO preset on the same budget from the same
   SFT model; `--control` adds the same run with coin-flip rewards.
3. Print and record held-out accuracy before and after, and write a report with plots.

`--smoke` runs every part at toy size (a few SFT and GRPO steps, small held-out sets, the model
built under `--out`) in well under a minute: the test suite runs it end to end.

Usage: python recipes/math_tiny.py [--out runs/math-tiny] [--grpo-seconds 180] [--seed 0]
                                   [--compare-presets] [--control] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlvr.cli import exit_on_user_error
from rlvr.trainers.recipe import Arm, run_recipe

CONFIGS = Path(__file__).parent / "configs"
GRPO_PRESET = ("algo.preset=grpo", "algo.overlong_buffer=0")
"""The GRPO preset as it stands (the config's overlong shaping is DAPO's)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/math-tiny"), help="output root")
    parser.add_argument("--grpo-seconds", type=float, default=180.0, help="GRPO time budget")
    parser.add_argument("--seed", type=int, default=0, help="run seed of both stages")
    parser.add_argument("--compare-presets", action="store_true", help="also run GRPO's preset")
    parser.add_argument("--control", action="store_true", help="also run a random-reward GRPO")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a quick check")
    args = parser.parse_args()
    arms = [Arm("dapo")]
    if args.compare_presets:
        arms.append(Arm("grpo", GRPO_PRESET))
    if args.control:
        arms.append(Arm("control", ("train.random_reward=true",)))
    run_recipe(
        "math-tiny",
        (CONFIGS / "sft/math_tiny.yaml", CONFIGS / "grpo/math_tiny.yaml"),
        arms,
        out=args.out,
        overrides=[f"run.seed={args.seed}"],
        grpo_overrides=[f"train.max_seconds={args.grpo_seconds}"],
        smoke=args.smoke,
        threads=args.threads or None,
    )


if __name__ == "__main__":
    with exit_on_user_error("math_tiny"):
        main()
