"""Code RL on a tiny local model, end to end: write one-line Python functions that pass tests.

1. Build the tiny model and SFT it on synthetic function tasks (add a constant, multiply, sum
   the items above a threshold, divisibility, clamp) until held-out pass@1 reaches the SFT
   config's target. Held-out prompts are a disjoint tenth of the prompt texts.
2. GRPO from the SFT model with the `code` verifier as reward (each completion's function runs
   against the row's asserts in the sandbox), for a fixed number of steps. The reward is the
   fraction of tests passed; `--all-or-nothing` makes it 1 only when every test passes, and
   `--compare-credit` runs both, from the same SFT model and budget. `--control` adds the same
   run with coin-flip rewards.
3. Print and record held-out pass@1 before and after, and write a report with plots.

`--smoke` runs every part at toy size (the model built under `--out`); the tests run it.

Usage: python recipes/code_tiny.py [--out runs/code-tiny] [--grpo-steps 30] [--seed 0]
                                   [--all-or-nothing | --compare-credit] [--control] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlvr.cli import exit_on_user_error
from rlvr.trainers.recipe import Arm, run_recipe

CONFIGS = Path(__file__).parent / "configs"
ALL_OR_NOTHING = ("reward.verifier_options.code.partial_credit=false",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/code-tiny"), help="output root")
    parser.add_argument("--grpo-steps", type=int, default=30, help="GRPO steps per arm")
    parser.add_argument("--seed", type=int, default=0, help="run seed of both stages")
    credit = parser.add_mutually_exclusive_group()
    credit.add_argument("--all-or-nothing", action="store_true", help="reward 1 only if all pass")
    credit.add_argument("--compare-credit", action="store_true", help="run both reward kinds")
    parser.add_argument("--control", action="store_true", help="also run a random-reward GRPO")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a quick check")
    args = parser.parse_args()
    arms = [Arm("grpo", ALL_OR_NOTHING if args.all_or_nothing else ())]
    if args.compare_credit:
        arms.append(Arm("all-or-nothing", ALL_OR_NOTHING))
    if args.control:
        arms.append(Arm("control", ("train.random_reward=true",)))
    run_recipe(
        "code-tiny",
        (CONFIGS / "sft/code_tiny.yaml", CONFIGS / "grpo/code_tiny.yaml"),
        arms,
        out=args.out,
        overrides=[f"run.seed={args.seed}"],
        grpo_overrides=[f"train.max_steps={args.grpo_steps}"],
        smoke=args.smoke,
        threads=args.threads or None,
        metric="held-out pass@1",
    )


if __name__ == "__main__":
    with exit_on_user_error("code_tiny"):
        main()
