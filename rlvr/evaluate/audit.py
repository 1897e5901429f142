"""Reward-model audit: score held-out pairs, measure (`audit_stats`) and write the findings.

`audit_reward_model(model, tokenizer, pairs, out_dir)` writes into `out_dir`:
```
audit.json        every statistic, the warnings and notes, what was audited
audit.md          the same for a person to read, warnings first
audit.png         calibration, reward against length, accuracy by length side
audit_pairs.jsonl per pair: id, rewards and lengths of both sides
```
The reward-model trainer runs it at the end of every run (into `<run>/audit`), and
`rlvr audit reward-model RUN_OR_CHECKPOINT --data PAIRS.jsonl` runs it alone.

Lengths are completion tokens of the reward model's tokenizer (the EOS that scoring appends
not counted).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlvr.data.types import PreferencePair
from rlvr.evaluate.audit_stats import AuditStats, AuditThresholds, audit_pairs
from rlvr.models.reward_head import score_texts


@dataclass(frozen=True)
class AuditResult:
    """What `audit_reward_model` measured and where it wrote it."""

    stats: AuditStats
    """The statistics, warnings and notes."""
    out_dir: Path
    """The directory holding audit.json, audit.md, audit.png and audit_pairs.jsonl."""


def completion_lengths(tokenizer: Any, completions: Sequence[str]) -> list[int]:
    """Tokens of each completion under `tokenizer` (no special tokens added)."""
    ids = tokenizer(list(completions), add_special_tokens=False)["input_ids"]
    return [len(x) for x in ids]


def audit_reward_model(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[PreferencePair],
    out_dir: Path,
    *,
    source: str,
    batch_size: int = 32,
    max_len: int | None = None,
    thresholds: AuditThresholds | None = None,
    seed: int = 0,
) -> AuditResult:
    """Score `pairs` with the reward model, audit them and write the files to `out_dir`.

    Args:
        model: The reward model (a one-label sequence classifier, or a wrapper of one).
        tokenizer: Its tokenizer (pad token set).
        pairs: Held-out pairs.
        out_dir: Where the files go (created).
        source: What the pairs are (a path or a synthetic spec), recorded in the report.
        batch_size: Rows per scoring forward pass.
        max_len: Prompt + completion tokens at most (completion tokens cut from the end).
        thresholds: When to warn.
        seed: Seed of the bootstrap.

    Raises:
        ValueError: no pairs.
    """
    if not pairs:
        raise ValueError("no pairs to audit")
    was_training = model.training
    model.eval()
    prompts = [p.prompt for p in pairs]
    chosen, rejected = (
        score_texts(model, tokenizer, prompts, texts, batch_size=batch_size, max_len=max_len)
        for texts in ([p.chosen for p in pairs], [p.rejected for p in pairs])
    )
    model.train(was_training)
    len_c = completion_lengths(tokenizer, [p.chosen for p in pairs])
    len_r = completion_lengths(tokenizer, [p.rejected for p in pairs])
    return audit_scores(
        pairs,
        chosen,
        rejected,
        len_c,
        len_r,
        out_dir,
        source=source,
        thresholds=thresholds,
        seed=seed,
    )


def audit_scores(
    pairs: Sequence[PreferencePair],
    chosen: Sequence[float],
    rejected: Sequence[float],
    len_c: Sequence[int],
    len_r: Sequence[int],
    out_dir: Path,
    *,
    source: str,
    thresholds: AuditThresholds | None = None,
    seed: int = 0,
) -> AuditResult:
    """Audit pairs already scored (rewards and completion lengths of each side, `[N]` each)
    and write the files to `out_dir`."""
    stats = audit_pairs(chosen, rejected, len_c, len_r, thresholds=thresholds, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "audit_pairs.jsonl").open("w") as f:
        for p, c, r, lc, lr in zip(pairs, chosen, rejected, len_c, len_r, strict=True):
            row = {"id": p.id, "chosen_reward": c, "rejected_reward": r}
            f.write(json.dumps({**row, "chosen_len": lc, "rejected_len": lr}) + "\n")
    plot = plot_audit(stats, chosen, rejected, len_c, len_r, out_dir / "audit.png")
    report = {"source": source, **asdict(stats)}
    report["thresholds"] = asdict(thresholds or AuditThresholds())
    (out_dir / "audit.json").write_text(json.dumps(_finite(report), indent=2) + "\n")
    (out_dir / "audit.md").write_text(audit_markdown(stats, source=source, plot=plot.name))
    return AuditResult(stats, out_dir)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def audit_markdown(stats: AuditStats, *, source: str, plot: str) -> str:
    """The audit as Markdown: warnings first, then the numbers and the calibration table."""
    lines = [f"# Reward-model audit: {source}", ""]
    if stats.warnings:
        lines += ["## Warnings", "", *(f"- **{w}**" for w in stats.warnings), ""]
    else:
        lines += ["No warnings: the model is clearly better than length alone.", ""]
    if stats.notes:
        lines += ["## Notes", "", *(f"- {n}" for n in stats.notes), ""]
    low, high = stats.accuracy_ci
    lines += [
        "## Numbers",
        "",
        "| | |",
        "| --- | --- |",
        f"| held-out pairs | {stats.n} |",
        f"| pairwise accuracy | {stats.accuracy:.3f} (95% CI {low:.3f} to {high:.3f}) |",
        f"| length-only rule ({stats.length_rule}) | {stats.length_rule_accuracy:.3f} |",
        f"| accuracy, chosen shorter | {_pct(stats.accuracy_chosen_shorter)} "
        f"({stats.n_chosen_shorter} pairs) |",
        f"| accuracy, chosen longer | {_pct(stats.accuracy_chosen_longer)} "
        f"({stats.n_chosen_longer} pairs) |",
        f"| pairs of equal length | {stats.n_same_length} |",
        f"| Spearman rho, reward vs length | {stats.spearman_length:.3f} |",
        f"| expected calibration error | {stats.calibration_error:.3f} |",
        "",
        "## Calibration (pairs by |reward margin| decile)",
        "",
        "| margin range | pairs | accuracy | predicted |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b.margin_low:.3f} to {b.margin_high:.3f} | {b.n} | {b.accuracy:.3f} | "
        f"{b.predicted:.3f} |"
        for b in stats.calibration
    ]
    lines += ["", f"![audit]({plot})", ""]
    return "\n".join(lines)


def plot_audit(
    stats: AuditStats,
    chosen: Sequence[float],
    rejected: Sequence[float],
    len_c: Sequence[int],
    len_r: Sequence[int],
    out: Path,
) -> Path:
    """Three panels: calibration by decile, reward against length, accuracy by length side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cal, scatter, bars) = plt.subplots(1, 3, figsize=(14, 4))
    cal.plot([0.5, 1], [0.5, 1], color="grey", lw=0.8, ls="--", label="perfect")
    cal.plot(
        [b.predicted for b in stats.calibration],
        [b.accuracy for b in stats.calibration],
        marker="o",
        label="model",
    )
    cal.set(title="calibration by |margin| decile", xlabel="predicted", ylabel="accuracy")
    cal.legend(fontsize=7)
    scatter.scatter(len_c, chosen, s=8, alpha=0.6, label="chosen")
    scatter.scatter(len_r, rejected, s=8, alpha=0.6, label="rejected")
    scatter.set(
        title=f"reward vs length (Spearman {stats.spearman_length:.2f})",
        xlabel="completion tokens",
        ylabel="reward",
    )
    scatter.legend(fontsize=7)
    names = ["all", "chosen shorter", "chosen longer", "length rule"]
    values = [
        stats.accuracy,
        stats.accuracy_chosen_shorter or 0.0,
        stats.accuracy_chosen_longer or 0.0,
        stats.length_rule_accuracy,
    ]
    bars.bar(names, values, color=["C0", "C1", "C2", "grey"])
    bars.set(title="pairwise accuracy", ylim=(0, 1.05))
    bars.tick_params(axis="x", labelsize=7)
    if stats.warnings:
        fig.suptitle("WARNING: " + stats.warnings[0][:120], color="red", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def print_findings(stats: AuditStats, out_dir: Path) -> None:
    """The accuracy on stdout; every warning loudly on stderr."""
    low, high = stats.accuracy_ci
    print(
        f"audit: pairwise accuracy {stats.accuracy:.3f} (95% CI {low:.3f}-{high:.3f}) on "
        f"{stats.n} pairs; length-only rule {stats.length_rule_accuracy:.3f}; "
        f"written to {out_dir}"
    )
    for w in stats.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
