"""What a sandboxed run may use (`Limits`) and what it produced (`ExecResult`).

Both are frozen dataclasses shared by every backend, so a result reads the same whichever
backend ran the program.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields

MIB = 1024 * 1024


class Status(enum.StrEnum):
    """How a run ended. Exactly one applies; the first matching line below wins.

    - `sandbox_error`: the sandbox itself failed (could not start, backend missing). Not the
      program's fault; reward code masks it instead of scoring 0.
    - `timeout`: the wall-clock limit or the CPU-time limit was reached.
    - `output_limit`: stdout + stderr went past `Limits.output_bytes`; the run was killed.
    - `memory`: the program ran out of its address space (`MemoryError`, failed allocation)
      or the container engine reports an out-of-memory kill.
    - `ok`: the program exited with status 0.
    - `error`: anything else (non-zero exit, killed by a signal).
    """

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for one run. Every field must be positive.

    >>> Limits(wall_s=2.0).cpu_seconds
    10
    """

    wall_s: float = 10.0
    """Wall-clock limit in seconds for the whole run; every process of the run is killed then."""
    cpu_s: float = 10.0
    """CPU-time limit per process in seconds (RLIMIT_CPU, rounded up to whole seconds)."""
    memory_mb: int = 1024
    """Address-space limit per process in MiB (RLIMIT_AS; `mem_limit` under docker)."""
    processes: int = 16
    """Most processes (and threads) the run may have at once (RLIMIT_NPROC; `pids_limit`)."""
    file_size_mb: int = 64
    """Largest file a process may write, in MiB (RLIMIT_FSIZE)."""
    open_files: int = 256
    """Most file descriptors per process (RLIMIT_NOFILE)."""
    output_bytes: int = MIB
    """Cap on stdout + stderr together; past it the run is killed and `truncated` is set."""
    tmpfs_mb: int = 64
    """Size of the writable work directory (a tmpfs under bwrap and docker), in MiB."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            wanted = int if f.type == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                kind = "an integer" if f.type == "int" else "a number"
                raise TypeError(f"Limits.{f.name} must be {kind}, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be positive and finite, got {value!r}")

    @property
    def cpu_seconds(self) -> int:
        """`cpu_s` rounded up to whole seconds, as RLIMIT_CPU takes it."""
        return max(1, math.ceil(self.cpu_s))


@dataclass(frozen=True, slots=True)
class ExecResult:
    """The outcome of one sandboxed run."""

    status: Status
    """How the run ended; see `Status`."""
    exit_code: int | None
    """The program's exit status; negative means killed by that signal; None if it never ran."""
    stdout: str
    """Standard output, decoded as UTF-8 (invalid bytes replaced), at most the output cap."""
    stderr: str
    """Standard error, decoded like `stdout`."""
    wall_s: float
    """Seconds from launch to the end of the last process of the run."""
    truncated: bool
    """True when output went past `Limits.output_bytes` and was cut."""
    backend: str
    """The backend that ran the program: `bwrap`, `process` or `docker`."""
    detail: str = ""
    """Why the run was stopped or failed, for people to read (empty for a plain exit)."""

    @property
    def ok(self) -> bool:
        """True when the program exited with status 0 within every limit."""
        return self.status is Status.OK
