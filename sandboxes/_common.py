"""Pieces shared by the local backends: file validation, the prologue command line, caching."""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from sandboxes._interp import Interpreter
from sandboxes.limits import MIB, ExecResult, Limits, Status

PROLOGUE_SOURCE = Path(__file__).with_name("_prologue.py").read_text()
MARKER = "\x1erlvr-sandbox-started\x1e"
"""Written to stderr by the prologue before the program runs (see `_prologue`)."""
MAIN = "main.py"
"""File name of the program in the work directory."""
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}
"""The whole environment of a sandboxed program (plus HOME and TMPDIR, set per backend)."""


class BackendUnavailable(RuntimeError):
    """A backend cannot run on this machine; the message says why and how to fix it."""


def encode(text: str | bytes) -> bytes:
    """UTF-8 bytes of `text` (bytes pass unchanged); lone surrogates pass through (the program
    then fails to compile or reads odd bytes) instead of raising in the runner."""
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")


def check_files(files: Mapping[str, str | bytes] | None) -> dict[str, bytes]:
    """Validate extra work-directory files and encode them.

    Raises:
        ValueError: a name that is absolute, escapes the work directory or clashes with main.py.
        TypeError: content that is neither str nor bytes.
    """
    checked: dict[str, bytes] = {}
    for name, content in (files or {}).items():
        norm = posixpath.normpath(name)
        if not name or name.startswith("/") or norm.startswith("..") or norm in (".", MAIN):
            raise ValueError(f"bad sandbox file name {name!r}: use a relative path, not {MAIN}")
        if isinstance(content, str):
            checked[norm] = encode(content)
        elif isinstance(content, bytes):
            checked[norm] = content
        else:
            raise TypeError(f"sandbox file {name!r}: content must be str or bytes")
    return checked


def prologue_command(
    interp: Interpreter, limits: Limits, main_path: str, limit_processes: bool
) -> list[str]:
    """The interpreter command that applies `limits` and runs `main_path` (see `_prologue`)."""
    return [
        interp.executable,
        "-S",
        "-c",
        PROLOGUE_SOURCE,
        str(limits.memory_mb * MIB),
        str(limits.cpu_seconds),
        str(limits.processes if limit_processes else -1),
        str(limits.file_size_mb * MIB),
        str(limits.open_files),
        os.pathsep.join(interp.sys_path),
        MARKER,
        main_path,
    ]


class Once:
    """Compute a value at most once per process, thread-safely; failures are cached too."""

    def __init__(self, compute: Callable[[], str | None]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._done = False
        self._value: str | None = None

    def get(self) -> str | None:
        """The cached value, computing it on first use."""
        with self._lock:
            if not self._done:
                self._value = self._compute()
                self._done = True
            return self._value


RunFn = Callable[[str, str | bytes, Mapping[str, str | bytes] | None, Limits], ExecResult]
"""A backend's `run(code, stdin, files, limits)`."""


def smoke_probe(run: RunFn, failure: str) -> str | None:
    """Run `print('ok')` through a backend's `run`: None when it printed `ok`, else why not.

    Args:
        run: The backend's `run` function.
        failure: Start of the message when it did not work ("bwrap cannot start a sandbox here").
    """
    result = run("print('ok')", "", None, Limits(wall_s=30.0))
    if result.status is not Status.OK or result.stdout != "ok\n":
        return f"{failure}: {result.detail or result.stderr}"
    return None
