"""The `rlvr` command: every subcommand has help; user errors are one line and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rlvr.cli import main

SUBCOMMANDS = ["train", "run", "eval", "verify", "verifiers", "sandbox", "config", "tiny", "data"]


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(f"    {name}" in out for name in SUBCOMMANDS)


@pytest.mark.parametrize(
    "argv",
    [[c, "--help"] for c in SUBCOMMANDS]
    + [
        ["verifiers", "list", "--help"],
        ["verifiers", "check", "--help"],
        ["sandbox", "doctor", "--help"],
    ],
)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: rlvr" in capsys.readouterr().out


def test_unbuilt_trainer_and_bad_config_are_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rlhf.yaml").write_text("stage: rlhf\nmodel: {path: x}\n")
    assert main(["train", str(tmp_path / "rlhf.yaml")]) == 2
    err = capsys.readouterr().err
    assert "stage 'rlhf' is not trainable (trainable: dpo, grpo, ppo, reward_model, sft)" in err
    (tmp_path / "bad.yaml").write_text("stage: sft\nmodel: {path: x}\ndata: {synthetic: maths}\n")
    assert main(["train", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert "synthetic: expected one of 'arithmetic', 'code', 'json', 'arithmetic-pref'" in err


def test_verify_scores_file_and_reports_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "completion": "so \\boxed{12}", "reference": "12"})
        + "\n"
        + "{not json\n"
        + json.dumps({"id": "c", "completion": "I think 13", "reference": "12"})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "verify",
            "--verifier",
            "math",
            "--input",
            str(src),
            "--output",
            str(out),
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["id"], r["score"], r["reason"]) for r in rows] == [
        ("a", 1.0, "correct"),
        (2, None, "bad_input"),
        ("c", 0.0, "no_answer"),
    ]
    assert "in.jsonl:2" in capsys.readouterr().err


def test_verify_unknown_verifier_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.jsonl").write_text("")
    code = main(
        [
            "verify",
            "--verifier",
            "nope",
            "--input",
            str(tmp_path / "in.jsonl"),
            "--output",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert code == 2
    assert "unknown verifier 'nope'" in capsys.readouterr().err


def test_config_of_an_unknown_stage_prints_only_the_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "unknown stage 'nope'" in captured.err


def _eval_config(tmp_path: Path, model_path: str) -> Path:
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"stage: eval\nmodel: {{path: {model_path}, tiny_preset: tiny}}\n"
        "data: {synthetic: arithmetic, n: 4, seed: 1}\n"
        f"generation: {{max_new_tokens: 4}}\nrun: {{name: e, output_dir: {tmp_path}/runs}}\n"
    )
    return config


def test_eval_of_a_missing_model_path_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text(
        "stage: eval\nmodel: {path: runs/no-such-run/final/}\n"
        "data: {synthetic: arithmetic, n: 4}\n"
        f"run: {{name: e, output_dir: {tmp_path}/runs}}\n"
    )
    assert main(["eval", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'runs/no-such-run/final/' does not exist, and it was not found on the hub" in err


def test_eval_of_a_trained_model_directory_needs_no_preset_override(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final = tmp_path / "run" / "final"  # as a trainer writes it: no tiny_config.json
    AutoModelForCausalLM.from_pretrained(tiny_model).save_pretrained(final)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(final)
    assert main(["eval", str(_eval_config(tmp_path, str(final))), "reward.workers=0"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_training_on_vllm_without_vllm_is_one_line(
    tmp_path: Path,
    tiny_model: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.rlvr.trainers.conftest import write_config
    from tests.rlvr.trainers.test_grpo import grpo_data

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` now raises ImportError
    data = grpo_data(tmp_path, tiny_model)
    data["rollout"]["engine"] = "vllm"
    assert main(["train", str(write_config(tmp_path / "grpo.yaml", data))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlvr train: the vllm engine needs vLLM") and err.count("\n") == 1
    assert "scripts/install_vllm.sh" in err
