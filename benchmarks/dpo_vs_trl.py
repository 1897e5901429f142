"""Side-by-side benchmark: rlvr's preference stage against TRL's `DPOTrainer` (or, with
`--loss kto`, `KTOTrainer`), on CPU, plus a loss-parity check on one batch.

Both sides train the same tiny model on the same synthetic arithmetic preference pairs, in the
same order, with the same batch, beta, learning rate and step count, and are measured the same
way. Run it from the repository root with an environment that has TRL::

    pip install -e '.[bench]'
    python benchmarks/dpo_vs_trl.py [--loss sigmoid|kto] [--steps 20] [--rounds 2] \
        [--batch 16] [--beta 0.1] [--lr 1e-4] [--model DIR] [--vocab N] \
        [--out runs/bench-dpo-vs-trl]

Implementation details:
  1. Starting model: `--model DIR`, or the SFT model `grpo_vs_trl.build_model` builds (a tiny
     Qwen2 model fine-tuned on worked arithmetic solutions). `--vocab N` pads its embedding and
     output matrices to N rows (`pad_vocabulary`), the size of a released model's vocabulary,
     where logits rather than libraries dominate memory; both sides get the padded model.
  2. Data: `arithmetic_pref(--train-n, seed=7, ops=+,-, split=train)` pairs written once as
     JSONL in TRL's preference format (KTO: unpaired with `unpair`, TRL's unpaired format);
     TRL reads the rows in rlvr's seeded order with sequential sampling.
  3. Sides, each a fresh interpreter, alternating for `--rounds` rounds: `ours` (frozen
     reference copy), `ours_pre` (`precompute_reference: true`: no reference model kept) and
     `trl` (TRL's default: a second model as reference). 1 warm-up step plus `--steps` timed
     steps; s/step is the mean of the timed steps; tokens/s is their prompt+completion tokens
     (both sequences of a pair; KTO: the KL sequences too) over their summed time.
  4. Peak RSS: the worker's own `VmHWM`; "tree" is the largest polled sum over its process
     tree (`grpo_vs_trl.tree_rss_mib`). Reference precomputation runs before the timed steps
     and is in the process wall time and the peak RSS.
  5. After training, this script scores every final model with one code path: held-out
     pairwise reward accuracy (implicit reward of chosen above rejected, against the starting
     model) on `--eval-n` test-split pairs, and held-out greedy accuracy on their prompts.
  6. Parity: `_dpo_trl_worker.py` in parity mode computes TRL's loss and rlvr's on the first
     batch of TRL's collator with the same policy (the starting model plus N(0, 0.02) noise)
     and reference (the starting model); they must agree to 1e-5.
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

from _common import package_versions, pad_vocabulary, write_results
from grpo_vs_trl import build_model, tree_rss_mib

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = {
    "ours": "_dpo_rlvr_worker.py",
    "ours_pre": "_dpo_rlvr_worker.py",
    "trl": "_dpo_trl_worker.py",
}
LABELS = {"ours": "rlvr", "ours_pre": "rlvr+pre", "trl": "TRL"}
TRAIN_SEED, EVAL_SEED = 7, 1234
POLL_S = 0.2
PARITY_TOL = 1e-5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss", choices=("sigmoid", "kto"), default="sigmoid", help="DPO or KTO")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (after 1 warm-up)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of every side")
    p.add_argument("--batch", type=int, default=16, help="pairs (KTO: rows) per optimizer step")
    p.add_argument("--beta", type=float, default=0.1, help="beta of both sides")
    p.add_argument("--lr", type=float, default=1e-4, help="constant AdamW learning rate")
    p.add_argument("--max-length", type=int, default=128, help="prompt + completion tokens")
    p.add_argument("--model", type=Path, default=None, help="starting model (default: build)")
    p.add_argument("--sft-steps", type=int, default=1000, help="SFT steps when building")
    p.add_argument(
        "--vocab", type=int, default=0,
        help="pad the starting model's vocabulary to this many rows (0: leave it as it is)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("runs/bench-dpo-vs-trl"))
    p.add_argument("--train-n", type=int, default=2000, help="training pairs generated")
    p.add_argument("--eval-n", type=int, default=200, help="held-out pairs")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each trainer")
    p.add_argument("--seed", type=int, default=0, help="seed of both trainers")
    p.add_argument("--sides", default="ours,ours_pre,trl", help="comma-separated sides to run")
    args = p.parse_args(argv)
    if args.steps < 1 or args.rounds < 1 or args.batch < 2:
        p.error("need --steps >= 1, --rounds >= 1 and --batch >= 2")
    return args


def write_data(args: argparse.Namespace) -> tuple[Path, int, list[int]]:
    """Training rows as JSONL, their count, and rlvr's order over them."""
    from rlvr.data.batches import Batches
    from rlvr.data.preference import generate_preference, write_preference_jsonl

    options = {"ops": ["+", "-"], "split": "train", "unpaired": args.loss == "kto"}
    rows = generate_preference("arithmetic-pref", args.train_n, seed=TRAIN_SEED, options=options)
    path = write_preference_jsonl(rows, args.out / f"train-{args.loss}.jsonl")
    return path, len(rows), Batches(len(rows), args.seed).next(len(rows))


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
        "final_train_accuracy": raw["accuracy"][-1],
        "final_train_loss": raw["loss"][-1],
        "final": raw["final"],
    }


def evaluate(models: list[str], start: str, n: int) -> dict[str, dict[str, float]]:
    """Held-out pairwise reward accuracy (vs `start`) and greedy accuracy of each model."""
    import torch

    from rlvr.algorithms.preference import pair_loss
    from rlvr.config.sections import GenerationConfig, ModelConfig
    from rlvr.data.preference import generate_preference, held_out_samples
    from rlvr.evaluate import score_model
    from rlvr.models.loading import load_policy
    from rlvr.rewards import RewardRuntime
    from rlvr.trainers.dpo import encode_rows, sequence_logps

    options = {"ops": ["+", "-"], "split": "test"}
    rows = generate_preference("arithmetic-pref", n, seed=EVAL_SEED, options=options)
    ref, tokenizer = load_policy(ModelConfig(start))
    enc = encode_rows(tokenizer, rows, max_length=256, max_prompt_length=128, what="eval")
    pairs = enc.rows(list(range(len(enc))))
    pad = tokenizer.pad_token_id
    generation = GenerationConfig(max_new_tokens=32, temperature=0.0, batch_size=100)
    out = {}
    with torch.no_grad(), RewardRuntime(workers=0) as runtime:
        ref_lp, tokens = sequence_logps(ref, pairs, pad_id=pad, share_prefix=True)
        for path in models:
            model = load_policy(ModelConfig(path))[0].eval()
            lp, _ = sequence_logps(model, pairs, pad_id=pad, share_prefix=True)
            _, stats = pair_loss(
                "sigmoid", lp[0::2], lp[1::2], chosen_tokens=tokens[0::2],
                rejected_tokens=tokens[1::2], ref_chosen=ref_lp[0::2], ref_rejected=ref_lp[1::2],
            )  # fmt: skip
            scored = score_model(
                model, tokenizer, held_out_samples(rows), generation=generation, runtime=runtime
            )
            out[path] = {
                "reward_accuracy": stats["rewards/accuracies"],
                "accuracy": scored.accuracy,
            }
    return out


METRICS = (
    ("s/step", "step_s", "{:.3f}"),
    ("tokens/s", "tokens_per_s", "{:.0f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("peak RSS MiB (tree)", "peak_tree_rss_mib", "{:.0f}"),
    ("train rewards/accuracies", "final_train_accuracy", "{:.3f}"),
    ("held-out reward accuracy", "reward_accuracy", "{:.3f}"),
    ("held-out greedy accuracy", "accuracy", "{:.3f}"),
    ("process wall s", "wall_s", "{:.1f}"),
)


def summarise(records: list[dict[str, Any]], sides: list[str]) -> dict[str, dict[str, float]]:
    """Per metric: the mean over rounds of each side, and each rlvr side's ratio to TRL's."""
    summary: dict[str, dict[str, float]] = {}
    for _, key, _ in METRICS:
        row = {s: statistics.fmean(float(r[key]) for r in records if r["side"] == s) for s in sides}
        for s in sides:
            if s != "trl" and "trl" in row and row["trl"]:
                row[f"{s}/trl"] = row[s] / row["trl"]
        summary[key] = row
    return summary


def format_table(summary: dict[str, dict[str, float]], sides: list[str]) -> str:
    """The summary as a fixed-width text table."""
    ratios = [f"{s}/trl" for s in sides if s != "trl" and "trl" in sides]
    head = [
        "metric",
        *(LABELS[s] for s in sides),
        *(f"{LABELS[r.split('/')[0]]}/TRL" for r in ratios),
    ]
    lines = [f"{head[0]:<26}" + "".join(f"{h:>12}" for h in head[1:])]
    for label, key, fmt in METRICS:
        row = summary[key]
        cells = [fmt.format(row[s]) for s in sides]
        cells += [
            f"{row[r]:.2f}x" if math.isfinite(row.get(r, math.nan)) else "n/a" for r in ratios
        ]
        lines.append(f"{label:<26}" + "".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the tables and write `results.json` into `--out`."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sides = args.sides.split(",")
    model = args.model or build_model(args.out, args.sft_steps, args.threads)
    if args.vocab:
        model = pad_vocabulary(Path(model), args.out / f"start-vocab{args.vocab}", args.vocab)
    train_file, n, order = write_data(args)
    spec = {
        "model": str(Path(model).resolve()), "train_file": str(train_file.resolve()),
        "train_n": n, "order": order, "steps": args.steps + 1, "batch": args.batch,
        "beta": args.beta, "lr": args.lr, "loss": args.loss, "max_length": args.max_length,
        "seed": args.seed, "threads": args.threads, "noise": 0.02,
    }  # fmt: skip
    parity, _, _ = run_worker(
        "trl", {**spec, "mode": "parity", "precompute": False}, args.out / "parity"
    )
    parity["abs_diff"] = abs(parity["trl"] - parity["ours"])
    verdict = "ok" if parity["abs_diff"] <= PARITY_TOL else "FAIL"
    print(
        f"parity ({args.loss}): TRL {parity['trl']:.8f} rlvr {parity['ours']:.8f} "
        f"|diff| {parity['abs_diff']:.2e} ({verdict})"
    )
    records = []
    for rnd in range(1, args.rounds + 1):
        for side in sides:
            print(f"round {rnd}/{args.rounds}: {LABELS[side]} ...", end=" ", flush=True)
            side_spec = {**spec, "precompute": side == "ours_pre"}
            raw, wall, tree = run_worker(side, side_spec, args.out / f"round{rnd}")
            records.append(summarise_run(side, rnd, raw, wall, tree))
            print(
                f"{records[-1]['step_s']:.3f} s/step, {records[-1]['tokens_per_s']:.0f} tok/s",
                flush=True,
            )
    print("scoring the starting model and every final model ...", flush=True)
    scores = evaluate([spec["model"], *(r["final"] for r in records)], spec["model"], args.eval_n)
    for r in records:
        r.update(scores[r["final"]])
    summary = summarise(records, sides)
    print(f"\nstarting model: {spec['model']} (held-out greedy accuracy "
          f"{scores[spec['model']]['accuracy']:.3f})")  # fmt: skip
    print(f"{args.loss}: {args.rounds} rounds x {args.steps} timed steps, batch {args.batch}\n")
    print(format_table(summary, sides))
    results = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "versions": package_versions(
            ("rlvr", "trl", "transformers", "torch", "accelerate", "datasets")
        ),
        "parity": parity,
        "start": scores[spec["model"]],
        "runs": records,
        "summary": summary,
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
