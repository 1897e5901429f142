"""Eval-suite sampling throughput on the tiny model: `rlvr eval`'s samples/s against the bare
rollout engine's on the same prompts, for the `hf` engine and (when installed) `vllm`.

For each engine: the bare engine samples the suite's prompts once to warm up and once timed
(`engine.generate`, nothing else); then `evaluate_suite` runs the same one-task suite (its own
engine, the same seed) and reports the samples/s of its generation and of the whole run
(generation, scoring in the reward runtime, bootstrap intervals, writing results).

Usage: python benchmarks/eval_suite_throughput.py [--prompts 64] [--samples 8] [--engines hf,vllm]
       (on a shared machine, measure under a lock: `flock LOCKFILE python ...`)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

from rlvr.config.sections import DataConfig, GenerationConfig, RewardConfig
from rlvr.evaluate.suite import SuiteConfig, TaskConfig, prepare
from rlvr.evaluate.suite_report import evaluate_suite
from rlvr.evaluate.suite_run import open_engine
from rlvr.models.tiny import PRESETS, build_tiny
from rlvr.rollout import SamplingParams


def suite(prompts: int, samples: int) -> SuiteConfig:
    task = TaskConfig(
        name="add",
        data=DataConfig(synthetic="arithmetic", n=prompts, seed=5, options={"split": "test"}),
        samples=samples,
        k=(1, samples),
        generation=GenerationConfig(temperature=1.0, max_new_tokens=24, batch_size=256),
    )
    return SuiteConfig(suite="bench", tasks=(task,), reward=RewardConfig(workers=2))


def bare(engine_name: str, model: Path, s: SuiteConfig) -> float:
    """Samples/s of the engine alone on the suite's prompts (after one warm-up call)."""
    [prepared] = prepare(s)
    task = prepared.config
    engine = open_engine(engine_name, str(model), seed=s.seed, batch_size=256)
    params = SamplingParams(max_new_tokens=24, temperature=1.0, seed=s.seed)
    engine.generate(prepared.samples, n=task.samples, sampling=params)
    start = time.perf_counter()
    engine.generate(prepared.samples, n=task.samples, sampling=params)
    elapsed = time.perf_counter() - start
    if engine_name == "vllm":
        engine.close()
    return len(prepared.samples) * task.samples / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--engines", default="hf,vllm")
    args = parser.parse_args()
    engines = [
        e for e in args.engines.split(",") if e != "vllm" or importlib.util.find_spec("vllm")
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny(Path(tmp) / "tiny", PRESETS["tiny"])
        s = suite(args.prompts, args.samples)
        for name in engines:
            engine_rate = bare(name, model, s)
            start = time.perf_counter()
            out = evaluate_suite(s, str(model), engine=name, output_dir=Path(tmp), name=name)
            wall = time.perf_counter() - start
            results[name] = {
                "samples": out.a.samples,
                "engine_samples_per_s": round(engine_rate, 1),
                "suite_generation_samples_per_s": round(out.a.samples / out.a.generate_s, 1),
                "suite_end_to_end_samples_per_s": round(out.a.samples / wall, 1),
            }
            print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
