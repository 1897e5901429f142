"""`rlvr audit reward-model` and `rlvr sample --reward-model`: checking a trained reward model.

- `rlvr audit reward-model RUN_OR_CHECKPOINT --data PAIRS.jsonl [--out DIR]` scores held-out
  pairs and writes the audit (JSON, Markdown, a plot) to `<run>/audit-<data name>` (or the
  checkpoint's own folder when it is not inside a run), as every reward-model run does at its
  end. A run directory means its `final/`. `--sweep W` adds the answer sweep
  (`rlvr.evaluate.sweep`: is the model's best answer within W of the right one the right one?)
  to the console and to `sweep.json` there.
- `rlvr sample --model M --reward-model RM --n N --data ROWS.jsonl` samples N completions per
  prompt, keeps the one the reward model scores highest and reports its verifier accuracy
  against a single sample's (best-of-N).
- `rlvr pairs --model M --data ROWS.jsonl --n N --out PAIRS.jsonl` samples N completions per
  prompt, labels them with the rows' verifiers and writes (correct, wrong) preference pairs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


class _Error(ValueError):
    """A bad command line: one line, exit 2."""


def resolve_model(path: Path) -> tuple[Path, Path | None]:
    """(model directory, run directory or None) for a run directory or a checkpoint path."""
    if not path.exists():
        raise _Error(f"{path} does not exist")
    if (path / "manifest.json").is_file():
        final = path / "final"
        if not (final / "config.json").is_file() and not (final / "adapter_config.json").is_file():
            raise _Error(f"run {path} has no final model yet (no {final}/config.json)")
        return final, path
    run = next((p for p in path.resolve().parents if (p / "manifest.json").is_file()), None)
    return path, run


def cmd_audit_reward_model(args: argparse.Namespace) -> int:
    from rlvr.data.preference import load_pairs
    from rlvr.evaluate.audit import audit_reward_model, print_findings
    from rlvr.evaluate.audit_stats import AuditThresholds
    from rlvr.evaluate.sweep import answer_sweep
    from rlvr.models.reward_head import load_reward_model

    if args.sweep is not None and args.sweep < 1:
        raise _Error(f"--sweep must be an integer >= 1, got {args.sweep}")
    model_dir, run = resolve_model(args.model)
    pairs = load_pairs(args.data, limit=args.limit)
    model, tokenizer = load_reward_model(str(model_dir))
    name = f"audit-{args.data.stem}"
    out = args.out or ((run or model_dir) / name)
    result = audit_reward_model(
        model,
        tokenizer,
        pairs,
        out,
        source=str(args.data),
        batch_size=args.batch_size,
        thresholds=AuditThresholds(),
        seed=args.seed,
    )
    print_findings(result.stats, result.out_dir)
    if args.sweep:
        sweep = answer_sweep(model, tokenizer, pairs, width=args.sweep, batch_size=args.batch_size)
        (result.out_dir / "sweep.json").write_text(json.dumps(asdict(sweep), indent=2) + "\n")
        print(sweep.format())
    return 1 if result.stats.warnings and args.strict else 0


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from rlvr.config.sections import DataConfig, ModelConfig
    from rlvr.data.rows import load_rows
    from rlvr.evaluate.best_of_n import best_of_n, learned_reward
    from rlvr.models.loading import load_policy
    from rlvr.rewards import RewardRuntime
    from rlvr.rollout import SamplingParams

    if args.n < 1:
        raise _Error(f"--n must be at least 1, got {args.n}")
    if args.temperature <= 0:
        raise _Error("--temperature must be positive: best-of-N needs different samples")
    torch.manual_seed(args.seed)
    samples, _ = load_rows(DataConfig(source=str(args.data), n=args.limit or 10**9))
    policy, tokenizer = load_policy(ModelConfig(path=str(args.model)))
    policy.eval()
    reward = learned_reward(
        str(resolve_model(args.reward_model)[0]),
        policy_tokenizer=tokenizer,
        device=next(policy.parameters()).device,
        batch_size=args.batch_size,
    )
    sampling = SamplingParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )
    with RewardRuntime(workers=args.workers) as runtime:
        result = best_of_n(
            policy,
            tokenizer,
            reward,
            samples,
            n=args.n,
            sampling=sampling,
            runtime=runtime,
            batch_size=args.batch_size * args.n,
            out=args.out,
        )
    print(result.format())
    if args.out is not None:
        print(f"per-prompt samples and picks in {args.out / 'best_of_n.jsonl'}")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from rlvr.config.sections import DataConfig
    from rlvr.data.rows import load_rows
    from rlvr.evaluate.pairs import write_pairs
    from rlvr.rollout import SamplingParams

    if args.n < 2:
        raise _Error(f"--n must be at least 2 to compare completions, got {args.n}")
    if args.pairs_per_prompt < 1:
        raise _Error(f"--pairs-per-prompt must be at least 1, got {args.pairs_per_prompt}")
    if args.temperature <= 0:
        raise _Error("--temperature must be positive: pairs need different samples")
    if args.out.is_dir():
        raise _Error(f"--out {args.out} is a directory; give a .jsonl path")
    samples, _ = load_rows(DataConfig(source=str(args.data), n=args.limit or 10**9))
    sampling = SamplingParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )
    result = write_pairs(
        args.model,
        samples,
        args.out,
        n=args.n,
        sampling=sampling,
        pairs_per_prompt=args.pairs_per_prompt,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    print(f"{result.format()}; written to {args.out}")
    return 0


def add_reward_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `audit` (with `reward-model`), `sample` and `pairs` on the `rlvr` parser."""
    audit = sub.add_parser("audit", help="audit a trained model (reward-model)")
    kinds = audit.add_subparsers(dest="audit_kind", required=True, metavar="KIND")
    p = kinds.add_parser(
        "reward-model",
        help="held-out accuracy, calibration and length-bias checks of a reward model",
    )
    p.add_argument("model", type=Path, metavar="RUN_OR_CHECKPOINT", help="run dir or model dir")
    p.add_argument("--data", type=Path, required=True, help="pairs (prompt, chosen, rejected)")
    p.add_argument("--out", type=Path, default=None, help="output directory")
    p.add_argument("--limit", type=int, default=None, help="read at most this many pairs")
    p.add_argument("--batch-size", type=int, default=32, help="rows per forward pass")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap interval")
    p.add_argument("--strict", action="store_true", help="exit 1 when the audit warns")
    p.add_argument(
        "--sweep",
        type=int,
        default=None,
        metavar="W",
        help="also score each prompt's answer replaced by every integer within W of it",
    )
    p.set_defaults(handler=cmd_audit_reward_model)

    p = sub.add_parser("sample", help="best-of-N sampling with a reward model, vs N=1")
    p.add_argument("--model", type=Path, required=True, help="policy model directory")
    p.add_argument("--reward-model", type=Path, required=True, help="reward model (or its run)")
    p.add_argument("--n", type=int, required=True, help="completions sampled per prompt")
    p.add_argument("--data", type=Path, required=True, help="rows with prompt/reference/verifier")
    p.add_argument("--limit", type=int, default=None, help="use at most this many rows")
    p.add_argument("--max-new-tokens", type=int, default=32, help="tokens per completion")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--batch-size", type=int, default=32, help="prompts per generate call")
    p.add_argument("--workers", type=int, default=1, help="verifier worker processes")
    p.add_argument("--out", type=Path, default=None, help="write per-prompt picks here")
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser("pairs", help="on-policy preference pairs labelled by the verifiers")
    p.add_argument("--model", type=Path, required=True, help="policy model directory")
    p.add_argument("--data", type=Path, required=True, help="rows with prompt/reference/verifier")
    p.add_argument("--n", type=int, default=8, help="completions sampled per prompt")
    p.add_argument("--out", type=Path, required=True, help="output pairs JSONL")
    p.add_argument("--pairs-per-prompt", type=int, default=1, help="most pairs per prompt")
    p.add_argument("--limit", type=int, default=None, help="use at most this many rows")
    p.add_argument("--max-new-tokens", type=int, default=32, help="tokens per completion")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--batch-size", type=int, default=32, help="prompts per generate call")
    p.add_argument("--workers", type=int, default=1, help="verifier worker processes")
    p.set_defaults(handler=cmd_pairs)
