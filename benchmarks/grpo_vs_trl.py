"""Side-by-side benchmark: rlvr's GRPO trainer against TRL's `GRPOTrainer`, on CPU.

Both sides train the same tiny model on the same arithmetic prompts, in the same order, with
the same verifier as reward and the same algorithm (DAPO's clipped token-mean loss, no KL, no
dynamic sampling, no overlong shaping), and are measured the same way. Run it from the
repository root::

    pip install -e '.[bench]'
    python benchmarks/grpo_vs_trl.py [--steps 20] [--rounds 2] [--prompts 8] [--group 8] \
        [--max-new-tokens 24] [--model DIR] [--vocab N] [--out runs/bench-grpo-vs-trl]

Implementation details:
  1. Starting model: `--model DIR`, or else a tiny Qwen2 model built by
     `rlvr.models.tiny.build_tiny`
     and fine-tuned for `--sft-steps` steps by `rlvr.trainers.sft` on worked arithmetic
     solutions (the `recipes/configs/sft/math_tiny.yaml` settings), so it already answers some
     questions. `--vocab N` pads its vocabulary to N rows (`_common.pad_vocabulary`), the
     size of a released model's, for both sides.
  2. Data: `rlvr.data.generate("arithmetic", --train-n, seed=7)` written once to JSONL and read
     by both sides; TRL gets it as a `datasets.Dataset` with plain-text `prompt` and `answer`
     columns, reordered to rlvr's seeded prompt order and not shuffled, so step k of both sides
     uses the same P prompts.
  3. Each training run is a fresh interpreter (`_rlvr_worker.py`, `_trl_worker.py`) running
     1 warm-up step plus `--steps` timed steps; the sides alternate for `--rounds` rounds
     (ours, TRL, ours, TRL, ...). Every step is P prompts x G completions and one optimizer
     step; s/step is the mean wall time of the timed steps (rollout start to optimizer step
     end: rlvr's `time/step_s`, TRL's `on_step_begin`..`on_step_end`); tokens/s is the sum of
     generated completion tokens (EOS included) over the summed time of those steps.
  4. Memory: "peak RSS" is the trainer process's own `VmHWM`, read by the process at exit;
     "peak RSS tree" is the largest sum of `VmRSS` over the process and its descendants,
     polled by this script every 0.2 s (rlvr's reward runtime has a fork server and worker
     processes; TRL scores in-process).
  5. Held-out accuracy: greedy decoding of `--eval-n` arithmetic prompts (seed 1234) with
     `rlvr.evaluate.score_model` and the `math` verifier, run by this script on every final
     model (and on the starting model) after all training runs, so with the same code.
  6. Torch threads: `--threads` in both workers (`torch.set_num_threads`, plus
     `OMP_NUM_THREADS`/`MKL_NUM_THREADS` in their environment). The default is 1: on a small
     shared machine a second OpenMP thread makes every matmul wait for whichever core is busy
     elsewhere, and step times then measure the neighbours (several-fold swings were seen
     on 2 shared cores), while a tiny model gains little from it.
  7. The learning rate is 3e-4 by default (the GRPO tiny recipe's value), constant: at 1e-3
     both trainers drove the training reward of the SFT model to 0 within about 10 steps.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import package_versions, pad_vocabulary, write_results

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = {"ours": BENCH_DIR / "_rlvr_worker.py", "trl": BENCH_DIR / "_trl_worker.py"}
SIDES = ("ours", "trl")
LABELS = {"ours": "rlvr", "trl": "TRL"}
TRAIN_SEED, EVAL_SEED = 7, 1234
POLL_S = 0.2
LOG_TAIL_LINES = 40


@dataclass
class RunRecord:
    """One training run of one side, as measured."""

    side: str
    """`ours` or `trl`."""
    round: int
    """Round number, from 1."""
    step_s: float
    """Mean wall time of the timed steps."""
    step_s_median: float
    """Median wall time of the timed steps (less sensitive to a busy neighbour)."""
    tokens_per_s: float
    """Completion tokens of the timed steps over their summed time."""
    peak_rss_mib: float
    """VmHWM of the trainer process."""
    peak_tree_rss_mib: float
    """Largest polled VmRSS sum over the trainer process and its descendants."""
    wall_s: float
    """Whole process lifetime: start-up, model load, all steps, final save."""
    reward_mean: float
    """Mean training reward over the timed steps."""
    final: str
    """Final model directory."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The worker's own record (per-step lists)."""
    accuracy: float | None = None
    """Held-out greedy accuracy of the final model."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (after 1 warm-up)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds: ours, TRL, ...")
    p.add_argument("--prompts", type=int, default=8, help="P: prompts per optimizer step")
    p.add_argument("--group", type=int, default=8, help="G: completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=24, help="completion tokens at most")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--lr", type=float, default=3e-4, help="constant AdamW learning rate")
    p.add_argument("--model", type=Path, default=None, help="starting model (default: build)")
    p.add_argument("--sft-steps", type=int, default=1000, help="SFT steps when building")
    p.add_argument(
        "--vocab", type=int, default=0,
        help="pad the starting model's vocabulary to this many rows (0: leave it as it is)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("runs/bench-grpo-vs-trl"))
    p.add_argument("--train-n", type=int, default=2000, help="training prompts generated")
    p.add_argument("--eval-n", type=int, default=200, help="held-out prompts")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each trainer")
    p.add_argument("--reward-workers", type=int, default=1, help="rlvr reward processes")
    p.add_argument("--seed", type=int, default=0, help="seed of both trainers")
    p.add_argument(
        "--engine",
        choices=("hf", "vllm"),
        default="hf",
        help="rollout engine of both sides: HF generate, or a colocated vLLM engine",
    )
    p.add_argument(
        "--patch-trl-sync",
        action="store_true",
        help="with --engine vllm: replace TRL's per-parameter weight sync (fails on vLLM CPU) "
        "by one reload_weights call",
    )
    args = p.parse_args(argv)
    if args.steps < 1 or args.rounds < 1 or args.prompts < 1 or args.group < 2:
        p.error("need --steps >= 1, --rounds >= 1, --prompts >= 1 and --group >= 2")
    if args.train_n < args.prompts * (args.steps + 1):
        p.error("--train-n must cover prompts * (steps + 1) rows (one pass, no reuse)")
    return args


# --- preparation --------------------------------------------------------------------------


def build_model(out: Path, sft_steps: int, threads: int) -> Path:
    """A tiny model fine-tuned on worked arithmetic solutions; returns its directory."""
    import torch

    from rlvr.config.sections import DataConfig, ModelConfig, OptimConfig, RewardConfig, RunConfig
    from rlvr.models.tiny import PRESETS, build_tiny
    from rlvr.trainers.sft import SFTConfig, SFTTrainConfig
    from rlvr.trainers.sft import train as sft_train

    torch.set_num_threads(threads)
    base = out / "tiny-base"
    build_tiny(base, PRESETS["tiny"])
    cfg = SFTConfig(
        model=ModelConfig(path=str(base)),
        data=DataConfig(synthetic="arithmetic", n=4000, seed=0),
        run=RunConfig(name="sft", output_dir=out, seed=0, overwrite=True),
        optim=OptimConfig(lr=3e-3, warmup_steps=20, schedule="cosine"),
        train=SFTTrainConfig(
            max_steps=sft_steps, batch_size=64, eval_every=sft_steps + 1, save_every=sft_steps + 1
        ),
        reward=RewardConfig(workers=0),
    )
    print(f"building the starting model: {sft_steps} SFT steps into {out / 'sft'}", flush=True)
    return Path(sft_train(cfg).final)


def write_data(out: Path, n: int, seed: int) -> tuple[Path, list[int]]:
    """Training rows as JSONL, and rlvr's prompt order over them (its seeded first epoch)."""
    from rlvr.data import generate, write_jsonl
    from rlvr.data.batches import Batches

    rows = generate("arithmetic", n, seed=TRAIN_SEED, options={"split": "train"})
    path = write_jsonl(rows, out / "train.jsonl")
    return path, Batches(n, seed).next(n)


# --- running one side -----------------------------------------------------------------------


def _proc_table() -> dict[int, int]:
    """pid -> parent pid of every visible process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(root: int) -> float:
    """Sum of VmRSS over `root` and all its descendants, in MiB."""
    parents = _proc_table()
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, ppid in parents.items() if ppid == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(_rss_kib(pid) for pid in tree) / 1024


def run_side(side: str, spec: dict[str, Any], run_dir: Path) -> tuple[dict[str, Any], float, float]:
    """Run one worker to completion; returns its record, wall seconds and peak tree RSS (MiB)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = run_dir / "spec.json", run_dir / "result.json"
    spec_path.write_text(json.dumps({**spec, "out_dir": str(run_dir / side)}) + "\n")
    result_path.unlink(missing_ok=True)
    threads = str(spec["threads"])
    env = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }
    command = [sys.executable, str(WORKERS[side]), str(spec_path), str(result_path)]
    log_path = run_dir / f"{side}.log"
    peak_tree = 0.0
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        while proc.poll() is None:
            peak_tree = max(peak_tree, tree_rss_mib(proc.pid))
            time.sleep(POLL_S)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text().splitlines()[-LOG_TAIL_LINES:]
        raise RuntimeError(
            f"{side} worker failed ({proc.returncode}); {log_path}:\n" + "\n".join(tail)
        )
    return json.loads(result_path.read_text()), wall, peak_tree


def summarise_run(side: str, rnd: int, raw: dict[str, Any], wall: float, tree: float) -> RunRecord:
    """A run's measurements over its timed steps (the first, warm-up, step left out)."""
    times, tokens = raw["step_s"][1:], raw["tokens"][1:]
    if not times or len(raw["step_s"]) != len(raw["tokens"]):
        raise RuntimeError(f"{side}: {len(raw['step_s'])} step times, {len(raw['tokens'])} counts")
    rewards = raw["reward_mean"][1:]
    return RunRecord(
        side=side,
        round=rnd,
        step_s=statistics.fmean(times),
        step_s_median=statistics.median(times),
        tokens_per_s=sum(tokens) / sum(times),
        peak_rss_mib=float(raw["peak_rss_mib"]),
        peak_tree_rss_mib=max(tree, float(raw["peak_rss_mib"])),
        wall_s=wall,
        reward_mean=statistics.fmean(rewards) if rewards else math.nan,
        final=raw["final"],
        raw=raw,
    )


# --- evaluation -----------------------------------------------------------------------------


def evaluate(models: list[str], n: int, max_new_tokens: int, threads: int) -> dict[str, float]:
    """Held-out greedy accuracy of each model directory, with one and the same code path."""
    import torch

    from rlvr.config.sections import GenerationConfig, ModelConfig
    from rlvr.data import generate
    from rlvr.evaluate import score_model
    from rlvr.models.loading import load_policy
    from rlvr.rewards import RewardRuntime

    torch.set_num_threads(threads)
    options = {"split": "test"}
    held_out = [t.sample for t in generate("arithmetic", n, seed=EVAL_SEED, options=options)]
    generation = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=100)
    accuracies = {}
    with RewardRuntime(workers=0) as runtime:
        for path in models:
            model, tokenizer = load_policy(ModelConfig(path=path, dtype="float32"))
            scored = score_model(model, tokenizer, held_out, generation=generation, runtime=runtime)
            accuracies[path] = scored.accuracy
    return accuracies


# --- report -------------------------------------------------------------------------------

METRICS = (
    ("s/step", "step_s", "{:.3f}"),
    ("completion tokens/s", "tokens_per_s", "{:.1f}"),
    ("peak RSS MiB (trainer)", "peak_rss_mib", "{:.0f}"),
    ("peak RSS MiB (tree)", "peak_tree_rss_mib", "{:.0f}"),
    ("held-out accuracy", "accuracy", "{:.3f}"),
    ("train reward (timed)", "reward_mean", "{:.3f}"),
    ("process wall s", "wall_s", "{:.1f}"),
)
"""Table rows: label, RunRecord attribute, number format."""


def summarise(records: list[RunRecord]) -> dict[str, dict[str, float]]:
    """Per metric: mean and min over rounds for each side, and the ratios ours/TRL."""
    summary: dict[str, dict[str, float]] = {}
    for _, key, _ in METRICS:
        row: dict[str, float] = {}
        for side in SIDES:
            values = [getattr(r, key) for r in records if r.side == side]
            values = [math.nan if v is None else float(v) for v in values]
            row[f"{side}_mean"], row[f"{side}_min"] = statistics.fmean(values), min(values)
        for stat in ("mean", "min"):
            theirs = row[f"trl_{stat}"]
            ours = row[f"ours_{stat}"]
            row[f"ratio_{stat}"] = ours / theirs if theirs and math.isfinite(theirs) else math.nan
        summary[key] = row
    return summary


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if math.isfinite(value) else "n/a"


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """The summary as a fixed-width text table."""
    head = ["metric", "rlvr mean", "rlvr min", "TRL mean", "TRL min", "ours/TRL", "(min)"]
    lines = ["{:<24}{:>11}{:>11}{:>11}{:>11}{:>10}{:>8}".format(*head)]
    for label, key, fmt in METRICS:
        row = summary[key]
        cells = [fmt.format(row[f"{s}_{stat}"]) for s in SIDES for stat in ("mean", "min")]
        ratios = [_ratio(row["ratio_mean"]), _ratio(row["ratio_min"])]
        lines.append("{:<24}{:>11}{:>11}{:>11}{:>11}{:>10}{:>8}".format(label, *cells, *ratios))
    return "\n".join(lines)


def format_runs(records: list[RunRecord]) -> str:
    """One line per training run, in the order they ran."""
    lines = [
        "{:<7}{:<6}{:>9}{:>9}{:>10}{:>10}{:>10}{:>10}{:>9}".format(
            "round",
            "side",
            "s/step",
            "median",
            "tok/s",
            "RSS MiB",
            "tree MiB",
            "accuracy",
            "wall s",
        )
    ]
    for r in records:
        acc = "n/a" if r.accuracy is None else f"{r.accuracy:.3f}"
        lines.append(
            f"{r.round:<7}{LABELS[r.side]:<6}{r.step_s:>9.3f}{r.step_s_median:>9.3f}"
            f"{r.tokens_per_s:>10.1f}"
            f"{r.peak_rss_mib:>10.0f}{r.peak_tree_rss_mib:>10.0f}{acc:>10}{r.wall_s:>9.1f}"
        )
    return "\n".join(lines)


def notes(args: argparse.Namespace) -> list[str]:
    """What each side uses, what is the same, and what still differs."""
    workers = args.reward_workers
    return [
        f"Rewards: rlvr scores with its reward runtime, {workers} worker process(es) "
        "(fork server, hard 5 s timeout per call) while the trainer process waits; TRL calls "
        "the same `math` verifier in the trainer process, with no timeout. Both use about one "
        "core for scoring, which is a small share of a step here. rlvr starts its reward "
        "processes during the warm-up step, which is not timed; the rlvr worker script imports "
        "torch lazily, as `rlvr train` does, because reward processes import the parent's "
        "`__main__` module.",
        f"Same on both: {args.prompts} prompts x {args.group} completions per optimizer step, "
        f"one micro-batch, max {args.max_new_tokens} new tokens, temperature "
        f"{args.temperature}, top_p 1, no top-k, CPU float32, torch threads {args.threads}, "
        f"AdamW (torch, not fused) at a constant lr {args.lr:g}, grad clip 1.0, clip "
        "0.2/0.28 token-mean loss, group std scaling, no KL, no dynamic sampling, no overlong "
        "shaping, no gradient checkpointing, the same prompts at each step, and no "
        "evaluation, logging or checkpointing inside the timed steps.",
        "Differs: each side draws its own random samples, so completions, their lengths and "
        "the models after step 1 differ (tokens/s normalises for length; generation time per "
        "step follows the longest completion of the batch).",
        "Differs: rlvr's `generate` runs its own decoding loop (inverse-CDF sampling instead of "
        "torch.multinomial, last-position logits only, one prefill per prompt shared by its G "
        "samples) and its loss runs the prompt part once per group and asks for the completion "
        "window's logits only; TRL uses the stock sampling loop and runs every row whole. "
        "Neither side runs a separate 'old' log-prob pass at num_iterations=1.",
        "Differs: advantage std epsilon 1e-6 (rlvr) vs 1e-4 (TRL); rlvr seeds torch before each "
        "rollout. Process start-up, imports and model loading are outside s/step (see wall s).",
    ]


def train_all(args: argparse.Namespace, spec: dict[str, Any]) -> list[RunRecord]:
    """Alternate the two sides for `args.rounds` rounds; one record per run."""
    records = []
    for rnd in range(1, args.rounds + 1):
        for side in SIDES:
            print(f"round {rnd}/{args.rounds}: {LABELS[side]} ...", end=" ", flush=True)
            raw, wall, tree = run_side(side, spec, args.out / f"round{rnd}")
            record = summarise_run(side, rnd, raw, wall, tree)
            print(f"{record.step_s:.3f} s/step, {record.tokens_per_s:.0f} tok/s", flush=True)
            records.append(record)
    return records


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the tables and write `results.json` into `--out`."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model or build_model(args.out, args.sft_steps, args.threads)
    if args.vocab:
        model = pad_vocabulary(Path(model), args.out / f"start-vocab{args.vocab}", args.vocab)
    train_file, order = write_data(args.out, args.train_n, args.seed)
    spec = {
        "model": str(Path(model).resolve()),
        "train_file": str(train_file.resolve()),
        "train_n": args.train_n,
        "order": order,
        "steps": args.steps + 1,
        "prompts": args.prompts,
        "group": args.group,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "lr": args.lr,
        "seed": args.seed,
        "threads": args.threads,
        "reward_workers": args.reward_workers,
        "engine": args.engine,
        "patch_trl_sync": args.patch_trl_sync,
    }
    records = train_all(args, spec)
    print("evaluating the starting model and every final model ...", flush=True)
    accuracy = evaluate(
        [spec["model"], *(r.final for r in records)], args.eval_n, args.max_new_tokens, args.threads
    )
    for r in records:
        r.accuracy = accuracy[r.final]
    summary = summarise(records)
    print(f"\nstarting model: {spec['model']} (held-out accuracy {accuracy[spec['model']]:.3f})")
    print(f"{args.rounds} rounds x {args.steps} timed steps, P={args.prompts}, G={args.group}\n")
    print(format_runs(records) + "\n\n" + format_table(summary) + "\n")
    for line in notes(args):
        print(f"note: {line}")
    results = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "versions": package_versions(
            ("rlvr", "trl", "transformers", "torch", "accelerate", "datasets")
        ),
        "spec": {k: v for k, v in spec.items() if k != "order"},
        "start_accuracy": accuracy[spec["model"]],
        "runs": [r.__dict__ for r in records],
        "summary": summary,
        "notes": notes(args),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
