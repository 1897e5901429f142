"""The shape every tiny recipe shares, as one function: SFT, then GRPO arms from the SFT model,
then a report with held-out accuracy before and after each arm.

A recipe script (`recipes/*_tiny.py`) names its two configs and its arms (the main run, a
random-reward control, variants such as another preset or all-or-nothing rewards) and calls
`run_recipe`. Every arm starts from the same SFT model with the same time budget. The output
root holds the SFT run, one run per arm, `report.md` (+ `report.png`, `sft.png`) and
`summary.json`, which `benchmarks/recipes.py` reads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from rlvr.config import load_config
from rlvr.runs.report import plot_runs, write_summary
from rlvr.trainers.grpo import GRPOConfig, GRPOResult
from rlvr.trainers.pipeline import run_stage
from rlvr.trainers.sft import SFTConfig, SFTResult

SMOKE_SFT = ("train.max_steps=4", "train.eval_every=2", "train.batch_size=8", "data.n=64")
"""SFT overrides of a recipe's `--smoke` run."""
SMOKE_GRPO = (
    "train.max_steps=2",
    "train.eval_every=1",
    "train.kl_every=1",
    "data.n=32",
    "algo.prompts_per_step=2",
    "algo.group_size=4",
    "algo.dynamic_sampling=false",
)
"""GRPO overrides of a recipe's `--smoke` run."""
SMOKE_BOTH = ("eval_data.n=8", "reward.workers=1")
"""Overrides of both stages in a `--smoke` run."""


@dataclass(frozen=True)
class Arm:
    """One GRPO run of a recipe, from the SFT model."""

    name: str
    """Label in the report and prefix of the run's name (`<name>-<recipe>`)."""
    overrides: tuple[str, ...] = ()
    """Dotted overrides of the recipe's GRPO config, e.g. `train.random_reward=true`."""


@dataclass(frozen=True)
class ArmResult:
    """What one arm gave."""

    arm: Arm
    """The arm."""
    result: GRPOResult
    """The GRPO stage's result."""
    config: GRPOConfig
    """The config it ran with."""
    wall_s: float
    """Wall-clock seconds of the stage, evaluations included."""


@dataclass(frozen=True)
class RecipeResult:
    """What `run_recipe` gave."""

    sft: SFTResult
    """The SFT stage's result."""
    sft_wall_s: float
    """Wall-clock seconds of the SFT stage."""
    arms: tuple[ArmResult, ...]
    """Each arm, in order."""
    report: Path
    """The Markdown report."""


def ended(r: GRPOResult, cfg: GRPOConfig) -> str:
    """Which limit ended a GRPO run, in words."""
    train = cfg.train
    if r.stopped_by == "max_seconds":
        return f"time budget of {train.max_seconds:.0f} s reached"
    if r.stopped_by == "monitor":
        return f"stopped by a monitor after {r.trained_s:.0f} s: see its monitor_events.jsonl"
    budget = f" of the {train.max_seconds:.0f} s budget" if train.max_seconds else ""
    return f"max_steps={train.max_steps} reached after {r.trained_s:.0f} s{budget}"


def run_recipe(
    name: str,
    configs: tuple[Path, Path],
    arms: Sequence[Arm],
    *,
    out: Path,
    overrides: Sequence[str] = (),
    grpo_overrides: Sequence[str] = (),
    smoke: bool = False,
    metric: str = "held-out accuracy",
    threads: int | None = 1,
) -> RecipeResult:
    """SFT with `configs[0]`, then each arm's GRPO with `configs[1]` from the SFT model.

    Args:
        name: The recipe's name: report title and run-name suffix.
        configs: The SFT and GRPO YAML configs.
        arms: The GRPO runs, in order.
        out: Output root (`run.output_dir` of every stage).
        overrides: Dotted overrides of both stages (e.g. `run.seed=1`).
        grpo_overrides: Dotted overrides of every arm (e.g. `train.max_seconds=120`).
        smoke: Toy sizes (`SMOKE_*`), the tiny model built under `out`.
        metric: What the held-out accuracy measures, in the report (e.g. `pass@1`).
        threads: torch's intra-op threads in this process (None: torch's default). One is
            what a tiny model needs, and on a shared 2-core machine two threads that each
            wait for the other were measured to decode 15x slower (64 vs 1,000 tokens/s at a
            load average of 13).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    common = [f"run.output_dir={out}", "run.overwrite=true", *overrides]
    if smoke:
        common += [*SMOKE_BOTH, f"model.path={out}/models/tiny"]
    start = time.perf_counter()
    sft_cfg = load_config(configs[0], SFTConfig, [*common, *(SMOKE_SFT * smoke)])
    sft: SFTResult = run_stage(sft_cfg, "sft")
    sft_wall = time.perf_counter() - start
    print(f"SFT: {sft.steps} steps, {metric} {sft.eval_accuracy:.3f}", flush=True)
    results = []
    for arm in arms:
        arm_overrides = [*common, *grpo_overrides, *(SMOKE_GRPO * smoke)]
        arm_overrides.append(f"model.path={sft.final}")
        arm_overrides += [f"run.name={arm.name}-{name}", *arm.overrides]
        cfg = load_config(configs[1], GRPOConfig, arm_overrides)
        start = time.perf_counter()
        r: GRPOResult = run_stage(cfg, "grpo")
        results.append(ArmResult(arm, r, cfg, time.perf_counter() - start))
        print(
            f"{arm.name}: {r.steps} steps ({ended(r, cfg)}), {metric} "
            f"{r.accuracy_before:.3f} -> {r.accuracy_after:.3f}",
            flush=True,
        )
    loads = (load, os.getloadavg()[0])
    report = _report(name, out, (sft, sft_cfg, sft_wall), results, metric, loads)
    return RecipeResult(sft, sft_wall, tuple(results), report)


def _report(
    name: str,
    out: Path,
    sft_run: tuple[SFTResult, SFTConfig, float],
    arms: list[ArmResult],
    metric: str,
    loads: tuple[float, float],
) -> Path:
    """`report.md`, `report.png`, `sft.png` and `summary.json` under `out`; `loads` are the
    1-minute load averages when the recipe started and ended."""
    sft, sft_cfg, sft_wall = sft_run
    runs = {a.arm.name: out / a.config.run.name for a in arms}
    plot = plot_runs(runs, out / "report.png", title=f"GRPO: {name}")
    plot_runs({"sft": out / sft_cfg.run.name}, out / "sft.png", title="SFT warm-up")
    rows = [
        ("SFT steps", f"{sft.steps} ({sft_wall:.0f} s)"),
        (f"SFT {metric}", f"{sft.eval_accuracy:.3f}"),
    ]
    for a in arms:
        r = a.result
        rows += [
            (f"{a.arm.name}: steps", f"{r.steps} ({ended(r, a.config)})"),
            (f"{a.arm.name}: {metric} before -> after", _before_after(r)),
        ]
    report = write_summary(out / "report.md", name, rows, plot)
    summary = {
        "recipe": name,
        "metric": metric,
        "seed": sft_cfg.run.seed,
        "sft": sft.eval_accuracy,
        "sft_steps": sft.steps,
        "sft_wall_s": round(sft_wall, 1),
        "load": [round(x, 2) for x in loads],
        "torch_threads": torch.get_num_threads(),
        "arms": {
            a.arm.name: {
                "before": a.result.accuracy_before,
                "after": a.result.accuracy_after,
                "steps": a.result.steps,
                "trained_s": round(a.result.trained_s, 1),
                "stopped_by": a.result.stopped_by,
                "wall_s": round(a.wall_s, 1),
                "overrides": list(a.arm.overrides),
            }
            for a in arms
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"report: {report}", flush=True)
    return report


def _before_after(r: GRPOResult) -> str:
    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    return f"{fmt(r.accuracy_before)} -> {fmt(r.accuracy_after)}"
