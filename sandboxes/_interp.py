"""The Python interpreter that sandboxed programs run on, and how a pool uid gets to it.

Sandboxed programs run on the runner's own interpreter (`sys.executable`), with the standard
library and the interpreter's `site-packages` importable (`.pth` files are not processed: the
interpreter starts with `-S`).

The pool uid must be able to reach that interpreter. When it lives under a directory that
others cannot traverse (pyenv under `/root`, mode 0700), the runner, as root, starts one helper
process per runner process that owns a private mount namespace in which each such directory is
covered by an empty tmpfs holding only the interpreter's prefixes, bind-mounted read-only. Runs
enter that namespace with `nsenter` before switching uid; the host's mounts and file modes are
never changed, and nothing else of `/root` is visible there. (bubblewrap's own `--ro-bind-fd`
cannot help: it resolves the path of the descriptor as the unprivileged user and fails.)
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

_HELPER_SOURCE = Path(__file__).with_name("_nshelper.py").read_text()


@dataclass(frozen=True)
class Interpreter:
    """Paths of the interpreter a sandboxed program runs on, all with symlinks resolved, so
    they hold wherever the interpreter lives: a venv whose `python` links to a base
    interpreter elsewhere, a venv reached through a symlinked directory, conda, a system
    prefix, under `/tmp` or not."""

    executable: str
    """The runner's interpreter binary (`sys.executable` resolved); the same path inside."""
    prefixes: tuple[str, ...]
    """Directories to expose read-only (`sys.base_prefix`, `sys.prefix` for a venv, and the
    binary's directory when it lies outside both)."""
    sys_path: tuple[str, ...]
    """`sys.path` for the program: the standard library, `lib-dynload`, `site-packages`."""


@functools.cache
def current() -> Interpreter:
    """The runner's interpreter (computed once per process)."""
    executable = os.path.realpath(sys.executable)
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    if not any(_under(executable, r) for r in roots):
        roots.add(os.path.dirname(executable))
    prefixes = sorted(roots)
    candidates = [*sys.path, *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))]
    paths: list[str] = []
    for path in candidates:
        real = os.path.realpath(path) if path else ""
        fresh = real and real not in paths and os.path.isdir(real)
        if fresh and any(_under(real, r) for r in prefixes):
            paths.append(real)
    return Interpreter(executable, tuple(prefixes), tuple(paths))


def _under(path: str, prefix: str) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(prefix)
    return real == root or real.startswith(root + os.sep)


def blocking_ancestor(path: str) -> str | None:
    """The top-most directory on the way to `path` that others may not traverse, if any."""
    current_path = Path("/")
    for part in Path(path).parts[1:]:
        mode = current_path.stat().st_mode
        if not mode & stat.S_IXOTH:
            return str(current_path)
        current_path = current_path / part
    return None


def needs_helper(interp: Interpreter, extra: tuple[str, ...] = ()) -> bool:
    """True when a pool uid cannot reach some prefix of `interp` (or `extra`) on the host."""
    return any(blocking_ancestor(p) is not None for p in (*interp.prefixes, *extra))


class MountHelper:
    """A helper process owning the private mount namespace described in the module docstring.

    Besides the interpreter's prefixes it exposes `extra` directories (where the `bwrap`
    binary and its libraries live, when that is under a directory others cannot enter)."""

    def __init__(self, interp: Interpreter, extra: tuple[str, ...] = ()) -> None:
        self._interp = interp
        self._extra = extra
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def namespace(self) -> str:
        """Path of the namespace file to pass to `nsenter --mount=`; starts the helper if needed.

        Raises:
            RuntimeError: the helper could not set the namespace up (message says why).
        """
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            return f"/proc/{self._proc.pid}/ns/mnt"

    def _start(self) -> subprocess.Popen[bytes]:
        plan: dict[str, list[str]] = {}
        for prefix in (*self._interp.prefixes, *self._extra):
            anchor = blocking_ancestor(prefix)
            if anchor is not None:
                plan.setdefault(anchor, []).append(prefix)
        args = [sys.executable, "-S", "-I", "-c", _HELPER_SOURCE]
        for anchor, prefixes in sorted(plan.items()):
            args += [anchor, *prefixes, "--"]
        proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        if line != b"ready\n":
            error = proc.stderr.read().decode(errors="replace").strip()
            proc.kill()
            proc.wait()
            raise RuntimeError(f"cannot set up the interpreter mount namespace: {error}")
        proc.stdout.close()
        proc.stderr.close()
        return proc


def nsenter() -> str | None:
    """Path of util-linux `nsenter`, if installed."""
    return shutil.which("nsenter")
