"""`reasoning_gym`: procedural reasoning tasks from the optional `reasoning-gym` package.

`ReasoningGymVerifier` (registered as `reasoning_gym`) scores a completion with the task's own
scorer; `generate_rows(task, n, seed)` builds dataset rows for it. reasoning-gym is imported
on first use only, so `import verifiers` works without it; building the verifier without it
raises `RegistryError` saying `pip install 'rlvr[reasoning-gym]'`. See
docs/verifiers/reasoning_gym.md.

Reasons (a closed set):
  * `correct`: the task's scorer gave 1.
  * `partial`: it gave a score between `floor` and 1 (kept as the reward).
  * `wrong_answer`: it gave 0 (or credit the verifier drops), or a guard refused the answer:
    several different answers, too long, the question repeated, code for a scorer that
    evaluates answers.
  * `no_answer`: no answer found, or an empty one.
  * `reference_error`: the reference is not `{"task", "entry"}` or names no reasoning-gym task.
  * `verifier_error`: reasoning-gym is missing, or the task's scorer raised.
"""

from verifiers.reasoning_gym.rows import ANSWER_INSTRUCTION, generate_rows
from verifiers.reasoning_gym.tasks import MISSING, task_names
from verifiers.reasoning_gym.verifier import REASONS, ReasoningGymVerifier

__all__ = [
    "ANSWER_INSTRUCTION",
    "MISSING",
    "REASONS",
    "ReasoningGymVerifier",
    "generate_rows",
    "task_names",
]
