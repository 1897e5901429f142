"""`rlvr eval`: eval suites, any dataset of rows, probe packs, and `stage: eval` configs.

rlvr eval SUITE --model A [--compare B] [--engine hf|vllm]   # a suite file or shipped name
rlvr eval --data rows.jsonl --model A [--samples 8 --k 1,8]  # any JSONL of rows
rlvr eval --probes verifiers [--verifier math]               # hack rate per verifier
rlvr eval --probes policy --model A [--compare B]            # susceptibility rate
rlvr eval CONFIG.yaml [KEY=VALUE ...]                        # a `stage: eval` config
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from rlvr.cli.errors import CommandError


def add_eval_command(sub: Any) -> None:
    """Register `rlvr eval` on the `rlvr` subcommand parser."""
    p = sub.add_parser(
        "eval", help="evaluate a model: a suite, a JSONL of rows, probe packs, or a stage config"
    )
    p.add_argument(
        "config",
        nargs="?",
        type=Path,
        help="a suite YAML, a shipped suite's name (see --list), or a `stage: eval` config",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config fields")
    p.add_argument("--list", action="store_true", help="list the shipped suites and exit")
    p.add_argument("--model", help="the model to evaluate (directory or hub name)")
    p.add_argument("--compare", metavar="MODEL_B", help="a second model, compared side by side")
    p.add_argument("--engine", choices=["hf", "vllm"], default="hf", help="rollout engine")
    p.add_argument("--data", type=Path, help="a dataset of rows, evaluated as a one-task suite")
    p.add_argument("--samples", type=int, default=1, help="completions per prompt (--data)")
    p.add_argument("--k", default="1", help="comma-separated k of pass@k and maj@k (--data)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    p.add_argument("--max-new-tokens", type=int, default=64, help="completion tokens (--data)")
    p.add_argument("--limit", type=int, default=None, help="rows read at most (--data)")
    p.add_argument("--probes", choices=["verifiers", "policy"], help="run a probe pack")
    p.add_argument(
        "--verifier", action="append", help="verifier(s): the --probes verifiers to probe, or "
        "the verifier scoring every --data row (default: each row's own)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("runs"), help="parent of the run directory")
    p.add_argument("--name", help="run directory name (default: eval-<suite>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.list:
        from rlvr.evaluate.suite import load_suite, shipped_suites

        for name in shipped_suites():
            suite = load_suite(name)
            print(f"{name}: {suite.description} ({len(suite.tasks)} tasks)")
        return 0
    if args.probes == "verifiers":
        return _verifier_probes(args)
    if args.probes == "policy":
        return _policy_probes(args)
    if args.data is not None:
        return _suite(args, _data_suite(args))
    if args.config is None:
        raise CommandError("give a suite (file or shipped name), --data FILE or --probes PACK")
    if _is_stage_config(args.config):
        return _stage_eval(args)
    from rlvr.evaluate.suite import load_suite

    return _suite(args, load_suite(args.config, tuple(args.overrides)))


def _is_stage_config(path: Path) -> bool:
    if not Path(path).is_file():
        return False
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError:
        return False
    return isinstance(raw, dict) and "stage" in raw and "tasks" not in raw


def _stage_eval(args: argparse.Namespace) -> int:
    from rlvr.config import load_config
    from rlvr.evaluate import EvalConfig, evaluate

    config: object = load_config(args.config, overrides=args.overrides)
    if not isinstance(config, EvalConfig):
        raise CommandError(f"{args.config}: expected `stage: eval`, got {type(config).__name__}")
    result = evaluate(config)
    print(f"accuracy {result.accuracy:.3f} over {result.n} rows; results in {result.run_dir}")
    print(json.dumps(result.counts, sort_keys=True))
    return 0


def _ks(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(k) for k in text.split(","))
    except ValueError:
        raise CommandError(f"--k must be comma-separated integers, got {text!r}") from None


def _data_suite(args: argparse.Namespace) -> Any:
    from rlvr.config.sections import GenerationConfig
    from rlvr.evaluate.suite import jsonl_suite

    if args.verifier and len(args.verifier) > 1:
        raise CommandError("--data takes one --verifier")
    temperature = args.temperature if args.temperature is not None else float(args.samples > 1)
    generation = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=temperature)
    return jsonl_suite(
        args.data,
        verifier=args.verifier[0] if args.verifier else None,
        samples=args.samples,
        k=_ks(args.k),
        generation=generation,
        limit=args.limit,
    )


def _suite(args: argparse.Namespace, suite: Any) -> int:
    from rlvr.evaluate.suite_report import evaluate_suite
    from rlvr.runs import RunError

    if args.model is None:
        raise CommandError("an eval suite needs --model")
    try:
        outcome = evaluate_suite(
            suite,
            args.model,
            compare_to=args.compare,
            engine=args.engine,
            output_dir=args.out,
            name=args.name,
            overwrite=args.overwrite,
        )
    except (RunError, ImportError) as exc:  # an existing run directory; vLLM not installed
        raise CommandError(str(exc)) from None
    print(outcome.table())
    rate = outcome.a.samples / outcome.a.generate_s if outcome.a.generate_s else 0.0
    print(
        f"{outcome.a.samples} samples at {rate:.1f}/s ({args.engine}); results in {outcome.run_dir}"
    )
    return 0


def _verifier_probes(args: argparse.Namespace) -> int:
    from rlvr.evaluate.probes import run_verifier_probes

    results = run_verifier_probes(args.verifier)
    total = sum(len(r.report.results) for r in results if r.report is not None)
    failed = [r for r in results if r.report is not None and r.report.accepted]
    for r in results:
        print(r.report.format() if r.report is not None and not r.report.ok else r.line())
    print(f"{total} probes over {len(results)} verifiers; {len(failed)} verifier(s) hacked")
    return 1 if failed else 0


def _policy_probes(args: argparse.Namespace) -> int:
    from rlvr.config.sections import GenerationConfig, RewardConfig
    from rlvr.evaluate.probes import compare_policy, load_policy_probes, run_policy_probes
    from rlvr.evaluate.suite_run import open_engine

    if args.model is None:
        raise CommandError("--probes policy needs --model (and --compare for before/after)")
    probes = load_policy_probes()
    generation = GenerationConfig(max_new_tokens=24, temperature=args.temperature or 0.0)
    results = []
    for model in [args.model, *([args.compare] if args.compare else [])]:
        engine = open_engine(args.engine, model, seed=0, batch_size=generation.batch_size)
        results.append(
            run_policy_probes(engine, model, probes, generation=generation, reward=RewardConfig())
        )
    for label, r in zip("AB", results, strict=False):
        print(f"{label}: {json.dumps(r.summary())}")
    if len(results) == 2:
        for metric, diff in compare_policy(*results).items():
            verdict = "excludes 0" if diff.excludes_zero() else "includes 0"
            print(
                f"B - A {metric}: {diff.value:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}] ({verdict})"
            )
    return 0
