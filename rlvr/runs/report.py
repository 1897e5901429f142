"""Run reports: PNG plots of metrics over steps, and a Markdown summary beside them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

PANELS: dict[str, tuple[str, ...]] = {
    "reward": ("reward/mean",),
    "accuracy": ("eval/accuracy",),
    "KL to the starting model": ("train/kl",),
    "length": ("completion/length_mean",),
    "loss": ("train/loss",),
    "entropy": ("train/entropy",),
}
"""Panel name -> metrics drawn in it (those a run did not log are skipped)."""


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's metrics.jsonl (empty if it has none)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def series(rows: Sequence[Mapping[str, float]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric, in logging order, skipping rows without it."""
    pairs = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) is not None]
    return [s for s, _ in pairs], [v for _, v in pairs]


def plot_runs(runs: Mapping[str, Path], out: Path, *, title: str = "") -> Path:
    """One PNG with a panel per metric group; each labelled run is one line per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {label: read_metrics(path) for label, path in runs.items()}
    panels = [
        (name, keys)
        for name, keys in PANELS.items()
        if any(series(rows, k)[0] for rows in data.values() for k in keys)
    ]
    cols = min(3, max(1, len(panels)))
    rows_n = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.5 * cols, 3.2 * rows_n), squeeze=False)
    for ax, (name, keys) in zip(axes.flat, panels, strict=False):
        for label, rows in data.items():
            for key in keys:
                steps, values = series(rows, key)
                if steps:
                    ax.plot(
                        steps,
                        values,
                        marker="." if len(steps) < 30 else None,
                        label=f"{label}: {key}" if len(keys) > 1 else label,
                    )
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_summary(out: Path, title: str, rows: Sequence[tuple[str, str]], plot: Path) -> Path:
    """A Markdown report: a table of (what, value) rows and the plot."""
    lines = [f"# {title}", "", "| | |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", f"![metrics]({plot.name})", ""]
    out.write_text("\n".join(lines))
    return out
