"""The per-step hook: statistics added to the metrics, events recorded, quartile samples
written, decisions, and a resumed run's monitors continuing from its logged metrics."""

from __future__ import annotations

import json
from pathlib import Path

from rlvr.data import RolloutGroup, Sample
from rlvr.monitors import MonitorConfig, open_watch, read_events
from rlvr.monitors.config import LengthConfig
from rlvr.monitors.samples import distinct_ngrams, group_distinct, quartile_rows
from rlvr.runs import Run


def group(texts: list[str], ids: list[tuple[int, ...]]) -> RolloutGroup:
    return RolloutGroup(
        Sample("What is 1 + 1?", "2", "math", id="q"),
        (1, 2),
        tuple(ids),
        tuple((0.0,) * len(i) for i in ids),
        tuple(texts),
        ("stop",) * len(texts),
    )


def test_distinct_ngrams_of_a_group() -> None:
    assert distinct_ngrams([(1, 2, 3, 4)], 2) == 1.0
    assert distinct_ngrams([(1, 2), (1, 2), (1, 2), (1, 2)], 2) == 0.25
    assert distinct_ngrams([(1,), ()], 2) is None
    groups = [group(["a", "b"], [(1, 2, 3), (1, 2, 3)]), group(["c", "d"], [(1, 2), (3, 4)])]
    assert group_distinct(groups, 2) == (0.5 + 1.0) / 2


def test_quartile_rows_take_the_best_and_the_worst() -> None:
    g = group([f"t{i}" for i in range(8)], [(i,) for i in range(8)])
    rows = quartile_rows(10, [g], [0.0, 1.0, 0.5, 0.2, 0.9, 0.1, 0.3, 0.8])
    assert [(r["quartile"], r["completion"]) for r in rows] == [
        ("top", "t1"), ("top", "t4"), ("bottom", "t0"), ("bottom", "t5"),
    ]  # fmt: skip
    assert rows[0]["step"] == 10 and rows[0]["reference"] == "2" and rows[0]["tokens"] == 1


def length_cfg(**length: object) -> MonitorConfig:
    defaults = {"max_drift": 0.3, "window": 2, "patience": 1, "baseline_steps": 2}
    return MonitorConfig(length=LengthConfig(**{**defaults, **length}), samples_every=2)  # type: ignore[arg-type]


def test_observe_adds_statistics_records_events_and_writes_samples(tmp_path: Path) -> None:
    run = Run(tmp_path)
    printed: list[str] = []
    watch = open_watch(length_cfg(), run, echo=printed.append)
    g = group(["x y", "x z"], [(5, 6, 7), (5, 6, 8)])
    decisions = []
    logged = []
    for step, length in enumerate([10.0, 10.0, 10.0, 10.0, 20.0, 20.0], 1):
        metrics = {"completion/length_mean": length}
        decisions.append(watch.observe(step, metrics, [g], [1.0, 0.0]))
        logged.append(metrics)
        assert metrics["group/distinct"] == 3 / 4
    # baseline 10 (steps 1-2); window means from step 4: 10, 15 (+50% > 30%: fires), 20
    assert [d.stop for d in decisions] == [False] * 4 + [True, False]
    assert decisions[4].checkpoint and "length_drift" in decisions[4].reason
    assert [m["monitor/length_drift"] for m in logged[3:]] == [0.0, 0.5, 1.0]
    assert [m.get("monitor/fired/length_drift") for m in logged[3:]] == [None, 1.0, None]
    events = read_events(tmp_path)
    assert [(e.step, e.monitor, e.action) for e in events] == [(5, "length_drift", "stop")]
    assert printed and "length drifted +50%" in printed[0]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_2.jsonl", "step_4.jsonl", "step_6.jsonl",
    ]  # fmt: skip
    rows = [
        json.loads(line) for line in (tmp_path / "samples/step_6.jsonl").read_text().splitlines()
    ]
    assert [(r["quartile"], r["reward"]) for r in rows] == [("top", 1.0), ("bottom", 0.0)]


def test_a_warn_action_neither_stops_nor_checkpoints(tmp_path: Path) -> None:
    watch = open_watch(length_cfg(action="warn"), Run(tmp_path), echo=lambda _: None)
    decision = None
    for step, length in enumerate([10.0, 10.0, 20.0, 20.0], 1):
        decision = watch.observe(step, {"completion/length_mean": length})
    assert decision is not None and decision.events and not decision.stop
    assert not decision.checkpoint


def test_disabled_monitors_add_nothing(tmp_path: Path) -> None:
    watch = open_watch(MonitorConfig(enabled=False), Run(tmp_path))
    metrics = {"completion/length_mean": 5.0}
    assert not watch.observe(1, metrics, [group(["a"], [(1, 2)])], [1.0]).events
    assert metrics == {"completion/length_mean": 5.0}
    assert not (tmp_path / "samples").exists()


def test_a_resumed_watch_continues_from_the_logged_metrics(tmp_path: Path) -> None:
    lengths = [10.0, 10.0, 10.0, 20.0, 20.0, 20.0]
    with Run(tmp_path / "a") as run:
        (tmp_path / "a").mkdir()
        whole = open_watch(length_cfg(), run, echo=lambda _: None)
        fired_whole = [bool(whole.observe(i, {"completion/length_mean": x}).events)
                       for i, x in enumerate(lengths, 1)]  # fmt: skip
    (tmp_path / "b").mkdir()
    with Run(tmp_path / "b") as run:
        for i, x in enumerate(lengths[:3], 1):
            run.log(i, {"completion/length_mean": x})
        resumed = open_watch(length_cfg(), run, resumed_step=3, echo=lambda _: None)
        fired = [bool(resumed.observe(i, {"completion/length_mean": x}).events)
                 for i, x in enumerate(lengths[3:], 4)]  # fmt: skip
    assert fired == fired_whole[3:] and any(fired)


def test_a_resumed_watch_reads_logged_rows_through_the_trainers_view(tmp_path: Path) -> None:
    # a trainer that logs lengths under its own key replays them under the monitors' key
    def view(row: dict[str, object]) -> dict[str, object]:
        return {"completion/length_mean": row["eval/len"]} if "eval/len" in row else {}

    lengths = [10.0, 10.0, 10.0, 20.0, 20.0, 20.0]
    (tmp_path / "b").mkdir()
    with Run(tmp_path / "b") as run:
        for i, x in enumerate(lengths[:3], 1):
            run.log(i, {"eval/len": x})
        resumed = open_watch(length_cfg(), run, resumed_step=3, echo=lambda _: None, view=view)
        fired = [bool(resumed.observe(i, dict(view({"eval/len": x}))).events)
                 for i, x in enumerate(lengths[3:], 4)]  # fmt: skip
    with Run(tmp_path / "c") as run:
        (tmp_path / "c").mkdir()
        blind = open_watch(length_cfg(), run, echo=lambda _: None)
        unseen = [bool(blind.observe(i, {"completion/length_mean": x}).events)
                  for i, x in enumerate(lengths[3:], 4)]  # fmt: skip
    assert any(fired) and not any(unseen)


def test_a_resumed_watch_skips_rows_the_live_run_did_not_observe(tmp_path: Path) -> None:
    # step 0 (an evaluation before training) is logged but never observed by the live loop:
    # replaying it would give the resumed run's monitors a baseline the straight run lacks
    lengths = [10.0, 10.0, 20.0, 20.0]
    with Run(tmp_path / "a") as run:
        (tmp_path / "a").mkdir()
        whole = open_watch(length_cfg(), run, echo=lambda _: None)
        fired_whole = [bool(whole.observe(i, {"completion/length_mean": x}).events)
                       for i, x in enumerate(lengths, 1)]  # fmt: skip
    runs = {}
    for first in (0, 1):
        (tmp_path / f"b{first}").mkdir()
        with Run(tmp_path / f"b{first}") as run:
            run.log(0, {"completion/length_mean": 30.0})
            for i, x in enumerate(lengths[:2], 1):
                run.log(i, {"completion/length_mean": x})
            resumed = open_watch(
                length_cfg(), run, resumed_step=2, echo=lambda _: None, first_step=first
            )
            runs[first] = [bool(resumed.observe(i, {"completion/length_mean": x}).events)
                           for i, x in enumerate(lengths[2:], 3)]  # fmt: skip
    assert runs[1] == fired_whole[2:] and any(runs[1])
    assert runs[0] != runs[1]  # the step-0 row, replayed, moved the baseline
