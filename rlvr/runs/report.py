"""Run reports: PNG plots of metrics over steps, a Markdown summary beside them, and the same as
one self-contained HTML page (plots inlined), with the monitor events and links to the
`samples/step_K.jsonl` files a person reads."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

EVENTS_FILE = "monitor_events.jsonl"
"""Where a run's monitor events go (`rlvr.monitors`), one JSON object per event."""
SAMPLES_DIR = "samples"
"""Where the monitors write the quartile completions, `step_K.jsonl` per dumped step."""

PANELS: dict[str, tuple[str, ...]] = {
    "reward": ("reward/mean",),
    "accuracy": ("eval/accuracy",),
    "KL to the starting model": ("train/kl",),
    "length": ("completion/length_mean",),
    "loss": ("train/loss",),
    "entropy": ("train/entropy",),
    "in-group diversity": ("group/distinct",),
    "zero-variance groups": ("rollout/zero_variance_share",),
    "KL per completion (PPO)": ("kl/mean",),
    "KL coefficient beta (PPO)": ("kl/beta",),
    "reward-model score": ("reward/model_mean",),
    "value explained variance (PPO)": ("value/explained_variance",),
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


def hacking_verdict(
    rows: Sequence[Mapping[str, float]],
    before: float | None,
    after: float | None,
    kl_target: float | None,
    *,
    window: int = 5,
) -> dict[str, Any]:
    """A PPO run judged from its metric rows: the reward-model score's rise (the mean of its last
    `window` steps minus that of its first, fewer when the run is short), gold accuracy before and
    after, KL (max, last, and the share of steps within 2x of `kl_target` from the first step at
    half of it on, None before that), completion tokens sampled, and `hacked`: score up while
    gold went down."""
    score = series(rows, "reward/model_mean")[1]
    kl = series(rows, "kl/mean")[1]
    rate, secs = series(rows, "rollout/tokens_per_s")[1], series(rows, "rollout/s")[1]
    n = min(window, max(1, len(score) // 2))
    rise = sum(score[-n:]) / n - sum(score[:n]) / n if score else 0.0
    first = next((i for i, k in enumerate(kl) if kl_target and k >= kl_target / 2), None)
    band = []  # steps within 2x of the target, from the first at half of it on
    if kl_target and first is not None:
        band = [kl_target / 2 <= k <= 2 * kl_target for k in kl[first:]]
    return {
        "rm_score_rise": rise,
        "gold_before": before,
        "gold_after": after,
        "kl_max": max(kl, default=0.0),
        "kl_last": kl[-1] if kl else 0.0,
        "kl_target": kl_target,
        "kl_in_2x_band": sum(band) / len(band) if band else None,
        "hacked": rise > 0 and (after or 0.0) < (before or 0.0),
        "tokens": round(sum(r * s for r, s in zip(rate, secs, strict=True))),
    }


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


def plot_pairs(
    runs: Mapping[str, Path], pairs: Sequence[tuple[str, str]], out: Path, *, title: str = ""
) -> Path:
    """One PNG with a panel per `(x, y)` metric pair (`x` may be `step`): each labelled run is
    one line of `y` against `x`, over the steps that logged both (e.g. reward-model score
    against KL to the reference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {label: read_metrics(path) for label, path in runs.items()}
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.8 * len(pairs), 3.6), squeeze=False)
    for ax, (x, y) in zip(axes.flat, pairs, strict=True):
        for label, rows in data.items():
            points = [(r[x], r[y]) for r in rows if r.get(x) is not None and r.get(y) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker=".", label=label)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
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


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _sample_files(run_dir: Path) -> list[Path]:
    files = (run_dir / SAMPLES_DIR).glob("step_*.jsonl")
    return sorted(files, key=lambda p: int(p.stem.split("_")[-1]))


def write_html(
    out: Path,
    title: str,
    rows: Sequence[tuple[str, str]],
    plots: Sequence[Path],
    *,
    events: Sequence[Mapping[str, Any]] = (),
    links: Sequence[tuple[str, str]] = (),
) -> Path:
    """One self-contained HTML page: the (what, value) table, the PNG plots inlined as data
    URIs, the monitor events, and `links` as (label, relative path) pairs."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>{esc(title)}</h1><table>",
        *(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows),
        "</table>",
    ]
    for plot in plots:
        data = base64.b64encode(plot.read_bytes()).decode()
        parts.append(f"<p><img alt='{esc(plot.stem)}' src='data:image/png;base64,{data}'></p>")
    if events:
        parts.append("<h2>Monitor events</h2><table><tr><th>step</th><th>monitor</th>")
        parts.append("<th>action</th><th>what it saw</th></tr>")
        for e in events:
            cells = (e.get("step"), e.get("monitor"), e.get("action"), e.get("message"))
            parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    if links:
        parts.append("<h2>Samples (top and bottom quartile by reward)</h2><ul>")
        parts += [f"<li><a href='{esc(href)}'>{esc(label)}</a></li>" for label, href in links]
        parts.append("</ul>")
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts) + "\n")
    return out


def _summary_rows(run_dir: Path) -> list[tuple[str, str]]:
    """Rows from the run's `summary.json` and the training contract in its manifest."""
    rows = []
    summary = run_dir / "summary.json"
    if summary.exists():
        rows += [(str(k), json.dumps(v)) for k, v in json.loads(summary.read_text()).items()]
    manifest = run_dir / "manifest.json"
    contract = json.loads(manifest.read_text()).get("contract") if manifest.exists() else None
    for key, value in (contract or {}).items():
        rows.append((f"contract: {key}", json.dumps(value, sort_keys=True)))
    return rows


def write_run_report(run_dir: Path, title: str, rows: Sequence[tuple[str, str]] = ()) -> Path:
    """`report/` of one run: `metrics.png`, `report.md` and `report.html`, with the rows given,
    the run's `summary.json` and training contract, the monitor events, and links to the run's
    samples. Returns the HTML page."""
    run_dir = Path(run_dir)
    rows = [*rows, *_summary_rows(run_dir)]
    report = run_dir / "report"
    plot = plot_runs({run_dir.name: run_dir}, report / "metrics.png", title=title)
    events = _events(run_dir)
    links = [(p.stem, f"../{SAMPLES_DIR}/{p.name}") for p in _sample_files(run_dir)]
    md_rows = [
        *rows,
        *(
            (f"monitor {e['monitor']} ({e['action']}) at step {e['step']}", e["message"])
            for e in events
        ),
    ]
    md_rows += [(f"samples {label}", f"[{Path(href).name}]({href})") for label, href in links]
    write_summary(report / "report.md", title, md_rows, plot)
    return write_html(report / "report.html", title, rows, [plot], events=events, links=links)
