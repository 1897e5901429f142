"""`rlvr audit reward-model` and `rlvr sample --reward-model`: files written, numbers printed,
and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlvr.cli import main
from rlvr.config.sections import ModelConfig
from rlvr.data import generate, write_jsonl
from rlvr.data.preference import generate_preference, write_preference_jsonl
from rlvr.models.reward_head import load_reward_backbone


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """A run directory as a reward-model run leaves it: manifest and final/."""
    run = tmp_path_factory.mktemp("runs") / "rm"
    torch.manual_seed(0)
    model, tokenizer, _ = load_reward_backbone(ModelConfig(str(tiny_model)))
    model.save_pretrained(run / "final")
    tokenizer.save_pretrained(run / "final")
    (run / "manifest.json").write_text(json.dumps({"stage": "reward_model"}))
    return run


def test_audit_writes_into_the_run(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = generate_preference("arithmetic-pref", 24, seed=3, options={"bias": "length"})
    pairs = write_preference_jsonl(rows, tmp_path / "biased.jsonl")
    assert main(["audit", "reward-model", str(run_dir), "--data", str(pairs)]) == 0
    out = run_dir / "audit-biased"
    audit = json.loads((out / "audit.json").read_text())
    assert audit["n"] == 24 and audit["source"] == str(pairs)
    # every chosen side is the longer one: the length rule is perfect, so the audit warns
    assert audit["length_rule_accuracy"] == 1.0 and audit["warnings"]
    captured = capsys.readouterr()
    assert f"on 24 pairs; length-only rule 1.000; written to {out}" in captured.out
    assert "WARNING: LENGTH BIAS?" in captured.err
    # a checkpoint inside the run audits into the run too; --strict fails on a warning
    argv = ["audit", "reward-model", str(run_dir / "final"), "--data", str(pairs), "--strict"]
    assert main(argv) == 1


def test_audit_sweeps_answers_when_asked(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = generate_preference("arithmetic-pref", 6, seed=4, options={"ops": ["+"]})
    pairs = write_preference_jsonl(rows, tmp_path / "clean.jsonl")
    argv = ["audit", "reward-model", str(run_dir), "--data", str(pairs), "--out", str(tmp_path)]
    assert main([*argv, "--sweep", "3"]) == 0
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["width"] == 3 and sweep["prompts"] == 6 and sweep["skipped"] == 0
    assert 1.0 <= sweep["mean_rank"] <= 7.0
    assert "answer sweep (+-3, 6 prompts, 0 skipped): right answer first" in capsys.readouterr().out
    assert main([*argv, "--sweep", "0"]) == 2
    assert "--sweep must be an integer >= 1, got 0" in capsys.readouterr().err


def test_audit_of_a_causal_lm_says_how_to_train_one(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = write_preference_jsonl(
        generate_preference("arithmetic-pref", 4, seed=0), tmp_path / "p.jsonl"
    )
    assert main(["audit", "reward-model", str(tiny_model), "--data", str(pairs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlvr audit: ") and "\n" not in err
    assert "no scalar reward head" in err and "stage: reward_model" in err
    assert main(["audit", "reward-model", str(tmp_path / "nope"), "--data", str(pairs)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_sample_reports_best_of_n_against_one_sample(
    tmp_path: Path, tiny_model: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = write_jsonl(generate("arithmetic", 6, seed=5), tmp_path / "rows.jsonl")
    argv = ["sample", "--model", str(tiny_model), "--reward-model", str(run_dir), "--n", "3"]
    argv += ["--data", str(rows), "--max-new-tokens", "6", "--out", str(tmp_path / "bon")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best-of-3 accuracy" in out and "vs N=1" in out and "over 6 prompts" in out
    picks = [json.loads(x) for x in (tmp_path / "bon/best_of_n.jsonl").read_text().splitlines()]
    assert len(picks) == 6 and all(len(p["samples"]) == 3 for p in picks)
    for p in picks:  # the pick is the sample the reward model scores highest
        rewards = [s["reward"] for s in p["samples"]]
        assert rewards[p["pick"]] == max(rewards)
    summary = json.loads((tmp_path / "bon/summary.json").read_text())
    assert summary["accuracy_n1"] <= summary["accuracy_pass_at_n"]
    assert summary["accuracy_best_of_n"] <= summary["accuracy_pass_at_n"]
    assert main([*argv[:6], "0", *argv[7:]]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
