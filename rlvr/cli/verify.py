"""`rlvr verify`, `rlvr verifiers list|check` and `rlvr sandbox doctor`: the torch-free commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _options(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--options is not valid JSON: {exc}") from exc
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError("--options must be a JSON object")
    return options


def cmd_verify(args: argparse.Namespace) -> int:
    from rlvr.rewards.verify import verify_file

    summary = verify_file(
        args.verifier,
        args.input,
        args.output,
        workers=args.workers,
        timeout_s=args.timeout,
        options=args.options,
        progress=not args.quiet,
    )
    print(summary.format())
    return 0


def cmd_verifiers_list(args: argparse.Namespace) -> int:
    import verifiers

    for name, cls in verifiers.available().items():
        origin = cls.__module__
        print(f"{name:<16} {cls.version:<8} {origin}")
    return 0


def cmd_verifiers_check(args: argparse.Namespace) -> int:
    from rlvr.rewards.contract import check_verifier

    report = check_verifier(args.name, options=args.options, timeout_s=args.timeout)
    print(report.format())
    return 0 if report.ok else 1


def cmd_sandbox_doctor(args: argparse.Namespace) -> int:
    import sandboxes

    print(sandboxes.format_report(sandboxes.doctor()))
    return 0


def add_verify_commands(sub: Any) -> None:
    """Register the verifier and sandbox subcommands on the top-level subparsers."""
    p = sub.add_parser("verify", help="score a JSONL file of completions with one verifier")
    p.add_argument("--verifier", required=True, help="verifier name or pkg.module:Class")
    p.add_argument(
        "--input", type=Path, required=True, help='JSONL: {"id", "completion", "reference"}'
    )
    p.add_argument("--output", type=Path, required=True, help="JSONL with one verdict per line")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per call (default 5)")
    p.add_argument("--options", type=_options, default=None, help="verifier options as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("verifiers", help="list verifiers or check one against its contract")
    vsub = p.add_subparsers(dest="verifiers_command", required=True, metavar="ACTION")
    q = vsub.add_parser("list", help="registered and installed verifiers with versions")
    q.set_defaults(handler=cmd_verifiers_list)
    q = vsub.add_parser("check", help="run a verifier's shipped examples and generic checks")
    q.add_argument("name", help="verifier name or pkg.module:Class")
    q.add_argument("--options", type=_options, default=None, help="verifier options as JSON")
    q.add_argument("--timeout", type=float, default=5.0, help="time bound per call, seconds")
    q.set_defaults(handler=cmd_verifiers_check)

    p = sub.add_parser("sandbox", help="inspect the code-execution sandboxes")
    ssub = p.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    q = ssub.add_parser("doctor", help="run the attack battery against every backend here")
    q.set_defaults(handler=cmd_sandbox_doctor)
