"""Synthetic tasks with verifiable references, for tests, tokenizer training and tiny recipes.

Three families, each routed to a built-in verifier:
  - `arithmetic`: "What is 23 + 45?" with the answer in `\\boxed{}`; verifier `math`.
  - `code`: write a one-line function (checked by asserts) or a short stdin/stdout program;
    verifier `code`.
  - `json`: give something as a JSON object; the reference is a JSON Schema; verifier
    `json_schema`.

Every task carries a correct model-style completion (`Task.solution`), used for SFT warm-up and as
a known-good example. Generation is deterministic for a seed: each generator draws only from its
own `random.Random(seed)`, never from global state.

Implementation details:
  1. Prompts are short and templated, so a model of a few hundred thousand parameters can learn
     the format and then improve on correctness under RL.
  2. Function tasks compute their expected values by running the solution's own source, so the
     asserts and the solution cannot disagree.
  3. JSON schemas pin the requested values (`enum`, `minimum` = `maximum`) and forbid extra keys,
     so a completion validates only if it says what was asked.
"""

from __future__ import annotations

import functools
import json
import random
import string
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rlvr.data.types import Prompt, Sample, Task

ARITHMETIC_OPS = ("+", "-", "*")
"""Operators `arithmetic` knows."""

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The `$schema` of every JSON task reference."""

_APPLY: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")


# ---------------------------------------------------------------------------------------------
# arithmetic


ARITHMETIC_SPLITS = ("all", "train", "test")
"""Values of `arithmetic(split=...)`."""


def _arithmetic_bucket(a: int, op: str, b: int) -> int:
    return zlib.crc32(f"{a}{op}{b}".encode()) % 10


def arithmetic(
    n: int,
    *,
    seed: int,
    digits: int = 2,
    ops: Sequence[str] = ARITHMETIC_OPS,
    chat: bool = False,
    split: str = "all",
    verbose: float = 0.0,
) -> list[Task]:
    """Integer arithmetic questions with the answer in `\\boxed{}`.

    Operands have exactly `digits` digits. For `-` the larger operand comes first, so every answer
    is a non-negative integer. `split` partitions the problem space by a hash of the problem
    (`test`: one problem in ten, `train`: the rest), so held-out rows never appear in training
    data whatever the seeds; `all` draws from the whole space.

    Args:
        n: Number of tasks.
        seed: Seed of the generator's own random source.
        digits: Digits per operand, 1 to 9.
        ops: Operators to draw from: a non-empty sequence of symbols from `ARITHMETIC_OPS`.
        chat: Make each prompt a one-message chat instead of plain text.
        split: `all`, `train` or `test` (disjoint).
        verbose: Fraction of solutions, in [0, 1], that restate their answer once more
            ("... The answer is \\boxed{48}. The answer is \\boxed{48}."), the long form of the
            length-biased preference pairs; a model trained on them writes it some of the time,
            so a reward model that favours length has something to pull on. Drawn from a
            source of its own: the problems are the same whatever its value.

    Returns:
        `n` tasks with ids `arith-<seed>-<i>`, verifier `math` and the answer as reference.

    Raises:
        ValueError: a bad `n`, `digits`, `ops` or `verbose`.

    >>> task = arithmetic(1, seed=0)[0]
    >>> task.sample.prompt, task.sample.reference
    ('What is 63 - 15? Put the final answer in \\\\boxed{}.', '48')
    >>> task.solution
    '63 - 15 = 48. The answer is \\\\boxed{48}.'
    """
    _check_count(n)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 9:
        raise ValueError(f"digits must be an int from 1 to 9, got {digits!r}")
    if isinstance(ops, str) or not ops or any(op not in _APPLY for op in ops):
        raise ValueError(f"ops must be a non-empty sequence of {ARITHMETIC_OPS}, got {ops!r}")
    if split not in ARITHMETIC_SPLITS:
        raise ValueError(f"split must be one of {ARITHMETIC_SPLITS}, got {split!r}")
    if isinstance(verbose, bool) or not isinstance(verbose, int | float) or not 0 <= verbose <= 1:
        raise ValueError(f"verbose must be a number in [0, 1], got {verbose!r}")
    rng = random.Random(seed)
    restate = random.Random(f"arithmetic-verbose:{seed}")
    low, high = 10 ** (digits - 1), 10**digits - 1
    tasks = []
    for i in range(n):
        while True:
            op = rng.choice(list(ops))
            a, b = rng.randint(low, high), rng.randint(low, high)
            if op == "-" and b > a:
                a, b = b, a
            if split == "all" or (_arithmetic_bucket(a, op, b) == 0) == (split == "test"):
                break
        answer = str(_APPLY[op](a, b))
        text = f"What is {a} {op} {b}? Put the final answer in \\boxed{{}}."
        prompt: Prompt = ({"role": "user", "content": text},) if chat else text
        sample = Sample(prompt=prompt, reference=answer, verifier="math", id=f"arith-{seed}-{i}")
        boxed = f"The answer is \\boxed{{{answer}}}."
        solution = f"{a} {op} {b} = {answer}. {boxed}"
        if verbose and restate.random() < verbose:
            solution = f"{solution} {boxed}"
        tasks.append(Task(sample=sample, solution=solution))
    return tasks


# ---------------------------------------------------------------------------------------------
# code


@dataclass(frozen=True, slots=True)
class _FunctionTemplate:
    """A one-argument function task; `{name}` fields are filled from `params`."""

    name: str
    arg: str
    prompt: str
    body: str
    params: Callable[[random.Random, bool], dict[str, Any]]
    """Draws the template's parameters; the flag asks for the wide ranges."""
    draw: Callable[[random.Random, bool, dict[str, Any]], Any]
    """Draws one test input given the parameters; the flag asks for the wide ranges."""


def _word(rng: random.Random, letters: str = "abcde") -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(1, 6)))


def _ints(rng: random.Random, wide: bool = False) -> list[int]:
    low, high = (-20, 70) if wide else (-9, 20)
    return [rng.randint(low, high) for _ in range(rng.randint(2, 6))]


def _int(
    narrow: tuple[int, int], wide: tuple[int, int]
) -> Callable[[random.Random, bool, dict[str, Any]], int]:
    return lambda r, w, _: r.randint(*(wide if w else narrow))


def _maybe_multiple(rng: random.Random, wide: bool, params: dict[str, Any]) -> int:
    """A number from 0 to 60; wide: a multiple of k or any number up to 300, equally often (so
    that `return False` does not pass most tests)."""
    if not wide:
        return rng.randint(0, 60)
    k = params["k"]
    return k * rng.randint(0, 300 // k) if rng.random() < 0.5 else rng.randint(0, 300)


_FUNCTIONS = (
    _FunctionTemplate(
        "add_k", "x", "returns x plus {k}", "x + {k}",
        lambda r, w: {"k": r.randint(1, 99 if w else 20)}, _int((-50, 50), (-99, 99)),
    ),
    _FunctionTemplate(
        "times_k", "x", "returns x times {k}", "x * {k}",
        lambda r, w: {"k": r.randint(2, 30 if w else 9)}, _int((-20, 20), (-20, 20)),
    ),
    _FunctionTemplate(
        "count_char", "s", "returns how many times the letter {c} occurs in the string s",
        "s.count({c!r})", lambda r, w: {"c": r.choice("abcdefgh" if w else "abc")},
        lambda r, w, _: _word(r, "abcdefgh" if w else "abcd"),
    ),
    _FunctionTemplate(
        "sum_above", "xs", "returns the sum of the numbers in xs that are greater than {t}",
        "sum(x for x in xs if x > {t})", lambda r, w: {"t": r.randint(0, 49 if w else 9)},
        lambda r, w, _: _ints(r, w),
    ),
    _FunctionTemplate(
        "repeat_str", "s", "returns the string s repeated {k} times", "s * {k}",
        lambda r, w: {"k": r.randint(2, 9 if w else 4)}, lambda r, w, _: _word(r),
    ),
    _FunctionTemplate(
        "is_multiple", "n", "returns True if n is divisible by {k} and False otherwise",
        "n % {k} == 0", lambda r, w: {"k": r.randint(2, 30 if w else 7)}, _maybe_multiple,
    ),
    _FunctionTemplate(
        "clamp", "x", "returns x limited to the range from {lo} to {hi}", "max({lo}, min({hi}, x))",
        lambda r, w: {"lo": r.randint(-30 if w else -10, 0), "hi": r.randint(1, 30 if w else 10)},
        _int((-20, 20), (-60, 60)),
    ),
    _FunctionTemplate(
        "last_items", "xs", "returns the last {k} items of the list xs", "xs[-{k}:]",
        lambda r, w: {"k": r.randint(2, 5 if w else 3)}, lambda r, w, _: _ints(r),
    ),
)  # fmt: skip


def _function_task(rng: random.Random, tpl: _FunctionTemplate, wide: bool) -> tuple[str, Any, str]:
    params = tpl.params(rng, wide)
    program = f"def {tpl.name}({tpl.arg}):\n    return {tpl.body.format(**params)}\n"
    namespace: dict[str, Any] = {}
    exec(compile(program, f"<{tpl.name}>", "exec"), namespace)
    func = namespace[tpl.name]
    args = [tpl.draw(rng, wide, params) for _ in range(rng.randint(3, 5))]
    tests = "\n".join(f"assert {tpl.name}({arg!r}) == {func(arg)!r}" for arg in args)
    prompt = f"Write a Python function {tpl.name}({tpl.arg}) that {tpl.prompt.format(**params)}."
    reference = {"kind": "asserts", "tests": tests, "entry_point": tpl.name}
    return prompt, reference, program


StdioMaker = Callable[[random.Random], tuple[str, Callable[[str], str], str]]
"""Draws the parameters of a program task: `(prompt, expected output of an input, program)`."""


def _stdio_binary(rng: random.Random) -> tuple[str, Callable[[str], str], str]:
    what, symbol = rng.choice([("sum", "+"), ("product", "*"), ("difference a - b", "-")])
    apply = _APPLY[symbol]
    program = f"a, b = map(int, input().split())\nprint(a {symbol} b)\n"
    prompt = f"Read two integers a and b from one line of standard input and print their {what}."
    return prompt, lambda text: f"{apply(*map(int, text.split()))}\n", program


def _stdio_reverse(rng: random.Random) -> tuple[str, Callable[[str], str], str]:
    program = 'print(" ".join(input().split()[::-1]))\n'
    prompt = "Read a line of words from standard input and print the words in reverse order."
    return prompt, lambda text: " ".join(text.split()[::-1]) + "\n", program


def _stdio_sum_to(rng: random.Random) -> tuple[str, Callable[[str], str], str]:
    k = rng.randint(2, 5)
    program = f"n = int(input())\nprint(sum(range({k}, {k} * n + 1, {k})))\n"
    prompt = (
        f"Read an integer n from standard input and print the sum of the first n multiples of {k}."
    )
    return prompt, lambda text: f"{sum(range(1, int(text) + 1)) * k}\n", program


_STDIO: tuple[tuple[StdioMaker, Callable[[random.Random], str]], ...] = (
    (_stdio_binary, lambda r: f"{r.randint(-20, 50)} {r.randint(-20, 50)}\n"),
    (_stdio_reverse, lambda r: " ".join(_word(r, string.ascii_lowercase) for _ in range(3)) + "\n"),
    (_stdio_sum_to, lambda r: f"{r.randint(1, 30)}\n"),
)


def _stdio_task(
    rng: random.Random, template: tuple[StdioMaker, Callable[[random.Random], str]]
) -> tuple[str, Any, str]:
    make, draw = template
    prompt, solve, program = make(rng)
    inputs = [draw(rng) for _ in range(rng.randint(3, 4))]
    tests = [{"input": text, "output": solve(text)} for text in inputs]
    return prompt, {"kind": "stdio", "tests": tests}, program


_CODE_TEMPLATES: tuple[tuple[str, Any], ...] = (
    *((tpl.name, tpl) for tpl in _FUNCTIONS),
    *((maker.__name__.lstrip("_"), (maker, draw)) for maker, draw in _STDIO),
)
CODE_TEMPLATES = tuple(name for name, _ in _CODE_TEMPLATES)
"""Values of `code_tasks(templates=...)`: the function tasks (named by their function) and the
program tasks `stdio_binary`, `stdio_reverse`, `stdio_sum_to`."""


def _in_split(prompt: str, split: str) -> bool:
    """Whether a prompt belongs to `split`: `test` holds one prompt in ten (by a hash of its
    text), `train` the rest, `all` every prompt."""
    return split == "all" or (zlib.crc32(prompt.encode()) % 10 == 0) == (split == "test")


_T = TypeVar("_T", bound=tuple[Any, ...])

_SPLIT_TRIES = 500
"""Draws of one template before it is declared to have no prompt in the split."""


def _draw_in_split(draw: Callable[[], _T], split: str) -> _T | None:
    """Draw from one template until its prompt (the result's first item) is in `split`; None
    when `_SPLIT_TRIES` draws found none (a template with few prompt texts may have none there).

    The template is chosen before this loop, not inside it: re-choosing it on every miss would
    favour the templates with the most prompts in the split (a template of 4 prompt texts has 1
    in `test` where a template of numbers has 1 in 10, so the held-out set held 3x its share of
    it), and a split's template mix would no longer be the generator's.
    """
    for _ in range(_SPLIT_TRIES):
        drawn = draw()
        if _in_split(drawn[0], split):
            return drawn
    return None


def _draw_task(
    rng: random.Random,
    pool: list[tuple[str, Callable[[], _T]]],
    split: str,
) -> _T:
    """One task of a template chosen uniformly from `pool`, its prompt in `split`. A template
    without prompts in the split leaves the pool for good (it has no held-out rows that would
    not leak into training, or the reverse); a pool left empty is an error."""
    names = [name for name, _ in pool]
    while pool:
        entry = rng.choice(pool)
        drawn = _draw_in_split(entry[1], split)
        if drawn is not None:
            return drawn
        pool.remove(entry)
    raise ValueError(f"none of the templates {names} has prompts in the {split!r} split")


def code_tasks(
    n: int,
    *,
    seed: int,
    templates: Sequence[str] = CODE_TEMPLATES,
    wide: bool = False,
    split: str = "all",
) -> list[Task]:
    """Small programming tasks: functions checked by asserts, programs checked on stdin/stdout.

    References follow the `code` verifier: `{"kind": "asserts", "tests": "assert f(1) == 2\\n...",
    "entry_point": "f"}` (each top-level `assert` is one test, 3 to 5 per task) or
    `{"kind": "stdio", "tests": [{"input": "3 4\\n", "output": "7\\n"}, ...]}`. There are 8
    function templates and 3 program templates, drawn uniformly.

    Args:
        n: Number of tasks.
        seed: Seed of the generator's own random source.
        templates: Which templates to draw from (`CODE_TEMPLATES`; default: all).
        wide: Draw the function templates' parameters and test inputs from wider ranges
            (2-digit constants: about 1,100 distinct function prompts instead of about 170),
            so that a `test` split holds many prompts a model must generalise to.
        split: `all`, `train` or `test`: `test` keeps one prompt text in ten (by a hash),
            `train` the others, so held-out prompts never appear in training data. Each
            template keeps its share of either split; one without prompts in a split (too few
            prompt texts) is left out of it.

    Returns:
        `n` tasks with ids `code-<seed>-<i>`, verifier `code`; solutions are fenced Python.

    Raises:
        ValueError: a bad `n`, `templates` or `split`.
    """
    _check_count(n)
    if (
        isinstance(templates, str)
        or not templates
        or any(t not in CODE_TEMPLATES for t in templates)
    ):
        raise ValueError(
            f"templates must be a non-empty sequence of {CODE_TEMPLATES}, got {templates!r}"
        )
    if split not in ARITHMETIC_SPLITS:
        raise ValueError(f"split must be one of {ARITHMETIC_SPLITS}, got {split!r}")
    rng = random.Random(seed)
    pool: list[tuple[str, Callable[[], tuple[str, dict[str, Any], str]]]] = [
        (
            name,
            functools.partial(_function_task, rng, template, wide)
            if isinstance(template, _FunctionTemplate)
            else functools.partial(_stdio_task, rng, template),
        )
        for name, template in _CODE_TEMPLATES
        if name in templates
    ]
    tasks = []
    for i in range(n):
        prompt, reference, program = _draw_task(rng, pool, split)
        sample = Sample(prompt=prompt, reference=reference, verifier="code", id=f"code-{seed}-{i}")
        tasks.append(Task(sample=sample, solution=f"```python\n{program}```"))
    return tasks


# ---------------------------------------------------------------------------------------------
# json

_NAMES = ("Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy")
_COLORS = {"red": "#ff0000", "green": "#00ff00", "blue": "#0000ff", "black": "#000000"}
_WORDS = ("Silent", "Red", "Lost", "Hidden", "River", "Garden", "Stone", "Winter", "Star", "Road")
JsonTask = tuple[str, dict[str, Any], dict[str, Any]]


def _object_schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _exact_int(value: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": value, "maximum": value}


def _json_person(rng: random.Random) -> JsonTask:
    name, age = rng.choice(_NAMES), rng.randint(18, 90)
    prompt = f"Describe the person {name}, aged {age}, as a JSON object with keys name and age."
    schema = _object_schema({"name": {"type": "string", "enum": [name]}, "age": _exact_int(age)})
    return prompt, schema, {"name": name, "age": age}


def _json_point(rng: random.Random) -> JsonTask:
    x, y = rng.randint(-9, 9), rng.randint(-9, 9)
    prompt = f"Give the point with x = {x} and y = {y} as a JSON object with keys x and y."
    return prompt, _object_schema({"x": _exact_int(x), "y": _exact_int(y)}), {"x": x, "y": y}


def _json_color(rng: random.Random) -> JsonTask:
    name = rng.choice(sorted(_COLORS))
    prompt = (
        f"Give the color {name} as a JSON object with keys name and hex, "
        "where hex is # and six lowercase hex digits."
    )
    hex_code = {"type": "string", "pattern": "^#[0-9a-f]{6}$"}
    schema = _object_schema({"name": {"type": "string", "enum": [name]}, "hex": hex_code})
    return prompt, schema, {"name": name, "hex": _COLORS[name]}


def _json_numbers(rng: random.Random) -> JsonTask:
    k, top = rng.randint(2, 5), rng.randint(5, 50)
    prompt = f"Give a JSON object with key numbers holding a list of {k} integers from 1 to {top}."
    items = {"type": "integer", "minimum": 1, "maximum": top}
    numbers = {"type": "array", "items": items, "minItems": k, "maxItems": k}
    return (
        prompt,
        _object_schema({"numbers": numbers}),
        {"numbers": rng.choices(range(1, top + 1), k=k)},
    )


def _json_book(rng: random.Random) -> JsonTask:
    title = f"The {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
    author, year = rng.choice(_NAMES), rng.randint(1900, 2024)
    prompt = (
        f'Describe the book "{title}" by {author}, published in {year}, '
        "as a JSON object with keys title, author and year."
    )
    schema = _object_schema(
        {
            "title": {"type": "string", "enum": [title]},
            "author": {"type": "string", "enum": [author]},
            "year": _exact_int(year),
        }
    )
    return prompt, schema, {"title": title, "author": author, "year": year}


def _json_status(rng: random.Random) -> JsonTask:
    status, count = rng.choice(("open", "closed", "pending")), rng.randint(0, 99)
    prompt = f"Give a JSON object with key status set to {status} and key count set to {count}."
    schema = _object_schema(
        {"status": {"type": "string", "enum": [status]}, "count": _exact_int(count)}
    )
    return prompt, schema, {"status": status, "count": count}


_JSON_TEMPLATES = (_json_person, _json_point, _json_color, _json_numbers, _json_book, _json_status)


def json_tasks(n: int, *, seed: int, split: str = "all") -> list[Task]:
    """Tasks asking for a JSON object; the reference is a JSON Schema (draft 2020-12).

    Six templates (a person, a point, a color, a list of numbers, a book, a status), drawn
    uniformly. Schemas list `required` keys, forbid extra ones and constrain values with `enum`,
    `minimum`/`maximum`, `minItems`/`maxItems` and `pattern`.

    Args:
        n: Number of tasks.
        seed: Seed of the generator's own random source.
        split: `all`, `train` or `test`: `test` keeps one prompt text in ten (by a hash),
            `train` the others, so held-out prompts never appear in training data. Each
            template keeps its share of either split; one without prompts in a split (too few
            prompt texts) is left out of it.

    Returns:
        `n` tasks with ids `json-<seed>-<i>`, verifier `json_schema`; solutions are fenced JSON.

    Raises:
        ValueError: a bad `n` or `split`.
    """
    _check_count(n)
    if split not in ARITHMETIC_SPLITS:
        raise ValueError(f"split must be one of {ARITHMETIC_SPLITS}, got {split!r}")
    rng = random.Random(seed)
    pool: list[tuple[str, Callable[[], JsonTask]]] = [
        (template.__name__.lstrip("_"), functools.partial(template, rng))
        for template in _JSON_TEMPLATES
    ]
    tasks = []
    for i in range(n):
        prompt, schema, instance = _draw_task(rng, pool, split)
        sample = Sample(prompt, schema, "json_schema", id=f"json-{seed}-{i}")
        tasks.append(Task(sample=sample, solution=f"```json\n{json.dumps(instance)}\n```"))
    return tasks


# ---------------------------------------------------------------------------------------------
# registry and output

GENERATORS: dict[str, Callable[..., list[Task]]] = {
    "arithmetic": arithmetic,
    "code": code_tasks,
    "json": json_tasks,
}
"""Task family name -> generator; each takes `(n, *, seed)`."""


def generate(
    task: str, n: int, *, seed: int, options: Mapping[str, Any] | None = None
) -> list[Task]:
    """`n` tasks of the family `task`: `arithmetic`, `code` or `json`, or the package tasks of
    `rlvr.data.packages`: `humaneval` (`n` is a row limit there) and `reasoning_gym:NAME`.

    Args:
        options: keyword options of the family's generator, e.g. `{"ops": ["+", "-"]}`.

    Raises:
        ValueError: `task` is not a known family (a reasoning-gym name: the message lists close
            matches), an option it does not take, or its package is not installed.
    """
    from rlvr.data import packages

    if task == packages.HUMANEVAL:
        make: Callable[..., list[Task]] = packages.humaneval
    elif task.startswith(packages.REASONING_GYM):
        name = task.removeprefix(packages.REASONING_GYM)
        make = functools.partial(packages.reasoning_gym, name)
    elif task in GENERATORS:
        make = GENERATORS[task]
    else:
        known = ", ".join([*GENERATORS, packages.HUMANEVAL, f"{packages.REASONING_GYM}NAME"])
        raise ValueError(f"unknown synthetic task {task!r}; known: {known}")
    try:
        return make(n, seed=seed, **dict(options or {}))
    except TypeError as exc:
        raise ValueError(f"bad options for synthetic task {task!r}: {exc}") from exc


def task_row(task: Task) -> dict[str, Any]:
    """The JSON row of a task: `{"id", "prompt", "reference", "verifier", "completion"}`.

    The prompt is a string or a list of message dicts; `completion` is the task's solution.
    """
    prompt = task.sample.prompt
    return {
        "id": task.sample.id,
        "prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt],
        "reference": task.sample.reference,
        "verifier": task.sample.verifier,
        "completion": task.solution,
    }


def write_jsonl(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write one `task_row` per line, so the file serves RL (`load_samples`) and SFT
    (`load_sft_rows`). Parent folders are created.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for task in tasks:
            out.write(json.dumps(task_row(task), ensure_ascii=False) + "\n")
    return path
