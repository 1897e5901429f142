"""Metric loggers: TensorBoard event files and an offline W&B run beside metrics.jsonl, a one-line
error naming the extra when one is not installed, and the self-contained HTML report."""

from __future__ import annotations

import base64
import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from rlvr.config import ConfigError
from rlvr.runs import create_run
from rlvr.runs.report import EVENTS_FILE, write_run_report


def make_run(tmp_path: Path, loggers: tuple[str, ...]) -> Any:
    return create_run(tmp_path, "r", {"x": 1}, stage="test", seed=0, loggers=loggers)


def test_tensorboard_gets_the_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with make_run(tmp_path, ("tensorboard",)) as run:
        run.log(1, {"reward/mean": 0.5, "note": "text", "none": None})
        run.log(2, {"reward/mean": 0.75})
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("reward/mean")] == [(1, 0.5), (2, 0.75)]
    assert events.Tags()["scalars"] == ["reward/mean"]


def test_wandb_runs_offline_without_a_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    with make_run(tmp_path, ("wandb",)) as run:
        run.log(1, {"reward/mean": 0.5})
    offline = list((tmp_path / "r" / "wandb").glob("offline-run-*"))
    run_id = (tmp_path / "r" / "wandb_id").read_text().strip()
    assert len(offline) == 1 and offline[0].name.endswith(run_id)
    assert list(offline[0].glob("*.wandb"))


def test_a_logger_whose_extra_is_missing_fails_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_wandb(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    monkeypatch.setattr("importlib.import_module", lambda name: no_wandb(name))
    with pytest.raises(ConfigError, match=r"needs the `wandb` extra: pip install 'rlvr\[wandb\]'"):
        make_run(tmp_path, ("wandb",))
    assert not (tmp_path / "r").exists()


def test_the_html_report_is_self_contained(tmp_path: Path) -> None:
    with make_run(tmp_path, ()) as run:
        for step in range(1, 4):
            run.log(step, {"reward/mean": step / 4, "completion/length_mean": 20.0})
    event = {"step": 3, "monitor": "length_drift", "action": "stop", "message": "<drift>"}
    (run.dir / EVENTS_FILE).write_text(json.dumps(event) + "\n")
    (run.dir / "samples").mkdir()
    for step in (10, 2):
        (run.dir / "samples" / f"step_{step}.jsonl").write_text("{}\n")
    page = write_run_report(run.dir, "test run", [("stopped by", "monitor")]).read_text()
    png = (run.dir / "report" / "metrics.png").read_bytes()
    assert base64.b64encode(png).decode() in page and "src='metrics.png'" not in page
    assert "&lt;drift&gt;" in page and "stopped by" in page
    assert page.index("step_2.jsonl") < page.index("step_10.jsonl")
    assert "../samples/step_2.jsonl" in (run.dir / "report" / "report.md").read_text()
