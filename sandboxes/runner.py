"""`run`: execute one program in a sandbox, and the choice of backend behind it.

Backends, strongest first among those `auto` considers:
  - `bwrap`: namespaces + pool uid + rlimits (default wherever its probe passes);
  - `process`: pool uid + rlimits only, with a loud warning (fallback);
  - `docker`: a container per run; used only when named, never by `auto` (it needs an engine
    and an image the user chose, and costs a container start per run).

Each backend's module docstring lists what it covers and what it does not.
"""

from __future__ import annotations

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


def resolve(backend: str = "auto") -> BackendName:
    """The concrete backend `run(..., backend=backend)` would use.

    Raises:
        ValueError: an unknown backend name.
        SandboxUnavailable: the backend (or, for `auto`, every candidate) fails its probe.
    """
    if backend != "auto":
        reason = probe(backend)
        if reason is not None:
            raise SandboxUnavailable(f"sandbox backend {backend!r} is unavailable: {reason}")
        return next(name for name in BACKENDS if name == backend)
    reasons = []
    for name in AUTO_ORDER:
        reason = probe(name)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise SandboxUnavailable("no sandbox backend works here; " + "; ".join(reasons))


def describe(backend: str = "auto") -> str:
    """`name: details` of the backend `run` would use, for run manifests and `doctor`."""
    name = resolve(backend)
    return f"{name}: {_DESCRIBE[name]()}"


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
        backend: `auto` (the strongest that works here), `bwrap`, `process` or `docker`.

    Raises:
        ValueError: an unknown language or backend, or a bad file name.
        SandboxUnavailable: no requested backend can run on this machine.
    """
    if language != "python":
        raise ValueError(f"unsupported sandbox language {language!r}; supported: python")
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a sandboxes.Limits, got {type(limits).__name__}")
    return _RUN[resolve(backend)](code, stdin, files, limits)
