"""Tests for the synthetic task generators: determinism, formats and correct solutions."""

from __future__ import annotations

import ast
import collections
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import verifiers
from rlvr.data.preference import arithmetic_pref
from rlvr.data.synthetic import (
    GENERATORS,
    Task,
    arithmetic,
    code_tasks,
    generate,
    json_tasks,
    write_jsonl,
)


def _fenced(solution: str, language: str) -> str:
    match = re.fullmatch(rf"```{language}\n(.*)```\n?", solution, flags=re.DOTALL)
    assert match, solution
    return match.group(1)


def _text(task: Task) -> str:
    assert isinstance(task.sample.prompt, str)
    return task.sample.prompt


def _run_asserts(program: str, tests: str) -> None:
    namespace: dict[str, Any] = {}
    exec(program, namespace)
    exec(tests, namespace)


@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_generators_are_deterministic_for_a_seed(family: str) -> None:
    assert generate(family, 20, seed=3) == generate(family, 20, seed=3)
    assert generate(family, 20, seed=3) != generate(family, 20, seed=4)
    assert generate(family, 5, seed=3) == generate(family, 20, seed=3)[:5]


@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_ids_are_unique_and_name_the_seed(family: str) -> None:
    tasks = generate(family, 30, seed=7)
    ids = [t.sample.id for t in tasks]
    assert len(set(ids)) == 30
    assert all(re.fullmatch(r"[a-z]+-7-\d+", i) for i in ids)


def test_arithmetic_references_are_correct() -> None:
    tasks = arithmetic(200, seed=0)
    for task in tasks:
        match = re.fullmatch(
            r"What is (\d+) ([-+*]) (\d+)\? Put the final answer in \\boxed\{\}\.", _text(task)
        )
        assert match, task.sample.prompt
        a, op, b = match.groups()
        assert 10 <= int(a) <= 99 and 10 <= int(b) <= 99
        expected = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
        assert task.sample.reference == str(expected)
        assert expected >= 0
        assert task.sample.verifier == "math"
        assert task.solution == f"{a} {op} {b} = {expected}. The answer is \\boxed{{{expected}}}."
    assert {_text(t).split()[3] for t in tasks} == {"+", "-", "*"}


def test_arithmetic_options() -> None:
    (task,) = arithmetic(1, seed=1, digits=3, ops=("*",), chat=True)
    assert isinstance(task.sample.prompt, tuple)
    (message,) = task.sample.prompt
    assert message["role"] == "user"
    a, op, b = message["content"].split()[2:5]
    assert op == "*" and len(a) == 3 and len(b.rstrip("?")) == 3
    assert task.sample.reference == str(int(a) * int(b.rstrip("?")))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": -1}, "n must be a non-negative int"),
        ({"digits": 0}, "digits must be an int from 1 to 9"),
        ({"ops": ("/",)}, "ops must be a non-empty sequence"),
        ({"ops": ()}, "ops must be a non-empty sequence"),
        ({"ops": "+-"}, "ops must be a non-empty sequence"),
        ({"verbose": 1.5}, "verbose must be a number in \\[0, 1\\]"),
        ({"verbose": -0.1}, "verbose must be a number in \\[0, 1\\]"),
        ({"verbose": True}, "verbose must be a number in \\[0, 1\\]"),
    ],
)
def test_arithmetic_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arithmetic(**{"n": 1, "seed": 0, **options})


def test_arithmetic_verbose_restates_a_fraction_of_answers_and_keeps_the_problems() -> None:
    plain = arithmetic(2000, seed=3, split="train")
    some = arithmetic(2000, seed=3, split="train", verbose=0.1)
    assert [t.sample for t in some] == [t.sample for t in plain]
    assert plain == arithmetic(2000, seed=3, split="train", verbose=0.0)
    restated = 0
    for p, v in zip(plain, some, strict=True):
        boxed = p.solution.split(". ", 1)[1]  # "The answer is \\boxed{N}."
        if v.solution != p.solution:
            assert v.solution == f"{p.solution} {boxed}"
            restated += 1
    assert 150 <= restated <= 250  # 10% of 2000, binomial sd ~13
    every = arithmetic(5, seed=3, verbose=1)
    assert all(t.solution.count("The answer is") == 2 for t in every)
    # the long form is the one the length-biased preference pairs put on the chosen side
    (pair,) = arithmetic_pref(1, seed=3, bias="length")
    (task,) = arithmetic(1, seed=3, verbose=1)
    assert pair.chosen == task.solution


def test_code_function_solutions_pass_their_asserts() -> None:
    tasks = [t for t in code_tasks(120, seed=0) if t.sample.reference["kind"] == "asserts"]
    assert len({t.sample.reference["entry_point"] for t in tasks}) >= 6
    for task in tasks:
        reference = task.sample.reference
        assert set(reference) == {"kind", "tests", "entry_point"}
        tree = ast.parse(reference["tests"])
        assert 3 <= len(tree.body) <= 5
        assert all(isinstance(node, ast.Assert) for node in tree.body)
        program = _fenced(task.solution, "python")
        assert f"def {reference['entry_point']}(" in program
        assert reference["entry_point"] in task.sample.prompt
        _run_asserts(program, reference["tests"])


def test_code_asserts_reject_a_wrong_solution() -> None:
    tasks = [t for t in code_tasks(60, seed=1) if t.sample.reference["kind"] == "asserts"]
    for task in tasks:
        reference = task.sample.reference
        wrong = f"def {reference['entry_point']}(arg):\n    return None\n"
        with pytest.raises(AssertionError):
            _run_asserts(wrong, reference["tests"])


def test_code_stdio_solutions_pass_their_tests() -> None:
    tasks = [t for t in code_tasks(60, seed=2) if t.sample.reference["kind"] == "stdio"]
    assert len({_text(t).split()[1] for t in tasks}) == 3
    for task in tasks[:12]:
        reference = task.sample.reference
        assert set(reference) == {"kind", "tests"}
        assert 3 <= len(reference["tests"]) <= 4
        program = _fenced(task.solution, "python")
        for case in reference["tests"]:
            assert set(case) == {"input", "output"}
            run = subprocess.run(
                [sys.executable, "-I", "-c", program],
                input=case["input"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            assert run.stdout == case["output"], (task.sample.prompt, case)


def test_json_solutions_validate_against_their_schemas() -> None:
    tasks = json_tasks(120, seed=0)
    assert len({tuple(t.sample.reference["required"]) for t in tasks}) >= 4
    for task in tasks:
        schema = task.sample.reference
        assert task.sample.verifier == "json_schema"
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        instance = json.loads(_fenced(task.solution, "json"))
        jsonschema.Draft202012Validator(schema).validate(instance)
        for key in schema["required"]:
            assert key in task.sample.prompt


def test_json_schemas_reject_wrong_instances() -> None:
    for task in json_tasks(40, seed=1):
        validator = jsonschema.Draft202012Validator(task.sample.reference)
        instance = json.loads(_fenced(task.solution, "json"))
        assert not validator.is_valid({**instance, "extra": 1})
        first = next(iter(instance))
        assert not validator.is_valid({k: v for k, v in instance.items() if k != first})
        assert not validator.is_valid({**instance, first: [instance[first], 0]})


def test_generate_names_the_known_families() -> None:
    assert generate("code", 3, seed=5) == code_tasks(3, seed=5)
    with pytest.raises(ValueError, match="unknown synthetic task 'poetry'; known: arithmetic"):
        generate("poetry", 3, seed=0)


def test_write_jsonl_rows(tmp_path: Path) -> None:
    tasks = arithmetic(2, seed=0, chat=True) + code_tasks(2, seed=0) + json_tasks(2, seed=0)
    path = write_jsonl(tasks, tmp_path / "sub" / "tasks.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6
    for row, task in zip(rows, tasks, strict=True):
        assert set(row) == {"id", "prompt", "reference", "verifier", "completion"}
        assert row["id"] == task.sample.id
        assert row["reference"] == task.sample.reference
        assert row["verifier"] == task.sample.verifier
        assert row["completion"] == task.solution
    assert rows[0]["prompt"] == list(tasks[0].sample.prompt)
    assert rows[2]["prompt"] == tasks[2].sample.prompt


def _verifier_or_skip(name: str) -> verifiers.Verifier:
    try:
        return verifiers.get(name)
    except verifiers.RegistryError:
        pytest.skip(f"verifier {name!r} is not registered")


@pytest.mark.parametrize(("family", "name"), [("arithmetic", "math"), ("json", "json_schema")])
def test_solutions_score_full_marks_under_their_verifier(family: str, name: str) -> None:
    verifier = _verifier_or_skip(name)
    tasks: list[Task] = generate(family, 10, seed=0)
    for task in tasks:
        verdict = verifier(task.solution, reference=task.sample.reference)
        assert (verdict.score, verdict.reason) == (1.0, "correct"), task


def test_arithmetic_train_and_test_splits_are_disjoint() -> None:
    train = generate("arithmetic", 3000, seed=1, options={"split": "train", "ops": ["+", "-"]})
    test = generate("arithmetic", 300, seed=1, options={"split": "test", "ops": ["+", "-"]})
    prompts = lambda tasks: {t.sample.prompt for t in tasks}  # noqa: E731
    assert len(prompts(test)) > 250 and not prompts(train) & prompts(test)
    with pytest.raises(ValueError, match="split must be one of"):
        generate("arithmetic", 1, seed=0, options={"split": "dev"})


def _template_shares(prompts: list[str]) -> dict[str, float]:
    counts = collections.Counter(" ".join(p.split()[1:3]) for p in prompts)
    return {name: count / len(prompts) for name, count in counts.items()}


@pytest.mark.parametrize("split", ["train", "test"])
def test_json_splits_keep_the_generators_template_mix(split: str) -> None:
    # The color template has 4 prompt texts, so 1 in `test`; templates with numbers in the
    # prompt have 1 text in 10 there. The split must not favour the template that passes its
    # filter most often: every template keeps its 1/6 share of either split.
    prompts = [t.sample.prompt for t in json_tasks(1200, seed=3, split=split)]
    shares = _template_shares(prompts)
    # "a JSON" is two templates (numbers and status), the other four one each
    expected = {"a JSON": 2 / 6, "the person": 1 / 6, "the point": 1 / 6, "the color": 1 / 6}
    expected["the book"] = 1 / 6
    assert shares.keys() == expected.keys()
    for name, share in expected.items():
        assert abs(shares[name] - share) < 0.04, (name, shares)


def test_code_splits_keep_the_template_mix_and_drop_templates_without_split_prompts() -> None:
    chosen = ["add_k", "times_k", "sum_above", "is_multiple", "clamp"]
    test = code_tasks(1000, seed=3, split="test", templates=chosen)
    counts = collections.Counter(t.sample.reference["entry_point"] for t in test)
    assert set(counts) == set(chosen)
    assert all(abs(c / len(test) - 1 / 5) < 0.04 for c in counts.values()), counts
    # last_items has no prompt text in `test`: left out of it (never leaked from training) ...
    mixed = code_tasks(200, seed=3, split="test", templates=["add_k", "last_items"])
    assert {t.sample.reference["entry_point"] for t in mixed} == {"add_k"}
    assert "last_items" in {
        t.sample.reference.get("entry_point")
        for t in code_tasks(200, seed=3, split="train", templates=["add_k", "last_items"])
    }
    # ... and a split none of the chosen templates can fill is one clear error
    with pytest.raises(ValueError, match=r"none of the templates \['last_items'\] has prompts"):
        code_tasks(3, seed=0, split="test", templates=["last_items"])
