"""`doctor`: run an attack battery against each available backend and report what is blocked.

Each attack is a small hostile program plus a check made outside the sandbox (a file that must
not appear on the host, a secret that must not be printed, a process that must not survive).
`format_report` prints the table for `rlvr sandbox doctor`, and which backend `auto` uses here.

The introspection attacks hunt for a token (`rlvr` + 16 hex digits, never in their source) that
the runner holds where a leaky sandbox would show it: the runner's environment and memory, an
inheritable descriptor, a host process's command line and environment, and a world-readable
file such as a dataset on disk. They search what a program can reach: its own objects, frames
and modules, `/proc/self/*` (memory included), every descriptor, every visible process, files.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sandboxes import runner
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
    world_path: str
    """A world-readable file holding the token, like a dataset with answers on disk."""
    decoy: int
    """Pid of a host process with the token in its command line and environment."""

    def strays(self) -> list[int]:
        """Live processes with the token in their command line, other than the decoy."""
        return [pid for pid in stray_processes(self.token) if pid != self.decoy]


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


def fork_bomb(tag: str) -> str:
    """A fork bomb whose processes carry `tag` in their command line (other sandboxed runs on
    the machine must not count as its leftovers)."""
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    argv = f"[sys.executable, '-S', '-c', {bomb!r}, {tag!r}]"
    return f"import os, sys\nos.execv(sys.executable, {argv})\n"


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


_HUNT = r"""
import gc, os, re, sys
PATTERN = re.compile(rb"rlvr[0-9a-f]{16}")
found = set()

def scan(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if isinstance(data, (bytes, bytearray)):
        found.update(m.decode() for m in PATTERN.findall(data))

def read(path, limit=1 << 22):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(fd, limit)
    except OSError:
        return b""
    finally:
        os.close(fd)

def memory(pid):
    try:
        with open(f"/proc/{pid}/maps") as maps:
            regions = [line.split()[:2] for line in maps]
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except OSError:
        return
    with mem:
        for span, mode in regions:
            start, end = (int(a, 16) for a in span.split("-"))
            if mode.startswith("r") and end - start < 1 << 28:
                try:
                    mem.seek(start)
                    scan(mem.read(end - start))
                except (OSError, ValueError, OverflowError):
                    pass
"""

_BODIES = {
    "introspect_memory": """
def walk(obj, depth=0):
    if depth > 4:
        return
    scan(obj)
    items = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
    if isinstance(obj, (dict, list, tuple, set, frozenset)):
        for item in list(items):
            walk(item, depth + 1)
for obj in gc.get_objects():
    walk(obj, 3)
frame = sys._getframe()
while frame is not None:
    walk(dict(frame.f_locals), 1)
    walk(dict(frame.f_globals), 1)
    frame = frame.f_back
for module in list(sys.modules.values()):
    walk(dict(getattr(module, "__dict__", {})), 2)
scan(repr(sys.argv) + repr(dict(os.environ)))
""",
    "proc_self": """
for name in ["cmdline", "environ", "maps", "status", "cwd/main.py"]:
    scan(read("/proc/self/" + name))
for fd in os.listdir("/proc/self/fd"):
    scan(read("/proc/self/fd/" + fd))
memory("self")
""",
    "inherited_fds": """
for fd in range(1024):
    try:
        os.lseek(fd, 0, 0)
    except OSError:
        pass
    try:
        os.set_blocking(fd, False)
        scan(os.read(fd, 1 << 20))
    except OSError:
        pass
""",
    "other_processes": """
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        for name in ("cmdline", "environ"):
            scan(read(f"/proc/{pid}/{name}"))
        memory(pid)
""",
    "read_host_files": """
# breadth first, shallow files before deep trees: a crowded /tmp (a virtualenv, a clone) must
# not use up the file budget before the files a few levels down are read
seen = 0
queue = ["/tmp", "/var/tmp", "/home", "/srv", "/opt", "/mnt", "/data"]
while queue and seen < 20000:
    top = queue.pop(0)
    try:
        entries = list(os.scandir(top))
    except OSError:
        continue
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                queue.append(entry.path)
            elif entry.is_file(follow_symlinks=False) and seen < 20000:
                seen += 1
                scan(read(entry.path, 1 << 16))
        except OSError:
            pass
""",
}


def _hunter(name: str) -> Callable[[_Target], str]:
    def program(t: _Target) -> str:
        return _HUNT + _BODIES[name] + "print(sorted(found))\n"

    return program


def _not_found(r: ExecResult, t: _Target) -> tuple[bool, str]:
    leaked = t.token in r.stdout
    if leaked:
        return False, "token found"
    return True, f"not found ({r.status.value}{', ' + r.detail if r.detail else ''})"


ATTACKS: dict[str, tuple[Callable[[_Target], str], _Check, Limits]] = {
    "fork_bomb": (
        lambda t: fork_bomb(t.token + "-bomb"),
        lambda r, t: (
            r.status is Status.TIMEOUT and not stray_processes(t.token + "-bomb"),
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
        lambda r, t: (not t.strays(), f"{len(t.strays())} left"),
        Limits(),
    ),
    **{name: (_hunter(name), _not_found, Limits(wall_s=30.0)) for name in _BODIES},
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
    with tempfile.TemporaryDirectory() as tmp, _runner_holds(token) as decoy:
        os.chmod(tmp, 0o755)
        secret_path = os.path.join(tmp, "secret.txt")
        world_path = os.path.join(tmp, "answers.jsonl")
        root_secret = f"/root/.rlvr-secret-{token}" if os.geteuid() == 0 else None
        for path in filter(None, (secret_path, root_secret)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(token)
        with open(os.open(world_path, os.O_WRONLY | os.O_CREAT, 0o644), "w") as f:
            f.write(f'{{"expected": "{token}"}}\n')
        try:
            yield _Target(
                token,
                secret_path,
                token,
                root_secret,
                listener.getsockname()[1],
                received,
                world_path,
                decoy,
            )
        finally:
            stop.set()
            thread.join()
            listener.close()
            if root_secret:
                os.unlink(root_secret)


@contextmanager
def _runner_holds(token: str) -> Iterator[int]:
    """While active, `token` is in this process's environment and on inheritable descriptors
    (a pipe and a file), and in a host process's command line and environment (its pid is
    yielded)."""
    key = "RLVR_DOCTOR_SECRET"
    before = os.environ.get(key)
    os.environ[key] = token
    read_end, write_end = os.pipe()
    os.write(write_end, token.encode())
    decoy = subprocess.Popen(
        [sys.executable, "-S", "-c", "import time; time.sleep(600)", token],
        env={key: token},
        stdin=subprocess.DEVNULL,
    )
    try:
        with tempfile.TemporaryFile() as held:
            held.write(token.encode())
            held.flush()
            for fd in (read_end, write_end, held.fileno()):
                os.set_inheritable(fd, True)
            yield decoy.pid
    finally:
        decoy.kill()
        decoy.wait()
        os.close(read_end)
        os.close(write_end)
        if before is None:
            del os.environ[key]
        else:
            os.environ[key] = before


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


def in_use() -> str:
    """One line: the backend `backend="auto"` uses here, or why it refuses to run."""
    try:
        return f"in use (auto): {runner.describe('auto')}"
    except runner.SandboxUnavailable as exc:
        return f"in use (auto): NONE, runs refuse to start: {exc}"


def format_report(results: Sequence[AttackResult], in_use_line: str | None = None) -> str:
    """A fixed-width table of `results`, one attack per line, a summary line per backend, and
    the backend in use (`in_use()` unless given)."""
    lines = [f"{'backend':<9} {'attack':<18} {'result':<12} detail"]
    for r in results:
        verdict = "blocked" if r.blocked else "NOT BLOCKED"
        detail = " / ".join(r.detail.splitlines())
        lines.append(f"{r.backend:<9} {r.attack:<18} {verdict:<12} {detail}")
    for backend in dict.fromkeys(r.backend for r in results):
        mine = [r for r in results if r.backend == backend]
        lines.append(f"{backend}: {sum(r.blocked for r in mine)}/{len(mine)} attacks blocked")
    lines.append(in_use() if in_use_line is None else in_use_line)
    return "\n".join(lines)
