"""Eval suites: loading and checking (every bad input a one-line error before any generation),
a run on the tiny model with a comparison, and what it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlvr.cli import main
from rlvr.config import ConfigError
from rlvr.data import DataError, arithmetic, write_jsonl
from rlvr.data.synthetic import generate
from rlvr.evaluate.suite import load_suite, prepare, shipped_suites
from rlvr.evaluate.suite_report import evaluate_suite
from verifiers import RegistryError

TASK = {
    "name": "add",
    "data": {"synthetic": "arithmetic", "n": 4, "seed": 3, "options": {"split": "test"}},
    "samples": 2,
    "k": [1, 2],
    "generation": {"temperature": 1.0, "max_new_tokens": 4},
}


def write_suite(tmp_path: Path, **changes: Any) -> Path:
    task = {**TASK, **changes}
    data = {"suite": "t", "tasks": [task], "bootstrap": 50, "reward": {"workers": 0}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_suites_load_and_their_rows_resolve() -> None:
    assert {"math", "json", "code"} <= set(shipped_suites())
    for name in shipped_suites():
        prepared = prepare(load_suite(name))
        assert all(p.samples for p in prepared)


@pytest.mark.parametrize(("suite", "family"), [("json", "json"), ("code", "code"), ("math", "")])
def test_shipped_synthetic_suites_hold_out_every_training_prompt(suite: str, family: str) -> None:
    # The recipes train on `split: train`; a suite that drew from all prompts would score a
    # trained model partly on prompts it was trained on.
    for task in prepare(load_suite(suite)):
        data = task.config.data
        assert data.options.get("split") == "test", (suite, task.config.name)
    if family:
        train = {
            t.sample.prompt for t in generate(family, 5000, seed=11, options={"split": "train"})
        }
        held_out = {s.prompt for task in prepare(load_suite(suite)) for s in task.samples}
        assert held_out and not train & held_out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": [1, 4]}, r"tasks\[0\]: task 'add': k=4 is larger than samples=2"),
        ({"generation": {"temperature": 0.0}}, r"samples=2 with greedy decoding"),
        ({"samples": "many"}, r"tasks\[0\]\.samples: expected int, got str"),
        ({"shots": 3}, r"unknown key 'tasks\[0\]\.shots'"),
    ],
)
def test_bad_suites_are_one_line_errors(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(write_suite(tmp_path, **changes))
    assert "\n" not in str(info.value)


def test_unknown_suite_names_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown suite 'nope'.*\(code, .*json, math"):
        load_suite("nope")


def test_unknown_verifier_and_missing_dataset_fail_before_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("rlvr.evaluate.suite_report.open_engine", no_engine)
    with pytest.raises(RegistryError, match=r"task 'add': unknown verifier 'nope'"):
        evaluate_suite(load_suite(write_suite(tmp_path, verifier="nope")), "m")
    missing = {"source": str(tmp_path / "missing.jsonl")}
    with pytest.raises((DataError, FileNotFoundError), match=r"missing\.jsonl"):
        evaluate_suite(load_suite(write_suite(tmp_path, data=missing)), "m")
    assert not (Path("runs") / "eval-t").exists()


def test_a_suite_runs_and_compares_on_the_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    out = evaluate_suite(
        suite, str(tiny_model), compare_to=str(tiny_model), output_dir=tmp_path / "runs"
    )
    [task] = out.a.tasks
    assert set(task.estimates) == {"accuracy", "mean_reward", "pass@2", "maj@2"}
    assert task.samples_per_s > 0 and out.a.samples == 8
    diff = out.diff
    assert diff is not None
    for estimate in diff.tasks["add"].values():  # same model, same seed: no difference
        assert estimate.value == 0.0 and not estimate.excludes_zero()
    results = json.loads((out.run_dir / "results.json").read_text())
    assert results["a"]["tasks"]["add"]["prompts"] == 4
    assert set(results["b_minus_a"]["tasks"]["add"]) == set(task.estimates)
    assert (out.run_dir / "results.png").stat().st_size > 0
    assert "| add | pass@2 |" in (out.run_dir / "results.md").read_text()
    rows = (out.run_dir / "completions" / "a" / "add.jsonl").read_text().splitlines()
    assert len(rows) == 4 and len(json.loads(rows[0])["completions"]) == 2
    assert "excludes 0" in out.table()


def test_any_jsonl_runs_with_its_categories(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.jsonl"
    write_jsonl(arithmetic(4, seed=1), rows)
    lines = [json.loads(line) for line in rows.read_text().splitlines()]
    for i, line in enumerate(lines):
        line["category"] = "even" if i % 2 == 0 else "odd"
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code = main(
        ["eval", "--data", str(rows), "--model", str(tiny_model), "--max-new-tokens", "4",
         "--out", str(tmp_path / "runs")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "category even" in out and "category odd" in out and "samples at" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "nope", "--model", "m"], "rlvr eval: unknown suite 'nope'"),
        (["eval", "--data", "rows.jsonl", "--model", "m", "--k", "4"], "k=4 is larger than"),
        (["eval", "math"], "rlvr eval: an eval suite needs --model"),
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_model_path_that_is_not_a_model_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    suite = write_suite(tmp_path)
    assert (
        main(["eval", str(suite), "--model", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert "holds no model (no config.json)" in err and "\n" not in err
    assert not (tmp_path / "eval-t").exists()


@pytest.mark.vllm
def test_a_suite_samples_through_vllm(tmp_path: Path, tiny_model: Path) -> None:
    pytest.importorskip("vllm")
    out = evaluate_suite(
        load_suite(write_suite(tmp_path)),
        str(tiny_model),
        engine="vllm",
        output_dir=tmp_path / "runs",
    )
    [task] = out.a.tasks
    assert out.a.engine == "vllm" and out.a.samples == 8 and task.samples_per_s > 0
    assert set(task.estimates) == {"accuracy", "mean_reward", "pass@2", "maj@2"}
