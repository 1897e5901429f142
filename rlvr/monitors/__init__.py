"""Live monitors of training runs: checks that read the metric stream a trainer logs and act
(`warn | checkpoint | stop`) on reward-hacking and collapse signals: KL past its budget or
accelerating, zero-variance reward groups, entropy collapse, completion-length drift, in-group
diversity loss, format-only reward, and training reward rising while held-out accuracy falls.
Every N steps the top- and bottom-quartile completions go to `samples/step_K.jsonl`.

A trainer makes one call per step (`Watch.observe`, see `rlvr.monitors.watch`). May import
`config`, `data`, `runs` and `algorithms`; never a trainer.
"""

from rlvr.monitors.config import (
    Action,
    DiversityConfig,
    EntropyConfig,
    FormatOnlyConfig,
    HeldOutConfig,
    KLMonitorConfig,
    LengthConfig,
    MonitorConfig,
    ZeroVarianceConfig,
)
from rlvr.monitors.watch import Decision, Event, Watch, open_watch, read_events

__all__ = [
    "Action",
    "Decision",
    "DiversityConfig",
    "EntropyConfig",
    "Event",
    "FormatOnlyConfig",
    "HeldOutConfig",
    "KLMonitorConfig",
    "LengthConfig",
    "MonitorConfig",
    "Watch",
    "ZeroVarianceConfig",
    "open_watch",
    "read_events",
]
