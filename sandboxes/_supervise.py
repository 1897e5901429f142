"""Drive a launched sandbox process: feed stdin, read stdout/stderr with a cap, enforce the
wall-clock limit, and turn what happened into an `ExecResult`.

Shared by the `bwrap` and `process` backends. Everything happens in the calling thread with a
selector (no helper threads, no `signal.alarm`), so `run` is safe to call from many threads.

Implementation details:
  1. Pipes are non-blocking; stdin is written in chunks as the program reads it, so a program
     that never reads its input cannot deadlock the runner.
  2. Output is counted across stdout and stderr together; past the cap the rest is dropped and
     the backend's `stop` callback kills the run.
  3. After a kill (deadline, cap) the pipes are drained until every process of the run has
     let go of them, so a run returns only once its processes are gone and its uid is free.
  4. The prologue's start marker opens stderr; without it the run is a sandbox error (the
     sandbox never started), and the marker is removed from what the caller sees.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandboxes.limits import ExecResult, Limits, Status

_CHUNK = 1 << 16
_DRAIN_S = 2.0
"""After a kill, how long to wait for every process of the run to let go of the pipes."""


@dataclass
class Captured:
    """Raw outcome of supervising one process."""

    stdout: bytearray
    """Bytes read from stdout, at most the cap."""
    stderr: bytearray
    """Bytes read from stderr, at most the cap."""
    returncode: int | None
    """The launched process's status (`subprocess` convention), None if it could not be had."""
    timed_out: bool
    """The wall-clock limit was reached."""
    truncated: bool
    """The output cap was reached."""
    wall_s: float
    """Seconds from launch to the end of supervision."""


def supervise(
    proc: subprocess.Popen[bytes],
    stdin: bytes,
    limits: Limits,
    stop: Callable[[], None],
    started: float,
) -> Captured:
    """Feed `stdin`, collect output until both pipes close, then reap `proc`.

    `stop` must kill every process of the run; it is called at the deadline or the output cap.
    """
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = started + limits.wall_s
    out, err = bytearray(), bytearray()
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    sel = selectors.DefaultSelector()
    for fd in sinks:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    in_fd = proc.stdin.fileno()
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(in_fd, False)
        sel.register(in_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    timed_out = truncated = stopped = False
    open_outputs = set(sinks)
    try:
        while open_outputs:
            if (timed_out or truncated) and not stopped:
                stop()
                stopped = True
                deadline = time.monotonic() + _DRAIN_S
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = timed_out or not stopped
                if stopped:
                    break
                continue
            for key, _ in sel.select(remaining):
                fd = int(key.fd)
                if fd == in_fd:
                    pending = _write_some(fd, pending)
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                chunk = _read(fd)
                if chunk is None:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    open_outputs.discard(fd)
                    continue
                room = max(limits.output_bytes - len(out) - len(err), 0)
                sinks[fd] += chunk[:room]
                truncated = truncated or len(chunk) > room
    finally:
        sel.close()
        _close_quietly(proc)
    if (timed_out or truncated) and not stopped:
        stop()
    returncode, late = _reap(proc, deadline, stop)
    return Captured(out, err, returncode, timed_out or late, truncated, time.monotonic() - started)


def _write_some(fd: int, pending: memoryview) -> memoryview:
    """Write what the pipe takes now; a closed pipe (the program exited) drops the rest."""
    try:
        return pending[os.write(fd, pending[:_CHUNK]) :]
    except BlockingIOError:
        return pending
    except OSError:
        return pending[len(pending) :]


def _read(fd: int) -> bytes | None:
    """A chunk, b"" at end of file, or None when nothing is ready after all."""
    try:
        return os.read(fd, _CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _close_quietly(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _reap(
    proc: subprocess.Popen[bytes], deadline: float, stop: Callable[[], None]
) -> tuple[int | None, bool]:
    """Wait for `proc`; past the deadline stop the run. Returns (returncode, hit the deadline)."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:
        pidfd = -1
    if pidfd >= 0:
        try:
            select.select([pidfd], [], [], max(deadline - time.monotonic(), 0.0) + 0.05)
        finally:
            os.close(pidfd)
    try:
        return proc.wait(0.0 if pidfd >= 0 else max(deadline - time.monotonic(), 0.0)), False
    except subprocess.TimeoutExpired:
        stop()
    try:
        return proc.wait(5.0), True
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(), True


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group that `proc` leads (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def result(captured: Captured, marker: bytes, backend: str, signal_offset: bool) -> ExecResult:
    """Classify a supervised run; see `Status` for the order of the rules.

    Args:
        captured: what `supervise` collected.
        marker: the start marker the prologue writes to stderr first.
        backend: the backend's name, recorded in the result.
        signal_offset: the launcher reports death by signal N as exit status 128 + N (bwrap).
    """
    stderr = bytes(captured.stderr)
    started = stderr.startswith(marker)
    stderr = stderr[len(marker) :] if started else stderr
    code = captured.returncode
    if code is not None and signal_offset and code > 128:
        code = -(code - 128)
    text_err = stderr.decode("utf-8", "replace")
    if started:
        status, detail = _classify(captured, code, text_err)
    else:
        status = Status.SANDBOX_ERROR
        detail = "the sandbox did not start"
        if captured.timed_out:
            detail += " within the wall-clock limit"
        if text_err.strip():
            detail += ": " + text_err.strip()[-2000:]
    return ExecResult(
        status=status,
        exit_code=code,
        stdout=bytes(captured.stdout).decode("utf-8", "replace"),
        stderr=text_err,
        wall_s=captured.wall_s,
        truncated=captured.truncated,
        backend=backend,
        detail=detail,
    )


def _classify(captured: Captured, code: int | None, stderr: str) -> tuple[Status, str]:
    if captured.timed_out:
        return Status.TIMEOUT, "wall-clock limit reached"
    if captured.truncated:
        return Status.OUTPUT_LIMIT, "output limit reached"
    if code == 0:
        return Status.OK, ""
    if code == -signal.SIGXCPU:
        return Status.TIMEOUT, "CPU-time limit reached"
    tail = stderr[-4096:]
    if "MemoryError" in tail or "Cannot allocate memory" in tail:
        return Status.MEMORY, "out of memory"
    if code is not None and code < 0:
        return Status.ERROR, f"killed by signal {-code}"
    return Status.ERROR, f"exit status {code}"
