"""Run directories: resolved config, manifest, metrics, and refusal to clobber."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rlvr.config import load_config
from rlvr.config.sections import RunConfig
from rlvr.runs import RunError, create_run


def test_run_directory_contents(tmp_path: Path) -> None:
    cfg = RunConfig(name="r1", output_dir=tmp_path, seed=5)
    run = create_run(
        tmp_path,
        "r1",
        cfg,
        stage="eval",
        seed=5,
        datasets={"eval": "abc123"},
        verifier_names=["math", "code", "math"],
    )
    run.log(1, {"loss": 0.5, "bad": float("nan")})
    run.log(2, {"loss": 0.25})
    run.close()
    written = yaml.safe_load((run.dir / "config.yaml").read_text())
    assert written == {
        "stage": "eval",
        "name": "r1",
        "output_dir": str(tmp_path),
        "seed": 5,
        "overwrite": False,
        "loggers": [],
        "accept_contract_change": False,
    }
    manifest = json.loads((run.dir / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["datasets"] == {"eval": "abc123"}
    assert set(manifest["verifiers"]) == {"math", "code"}
    assert manifest["sandbox"].split(":")[0] in {"bwrap", "process", "docker", "unavailable"}
    assert manifest["packages"]["torch"] and "vllm" in manifest["packages"]
    rows = [json.loads(x) for x in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["loss"]) for r in rows] == [(1, 0.5), (2, 0.25)]
    assert rows[0]["bad"] is None


def test_resolved_config_loads_back(tmp_path: Path) -> None:
    cfg = RunConfig(name="r2", output_dir=tmp_path)
    run = create_run(tmp_path, "r2", cfg, stage="eval", seed=0)
    text = (run.dir / "config.yaml").read_text().replace("stage: eval\n", "")
    (tmp_path / "again.yaml").write_text(text)
    assert load_config(tmp_path / "again.yaml", RunConfig) == cfg


def test_existing_run_is_not_clobbered(tmp_path: Path) -> None:
    cfg = RunConfig(name="r3", output_dir=tmp_path)
    first = create_run(tmp_path, "r3", cfg, stage="eval", seed=0)
    (first.dir / "keep.txt").write_text("x")
    with pytest.raises(RunError, match="already exists"):
        create_run(tmp_path, "r3", cfg, stage="eval", seed=0)
    reopened = create_run(tmp_path, "r3", cfg, stage="eval", seed=0, resume=True)
    assert (reopened.dir / "keep.txt").exists()
    fresh = create_run(tmp_path, "r3", cfg, stage="eval", seed=0, overwrite=True)
    assert not (fresh.dir / "keep.txt").exists()
