"""`rlvr run PIPELINE.yaml`: stages in order, each starting from the previous stage's model.

```yaml
stage: pipeline
stages:
  - config: recipes/configs/sft/math_tiny.yaml
  - config: recipes/configs/grpo/math_tiny.yaml
    overrides: [train.max_seconds=60]
```
Every stage after the first gets `model.path=<previous stage's final model>`; its other fields
come from its own config file plus the overrides. Stage configs are all loaded (and so checked)
before the first stage starts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.config import ConfigError, load_config, read_stage

TRAINERS: dict[str, str] = {
    "sft": "rlvr.trainers.sft:train",
    "grpo": "rlvr.trainers.grpo:train",
    "dpo": "rlvr.trainers.dpo:train",
    "reward_model": "rlvr.trainers.reward_model:train",
    "ppo": "rlvr.trainers.ppo:train",
}
"""Trainable stage -> `module:function(config)` running it; the result has a `final` path."""

HELD_OUT_FIELDS: dict[str, str] = {
    "sft": "eval_accuracy",
    "dpo": "accuracy_after",
    "grpo": "accuracy_after",
    "ppo": "accuracy_after",
}
"""Stage -> the field of its result that holds held-out accuracy at its end (`rlvr run` table)."""


@dataclass(frozen=True)
class PipelineStage:
    """One stage of a pipeline."""

    config: Path
    """The stage's YAML config (relative paths are taken from the working directory)."""
    overrides: tuple[str, ...] = ()
    """`dotted.key=value` overrides applied on top of the file."""


@dataclass(frozen=True)
class PipelineConfig:
    """Stages run in order, each inheriting the previous stage's final model."""

    stages: tuple[PipelineStage, ...]
    """The stages, in order."""
    overrides: tuple[str, ...] = field(default_factory=tuple)
    """Overrides applied to every stage (e.g. `run.output_dir=runs/x`)."""

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a pipeline needs at least one stage")


def run_stage(config: Any, stage: str) -> Any:
    """Run one loaded stage config with its trainer and return the trainer's result."""
    if stage not in TRAINERS:
        raise ConfigError(f"stage {stage!r} cannot run in a pipeline (known: {sorted(TRAINERS)})")
    module, _, func = TRAINERS[stage].partition(":")
    return getattr(importlib.import_module(module), func)(config)


def run_pipeline(cfg: PipelineConfig) -> list[Any]:
    """Run every stage; returns each stage's result."""
    planned: list[tuple[str, PipelineStage, list[str], Any]] = []
    for i, st in enumerate(cfg.stages):
        stage = read_stage(st.config)
        overrides = [*cfg.overrides, *st.overrides]
        if i > 0:
            overrides.append("model.path=__previous__")
        planned.append((stage, st, overrides, load_config(st.config, overrides=overrides)))
    results: list[Any] = []
    for i, (stage, st, overrides, config) in enumerate(planned):
        if i > 0:
            previous = results[-1].final
            config = load_config(st.config, overrides=[*overrides[:-1], f"model.path={previous}"])
        results.append(run_stage(config, stage))
    return results


def stage_names(cfg: PipelineConfig) -> list[str]:
    """The `stage:` of each stage config, in order."""
    return [read_stage(st.config) for st in cfg.stages]


def accuracy_table(stages: list[str], results: list[Any]) -> str:
    """A text table of held-out accuracy after each stage (`-` where a stage measures none)."""
    rows = [("#", "stage", "held-out accuracy", "final model")]
    for i, (stage, result) in enumerate(zip(stages, results, strict=True), start=1):
        field = HELD_OUT_FIELDS.get(stage)
        accuracy = getattr(result, field) if field is not None else None
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        rows.append((str(i), stage, shown, str(result.final)))
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )
