"""`rlvr pairs`: on-policy pairs from the tiny model, labelled by a row's verifier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rlvr.cli import main
from rlvr.data.preference import load_pairs
from verifiers import Example, Verdict


@dataclass(frozen=True)
class EvenLength:
    """Test verifier: correct when the completion has an even number of characters, so that an
    untrained model's samples come out both correct and wrong."""

    name: ClassVar[str] = "toy_even_length"
    version: ClassVar[str] = "1"
    examples: ClassVar[tuple[Example, ...]] = (Example("ab", None, 1.0, "correct"),)

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        even = len(completion) % 2 == 0
        return Verdict(float(even), "correct" if even else "wrong_answer")


def test_pairs_cli_writes_verifier_labelled_pairs(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verifier = f"{__name__}:EvenLength"
    data = tmp_path / "rows.jsonl"
    rows = [{"id": f"r{i}", "prompt": f"What is {i} + 1?", "reference": "x"} for i in range(6)]
    data.write_text("".join(json.dumps({**r, "verifier": verifier}) + "\n" for r in rows))
    out = tmp_path / "pairs.jsonl"
    argv = ["pairs", "--model", str(tiny_model), "--data", str(data), "--n", "4"]
    argv += ["--out", str(out), "--pairs-per-prompt", "2", "--max-new-tokens", "5"]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    pairs = load_pairs(out)
    assert len(pairs) > 0 and f"{len(pairs)} pairs from " in summary and " of 6 prompts" in summary
    per_prompt: dict[Any, int] = {}
    for p in pairs:  # chosen is correct, rejected wrong, the row's verifier kept
        assert len(p.chosen) % 2 == 0 and len(p.rejected) % 2 == 1 and p.verifier == verifier
        per_prompt[p.prompt] = per_prompt.get(p.prompt, 0) + 1
    assert max(per_prompt.values()) <= 2
    first = out.read_text()
    assert main(argv) == 0 and out.read_text() == first  # seeded: the same pairs again
    capsys.readouterr()
    for flag, value, message in [
        ("--n", "1", "--n must be at least 2"),
        ("--pairs-per-prompt", "0", "--pairs-per-prompt must be at least 1"),
        ("--out", str(tmp_path), "is a directory"),
        ("--data", str(tmp_path / "missing.jsonl"), "missing.jsonl"),
    ]:
        bad = [*argv]
        bad[bad.index(flag) + 1] = value
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rlvr pairs: ") and "\n" not in err and message in err
