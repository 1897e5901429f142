"""`rlvr train` pins the training contract; resuming with a changed contract is refused in one
line unless `--accept-contract-change` is given, which records the change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr.cli import main
from tests.rlvr.trainers.conftest import write_config


def sft_config(tmp_path: Path, model: Path) -> Path:
    data = {
        "stage": "sft",
        "model": {"path": str(model)},
        "data": {"synthetic": "arithmetic", "n": 16, "seed": 0},
        "train": {"max_steps": 2, "batch_size": 4, "save_every": 1, "log_every": 1},
        "run": {"name": "sft", "output_dir": str(tmp_path / "runs")},
    }
    return write_config(tmp_path / "sft.yaml", data)


def test_changed_contract_refused_then_accepted(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sft_config(tmp_path, tiny_model)
    assert main(["train", str(config)]) == 0
    manifest = tmp_path / "runs" / "sft" / "manifest.json"
    pinned = json.loads(manifest.read_text())["contract"]
    assert pinned["max_steps"] == 2 and pinned["algorithm"]["preset"] == "sft"
    assert "training contract" in capsys.readouterr().out
    assert main(["train", str(config), "train.max_steps=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlvr train: ") and "max_steps: 2 -> 3" in err and "\n" not in err
    assert main(["train", str(config), "train.max_steps=3", "--accept-contract-change"]) == 0
    data = json.loads(manifest.read_text())
    assert data["contract"]["max_steps"] == 3
    assert data["contract_changes"][0]["changes"] == {"max_steps": [2, 3]}
    assert data["contract_changes"][0]["step"] == 2
