"""Dataset rows on disk (or on the hub) -> typed records: `Sample`, SFT pairs, `PreferencePair`.

Sources, by what `source` names:
  - a `.jsonl` file: parsed here, one JSON object a line, so errors name the file and line;
  - a `.json`, `.parquet` or `.csv` file, through `datasets.load_dataset(<format>, ...)`;
  - a directory written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`, through
    `datasets.load_from_disk` (`split` picks the split of a `DatasetDict`);
  - anything else is taken as a hub dataset name, `datasets.load_dataset(name, split=split)`.

Row fields: RL rows have `prompt` (text, or chat messages `[{"role", "content"}, ...]`),
`reference` (any JSON value) and `verifier` (a non-empty string); `id` is optional and defaults
to the row's index. Extra fields are ignored, and chat messages keep only `role` and `content`.
Bad rows raise `DataError`, naming where (`data/train.jsonl:17`, `data/train.parquet row 16`) and
what is wrong.

Implementation details:
  1. Arrow-backed formats (`.json`, `.parquet`, `.csv`, saved datasets) hold one type per column.
     Rows that mix reference types (a math answer string next to a code test dict) need JSONL.
  2. Arrow fills absent keys with nulls, so a null field counts as missing everywhere.
  3. Every CSV column is read as text: `"007"` stays `"007"`, never the integer 7.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rlvr.data.types import Message, PreferencePair, Prompt, Sample

_ARROW_FORMATS = {".json": "json", ".parquet": "parquet", ".csv": "csv"}
FILE_SUFFIXES = (".jsonl", *_ARROW_FORMATS)
"""File suffixes read as local files; any other missing path is taken as a hub dataset name."""


class DataError(ValueError):
    """A dataset that cannot be read, or a row that does not have the expected fields."""


# ---------------------------------------------------------------------------------------------
# reading rows


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as lines:
        for lineno, raw in enumerate(lines, start=1):
            where = f"{path}:{lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not valid UTF-8 ({exc.reason})") from exc
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def _load_arrow_file(path: Path) -> Any:
    import datasets

    builder = _ARROW_FORMATS[path.suffix]
    features = None
    if builder == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
        if not header:
            raise DataError(f"{path}: empty CSV file (no header row)")
        features = datasets.Features({name: datasets.Value("string") for name in header})
    try:
        return datasets.load_dataset(
            builder, data_files=str(path), split="train", features=features
        )
    except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
        raise DataError(f"{path}: cannot read as {builder}: {exc}") from exc


def _load_saved(path: Path, split: str) -> Any:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a dataset saved with save_to_disk: {exc}") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            known = ", ".join(loaded) or "none"
            raise DataError(f"{path}: no split {split!r}; splits: {known}")
        return loaded[split]
    return loaded


def _load_hub(name: str, split: str) -> Any:
    import datasets

    try:
        return datasets.load_dataset(name, split=split)
    except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
        raise DataError(
            f"{name!r} is not a local file or directory, and loading it as a hub dataset "
            f"(split {split!r}) failed: {exc}"
        ) from exc


def _dataset_rows(dataset: Any, label: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, row in enumerate(dataset):
        yield f"{label} row {index}", row


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise DataError(f"limit must be None or a non-negative int, got {limit!r}")


def iter_rows(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Raw rows of a source, each with where it came from (`path:line` or `name row i`).

    Raises:
        DataError: the source cannot be read, or a JSONL line is not a JSON object.
    """
    _check_limit(limit)
    path = Path(source)
    if path.is_dir():
        rows = _dataset_rows(_load_saved(path, split), str(path))
    elif path.is_file() and path.suffix == ".jsonl":
        rows = _jsonl_rows(path)
    elif path.is_file() and path.suffix in _ARROW_FORMATS:
        rows = _dataset_rows(_load_arrow_file(path), str(path))
    elif path.is_file():
        raise DataError(f"{path}: unsupported file type; expected one of {FILE_SUFFIXES}")
    elif path.suffix in FILE_SUFFIXES:
        raise DataError(f"{path}: no such file")
    else:
        rows = _dataset_rows(_load_hub(str(source), split), f"{source}[{split}]")
    for count, item in enumerate(rows):
        if limit is not None and count >= limit:
            return
        yield item


# ---------------------------------------------------------------------------------------------
# field checks


def _field(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise DataError(f"{where}: missing field {name!r}")
    if row[name] is None:
        raise DataError(f"{where}: field {name!r} is null")
    return row[name]


def _text(row: dict[str, Any], name: str, where: str) -> str:
    value = _field(row, name, where)
    if not isinstance(value, str):
        raise DataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    if not value:
        raise DataError(f"{where}: field {name!r} is empty")
    return value


def _messages(value: Any, name: str, where: str) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: field {name!r} must be a non-empty list of chat messages")
    messages = []
    for i, message in enumerate(value):
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
            and message["role"]
        ):
            raise DataError(
                f"{where}: field {name!r} message {i} must be an object with string "
                f"'role' and 'content', got {message!r:.80}"
            )
        messages.append({"role": message["role"], "content": message["content"]})
    return tuple(messages)


def _prompt(row: dict[str, Any], where: str) -> Prompt:
    value = _field(row, "prompt", where)
    if isinstance(value, str):
        return _text(row, "prompt", where)
    if isinstance(value, list):
        return _messages(value, "prompt", where)
    raise DataError(
        f"{where}: field 'prompt' must be a string or a list of chat messages, "
        f"got {type(value).__name__}"
    )


def _row_id(row: dict[str, Any], index: int, where: str) -> str:
    value = row.get("id")
    if value is None:
        return str(index)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DataError(
            f"{where}: field 'id' must be a string or an int, got {type(value).__name__}"
        )
    return str(value)


# ---------------------------------------------------------------------------------------------
# public loaders


def load_samples(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> list[Sample]:
    """RL rows (`prompt`, `reference`, `verifier`, optional `id`) as `Sample`s.

    Args:
        source: A `.jsonl`/`.json`/`.parquet`/`.csv` file, a saved dataset directory, or a hub
            dataset name.
        split: Split of a saved `DatasetDict` or a hub dataset; single files have one split.
        limit: Read at most this many rows.

    Raises:
        DataError: the source cannot be read, or a row lacks a field or has a wrong type.
    """
    samples = []
    for index, (where, row) in enumerate(iter_rows(source, split=split, limit=limit)):
        prompt = _prompt(row, where)
        reference = _field(row, "reference", where)
        verifier = _text(row, "verifier", where)
        samples.append(Sample(prompt, reference, verifier, id=_row_id(row, index, where)))
    return samples


def load_sft_rows(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> list[tuple[Prompt, str]]:
    """SFT rows as `(prompt, completion)` pairs.

    A row has either `prompt` + `completion`, or `messages`: a chat whose last message is the
    assistant's (the completion) and whose earlier messages form the prompt.

    Args:
        source: As in `load_samples`.
        split: As in `load_samples`.
        limit: Read at most this many rows.

    Raises:
        DataError: the source cannot be read, or a row has neither form.
    """
    pairs: list[tuple[Prompt, str]] = []
    for where, row in iter_rows(source, split=split, limit=limit):
        if row.get("messages") is not None:
            messages = _messages(row["messages"], "messages", where)
            if messages[-1]["role"] != "assistant" or len(messages) < 2:
                raise DataError(
                    f"{where}: field 'messages' must end with an assistant message "
                    "that follows at least one prompt message"
                )
            pairs.append((messages[:-1], messages[-1]["content"]))
        elif "completion" in row:
            pairs.append((_prompt(row, where), _text(row, "completion", where)))
        else:
            raise DataError(f"{where}: missing field 'completion' (or a 'messages' chat)")
    return pairs


def load_preference_pairs(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> list[PreferencePair]:
    """Preference rows (`prompt`, `chosen`, `rejected`, optional `id`) as `PreferencePair`s.

    Args:
        source: As in `load_samples`.
        split: As in `load_samples`.
        limit: Read at most this many rows.

    Raises:
        DataError: the source cannot be read, or a row lacks a field or has a wrong type.
    """
    pairs = []
    for index, (where, row) in enumerate(iter_rows(source, split=split, limit=limit)):
        prompt = _prompt(row, where)
        chosen, rejected = _text(row, "chosen", where), _text(row, "rejected", where)
        pairs.append(PreferencePair(prompt, chosen, rejected, id=_row_id(row, index, where)))
    return pairs


def _hash_file(path: Path, digest: Any) -> None:
    digest.update(path.stat().st_size.to_bytes(8, "big"))
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)


def fingerprint(source: str | Path, *, split: str = "train") -> str:
    """What the run manifest records to identify a dataset.

    A file: the sha256 hex digest of its bytes. A directory: the sha256 over its files'
    relative paths and bytes, in sorted path order. A hub name: `hub:<name>:<split>` (the hub
    revision is not known offline).

    Raises:
        DataError: `source` names a local file type that does not exist.
    """
    path = Path(source)
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    if path.is_dir():
        digest = hashlib.sha256()
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
        for relative, file in files:
            digest.update(relative.encode("utf-8") + b"\0")
            _hash_file(file, digest)
        return digest.hexdigest()
    if path.suffix in FILE_SUFFIXES:
        raise DataError(f"{path}: no such file")
    return f"hub:{source}:{split}"
