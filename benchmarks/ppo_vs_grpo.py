"""Side-by-side benchmark: a PPO step against a GRPO step of the same batch, on this machine.

PPO runs the RLHF recipe's config (`recipes/configs/ppo/rlhf_tiny.yaml`: a learned reward model
scores every completion, the config's critic (a value head there, copied from the reward
model), `ppo_epochs` passes); GRPO runs the `grpo` preset (KL to the reference in the loss, one
optimizer step per batch) with the verifier as reward, on the same batch: the same starting
model, prompts per step, completions per prompt (GRPO's group size is PPO's
`samples_per_prompt`), completion length, temperature and seed, so the first step of both
samples the very same prompts and completions. Run it from the repository root::

    python benchmarks/ppo_vs_grpo.py --sft DIR --reward-model DIR [--rounds 3] [--steps 4] \
        [--out runs/bench-ppo-vs-grpo]

`--sft` and `--reward-model` are the recipe's SFT `final/` and clean reward model `final/`
(`python recipes/rlhf_tiny.py` writes them under `runs/rlhf-tiny/`).

Implementation details:
  1. One process, alternating: each round trains GRPO for `--steps` steps, then PPO for as
     many, each a fresh run of its trainer (model loading and evaluation are outside the
     steps). Both share the machine's load at the same moments, so its drift affects both.
  2. A step is everything a training step does: sampling, rewards (verifier runtime; for PPO
     also the reward model), the reference and critic passes, the update(s) and the weight
     sync; its time is the trainer's own `time/step_s`. Each run's first step is a warm-up
     and is not counted.
  3. The ratio is the median PPO step over the median GRPO step, over every counted step of
     every round; the per-round medians are reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

from _common import package_versions, write_results

from rlvr.config import load_config
from rlvr.runs.report import read_metrics, series
from rlvr.trainers import grpo, ppo

ROOT = Path(__file__).resolve().parents[1]
PPO_CONFIG = ROOT / "recipes/configs/ppo/rlhf_tiny.yaml"
GRPO_CONFIG = ROOT / "recipes/configs/grpo/math_tiny.yaml"
TARGET = 1.6
"""The issue's bound on the PPO / GRPO step-time ratio."""


def configs(args: argparse.Namespace, round_: int) -> tuple[ppo.PPOConfig, grpo.GRPOConfig]:
    """The PPO recipe config and a GRPO config of the same batch, for one round."""
    out = [f"run.output_dir={args.out}", "run.overwrite=true", f"train.max_steps={args.steps}"]
    out += [
        "train.max_seconds=null",
        f"train.eval_every={args.steps + 1}",
        "monitors.enabled=false",
    ]
    p = load_config(
        args.ppo_config,
        ppo.PPOConfig,
        [
            *out,
            f"model.path={args.sft}",
            f"reward.model.path={args.reward_model}",
            f"critic.path={args.reward_model}",
            f"run.name=ppo-{round_}",
        ],
    )
    a, r = p.algo, p.rollout
    if a.samples_per_prompt < 2:
        raise SystemExit("the PPO config samples one completion per prompt: GRPO needs groups")
    g = load_config(
        GRPO_CONFIG,
        grpo.GRPOConfig,
        [
            *out,
            f"model.path={args.sft}",
            f"run.name=grpo-{round_}",
            "algo.preset=grpo",
            "algo.dynamic_sampling=false",
            "algo.overlong_buffer=0",
            "algo.num_iterations=1",
            f"algo.group_size={a.samples_per_prompt}",
            f"algo.prompts_per_step={a.prompts_per_step}",
            f"rollout.max_new_tokens={r.max_new_tokens}",
            f"rollout.temperature={r.temperature}",
            f"optim.lr={p.optim.lr}",
            f"data.n={p.data.n}",
            f"data.seed={p.data.seed}",
            f"run.seed={p.run.seed}",
            f"reward.workers={p.reward.workers}",
        ],
    )
    return p, g


def step_times(run_dir: Path) -> list[float]:
    """The counted steps' `time/step_s` of a run (its first step is the warm-up)."""
    return series(read_metrics(run_dir), "time/step_s")[1][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft", type=Path, required=True, help="the SFT model (final/)")
    parser.add_argument("--reward-model", type=Path, required=True, help="reward model final/")
    parser.add_argument("--ppo-config", type=Path, default=PPO_CONFIG, help="PPO config")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=4, help="steps per run (1 is warm-up)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-ppo-vs-grpo"))
    args = parser.parse_args()
    times: dict[str, list[float]] = {"grpo": [], "ppo": []}
    rounds: list[dict[str, float]] = []
    for i in range(args.rounds):
        p, g = configs(args, i)
        grpo.train(g)
        ppo.train(p)
        got = {name: step_times(args.out / f"{name}-{i}") for name in times}
        for name, values in got.items():
            times[name] += values
        rounds.append({name: statistics.median(v) for name, v in got.items()})
        print(f"round {i + 1}: " + ", ".join(f"{k} {v:.3f} s/step" for k, v in rounds[-1].items()))
    medians = {name: statistics.median(v) for name, v in times.items()}
    ratio = medians["ppo"] / medians["grpo"]
    p, g = configs(args, 0)
    results: dict[str, Any] = {
        "ppo_s_per_step": medians["ppo"],
        "grpo_s_per_step": medians["grpo"],
        "ratio": ratio,
        "target": TARGET,
        "within_target": ratio <= TARGET,
        "rounds": rounds,
        "steps_counted": {k: len(v) for k, v in times.items()},
        "batch": {
            "prompts_per_step": p.algo.prompts_per_step,
            "completions_per_prompt": p.algo.samples_per_prompt,
            "max_new_tokens": p.rollout.max_new_tokens,
            "ppo_epochs": p.algo.ppo_epochs,
            "mini_batch_size": p.algo.mini_batch_size,
            "critic": p.critic.kind,
        },
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "versions": package_versions(["torch", "transformers"]),
    }
    print(json.dumps({k: v for k, v in results.items() if k != "versions"}, indent=2))
    print(f"PPO / GRPO step time: {ratio:.2f}x (target <= {TARGET}x)")
    args.out.mkdir(parents=True, exist_ok=True)
    write_results(args.out, results)


if __name__ == "__main__":
    main()
