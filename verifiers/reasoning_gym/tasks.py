"""The optional `reasoning-gym` package: imported on first use, never by `import verifiers`.

Each task's scorer is built once per process (reasoning-gym's `get_score_answer_fn`, a
dataset with the task's default configuration) and kept, as the `math` verifier keeps its
parses. `generate_rows` (in `verifiers.reasoning_gym.rows`) builds data with the same default
configuration, so rows and scorer agree.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any, cast

MISSING = (
    "the reasoning_gym verifier needs the reasoning-gym package: pip install 'rlvr[reasoning-gym]'"
)
"""What a missing reasoning-gym is reported as."""

Scorer = Callable[[str, dict[str, Any]], Any]
"""A task's `score_answer(answer, entry)`."""


def installed() -> bool:
    """Whether reasoning-gym can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("reasoning_gym") is not None
    except (ImportError, ValueError):  # a parent package missing, or a blocked module
        return False


def module() -> Any:
    """The imported `reasoning_gym` package.

    Raises:
        ImportError: it is not installed (the message says how to install it).
    """
    try:
        return importlib.import_module("reasoning_gym")
    except ImportError as exc:
        raise ImportError(f"{MISSING} ({exc})") from exc


def task_names() -> tuple[str, ...]:
    """Every task reasoning-gym registers, sorted."""
    # The registry dict is the only listing reasoning-gym offers (no public function).
    datasets = cast(Mapping[str, Any], importlib.import_module("reasoning_gym.factory").DATASETS)
    return tuple(sorted(datasets))


def check_task(task: str) -> None:
    """Raise `ValueError` naming the close matches when `task` is not a reasoning-gym task.

    Raises:
        ValueError: unknown task.
        ImportError: reasoning-gym is not installed.
    """
    module()
    names = task_names()
    if task in names:
        return
    close = difflib.get_close_matches(str(task), names, n=5, cutoff=0.6)
    hint = f"close matches: {', '.join(close)}" if close else f"{len(names)} tasks, none close"
    raise ValueError(f"unknown reasoning-gym task {task!r}; {hint}")


@functools.lru_cache(maxsize=256)
def scorer(task: str) -> Scorer:
    """The `score_answer` of `task`'s dataset in its default configuration.

    Raises:
        ValueError: unknown task.
        ImportError: reasoning-gym is not installed.
    """
    check_task(task)
    return cast(Scorer, module().get_score_answer_fn(task))
