"""Eval suites: a YAML file listing tasks (dataset, verifier, sampling, k, category).

```yaml
# held-out addition, 8 samples per prompt
suite: math
tasks:
  - name: add
    category: addition
    data: {synthetic: arithmetic, n: 100, seed: 4242, options: {ops: ["+"], split: test}}
    samples: 8
    k: [1, 4, 8]
    generation: {temperature: 1.0, max_new_tokens: 24}
```
`rlvr eval SUITE --model PATH` takes a suite file or the name of a shipped one (`SHIPPED`,
YAML files beside this module in `suites/`); `rlvr eval --data FILE.jsonl` builds a one-task
suite from any JSONL of rows (`jsonl_suite`). Everything a suite names is checked before any
generation (`prepare`): unknown keys and wrong types, k larger than the samples, datasets that
cannot be read, verifiers that do not resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import verifiers
from rlvr.config import ConfigError, load_config
from rlvr.config.sections import DataConfig, GenerationConfig, RewardConfig
from rlvr.data import Sample, iter_rows
from rlvr.data.rows import load_rows

SUITE_DIR = Path(__file__).parent / "suites"
"""Where the shipped suites are (package data)."""


def shipped_suites() -> list[str]:
    """Names of the suites shipped with rlvr."""
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class TaskConfig:
    """One task of a suite: rows, how they are sampled and scored, and which k to report."""

    name: str
    """Task name (unique in the suite), used in tables and file names."""
    data: DataConfig
    """The rows (each names its verifier) or a synthetic generator."""
    verifier: str | None = None
    """Score every row with this verifier instead of the one it names."""
    samples: int = 1
    """Completions sampled per prompt (n of pass@k)."""
    k: tuple[int, ...] = (1,)
    """The k of pass@k and maj@k; each at most `samples`."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding: greedy by default; sampling several completions needs temperature > 0."""
    category: str | None = None
    """Category of the task's rows in the per-category table (default: the task name)."""
    category_field: str | None = None
    """Row field holding each row's own category (JSONL/HF rows), over `category`."""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"task {self.name!r}: samples must be >= 1, got {self.samples}")
        if not self.k:
            raise ValueError(f"task {self.name!r}: k needs at least one value")
        for k in self.k:
            if not 1 <= k <= self.samples:
                raise ValueError(
                    f"task {self.name!r}: k={k} is larger than samples={self.samples} "
                    "(pass@k and maj@k draw k of the samples; raise samples or lower k)"
                    if k > self.samples
                    else f"task {self.name!r}: k must be >= 1, got {k}"
                )
        if self.samples > 1 and self.generation.temperature == 0:
            raise ValueError(
                f"task {self.name!r}: samples={self.samples} with greedy decoding gives copies "
                "of one completion; set generation.temperature > 0"
            )


@dataclass(frozen=True)
class SuiteConfig:
    """A named list of tasks and how the suite is scored."""

    suite: str
    """The suite's name."""
    tasks: tuple[TaskConfig, ...]
    """The tasks, in report order."""
    description: str = ""
    """What the suite measures, in a sentence."""
    seed: int = 0
    """Sampling seed (the same for every model compared)."""
    bootstrap: int = 1000
    """Bootstrap resamples of the prompts for the 95% intervals (0: no intervals)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime settings."""

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError(f"suite {self.suite!r} has no tasks")
        names = [t.name for t in self.tasks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"suite {self.suite!r}: task names repeat: {', '.join(repeated)}")


def load_suite(spec: str | Path, overrides: tuple[str, ...] = ()) -> SuiteConfig:
    """A suite from a YAML file, or the shipped suite of that name.

    Raises:
        ConfigError: neither a file nor a shipped suite, or a bad suite (key and file named).
    """
    path = Path(spec)
    if not path.is_file():
        if str(spec) not in shipped_suites():
            raise ConfigError(
                f"unknown suite {str(spec)!r}: not a file, and not a shipped suite "
                f"({', '.join(shipped_suites())})"
            )
        path = SUITE_DIR / f"{spec}.yaml"
    return load_config(path, SuiteConfig, overrides=list(overrides))


def jsonl_suite(
    source: str | Path,
    *,
    verifier: str | None = None,
    samples: int = 1,
    k: tuple[int, ...] = (1,),
    generation: GenerationConfig | None = None,
    limit: int | None = None,
) -> SuiteConfig:
    """A one-task suite over any dataset of rows (`prompt`, `reference`, `verifier`, optional
    `category`), e.g. the user's own JSONL."""
    task = TaskConfig(
        name=Path(source).stem,
        data=DataConfig(source=str(source), n=limit or 10**9),
        verifier=verifier,
        samples=samples,
        k=k,
        generation=generation or GenerationConfig(),
        category_field="category",
    )
    return SuiteConfig(suite=Path(source).stem, tasks=(task,))


@dataclass(frozen=True)
class PreparedTask:
    """A task's rows, read and checked, ready to generate for."""

    config: TaskConfig
    """The task."""
    samples: list[Sample]
    """Its rows (with the task's verifier, when it names one)."""
    categories: list[str]
    """Each row's category."""
    fingerprint: str
    """The dataset's fingerprint (for the run manifest)."""


def _categories(task: TaskConfig, n: int) -> list[str]:
    default = task.category or task.name
    if task.category_field is None or task.data.source is None:
        return [default] * n
    rows = iter_rows(task.data.source, split=task.data.split, limit=task.data.n)
    found = [str(row.get(task.category_field) or default) for _, row in rows]
    return found[:n] + [default] * (n - len(found))


def prepare(suite: SuiteConfig) -> list[PreparedTask]:
    """Read every task's rows and resolve every verifier, before any model is loaded.

    Raises:
        DataError / FileNotFoundError: a dataset cannot be read.
        verifiers.RegistryError: a verifier does not resolve.
        ValueError: a task has no rows.
    """
    prepared = []
    for task in suite.tasks:
        samples, fingerprint = load_rows(task.data)
        if task.verifier is not None:
            samples = [replace(s, verifier=task.verifier) for s in samples]
        if not samples:
            raise ValueError(f"task {task.name!r}: the dataset has no rows")
        for name in sorted({s.verifier for s in samples}):
            try:
                verifiers.resolve(name)
            except verifiers.RegistryError as exc:
                raise verifiers.RegistryError(f"task {task.name!r}: {exc}") from None
        prepared.append(PreparedTask(task, samples, _categories(task, len(samples)), fingerprint))
    return prepared


def suite_summary(suite: SuiteConfig) -> dict[str, Any]:
    """Name, description and per-task sizes, for the results file."""
    return {
        "suite": suite.suite,
        "description": suite.description,
        "tasks": {t.name: {"samples": t.samples, "k": list(t.k)} for t in suite.tasks},
    }
