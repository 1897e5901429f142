"""The tiny recipes at toy size: `python recipes/<name>_tiny.py --smoke` end to end, with every
comparison arm, the report and the summary that benchmarks/recipes.py reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def smoke(recipe: str, out: Path, *flags: str) -> tuple[str, dict[str, Any]]:
    """Run a recipe's smoke mode; its stdout and summary."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = str(ROOT / f"recipes/{recipe}_tiny.py")
    result = subprocess.run(
        [sys.executable, script, "--smoke", "--out", str(out), *flags],
        capture_output=True,
        text=True,
        cwd=out.parent,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "report.png").stat().st_size > 0
    return result.stdout, json.loads((out / "summary.json").read_text())


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_math_tiny_smoke_runs_sft_and_grpo_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "math-tiny"
    stdout, summary = smoke("math", out)
    assert "held-out accuracy" in stdout
    report = (out / "report.md").read_text()
    assert "| dapo: steps | 2 (max_steps=2 reached after" in report
    assert "| dapo: held-out accuracy before -> after |" in report
    assert summary["recipe"] == "math-tiny" and list(summary["arms"]) == ["dapo"]
    assert summary["arms"]["dapo"]["steps"] == 2 and summary["sft_steps"] == 4
    steps = [m["step"] for m in metrics(out / "dapo-math-tiny") if "train/kl" in m]
    assert steps == [1, 2]  # DAPO: drift, not loss


@pytest.mark.slow
def test_math_tiny_smoke_compares_presets_with_a_control(tmp_path: Path) -> None:
    out = tmp_path / "math-tiny"
    _, summary = smoke("math", out, "--compare-presets", "--control", "--seed", "3")
    assert list(summary["arms"]) == ["dapo", "grpo", "control"] and summary["seed"] == 3
    grpo = yaml.safe_load((out / "grpo-math-tiny/config.yaml").read_text())
    assert grpo["algo"]["preset"] == "grpo" and grpo["algo"]["overlong_buffer"] == 0
    control = yaml.safe_load((out / "control-math-tiny/config.yaml").read_text())
    assert control["train"]["random_reward"] is True


@pytest.mark.slow
def test_code_tiny_smoke_compares_rewards_with_a_control(tmp_path: Path) -> None:
    out = tmp_path / "code-tiny"
    stdout, summary = smoke("code", out, "--compare-credit", "--control")
    assert "held-out pass@1" in stdout
    assert list(summary["arms"]) == ["grpo", "all-or-nothing", "control"]
    assert all(arm["steps"] == 2 for arm in summary["arms"].values())
    strict = yaml.safe_load((out / "all-or-nothing-code-tiny/config.yaml").read_text())
    assert strict["reward"]["verifier_options"] == {"code": {"partial_credit": False}}
    assert any("verify/code/" in key for m in metrics(out / "grpo-code-tiny") for key in m)
    assert "| all-or-nothing: held-out pass@1 before -> after |" in (out / "report.md").read_text()


@pytest.mark.slow
def test_json_tiny_smoke_runs_with_a_control(tmp_path: Path) -> None:
    out = tmp_path / "json-tiny"
    stdout, summary = smoke("json", out, "--control")
    assert "held-out valid-and-conforming rate" in stdout
    assert list(summary["arms"]) == ["grpo", "control"]
    assert any("verify/json_schema/" in key for m in metrics(out / "grpo-json-tiny") for key in m)
