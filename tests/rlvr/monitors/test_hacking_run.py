"""An engineered hacking run: GRPO against a verifier that rewards a keyword, whatever the
completion says. The default monitors must stop it within a few dozen steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr.config import load_config
from rlvr.trainers.grpo import train
from tests.rlvr.trainers.conftest import write_config

HACK = "tests.rlvr.monitors._hackable:KeywordReward"
MAX_STEPS = 30


@pytest.mark.slow
def test_default_monitors_stop_a_keyword_hacking_run(tmp_path: Path, tiny_model: Path) -> None:
    data = {
        "stage": "grpo",
        "model": {"path": str(tiny_model)},
        "data": {"synthetic": "arithmetic", "n": 64, "seed": 0},
        "algo": {"preset": "grpo", "group_size": 8, "prompts_per_step": 4},
        "rollout": {"max_new_tokens": 16},
        "optim": {"lr": 3.0e-3},
        "train": {"max_steps": MAX_STEPS, "save_every": 100, "kl_every": 1},
        "reward": {"workers": 0, "extra": [{"verifier": HACK, "weight": 1.0}]},
        "run": {"name": "hack", "output_dir": str(tmp_path / "runs")},
    }
    result = train(load_config(write_config(tmp_path / "hack.yaml", data)))
    run = tmp_path / "runs" / "hack"
    events = [json.loads(line) for line in (run / "monitor_events.jsonl").read_text().split("\n")
              if line]  # fmt: skip
    assert result.stopped_by == "monitor" and result.steps < MAX_STEPS
    stops = [e for e in events if e["action"] == "stop"]
    assert stops and stops[0]["step"] == result.steps
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    key = f"reward/{HACK}/mean"  # extra terms are keyed by the spec that names them
    keyword = [r[key] for r in rows if key in r]
    assert keyword[-1] > keyword[0] + 0.3  # the keyword was learned: a real hack was stopped
    assert json.loads((run / "summary.json").read_text())["stopped_by"] == "monitor"
    page = (run / "report" / "report.html").read_text()
    assert stops[0]["monitor"] in page and (run / "checkpoints").exists()
