"""`doctor`: run an attack battery against each available backend and report what is blocked.

Each attack is a small hostile program plus a check made outside the sandbox (a file that must
not appear on the host, a secret that must not be printed, a process that must not survive).
`format_report` prints the table for `rlvr sandbox doctor`.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sandboxes import runner
from sandboxes._common import MARKER
from sandboxes.limits import ExecResult, Limits, Status


@dataclass(frozen=True, slots=True)
class AttackResult:
    """One attack against one backend."""

    backend: str
    """The backend attacked."""
    attack: str
    """The attack's name, e.g. `fork_bomb`."""
    blocked: bool
    """True when the sandbox held."""
    detail: str
    """What was observed, for people to read."""


@dataclass(frozen=True)
class _Target:
    """Host-side bait for one doctor run."""

    token: str
    secret_path: str
    secret: str
    root_secret_path: str | None
    port: int
    received: list[bytes]


_Check = Callable[[ExecResult, _Target], tuple[bool, str]]


def stray_processes(token: str) -> list[int]:
    """Pids of live processes whose command line contains `token` (sandboxed leftovers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def _fork_bomb(t: _Target) -> str:
    return (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )


def _daemon(t: _Target) -> str:
    return (
        "import os, sys\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', "
        f"{t.token!r}])\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )


def _writer(path: str) -> Callable[[_Target], str]:
    def program(t: _Target) -> str:
        return f"open({path.format(token=t.token)!r}, 'w').write('x')\n"

    return program


def _written(path: str) -> _Check:
    def check(r: ExecResult, t: _Target) -> tuple[bool, str]:
        host = path.format(token=t.token)
        exists = os.path.exists(host)
        if exists:
            os.unlink(host)
        return not exists, f"{host} {'was written' if exists else 'untouched'} ({r.status.value})"

    return check


def _reader(attr: str) -> Callable[[_Target], str]:
    def program(t: _Target) -> str:
        return f"print(open({getattr(t, attr)!r}).read())\n"

    return program


def _leaked(r: ExecResult, t: _Target) -> tuple[bool, str]:
    leaked = t.secret in r.stdout
    return not leaked, "secret printed" if leaked else f"read failed ({r.status.value})"


def _connect(t: _Target) -> str:
    return (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {t.port}), timeout=2)\n"
        f"s.sendall({t.token.encode()!r})\nprint('connected')\n"
    )


def _kill_parent(t: _Target) -> str:
    return (
        "import os, time\nbefore = os.getppid()\n"
        "try:\n    os.kill(before, 9)\nexcept OSError as exc:\n    print('denied', exc)\n"
        "time.sleep(0.2)\nprint('parent', 'alive' if os.getppid() == before else 'killed')\n"
    )


ATTACKS: dict[str, tuple[Callable[[_Target], str], _Check, Limits]] = {
    "fork_bomb": (
        _fork_bomb,
        lambda r, t: (
            r.status is Status.TIMEOUT and not stray_processes(MARKER),
            f"{r.status.value} after {r.wall_s:.1f} s",
        ),
        Limits(wall_s=1.5, processes=16),
    ),
    "memory_8gb": (
        lambda t: "b = bytearray(8 * 1024 ** 3)\nprint('allocated')\n",
        lambda r, t: ("allocated" not in r.stdout, r.status.value),
        Limits(memory_mb=512),
    ),
    "infinite_loop": (
        lambda t: "while True:\n    pass\n",
        lambda r, t: (r.status is Status.TIMEOUT, f"{r.status.value} after {r.wall_s:.1f} s"),
        Limits(wall_s=1.0, cpu_s=5.0),
    ),
    "output_flood_1gb": (
        lambda t: "import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * 2 ** 20)\n",
        lambda r, t: (
            r.truncated and len(r.stdout) <= 2**20,
            f"{r.status.value}, kept {len(r.stdout)} bytes",
        ),
        Limits(wall_s=20.0),
    ),
    "write_etc": (_writer("/etc/rlvr-{token}"), _written("/etc/rlvr-{token}"), Limits()),
    "write_root": (_writer("/root/rlvr-{token}"), _written("/root/rlvr-{token}"), Limits()),
    "write_tmp": (_writer("/tmp/rlvr-{token}"), _written("/tmp/rlvr-{token}"), Limits()),
    "read_secret": (_reader("secret_path"), _leaked, Limits()),
    "read_root_secret": (_reader("root_secret_path"), _leaked, Limits()),
    "network_loopback": (
        _connect,
        lambda r, t: (
            "connected" not in r.stdout and not t.received,
            "connection refused or unreachable" if not t.received else "listener got data",
        ),
        Limits(),
    ),
    "kill_parent": (
        _kill_parent,
        lambda r, t: ("parent killed" not in r.stdout, r.stdout.strip()[-80:]),
        Limits(),
    ),
    "daemon_survives": (
        _daemon,
        lambda r, t: (not stray_processes(t.token), f"{len(stray_processes(t.token))} left"),
        Limits(),
    ),
}
"""Attack name -> (program for the bait, check outside the sandbox, limits of the run)."""


@contextmanager
def _bait() -> Iterator[_Target]:
    token = "rlvr" + secrets.token_hex(8)
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        secret_path = os.path.join(tmp, "secret.txt")
        root_secret = f"/root/.rlvr-secret-{token}" if os.geteuid() == 0 else None
        for path in filter(None, (secret_path, root_secret)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(token)
        try:
            yield _Target(
                token, secret_path, token, root_secret, listener.getsockname()[1], received
            )
        finally:
            stop.set()
            thread.join()
            listener.close()
            if root_secret:
                os.unlink(root_secret)


def doctor(backends: Sequence[runner.BackendName] | None = None) -> list[AttackResult]:
    """Run every attack in `ATTACKS` against each backend (default: every available one)."""
    names = list(backends) if backends is not None else runner.available()
    results = []
    with _bait() as target:
        for backend in names:
            for attack, (program, check, limits) in ATTACKS.items():
                if attack == "read_root_secret" and target.root_secret_path is None:
                    continue
                result = runner.run(program(target), limits=limits, backend=backend)
                if result.status is Status.SANDBOX_ERROR:
                    results.append(AttackResult(backend, attack, False, result.detail))
                    continue
                blocked, detail = check(result, target)
                results.append(AttackResult(backend, attack, blocked, detail))
    return results


def format_report(results: Sequence[AttackResult]) -> str:
    """A fixed-width table of `results`, one attack per line, and a summary line per backend."""
    lines = [f"{'backend':<9} {'attack':<18} {'result':<12} detail"]
    for r in results:
        verdict = "blocked" if r.blocked else "NOT BLOCKED"
        detail = " / ".join(r.detail.splitlines())
        lines.append(f"{r.backend:<9} {r.attack:<18} {verdict:<12} {detail}")
    for backend in dict.fromkeys(r.backend for r in results):
        mine = [r for r in results if r.backend == backend]
        lines.append(f"{backend}: {sum(r.blocked for r in mine)}/{len(mine)} attacks blocked")
    return "\n".join(lines)
