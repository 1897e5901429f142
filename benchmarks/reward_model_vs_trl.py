"""Side-by-side benchmark: rlvr's reward-model stage against TRL's `RewardTrainer`, on CPU.

Both sides train a one-label `AutoModelForSequenceClassification` head on the same starting
model, on the same synthetic arithmetic preference pairs in the same order, with the same batch,
learning rate and step count, and are measured the same way. Run it from the repository root
with an environment that has TRL::

    pip install -e '.[bench]'
    python benchmarks/reward_model_vs_trl.py [--steps 20] [--rounds 2] [--batch 32] \
        [--lr 1e-4] [--model DIR] [--out runs/bench-reward-model-vs-trl]

Implementation details:
  1. Starting model: `--model DIR`, or the SFT model `grpo_vs_trl.build_model` builds (a tiny
     Qwen2 model fine-tuned on worked arithmetic solutions). Both sides put a new scalar head
     on it, initialised from the same seed.
  2. Data: `arithmetic_pref(--train-n, seed=7, ops=+,-, split=train)` pairs written once as
     JSONL in TRL's preference format; rlvr reads them in its seeded order and TRL gets that
     order over all the steps' pairs with sequential sampling, so step k of both sides trains
     on the same pairs. Held-out: `--eval-n` test-split pairs (seed 1234, disjoint problems).
  3. Sides, each a fresh interpreter, alternating for `--rounds` rounds (ours, TRL, ours, ...):
     1 warm-up step plus `--steps` timed steps; s/step is the mean of the timed steps; tokens/s
     is their prompt+completion tokens (both sides of every pair) over their summed time.
  4. Peak RSS: the worker's own `VmHWM`; "tree" is the largest polled sum over its process tree
     (`grpo_vs_trl.tree_rss_mib`).
  5. After training this script scores every final model with one code path
     (`rlvr.models.reward_head.score_texts`): held-out pairwise accuracy.
  6. Torch threads: `--threads` in both workers (default 1, as in `grpo_vs_trl.py`: on a small
     shared machine a second OpenMP thread measures the neighbours).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import package_versions, write_results
from grpo_vs_trl import build_model, tree_rss_mib

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = {"ours": "_rm_rlvr_worker.py", "trl": "_rm_trl_worker.py"}
SIDES = ("ours", "trl")
LABELS = {"ours": "rlvr", "trl": "TRL"}
TRAIN_SEED, EVAL_SEED = 7, 1234
POLL_S = 0.2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (after 1 warm-up)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds: ours, TRL, ...")
    p.add_argument("--batch", type=int, default=32, help="pairs per optimizer step")
    p.add_argument("--lr", type=float, default=1e-4, help="constant AdamW learning rate")
    p.add_argument("--max-length", type=int, default=128, help="prompt + completion tokens")
    p.add_argument("--model", type=Path, default=None, help="starting model (default: build)")
    p.add_argument("--sft-steps", type=int, default=1000, help="SFT steps when building")
    p.add_argument("--out", type=Path, default=Path("runs/bench-reward-model-vs-trl"))
    p.add_argument("--train-n", type=int, default=500, help="training pairs generated")
    p.add_argument("--eval-n", type=int, default=200, help="held-out pairs")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each trainer")
    p.add_argument("--seed", type=int, default=0, help="seed of both trainers")
    args = p.parse_args(argv)
    if args.steps < 1 or args.rounds < 1 or args.batch < 2:
        p.error("need --steps >= 1, --rounds >= 1 and --batch >= 2")
    return args


def write_data(args: argparse.Namespace) -> dict[str, Any]:
    """Training and held-out pairs as JSONL, and rlvr's pair order over every step."""
    from rlvr.data.batches import Batches
    from rlvr.data.preference import generate_preference, write_preference_jsonl

    options = {"ops": ["+", "-"]}
    train = generate_preference(
        "arithmetic-pref", args.train_n, seed=TRAIN_SEED, options={**options, "split": "train"}
    )
    held = generate_preference(
        "arithmetic-pref", args.eval_n, seed=EVAL_SEED, options={**options, "split": "test"}
    )
    train_file = write_preference_jsonl(train, args.out / "train.jsonl")
    eval_file = write_preference_jsonl(held, args.out / "eval.jsonl")
    order = Batches(len(train), args.seed).next((args.steps + 1) * args.batch)
    return {
        "train_file": str(train_file.resolve()),
        "train_n": len(train),
        "eval_file": str(eval_file.resolve()),
        "eval_n": len(held),
        "order": order,
    }


def run_worker(
    side: str, spec: dict[str, Any], run_dir: Path
) -> tuple[dict[str, Any], float, float]:
    """Run one worker to completion; its record, wall seconds and peak tree RSS (MiB)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = run_dir / f"{side}-spec.json", run_dir / f"{side}-result.json"
    spec_path.write_text(json.dumps({**spec, "out_dir": str(run_dir / side)}) + "\n")
    result_path.unlink(missing_ok=True)
    threads = str(spec["threads"])
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    command = [sys.executable, str(BENCH_DIR / WORKERS[side]), str(spec_path), str(result_path)]
    log_path = run_dir / f"{side}.log"
    peak, start = 0.0, time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        while proc.poll() is None:
            peak = max(peak, tree_rss_mib(proc.pid))
            time.sleep(POLL_S)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.exists():
        tail = "\n".join(log_path.read_text().splitlines()[-40:])
        raise RuntimeError(f"{side} worker failed ({proc.returncode}); {log_path}:\n{tail}")
    return json.loads(result_path.read_text()), wall, peak


def summarise_run(
    side: str, rnd: int, raw: dict[str, Any], wall: float, tree: float
) -> dict[str, Any]:
    """A run's measurements over its timed steps (the warm-up step left out)."""
    times, tokens = raw["step_s"][1:], raw["tokens"][1:]
    if not times or len(raw["step_s"]) != len(raw["tokens"]):
        raise RuntimeError(f"{side}: {len(raw['step_s'])} step times, {len(raw['tokens'])} counts")
    return {
        "side": side,
        "round": rnd,
        "step_s": statistics.fmean(times),
        "step_s_median": statistics.median(times),
        "tokens_per_s": sum(tokens) / sum(times),
        "peak_rss_mib": float(raw["peak_rss_mib"]),
        "peak_tree_rss_mib": max(tree, float(raw["peak_rss_mib"])),
        "wall_s": wall,
        "train_accuracy": statistics.fmean(raw["accuracy"][-5:]),
        "final_train_loss": raw["loss"][-1],
        "final": raw["final"],
    }


def evaluate(models: list[str], eval_file: str) -> dict[str, float]:
    """Held-out pairwise accuracy of each reward model, with one code path."""
    import torch

    from rlvr.data.preference import load_pairs
    from rlvr.evaluate.audit_stats import pairwise_accuracy
    from rlvr.models.reward_head import load_reward_model, score_texts

    pairs = load_pairs(eval_file)
    prompts = [p.prompt for p in pairs]
    out = {}
    with torch.no_grad():
        for path in models:
            model, tokenizer = load_reward_model(path)
            chosen = score_texts(model, tokenizer, prompts, [p.chosen for p in pairs])
            rejected = score_texts(model, tokenizer, prompts, [p.rejected for p in pairs])
            out[path] = pairwise_accuracy(chosen, rejected)
    return out


METRICS = (
    ("s/step", "step_s", "{:.4f}"),
    ("s/step (median)", "step_s_median", "{:.4f}"),
    ("tokens/s", "tokens_per_s", "{:.0f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("peak RSS MiB (tree)", "peak_tree_rss_mib", "{:.0f}"),
    ("train accuracy (last 5)", "train_accuracy", "{:.3f}"),
    ("held-out accuracy", "accuracy", "{:.3f}"),
    ("process wall s", "wall_s", "{:.1f}"),
)
"""Table rows: label, record key, number format."""


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per metric: mean and min over rounds of each side, and the ratios ours/TRL."""
    summary: dict[str, dict[str, float]] = {}
    for _, key, _ in METRICS:
        row: dict[str, float] = {}
        for side in SIDES:
            values = [float(r[key]) for r in records if r["side"] == side]
            row[f"{side}_mean"], row[f"{side}_min"] = statistics.fmean(values), min(values)
        for stat in ("mean", "min"):
            theirs = row[f"trl_{stat}"]
            row[f"ratio_{stat}"] = row[f"ours_{stat}"] / theirs if theirs else math.nan
        summary[key] = row
    return summary


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """The summary as a fixed-width text table."""
    head = ["metric", "rlvr mean", "rlvr min", "TRL mean", "TRL min", "ours/TRL", "(min)"]
    lines = ["{:<26}{:>11}{:>11}{:>11}{:>11}{:>10}{:>8}".format(*head)]
    for label, key, fmt in METRICS:
        row = summary[key]
        cells = [fmt.format(row[f"{s}_{stat}"]) for s in SIDES for stat in ("mean", "min")]
        ratios = [
            f"{row[k]:.2f}x" if math.isfinite(row[k]) else "n/a"
            for k in ("ratio_mean", "ratio_min")
        ]
        lines.append("{:<26}{:>11}{:>11}{:>11}{:>11}{:>10}{:>8}".format(label, *cells, *ratios))
    return "\n".join(lines)


def format_runs(records: list[dict[str, Any]]) -> str:
    """One line per training run, in the order they ran."""
    lines = ["round  side     s/step   median     tok/s   RSS MiB  accuracy   wall s"]
    for r in records:
        lines.append(
            f"{r['round']:<7}{LABELS[r['side']]:<6}{r['step_s']:>9.4f}{r['step_s_median']:>9.4f}"
            f"{r['tokens_per_s']:>10.0f}{r['peak_rss_mib']:>10.0f}{r['accuracy']:>10.3f}"
            f"{r['wall_s']:>9.1f}"
        )
    return "\n".join(lines)


NOTES = (
    "Same on both: the starting model and its new head's seed, the pairs and their order, "
    "batch, one micro-batch, constant AdamW lr (torch, not fused), grad clip 1.0, CPU "
    "float32, no gradient checkpointing, no reward centring, max length, torch threads.",
    "Differs: TRL tokenises prompt + completion as one text, rlvr tokenises them apart and "
    "joins the ids (the tiny tokenizer splits at the boundary either way); TRL counts a "
    "tie as wrong in its accuracy, the held-out column is computed here the same way for both.",
    "Differs: rlvr's run ends with an audit of the held-out pairs (in its process wall time and "
    "peak RSS, outside the timed steps); TRL's ends after saving.",
)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the tables and write `results.json` into `--out`."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model or build_model(args.out, args.sft_steps, args.threads)
    spec = {
        "model": str(Path(model).resolve()), "steps": args.steps + 1, "batch": args.batch,
        "lr": args.lr, "max_length": args.max_length, "seed": args.seed,
        "threads": args.threads, **write_data(args),
    }  # fmt: skip
    records = []
    for rnd in range(1, args.rounds + 1):
        for side in SIDES:
            print(f"round {rnd}/{args.rounds}: {LABELS[side]} ...", end=" ", flush=True)
            raw, wall, tree = run_worker(side, spec, args.out / f"round{rnd}")
            records.append(summarise_run(side, rnd, raw, wall, tree))
            print(f"{records[-1]['step_s']:.4f} s/step", flush=True)
    print("scoring every final model on the held-out pairs ...", flush=True)
    accuracy = evaluate([r["final"] for r in records], spec["eval_file"])
    for r in records:
        r["accuracy"] = accuracy[r["final"]]
    summary = summarise(records)
    print(f"\nstarting model: {spec['model']}")
    print(f"{args.rounds} rounds x {args.steps} timed steps, batch {args.batch} pairs\n")
    print(format_runs(records) + "\n\n" + format_table(summary) + "\n")
    for line in NOTES:
        print(f"note: {line}")
    results = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "versions": package_versions(
            ("rlvr", "trl", "transformers", "torch", "accelerate", "datasets")
        ),
        "spec": {k: v for k, v in spec.items() if k != "order"},
        "runs": records,
        "summary": summary,
        "notes": list(NOTES),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
