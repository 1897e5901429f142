"""The hook a trainer calls once per step: `Watch.observe(step, metrics, groups, rewards)`.

It adds the statistics the monitors need to `metrics` (in place, before the trainer logs them),
runs every monitor, records events and returns a `Decision` the trainer acts on:

    watch = open_watch(cfg.monitors, run, resumed_step=step)
    ...
    decision = watch.observe(step, metrics, rollouts.groups, rollouts.scores.tolist())
    run.log(step, metrics)
    if decision.checkpoint: save a checkpoint
    if decision.stop: end the run (`stopped_by = "monitor"`)

Every rank of a launch sees the same metrics and so decides the same; only the main rank
writes `monitor_events.jsonl`, `samples/step_K.jsonl` and prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlvr.data.types import RolloutGroup
from rlvr.monitors.checks import Check, build_checks
from rlvr.monitors.config import Action, MonitorConfig
from rlvr.monitors.samples import group_distinct, write_samples
from rlvr.runs import Run
from rlvr.runs.report import EVENTS_FILE, SAMPLES_DIR, read_metrics


@dataclass(frozen=True)
class Event:
    """One monitor firing."""

    step: int
    """The training step it fired at."""
    monitor: str
    """Which monitor (`kl_budget`, `length_drift`, ...)."""
    action: Action
    """What it asked for."""
    message: str
    """What it saw, in words."""


@dataclass(frozen=True)
class Decision:
    """What the monitors ask of the trainer after a step."""

    events: tuple[Event, ...] = ()
    """The monitors that fired at this step."""

    @property
    def stop(self) -> bool:
        """End the run now."""
        return any(e.action == "stop" for e in self.events)

    @property
    def checkpoint(self) -> bool:
        """Write a checkpoint of this step (asked for by `checkpoint` and `stop`)."""
        return any(e.action in ("checkpoint", "stop") for e in self.events)

    @property
    def reason(self) -> str:
        """The stopping events' messages, one line."""
        return "; ".join(f"{e.monitor}: {e.message}" for e in self.events if e.action == "stop")


class Watch:
    """The monitors of one run, fed one step at a time."""

    def __init__(
        self, cfg: MonitorConfig, run: Run, *, echo: Callable[[str], None] = tqdm.write
    ) -> None:
        self.cfg = cfg
        self.run = run
        self.echo = echo
        self.checks: list[Check] = build_checks(cfg) if cfg.enabled else []
        self.events: list[Event] = []
        """Every event of this launch (replayed ones excluded)."""

    def replay(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Feed logged metric rows (a resumed run's `metrics.jsonl`) through the monitors so
        their baselines and windows continue where the run left them; nothing is acted on."""
        for row in rows:
            for check in self.checks:
                check.update(int(row.get("step", 0)), row)

    def observe(
        self,
        step: int,
        metrics: dict[str, Any],
        groups: Sequence[RolloutGroup] = (),
        rewards: Sequence[float] = (),
    ) -> Decision:
        """Run the monitors on one step's metrics (the dict the trainer is about to log).

        Adds `group/distinct` (from `groups`) and the monitors' `monitor/*` statistics to
        `metrics`, and `monitor/fired/<name>` = 1.0 for each monitor that fires. `groups` and
        `rewards` (prompt-major, one per completion) are the step's completions; trainers
        without groups (SFT, DPO) pass neither. Every `samples_every` steps the quartile
        completions are written to `samples/step_<step>.jsonl`.
        """
        if not self.checks:
            return Decision()
        if groups:
            distinct = group_distinct(groups, self.cfg.diversity.n)
            if distinct is not None:
                metrics["group/distinct"] = distinct
        every = self.cfg.samples_every
        if groups and rewards and every and step % every == 0 and self.run.main:
            write_samples(self.run.dir / SAMPLES_DIR, step, groups, rewards)
        fired = []
        for check in self.checks:
            stats, message = check.update(step, metrics)
            metrics.update(stats)
            if message is not None:
                fired.append(Event(step, check.name, check.action, message))
                metrics[f"monitor/fired/{check.name}"] = 1.0
        for event in fired:
            self._record(event)
        return Decision(tuple(fired))

    def _record(self, event: Event) -> None:
        self.events.append(event)
        if not self.run.main:
            return
        self.echo(f"monitor {event.monitor} ({event.action}) at step {event.step}: {event.message}")
        with (self.run.dir / EVENTS_FILE).open("a") as f:
            f.write(json.dumps(asdict(event)) + "\n")


def read_events(run_dir: Path) -> list[Event]:
    """The monitor events a run recorded (empty when it has none)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    return [Event(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def open_watch(
    cfg: MonitorConfig,
    run: Run,
    *,
    resumed_step: int = 0,
    echo: Callable[[str], None] = tqdm.write,
    view: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    first_step: int = 0,
) -> Watch:
    """The monitors of a run; a resumed run's are fed its logged metrics up to `resumed_step`
    (events recorded after that step are dropped: the resumed run may record them again).
    `view`: what the trainer passes to `observe` for a logged row, when not the row itself;
    `first_step`: the first step the trainer observes (rows before it, such as an evaluation
    logged before training that the live run does not observe, are not replayed either)."""
    watch = Watch(cfg, run, echo=echo)
    if resumed_step > 0:
        rows = (
            r for r in read_metrics(run.dir) if first_step <= int(r.get("step", 0)) <= resumed_step
        )
        watch.replay({"step": r.get("step", 0), **view(r)} if view else r for r in rows)
        path = run.dir / EVENTS_FILE
        if run.main and path.exists():
            kept = [e for e in read_events(run.dir) if e.step <= resumed_step]
            path.write_text("".join(json.dumps(asdict(e)) + "\n" for e in kept))
    return watch
