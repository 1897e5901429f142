"""`rlvr run`: stages in order, each from the previous stage's model, and the held-out table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlvr.cli import main
from tests.rlvr.trainers.test_dpo import dpo_data


def test_sft_then_dpo_pipeline_prints_held_out_accuracy_per_stage(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sft = {
        "stage": "sft",
        "model": {"path": str(tiny_model)},
        "data": {"synthetic": "arithmetic", "n": 32, "seed": 0},
        "eval_data": {"synthetic": "arithmetic", "n": 4, "seed": 9},
        "train": {"max_steps": 2, "batch_size": 8, "eval_every": 2},
        "generation": {"max_new_tokens": 8},
        "reward": {"workers": 0},
        "run": {"name": "sft", "output_dir": str(tmp_path / "runs")},
    }
    dpo = dpo_data(tmp_path, Path("set-by-the-pipeline"), "dpo")
    for name, data in (("sft", sft), ("dpo", dpo)):
        (tmp_path / f"{name}.yaml").write_text("# test\n" + yaml.safe_dump(data))
    stages = [{"config": str(tmp_path / f"{name}.yaml")} for name in ("sft", "dpo")]
    pipeline = {"stage": "pipeline", "stages": stages}
    (tmp_path / "pipe.yaml").write_text("# test\n" + yaml.safe_dump(pipeline))
    assert main(["run", str(tmp_path / "pipe.yaml")]) == 0
    table = capsys.readouterr().out.split("\n#")[-1].splitlines()
    assert table[0].split()[:4] == ["stage", "held-out", "accuracy", "final"]
    assert [line.split()[1] for line in table[1:]] == ["sft", "dpo"]
    assert all(float(line.split()[2]) >= 0 for line in table[1:])
    assert table[2].split()[-1] == str(tmp_path / "runs/dpo/final")
    manifest = yaml.safe_load((tmp_path / "runs/dpo/config.yaml").read_text())
    assert manifest["model"]["path"] == str(tmp_path / "runs/sft/final")
