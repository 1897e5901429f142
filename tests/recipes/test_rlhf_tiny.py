"""The RLHF recipe at toy size: `python recipes/rlhf_tiny.py --smoke` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_rlhf_tiny_smoke_runs_every_stage_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "rlhf"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "recipes/rlhf_tiny.py"),
            "--smoke",
            "--gain",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    arms = {"beta-0", "beta-0.1", "beta-1", "adaptive", "length-biased", "gain"}
    assert arms <= set(summary) and {"dpo", "compute", "reward_models"} <= set(summary)
    for arm in arms:
        assert {"hacked", "rm_score_rise", "gold_before", "gold_after", "stopped_by"} <= set(
            summary[arm]
        )
    # the gain arm: its own SFT body and reward model; every step's KL within the 2x band counted
    assert "clean-small" in summary["reward_models"] and (out / "sft-math-small-2/final").is_dir()
    band = summary["gain"]["kl_in_2x_band"]  # None when KL never reached half its target
    assert band is None or 0.0 <= band <= 1.0
    assert summary["compute"]["ppo"]["tokens"] > 0 and summary["compute"]["dpo"]["tokens"] == 0
    # on-policy pairs are always sampled; the toy SFT model may get every answer wrong, and then
    # there is no policy reward model nor its PPO arm
    assert set(summary["policy_pairs"]) == {"train", "test"}
    assert ("policy" in summary["reward_models"]) == ("adaptive-policy-rm" in summary)
    assert (out / "pairs/train.jsonl").exists() and (out / "pairs/test.jsonl").exists()
    report = (out / "report.md").read_text()
    assert "| DPO vs adaptive PPO |" in report and "| beta-0 |" in report
    assert (out / "report.png").stat().st_size > 0
    assert (out / "adaptive/metrics.jsonl").exists()
