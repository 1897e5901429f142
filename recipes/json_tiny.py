"""JSON RL on a tiny local model, end to end: answer with JSON that conforms to a schema.

1. Build the tiny model and SFT it on synthetic JSON tasks (a person, a point, a color, a list
   of numbers, a book, a status) until the held-out rate of valid and conforming answers
   reaches the SFT config's target. Held-out prompts are a disjoint tenth of the prompt texts.
2. DAPO from the SFT model with the `json_schema` verifier as reward (1 when the completion's
   JSON validates against the row's schema, whose values pin what the prompt asked for), for a
   fixed number of steps; with `--control`, the same run again with coin-flip rewards.
3. Print and record the held-out valid-and-conforming rate before and after, and a report.

`--smoke` runs every part at toy size (the model built under `--out`); the tests run it.

Usage: python recipes/json_tiny.py [--out runs/json-tiny] [--grpo-steps 150] [--seed 0]
                                   [--control] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlvr.cli import exit_on_user_error
from rlvr.trainers.recipe import Arm, run_recipe

CONFIGS = Path(__file__).parent / "configs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/json-tiny"), help="output root")
    parser.add_argument("--grpo-steps", type=int, default=150, help="GRPO steps per arm")
    parser.add_argument("--seed", type=int, default=0, help="run seed of both stages")
    parser.add_argument("--control", action="store_true", help="also run a random-reward GRPO")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a quick check")
    args = parser.parse_args()
    arms = [Arm("grpo")]
    if args.control:
        arms.append(Arm("control", ("train.random_reward=true",)))
    run_recipe(
        "json-tiny",
        (CONFIGS / "sft/json_tiny.yaml", CONFIGS / "grpo/json_tiny.yaml"),
        arms,
        out=args.out,
        overrides=[f"run.seed={args.seed}"],
        grpo_overrides=[f"train.max_steps={args.grpo_steps}"],
        smoke=args.smoke,
        threads=args.threads or None,
        metric="held-out valid-and-conforming rate",
    )


if __name__ == "__main__":
    with exit_on_user_error("json_tiny"):
        main()
