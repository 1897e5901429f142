"""`verify_file`: JSONL in, one verdict per line out, bad lines reported and kept in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rlvr.rewards import verify as verify_module
from rlvr.rewards.verify import VerifySummary, verify_file
from tests.rlvr.rewards._toy_verifiers import PREFIX
from verifiers import RegistryError

EXACT = PREFIX + "Exact"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_good_and_bad_lines_keep_input_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(
        tmp_path / "in.jsonl",
        [
            json.dumps({"id": "a", "completion": "4", "reference": "4"}),
            json.dumps({"id": "b", "completion": "5", "reference": "4"}),
            "{not json",
            "",
            json.dumps({"id": "d", "reference": "4"}),
            json.dumps({"completion": 7, "reference": "7"}),
            json.dumps(["a", "list"]),
            json.dumps({"completion": "x", "reference": None}),
            json.dumps({"completion": "OK", "reference": "ok"}),
        ],
    )
    out = tmp_path / "out.jsonl"
    summary = verify_file(EXACT, src, out, workers=2, timeout_s=2.0, progress=False)
    rows = _read(out)
    assert [r["id"] for r in rows] == ["a", "b", 3, "d", 6, 7, 8, 9]
    assert [r["reason"] for r in rows] == [
        "correct",
        "wrong_answer",
        "bad_input",
        "bad_input",
        "bad_input",
        "bad_input",
        "reference_error",
        "wrong_answer",
    ]
    assert [r["score"] for r in rows] == [1.0, 0.0, None, None, None, None, None, 0.0]
    assert rows[0]["extracted"] == "4" and rows[0]["elapsed_s"] >= 0.0
    assert rows[3]["detail"] == "missing field 'completion'"
    err = capsys.readouterr().err
    assert f"{src}:3: invalid JSON" in err
    assert f"{src}:5: missing field 'completion'" in err
    assert f"{src}:6: field 'completion' must be a string, got int" in err
    assert f"{src}:7: expected a JSON object, got list" in err
    assert summary.n_lines == 8 and summary.n_bad_lines == 4
    assert summary.n_infra_failures == 1
    assert summary.counts == {
        "correct": 1,
        "wrong_answer": 2,
        "bad_input": 4,
        "reference_error": 1,
    }
    assert summary.mean_score == pytest.approx(1 / 3)


def test_options_and_timeouts_and_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "CHUNK_LINES", 4)
    lines = [json.dumps({"id": i, "completion": f"A{i}", "reference": f"a{i}"}) for i in range(10)]
    src = _write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    summary = verify_file(
        EXACT, src, out, workers=0, timeout_s=1.0, options={"ignore_case": True}, progress=False
    )
    rows = _read(out)
    assert [r["id"] for r in rows] == list(range(10))
    assert all(r["score"] == 1.0 for r in rows)
    assert summary.counts == {"correct": 10} and summary.mean_score == 1.0

    _write(src, [json.dumps({"completion": "x", "reference": "y"})])
    summary = verify_file(
        PREFIX + "SleepsForever", src, out, workers=1, timeout_s=0.3, progress=False
    )
    (row,) = _read(out)
    assert row["reason"] == "timeout" and row["score"] == 0.0
    assert summary.n_timeouts == 1 and summary.mean_score == 0.0


def test_missing_input_or_unknown_verifier_fail_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(FileNotFoundError, match="input file not found"):
        verify_file(EXACT, tmp_path / "nope.jsonl", out, workers=0, timeout_s=1.0, progress=False)
    src = _write(tmp_path / "in.jsonl", [json.dumps({"completion": "x", "reference": "x"})])
    with pytest.raises(RegistryError, match="unknown verifier 'no_such'"):
        verify_file("no_such", src, out, workers=0, timeout_s=1.0, progress=False)
    with pytest.raises(RegistryError, match="bad options"):
        verify_file(EXACT, src, out, workers=0, timeout_s=1.0, options={"x": 1}, progress=False)
    with pytest.raises(ValueError, match="overwrite the input"):
        verify_file(EXACT, src, src, workers=0, timeout_s=1.0, progress=False)
    assert not out.exists()


def test_summary_format_lists_reasons_by_count() -> None:
    summary = VerifySummary()
    rows: list[dict[str, Any]] = [
        {"reason": "correct", "score": 1.0},
        {"reason": "wrong_answer", "score": 0.0},
        {"reason": "wrong_answer", "score": 0.0},
        {"reason": "timeout", "score": 0.0},
        {"reason": "worker_died", "score": None},
        {"reason": "bad_input", "score": None},
    ]
    for row in rows:
        summary.add_row(row)
    summary.n_lines, summary.elapsed_s = 6, 2.0
    text = summary.format()
    assert "mean score: 0.2500 over 4 scored lines (2 left out: bad or infra failure)" in text
    assert "2.5 cases/s" in text
    assert "timeouts: 1  infra failures: 1  bad lines: 1" in text
    reasons = [line.split()[0] for line in text.splitlines()[2:]]
    assert reasons == ["wrong_answer", "bad_input", "correct", "timeout", "worker_died"]


def test_mean_of_one_good_line_among_bad_ones_says_over_how_many(tmp_path: Path) -> None:
    lines = ["{not json", json.dumps({"completion": "x", "reference": "x"}), "[1, 2]"]
    src = _write(tmp_path / "in.jsonl", lines)
    summary = verify_file(
        EXACT, src, tmp_path / "out.jsonl", workers=0, timeout_s=1.0, progress=False
    )
    text = summary.format()
    assert "mean score: 1.0000 over 1 scored line (2 left out" in text
    assert "bad lines: 2" in text
