"""The README's main job, at toy size: `python recipes/math_tiny.py --smoke` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_math_tiny_smoke_runs_sft_and_grpo_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "math-tiny"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "recipes/math_tiny.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "held-out accuracy" in result.stdout
    report = (out / "report.md").read_text()
    assert "| grpo: steps | 2 (max_steps=2 reached after" in report
    assert "| grpo: accuracy before -> after |" in report
    assert (out / "report.png").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"sft", "grpo"} and len(summary["grpo"]) == 2
    metrics = [
        json.loads(x) for x in (out / "grpo-math-tiny/metrics.jsonl").read_text().splitlines()
    ]
    assert [m["step"] for m in metrics if "train/kl" in m] == [1, 2]  # DAPO: drift, not loss
