"""Isolated code execution for code rewards. Standard library only (the docker SDK is imported
only inside the docker backend, and only when that backend is used).

>>> from sandboxes import Limits, run
>>> result = run("print(sum(range(10)))", limits=Limits(wall_s=5))
>>> result.status.value, result.stdout
('ok', '45\\n')

See `docs/sandboxes.md` for the backends, what each isolates and how to install them.
"""

from sandboxes._common import BackendUnavailable
from sandboxes.doctor import ATTACKS, AttackResult, doctor, format_report
from sandboxes.limits import ExecResult, Limits, Status
from sandboxes.runner import (
    ALLOW_PROCESS_ENV,
    AUTO_ORDER,
    BACKENDS,
    DEFAULT_LIMITS,
    BackendName,
    SandboxUnavailable,
    allow_process,
    available,
    describe,
    probe,
    process_allowed,
    resolve,
    run,
)

__all__ = [
    "ALLOW_PROCESS_ENV",
    "ATTACKS",
    "AUTO_ORDER",
    "BACKENDS",
    "DEFAULT_LIMITS",
    "AttackResult",
    "BackendName",
    "BackendUnavailable",
    "ExecResult",
    "Limits",
    "SandboxUnavailable",
    "Status",
    "allow_process",
    "available",
    "describe",
    "doctor",
    "format_report",
    "probe",
    "process_allowed",
    "resolve",
    "run",
]
