"""What an eval suite writes: `results.json`, `results.md` and `results.png` in its run
directory, and the table `rlvr eval` prints (two models side by side with the difference and
whether its 95% interval excludes 0)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlvr.evaluate.metrics import Estimate
from rlvr.evaluate.suite import SuiteConfig, prepare, suite_summary
from rlvr.evaluate.suite_run import (
    Comparison,
    Engine,
    ModelResult,
    check_model_dir,
    compare,
    open_engine,
    run_model,
)
from rlvr.runs import create_run


def _metrics_order(result: ModelResult) -> list[tuple[str, str]]:
    return [(t.task, m) for t in result.tasks for m in t.estimates]


def table_rows(a: ModelResult, b: ModelResult | None, diff: Comparison | None) -> list[list[str]]:
    """Rows of (task, metric, A, [B, B - A, excludes 0]) for every task metric and category."""
    rows = []
    by_task_b = {t.task: t for t in b.tasks} if b is not None else {}
    for task in a.tasks:
        for metric, est in task.estimates.items():
            row = [task.task, metric, est.format()]
            if b is not None and diff is not None:
                d = diff.tasks[task.task][metric]
                row += [by_task_b[task.task].estimates[metric].format(), _signed(d), _yes(d)]
            rows.append(row)
    for cat, est in a.categories.items():
        row = [f"category {cat}", "accuracy", est.format()]
        if b is not None and diff is not None:
            d = diff.categories[cat]
            row += [b.categories[cat].format(), _signed(d), _yes(d)]
        rows.append(row)
    return rows


def _signed(e: Estimate) -> str:
    return f"{e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]"


def _yes(e: Estimate) -> str:
    return "yes" if e.excludes_zero() else "no"


def headers(b: ModelResult | None) -> list[str]:
    """Column names of `table_rows`."""
    head = ["task", "metric", "A" if b is not None else "value [95% CI]"]
    return head + (["B", "B - A", "excludes 0"] if b is not None else [])


def format_table(rows: list[list[str]], head: list[str]) -> str:
    """Plain aligned columns for the console."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def _model_json(m: ModelResult) -> dict[str, Any]:
    return {
        "model": m.model,
        "engine": m.engine,
        "samples": m.samples,
        "generate_s": m.generate_s,
        "samples_per_s": m.samples / m.generate_s if m.generate_s else 0.0,
        "tasks": {
            t.task: {
                "metrics": {k: asdict(e) for k, e in t.estimates.items()},
                "prompts": len(t.ids),
                "samples_per_s": t.samples_per_s,
                "tokens_per_s": t.tokens_per_s,
                "masked": t.masked,
            }
            for t in m.tasks
        },
        "categories": {c: asdict(e) for c, e in m.categories.items()},
    }


def write_results(
    out: Path,
    summary: dict[str, Any],
    a: ModelResult,
    b: ModelResult | None = None,
    diff: Comparison | None = None,
) -> list[Path]:
    """`results.json`, `results.md` and `results.png` in `out`; returns their paths."""
    data: dict[str, Any] = {**summary, "a": _model_json(a)}
    if b is not None and diff is not None:
        data["b"] = _model_json(b)
        data["b_minus_a"] = {
            "tasks": {t: {m: asdict(e) for m, e in ms.items()} for t, ms in diff.tasks.items()},
            "categories": {c: asdict(e) for c, e in diff.categories.items()},
        }
    json_path = out / "results.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    rows, head = table_rows(a, b, diff), headers(b)
    plot = plot_results(out / "results.png", a, b)
    models = f"A = `{a.model}`" + (f", B = `{b.model}`" if b is not None else "")
    md = [
        f"# eval suite {summary['suite']}",
        "",
        summary.get("description") or "",
        "",
        f"{models}; engine {a.engine}; 95% bootstrap intervals over prompts"
        + ("; B - A paired over the same prompts." if b is not None else "."),
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"![results]({plot.name})",
        "",
    ]
    md_path = out / "results.md"
    md_path.write_text("\n".join(md))
    return [json_path, md_path, plot]


def plot_results(out: Path, a: ModelResult, b: ModelResult | None) -> Path:
    """Bars of every task metric with their intervals, A and B side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = _metrics_order(a)
    labels = [f"{t}\n{m}" for t, m in keys]
    models = [("A", a)] + ([("B", b)] if b is not None else [])
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(keys)), 3.8))
    for i, (name, m) in enumerate(models):
        by_task = {t.task: t for t in m.tasks}
        ests = [by_task[t].estimates[k] for t, k in keys]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(keys))]
        errs = [[e.value - e.low for e in ests], [e.high - e.value for e in ests]]
        ax.bar(xs, [e.value for e in ests], width, yerr=errs, capsize=2, label=f"{name}: {m.model}")
    ax.set_xticks(range(len(keys)), labels, fontsize=7)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@dataclass(frozen=True)
class SuiteOutcome:
    """What `evaluate_suite` did."""

    run_dir: Path
    """Where everything was written."""
    a: ModelResult
    """The model's results."""
    b: ModelResult | None
    """The compared model's results, when one was given."""
    diff: Comparison | None
    """B - A, when a model was compared."""

    def table(self) -> str:
        """The console table."""
        return format_table(table_rows(self.a, self.b, self.diff), headers(self.b))


def evaluate_suite(
    suite: SuiteConfig,
    model: str,
    *,
    compare_to: str | None = None,
    engine: Engine = "hf",
    output_dir: Path = Path("runs"),
    name: str | None = None,
    overwrite: bool = False,
) -> SuiteOutcome:
    """Run `suite` on `model` (and `compare_to`), writing the run directory
    `output_dir/name` (default `eval-<suite>`): results, completions per model and task.

    Every dataset, verifier and model path is checked, and the first model loaded, before the
    run directory is written or anything generated.
    """
    prepared = prepare(suite)
    check_model_dir(model)
    if compare_to is not None:
        check_model_dir(compare_to)
    batch = max(p.config.generation.batch_size for p in prepared)
    sampler = open_engine(engine, model, seed=suite.seed, batch_size=batch)
    run = create_run(
        output_dir,
        name or f"eval-{suite.suite}",
        suite,
        stage="suite",
        seed=suite.seed,
        datasets={p.config.name: p.fingerprint for p in prepared},
        verifier_names=sorted({s.verifier for p in prepared for s in p.samples}),
        overwrite=overwrite,
    )
    a = run_model(
        suite, prepared, model, engine=engine, out=run.dir / "completions" / "a", sampler=sampler
    )
    b = diff = None
    if compare_to is not None:
        b = run_model(suite, prepared, compare_to, engine=engine, out=run.dir / "completions" / "b")
        diff = compare(a, b, resamples=suite.bootstrap, seed=suite.seed)
    write_results(run.dir, suite_summary(suite), a, b, diff)
    run.log(0, {f"suite/{t.task}/{m}": e.value for t in a.tasks for m, e in t.estimates.items()})
    run.close()
    return SuiteOutcome(run.dir, a, b, diff)
