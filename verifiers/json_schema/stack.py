"""Room on the Python stack for recursive work on deeply nested JSON.

Python's `json` decoder recurses once per level of nesting and `jsonschema` several times
(about 4 to 6 frames per level, more through `$ref`, `anyOf` and the like), so with Python's
default recursion limit of 1000 a legitimate document 200 levels deep fails validation with a
`RecursionError`. `call_with_frames(fn, frames)` runs `fn()` with at least `frames` spare
frames below the recursion limit.

Implementation details:
    1. When the calling thread already has the room (the usual case: shallow documents), `fn`
       runs right there, with nothing changed.
    2. Otherwise `fn` runs on a helper thread started with a `STACK_BYTES` stack (so the C stack
       holds the extra frames however small the caller's own stack is) in a copy of the
       caller's context (context variables such as the pattern budget carry over), while the
       process-wide recursion limit is raised to what it needs. The limit is only ever raised,
       and it goes back to its earlier value when the last such call in flight returns. The
       caller waits; the result or exception comes back to it.
    3. `frames` is capped by `MAX_FRAMES`, so infinite recursion (a circular `$ref`) still ends
       in a `RecursionError`, after a bounded number of frames.
    4. While a helper thread runs, other threads of the process may also recurse deeper than
       the usual limit before Python stops them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextvars import copy_context
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

STACK_BYTES = 64 * 1024 * 1024
"""Stack reserved for a helper thread (address space; only the pages used are touched)."""
MAX_FRAMES = 20_000
"""Most frames a call may ask for; well within `STACK_BYTES` at a few hundred bytes a frame."""
_MARGIN = 64


class _Limit:
    """The recursion limit raised while helper calls are in flight, restored after the last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved = 0

    def enter(self, limit: int) -> None:
        with self.lock:
            if self.active == 0:
                self.saved = sys.getrecursionlimit()
            self.active += 1
            if sys.getrecursionlimit() < limit:
                sys.setrecursionlimit(limit)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0:
                sys.setrecursionlimit(self.saved)

    def base(self) -> int:
        """The limit that holds once no helper call is in flight (what the caller can count on)."""
        with self.lock:
            return self.saved if self.active else sys.getrecursionlimit()


_LIMIT = _Limit()


def headroom() -> int:
    """How many more frames the calling thread may push before hitting the recursion limit
    (the limit as it is when no helper call is raising it)."""
    depth = 0
    frame: FrameType | None = sys._getframe()  # the only way to read the depth in 3.11
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return _LIMIT.base() - depth


def call_with_frames(fn: Callable[[], T], frames: int) -> T:
    """`fn()`, run where at least `frames` (at most `MAX_FRAMES`) frames are free.

    Exceptions raised by `fn` propagate to the caller unchanged.

    >>> call_with_frames(lambda: 6 * 7, frames=10)
    42
    """
    frames = min(frames, MAX_FRAMES)
    if frames + _MARGIN <= headroom():
        return fn()
    outcome: list[T] = []
    failure: list[BaseException] = []
    context = copy_context()

    def run() -> None:
        try:
            outcome.append(context.run(fn))
        except BaseException as exc:  # handed back to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="rlvr-deep-json", daemon=True)
    _LIMIT.enter(frames + 2 * _MARGIN)
    try:
        with _LIMIT.lock:
            previous = threading.stack_size(STACK_BYTES)
            try:
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
    finally:
        _LIMIT.leave()
    if failure:
        raise failure[0]
    return outcome[0]


__all__ = ["MAX_FRAMES", "STACK_BYTES", "call_with_frames", "headroom"]
