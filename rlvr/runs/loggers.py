"""Metric loggers beside `metrics.jsonl` (which every run writes): TensorBoard and Weights &
Biases, when `run.loggers` names them.

Both are optional extras, imported only when a run asks for them; a run that names one that is
not installed fails before it writes anything, naming the extra to install.

Implementation details:
  1. TensorBoard: `torch.utils.tensorboard.SummaryWriter` writing event files to
     `<run>/tensorboard/`; every numeric metric becomes a scalar under its own key.
  2. Weights & Biases: `wandb.init(dir=<run>, mode=...)`, offline unless `WANDB_MODE` says
     otherwise (an offline run syncs later with `wandb sync <run>/wandb/offline-run-*`), project
     `WANDB_PROJECT` or `rlvr`, the run's name, and its resolved config. The W&B run id is
     kept in `<run>/wandb_id`, so a resumed run continues the same W&B run.
"""

from __future__ import annotations

import importlib
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from rlvr.config import ConfigError

EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}
"""Logger name -> (module it needs, the rlvr extra that installs it)."""


class MetricLogger(Protocol):
    """Somewhere a run's scalars go besides `metrics.jsonl`."""

    def log(self, step: int, scalars: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


def check_loggers(names: Iterable[str]) -> None:
    """Fail in one line when a named logger is unknown or its extra is not installed.

    Raises:
        ConfigError: naming the logger and the extra (`pip install 'rlvr[wandb]'`).
    """
    for name in names:
        if name not in EXTRAS:
            raise ConfigError(f"run.loggers: unknown logger {name!r}; known: {', '.join(EXTRAS)}")
        module, extra = EXTRAS[name]
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(
                f"run.loggers names {name!r}, which needs the `{extra}` extra: "
                f"pip install 'rlvr[{extra}]'"
            ) from None


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric values of a metrics row (strings, None and bools left out)."""
    out = {}
    for key, value in metrics.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and math.isfinite(value):
            out[key] = float(value)
    return out


class TensorBoardLogger:
    """Scalars to TensorBoard event files in `<run>/tensorboard/`."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """Scalars to a Weights & Biases run (offline by default)."""

    def __init__(self, run_dir: Path, name: str, config: Mapping[str, Any]) -> None:
        import wandb

        id_file = run_dir / "wandb_id"
        if id_file.exists():
            run_id = id_file.read_text().strip()
        else:
            run_id = uuid.uuid4().hex[:12]
            id_file.write_text(run_id + "\n")
        mode = os.environ.get("WANDB_MODE", "offline")
        if mode not in ("online", "offline", "disabled", "shared"):
            raise ConfigError(f"WANDB_MODE={mode!r}: expected online, offline or disabled")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "rlvr"),
            name=name,
            id=run_id,
            dir=str(run_dir),
            mode=mode,  # type: ignore[arg-type]
            config=dict(config),
            resume="allow",
            reinit="create_new",
        )

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        self.run.log(dict(scalars), step=step)

    def close(self) -> None:
        self.run.finish()


def open_loggers(
    names: Iterable[str], run_dir: Path, *, name: str, config: Mapping[str, Any]
) -> list[MetricLogger]:
    """The loggers `names` asks for, writing under `run_dir`."""
    names = list(names)
    check_loggers(names)
    loggers: list[MetricLogger] = []
    for logger in names:
        if logger == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir))
        else:
            loggers.append(WandbLogger(run_dir, name, config))
    return loggers
