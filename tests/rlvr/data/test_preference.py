"""Preference rows: TRL's formats load unchanged, bad rows name their file and line, and the
synthetic arithmetic pairs are correct, wrong, biased and split as asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

import verifiers
from rlvr.cli import main
from rlvr.config.sections import DataConfig
from rlvr.data import DataError
from rlvr.data.preference import (
    PreferencePair,
    UnpairedPreference,
    arithmetic_pref,
    generate_preference,
    held_out_samples,
    load_pairs,
    load_preference,
    load_unpaired,
    preference_rows,
    unpair,
    write_preference_jsonl,
)

USER = {"role": "user", "content": "2 + 2?"}
SYSTEM = {"role": "system", "content": "Be brief."}


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_trl_preference_formats_load_unchanged(tmp_path: Path) -> None:
    rows = [
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
        {"prompt": [SYSTEM, USER], "chosen": assistant("4"), "rejected": assistant("5")},
        {"chosen": "The sky is blue.", "rejected": "The sky is green."},  # implicit prompt
        {
            "chosen": [USER, *assistant("4")],
            "rejected": [USER, *assistant("22")],
        },  # implicit chat prompt
        {"id": "x", "prompt": "1+1", "chosen": "2", "rejected": "3", "reference": "2",
         "verifier": "math", "score_chosen": 9.0},  # extra fields are ignored
    ]  # fmt: skip
    pairs = load_pairs(jsonl(tmp_path / "p.jsonl", rows))
    assert pairs == [
        PreferencePair("The sky is", " blue.", " green.", "0"),
        PreferencePair((SYSTEM, USER), "4", "5", "1"),
        # TRL's rule: a space right before the first difference goes to the completions
        PreferencePair("The sky is", " blue.", " green.", "2"),
        PreferencePair((USER,), "4", "22", "3"),
        PreferencePair("1+1", "2", "3", "x", "2", "math"),
    ]


def test_trl_unpaired_format_and_hf_datasets(tmp_path: Path) -> None:
    rows = [
        {"prompt": "2 + 2?", "completion": "4", "label": True},
        {"prompt": [USER], "completion": assistant("5"), "label": False},
    ]
    expected = [
        UnpairedPreference("2 + 2?", "4", True, "0"),
        UnpairedPreference((USER,), "5", False, "1"),
    ]
    assert load_unpaired(jsonl(tmp_path / "u.jsonl", rows)) == expected
    text_rows = [{"prompt": "a b", "chosen": "c", "rejected": "d"}] * 3
    datasets.Dataset.from_list(text_rows).to_parquet(tmp_path / "p.parquet")
    datasets.DatasetDict({"test": datasets.Dataset.from_list(text_rows)}).save_to_disk(
        tmp_path / "saved"
    )
    assert len(load_pairs(tmp_path / "p.parquet")) == 3
    loaded = load_preference(tmp_path / "saved", split="test", limit=2)
    assert loaded.kind == "paired" and len(loaded) == 2
    assert loaded.where == [f"{tmp_path / 'saved'} row 0", f"{tmp_path / 'saved'} row 1"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "p", "chosen": "a"}, r"bad\.jsonl:2: missing field 'rejected'"),
        ({"prompt": "p", "rejected": "a"}, r"bad\.jsonl:2: missing field 'chosen'"),
        ({"prompt": "p", "chosen": "a", "rejected": "a"}, r":2: 'chosen' is identical to 'rej"),
        ({"chosen": "same", "rejected": "same"}, r":2: 'chosen' is identical to 'rejected'"),
        ({"chosen": "abc", "rejected": "xyz"}, r":2: missing field 'prompt' \(and 'chosen'"),
        ({"prompt": "p", "completion": "a", "label": True}, r":2: an unpaired row .* among pai"),
        (
            {"prompt": "p", "chosen": [USER, *assistant("a")], "rejected": "b"},
            r":2: field 'chosen' must be one assistant message, got roles \['user', 'assistant'\]",
        ),
        ({"prompt": "p", "chosen": "a", "rejected": "b", "verifier": "math"}, "'reference' is m"),
        ({"prompt": "p", "chosen": "a", "rejected": "b", "margin": "1"}, r":2: field 'margin' m"),
        ({"prompt": "p", "chosen": "a", "rejected": ""}, r":2: field 'rejected' is empty"),
        ({"prompt": "p", "chosen": "", "rejected": "b"}, r":2: field 'chosen' is empty"),
    ],
)
def test_bad_pair_rows_name_file_and_line(
    tmp_path: Path, row: dict[str, Any], message: str
) -> None:
    good = {"prompt": "q", "chosen": "y", "rejected": "n"}
    with pytest.raises(DataError, match=message):
        load_preference(jsonl(tmp_path / "bad.jsonl", [good, row]))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "p", "completion": "a", "label": "yes"}, r":2: field 'label' must be a bool"),
        ({"prompt": "p", "completion": "a"}, r":2: missing field 'label'"),
        ({"prompt": "p", "chosen": "a", "rejected": "b"}, r":2: a pair among unpaired rows"),
    ],
)
def test_bad_unpaired_rows(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    good = {"prompt": "q", "completion": "y", "label": True}
    with pytest.raises(DataError, match=message):
        load_preference(jsonl(tmp_path / "bad.jsonl", [good, row]))


def test_pair_margins_load_and_write_back(tmp_path: Path) -> None:
    rows = [
        {"prompt": "q", "chosen": "y", "rejected": "n", "margin": 1.5},
        {"prompt": "q", "chosen": "y", "rejected": "m"},
    ]
    pairs = load_pairs(jsonl(tmp_path / "m.jsonl", rows))
    assert [p.margin for p in pairs] == [1.5, None]
    out = write_preference_jsonl(load_preference(tmp_path / "m.jsonl"), tmp_path / "back.jsonl")
    assert [json.loads(x).get("margin") for x in out.read_text().splitlines()] == [1.5, None]


def test_kind_checks_and_unpairing(tmp_path: Path) -> None:
    pairs_file = jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "y", "rejected": "n"}])
    with pytest.raises(DataError, match=r"p\.jsonl: expected unpaired rows .* unpair\(pairs\)"):
        load_unpaired(pairs_file)
    assert unpair(load_pairs(pairs_file)) == [
        UnpairedPreference("q", "y", True, "0/chosen"),
        UnpairedPreference("q", "n", False, "0/rejected"),
    ]
    with pytest.raises(DataError, match="no preference rows"):
        load_preference(jsonl(tmp_path / "empty.jsonl", []))


def test_arithmetic_pairs_are_correct_vs_plausibly_wrong() -> None:
    math = verifiers.get("math")
    pairs = arithmetic_pref(200, seed=3, ops=["+", "-", "*"])
    assert pairs == arithmetic_pref(200, seed=3, ops=["+", "-", "*"])  # deterministic
    for p in pairs:
        assert math(p.chosen, reference=p.reference).score == 1.0
        wrong = math(p.rejected, reference=p.reference)
        assert wrong.score == 0.0 and wrong.reason == "wrong_answer"
        # the same worked form, a different number: never noise
        assert p.rejected.split(" = ")[0] == p.chosen.split(" = ")[0]
        assert int(wrong.extracted or "-1") >= 0
    # unbiased: mostly the same length, and each side is the longer one about as often
    longer = sum(len(p.chosen) > len(p.rejected) for p in pairs)
    shorter = sum(len(p.chosen) < len(p.rejected) for p in pairs)
    assert longer + shorter < 0.2 * len(pairs) and abs(longer - shorter) < 0.05 * len(pairs)


def test_length_bias_noise_and_split() -> None:
    biased = arithmetic_pref(300, seed=1, ops=["+", "-"], bias="length")
    assert all(len(p.chosen) > len(p.rejected) for p in biased)
    # the longer form extends the short one (a policy can drift into it) and stays correct
    math = verifiers.get("math")
    for p in biased:
        short = p.chosen.split(" The answer is ")[0]
        assert p.chosen.count(short) == 1 and p.chosen.count("\\boxed{") == 2
        assert math(p.chosen, reference=p.reference).score == 1.0
    noisy = arithmetic_pref(1000, seed=1, ops=["+", "-"], noise=0.2)
    flipped = sum(math(p.chosen, reference=p.reference).score == 0.0 for p in noisy) / 1000
    assert 0.16 < flipped < 0.24
    train = {p.prompt for p in arithmetic_pref(2000, seed=5, ops=["+", "-"], split="train")}
    test = {p.prompt for p in arithmetic_pref(300, seed=5, ops=["+", "-"], split="test")}
    assert train and test and not train & test
    with pytest.raises(ValueError, match="bias must be one of"):
        arithmetic_pref(1, seed=0, bias="len")
    with pytest.raises(ValueError, match="noise must be a number in"):
        arithmetic_pref(1, seed=0, noise=1.5)


def test_near_misses_cover_every_answer_near_the_right_one() -> None:
    math = verifiers.get("math")
    plain = arithmetic_pref(400, seed=2, ops=["+", "-"])
    # without the option the pairs are the ones written before it existed
    assert arithmetic_pref(400, seed=2, ops=["+", "-"], near_miss=0.0) == plain
    near = arithmetic_pref(400, seed=2, ops=["+", "-"], near_miss=1.0, near_width=5)
    assert [p.chosen for p in near] == [p.chosen for p in plain]
    offsets = set()
    for p in near:
        wrong = math(p.rejected, reference=p.reference)
        assert wrong.score == 0.0 and int(wrong.extracted or "-1") >= 0
        offsets.add(int(wrong.extracted or "0") - int(p.reference))
    # every offset in [-5, 5] but 0 is drawn, and none outside it
    assert offsets == set(range(-5, 6)) - {0}
    half = arithmetic_pref(1000, seed=2, ops=["+", "-"], near_miss=0.5, near_width=40)
    far = sum(
        abs(int(math(p.rejected, reference=p.reference).extracted or "0") - int(p.reference))
        not in (1, 10)
        for p in half
    )
    assert far > 300  # person's mistakes are mostly off by 1 or 10; near misses mostly not
    with pytest.raises(ValueError, match="near_miss must be a number in"):
        arithmetic_pref(1, seed=0, near_miss=2)
    with pytest.raises(ValueError, match="near_width must be an integer >= 1"):
        arithmetic_pref(1, seed=0, near_miss=0.5, near_width=0)


def test_config_rows_roundtrip_and_held_out_samples(tmp_path: Path) -> None:
    cfg = DataConfig(synthetic="arithmetic-pref", n=5, seed=2, options={"chat": True})
    rows, fp = preference_rows(cfg)
    assert rows.kind == "paired" and len(rows) == 5 and fp.startswith("synthetic:arithmetic-pref")
    path = write_preference_jsonl(rows, tmp_path / "out.jsonl")
    assert load_pairs(path) == rows.pairs
    unpaired = generate_preference("arithmetic-pref", 5, seed=2, options={"unpaired": True})
    assert unpaired.kind == "unpaired" and len(unpaired) == 10
    path = write_preference_jsonl(unpaired, tmp_path / "u.jsonl")
    assert load_unpaired(path) == unpaired.unpaired
    samples = held_out_samples(unpaired)
    assert [s.reference for s in samples] == [p.reference for p in rows.pairs]
    with pytest.raises(ValueError, match="unknown synthetic preference task 'x'"):
        generate_preference("x", 1, seed=0)


def test_cli_writes_preference_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pref.jsonl"
    argv = ["data", "--task", "arithmetic-pref", "--n", "8", "--out", str(out)]
    assert main([*argv, "--option", "bias=length", "--option", "split=test"]) == 0
    assert "wrote 8 arithmetic-pref paired rows" in capsys.readouterr().out
    assert all(len(p.chosen) > len(p.rejected) for p in load_pairs(out))
    assert main([*argv, "--option", "noise=2"]) == 2
    assert "rlvr data: noise must be a number in [0, 1], got 2" in capsys.readouterr().err
    assert main([*argv, "--option", "noise"]) == 2
    assert "--option 'noise' is not of the form key=value" in capsys.readouterr().err
