"""Tests for dataset loading: JSONL parsing with located errors, Arrow formats, fingerprints."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import datasets
import pytest

from rlvr.data import (
    DataError,
    PreferencePair,
    Sample,
    arithmetic,
    code_tasks,
    fingerprint,
    json_tasks,
    load_preference_pairs,
    load_samples,
    load_sft_rows,
    write_jsonl,
)

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 2?"}]


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _row(**fields: Any) -> dict[str, Any]:
    return {"prompt": "What is 1 + 1?", "reference": "2", "verifier": "math", **fields}


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def test_jsonl_round_trip_of_synthetic_tasks(tmp_path: Path) -> None:
    tasks = arithmetic(3, seed=0, chat=True) + code_tasks(3, seed=0) + json_tasks(3, seed=0)
    path = write_jsonl(tasks, tmp_path / "train.jsonl")
    assert load_samples(path) == [task.sample for task in tasks]
    assert load_sft_rows(path) == [(task.sample.prompt, task.solution) for task in tasks]


def test_jsonl_ids_chat_prompts_and_extra_fields(tmp_path: Path) -> None:
    rows = [
        _row(),
        _row(id=17, source="gsm8k"),
        _row(id="x-1", prompt=[{**CHAT[0], "name": "sys"}, CHAT[1]]),
    ]
    path = _write_jsonl(tmp_path / "rows.jsonl", rows)
    samples = load_samples(path)
    assert [s.id for s in samples] == ["0", "17", "x-1"]
    assert samples[0] == Sample("What is 1 + 1?", "2", "math", id="0")
    assert samples[2].prompt == tuple(CHAT)


def test_jsonl_blank_lines_are_skipped_and_limit_applies(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(_row(id=i)) for i in range(5)) + "\n\n  \n")
    assert len(load_samples(path)) == 5
    assert [s.id for s in load_samples(path, limit=2)] == ["0", "1"]
    assert load_samples(path, limit=0) == []
    with pytest.raises(DataError, match="limit must be None or a non-negative int"):
        load_samples(path, limit=-1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "p", "reference": "1"}', ":3: missing field 'verifier'"),
        ('{"prompt": "p", "reference": "1", "verifier": ""}', ":3: field 'verifier' is empty"),
        ('{"prompt": "p", "reference": null, "verifier": "math"}', ":3: field 'reference' is null"),
        ('{"prompt": 5, "reference": "1", "verifier": "math"}', ":3: field 'prompt' must be a"),
        ('{"prompt": [], "reference": "1", "verifier": "math"}', ":3: field 'prompt' must be a"),
        (
            '{"prompt": [{"role": "user"}], "reference": "1", "verifier": "math"}',
            ":3: field 'prompt' message 0 must be an object with string 'role' and 'content'",
        ),
        ('{"prompt": "p", "reference": "1", "verifier": 3}', ":3: field 'verifier' must be a str"),
        ('{"prompt": "p", "reference": 1, "verifier": "m", "id": [1]}', ":3: field 'id' must be"),
        ('{"prompt": "p", "reference": "1", "verifier": "math"', ":3: invalid JSON: Expecting"),
        ('["prompt", "reference"]', ":3: expected a JSON object, got list"),
    ],
)
def test_jsonl_errors_name_file_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(_row()) + "\n\n" + line + "\n" + json.dumps(_row()) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}{message}")):
        load_samples(path)


def test_jsonl_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(_row()).encode() + b"\n" + b'{"prompt": "\xff"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid UTF-8"):
        load_samples(path)


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl: no such file"):
        load_samples(tmp_path / "nope.jsonl")
    (tmp_path / "rows.txt").write_text("hello")
    with pytest.raises(DataError, match=r"rows\.txt: unsupported file type"):
        load_samples(tmp_path / "rows.txt")


def test_json_file_through_datasets(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([_row(id="a"), _row(id="b", prompt=CHAT)]))
    samples = load_samples(path)
    assert [s.id for s in samples] == ["a", "b"]
    assert samples[1].prompt == tuple(CHAT)


def test_parquet_file_with_chat_prompts_and_null_fields(tmp_path: Path) -> None:
    tasks = code_tasks(4, seed=0)
    rows = [{"prompt": [{"role": "user", "content": t.sample.prompt}]} for t in tasks]
    table = [
        {**row, "reference": json.dumps(t.sample.reference), "verifier": "code"}
        for row, t in zip(rows, tasks, strict=True)
    ]
    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(table).to_parquet(str(path))
    samples = load_samples(path, limit=3)
    assert len(samples) == 3
    assert samples[0].prompt == ({"role": "user", "content": tasks[0].sample.prompt},)
    assert json.loads(samples[0].reference) == tasks[0].sample.reference
    datasets.Dataset.from_list([_row(), {**_row(), "verifier": None}]).to_parquet(str(path))
    with pytest.raises(DataError, match=r"rows\.parquet row 1: field 'verifier' is null"):
        load_samples(path)


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "reference", "verifier"])
        writer.writerow(["What is 3 + 4?", "007", "math"])
    assert load_samples(path) == [Sample("What is 3 + 4?", "007", "math", id="0")]
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: empty CSV file"):
        load_samples(tmp_path / "empty.csv")


def test_saved_dataset_and_dataset_dict(tmp_path: Path) -> None:
    train = datasets.Dataset.from_list([_row(id="t0"), _row(id="t1")])
    test = datasets.Dataset.from_list([_row(id="e0")])
    train.save_to_disk(str(tmp_path / "single"))
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "dict"))
    assert [s.id for s in load_samples(tmp_path / "single")] == ["t0", "t1"]
    assert [s.id for s in load_samples(tmp_path / "dict", split="test")] == ["e0"]
    with pytest.raises(DataError, match="no split 'validation'; splits: train, test"):
        load_samples(tmp_path / "dict", split="validation")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not a dataset saved with save_to_disk"):
        load_samples(tmp_path / "plain")


def test_hub_name_that_cannot_be_loaded_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="'someone/no-such-set' is not a local file or directory"):
        load_samples("someone/no-such-set", split="test")


def test_sft_rows_from_messages(tmp_path: Path) -> None:
    rows = [{"messages": [*CHAT, {"role": "assistant", "content": "4"}]}, _row(completion="2")]
    assert load_sft_rows(_write_jsonl(tmp_path / "sft.jsonl", rows)) == [
        (tuple(CHAT), "4"),
        ("What is 1 + 1?", "2"),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"messages": CHAT}, ":1: field 'messages' must end with an assistant message"),
        ({"messages": [{"role": "assistant", "content": "4"}]}, "that follows at least one"),
        ({"prompt": "p"}, ":1: missing field 'completion' \\(or a 'messages' chat\\)"),
        ({"prompt": "p", "completion": 4}, ":1: field 'completion' must be a string"),
    ],
)
def test_sft_row_errors(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_sft_rows(_write_jsonl(tmp_path / "sft.jsonl", [row]))


def test_preference_pairs(tmp_path: Path) -> None:
    rows = [
        {"prompt": "2 + 2?", "chosen": "4", "rejected": "5"},
        {"id": "b", "prompt": CHAT, "chosen": "4", "rejected": "22"},
    ]
    assert load_preference_pairs(_write_jsonl(tmp_path / "prefs.jsonl", rows)) == [
        PreferencePair("2 + 2?", "4", "5", id="0"),
        PreferencePair(tuple(CHAT), "4", "22", id="b"),
    ]
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p", "chosen": "a"}])
    with pytest.raises(DataError, match=r"bad\.jsonl:1: missing field 'rejected'"):
        load_preference_pairs(bad)


def test_fingerprint_of_a_file_is_its_sha256(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "rows.jsonl", [_row()])
    assert fingerprint(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    before = fingerprint(path)
    _write_jsonl(path, [_row(reference="3")])
    assert fingerprint(path) != before


def test_fingerprint_of_a_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for root, order in ((first, ["a.txt", "sub/b.txt"]), (second, ["sub/b.txt", "a.txt"])):
        for name in order:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(name)
    assert fingerprint(first) == fingerprint(second)
    (second / "a.txt").rename(second / "c.txt")
    assert fingerprint(first) != fingerprint(second)


def test_fingerprint_of_a_hub_name_and_of_a_missing_file(tmp_path: Path) -> None:
    assert fingerprint("openai/gsm8k", split="test") == "hub:openai/gsm8k:test"
    with pytest.raises(DataError, match="no such file"):
        fingerprint(tmp_path / "gone.parquet")
