"""Adversarial programs, one isolation property per test, against every available backend."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandboxes
from sandboxes import BackendName, Limits, Status, process_backend
from sandboxes.doctor import ATTACKS, _bait, fork_bomb, stray_processes
from tests.sandboxes.conftest import not_covered


def test_fork_bomb_is_contained_and_leaves_nothing(backend: BackendName) -> None:
    tag = f"rlvr-bomb-{os.getpid()}-{time.time_ns()}"
    started = time.monotonic()
    result = sandboxes.run(fork_bomb(tag), limits=Limits(wall_s=1.0, processes=8), backend=backend)
    assert result.status is Status.TIMEOUT
    assert time.monotonic() - started < 6
    assert stray_processes(tag) == []


def test_process_limit_is_enforced(backend: BackendName) -> None:
    program = (
        "import os, time\ncount = 0\n"
        "for _ in range(50):\n    try:\n        if os.fork() == 0:\n            time.sleep(5)\n"
        "            os._exit(0)\n        count += 1\n    except OSError:\n        break\n"
        "print(count)\n"
    )
    result = sandboxes.run(program, limits=Limits(processes=8), backend=backend)
    assert result.status is Status.OK
    assert int(result.stdout) < 8


def test_8gb_allocation_fails_with_memory_status(backend: BackendName) -> None:
    program = "b = bytearray(8 * 1024 ** 3)\nprint('allocated')\n"
    result = sandboxes.run(program, limits=Limits(memory_mb=512), backend=backend)
    assert result.status is Status.MEMORY
    assert "allocated" not in result.stdout


def test_infinite_loop_is_killed_at_the_wall_clock_limit(backend: BackendName) -> None:
    result = sandboxes.run("while True:\n    pass\n", limits=Limits(wall_s=0.5), backend=backend)
    assert result.status is Status.TIMEOUT
    assert result.wall_s < 3


def test_cpu_limit_ends_a_busy_program(backend: BackendName) -> None:
    result = sandboxes.run(
        "while True:\n    pass\n", limits=Limits(wall_s=20, cpu_s=1), backend=backend
    )
    assert result.status is Status.TIMEOUT
    assert result.wall_s < 5


def test_1gb_output_flood_is_cut_at_the_cap(backend: BackendName) -> None:
    program = "import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * 2 ** 20)\n"
    result = sandboxes.run(program, limits=Limits(output_bytes=100_000), backend=backend)
    assert result.status is Status.OUTPUT_LIMIT
    assert result.truncated
    assert len(result.stdout) + len(result.stderr) <= 100_000
    assert result.wall_s < 5


@pytest.mark.parametrize("directory", ["/etc", "/root", "/usr"])
def test_system_directories_are_not_writable(backend: BackendName, directory: str) -> None:
    target = f"{directory}/rlvr-sandbox-probe-{os.getpid()}"
    result = sandboxes.run(f"open({target!r}, 'w').write('x')\n", backend=backend)
    assert not os.path.exists(target)
    assert result.status is Status.ERROR


def test_only_the_work_directory_is_writable(backend: BackendName) -> None:
    not_covered(backend, {"process"}, "world-writable directories")
    program = (
        "import os\nfor d in ['/', '/etc', '/root', '/var', '/dev/shm/..']:\n    try:\n"
        "        open(os.path.join(d, 'x'), 'w').write('x')\n        print('wrote', d)\n"
        "    except OSError:\n        pass\nopen('x', 'w').write('x')\nprint('work ok')\n"
    )
    result = sandboxes.run(program, backend=backend)
    assert result.backend == backend
    assert result.stdout == "work ok\n"


def test_work_directory_size_is_capped(backend: BackendName) -> None:
    not_covered(backend, {"process"}, "disk use")
    program = (
        "chunk = b'x' * 2 ** 20\nn = 0\ntry:\n    for i in range(64):\n"
        "        with open(f'f{i}', 'wb') as f:\n            for _ in range(4):\n"
        "                f.write(chunk)\n                n += 1\n"
        "except OSError:\n    pass\nprint(n)\n"
    )
    result = sandboxes.run(program, limits=Limits(tmpfs_mb=8), backend=backend)
    assert result.backend == backend
    assert int(result.stdout) <= 8


def test_host_tmp_is_not_writable(backend: BackendName) -> None:
    not_covered(backend, {"process"}, "world-writable directories")
    target = f"/tmp/rlvr-sandbox-probe-{os.getpid()}"
    sandboxes.run(f"open({target!r}, 'w').write('x')\n", backend=backend)
    assert not os.path.exists(target)


@pytest.fixture
def secret_file() -> Iterator[tuple[Path, str]]:
    """A file readable only by its owner (the test runner), in a directory anyone may enter
    (pytest's own tmp_path sits under a mode-0700 directory, which would hide it anyway)."""
    secret = f"secret-{os.getpid()}-{time.time_ns()}"
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        path = Path(tmp) / "secret.txt"
        path.write_text(secret)
        path.chmod(0o600)
        yield path, secret


def test_owner_only_file_is_unreadable(backend: BackendName, secret_file: tuple[Path, str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("without root there is no other uid to run as")
    path, secret = secret_file
    result = sandboxes.run(f"print(open({str(path)!r}).read())\n", backend=backend)
    assert secret not in result.stdout


def test_file_under_root_home_is_unreadable(backend: BackendName) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to place a file under /root")
    path = Path(f"/root/.rlvr-sandbox-secret-{os.getpid()}")
    path.write_text("root-secret-value")
    try:
        result = sandboxes.run(f"print(open({str(path)!r}).read())\n", backend=backend)
    finally:
        path.unlink()
    assert "root-secret-value" not in result.stdout


def test_environment_is_cleared(backend: BackendName, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_TEST_TOKEN", "leaky-token")
    result = sandboxes.run("import os\nprint(sorted(os.environ))\n", backend=backend)
    assert result.status is Status.OK
    assert "RLVR_TEST_TOKEN" not in result.stdout


def test_loopback_listener_is_unreachable(backend: BackendName) -> None:
    if backend == "process" and not process_backend.namespaces()[0]:
        pytest.skip(f"the kernel refuses network namespaces: {process_backend.namespaces()[1]}")
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(3)
        port = server.getsockname()[1]

        def accept() -> None:
            try:
                conn, _ = server.accept()
                received.append(conn.recv(10))
                conn.close()
            except OSError:
                pass

        thread = threading.Thread(target=accept)
        thread.start()
        program = (
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "s.sendall(b'hi')\nprint('connected')\n"
        )
        result = sandboxes.run(program, backend=backend)
        thread.join()
    assert result.backend == backend
    assert "connected" not in result.stdout
    assert received == []


def test_killing_the_parent_harms_nothing(backend: BackendName) -> None:
    program = (
        "import os, time\nbefore = os.getppid()\n"
        "try:\n    os.kill(before, 9)\nexcept OSError:\n    pass\n"
        "time.sleep(0.2)\nprint('same parent' if os.getppid() == before else 'parent died')\n"
    )
    result = sandboxes.run(program, backend=backend)
    assert result.stdout.strip() == "same parent"
    assert sandboxes.run("print(1)", backend=backend).stdout == "1\n"


def test_daemon_does_not_survive_the_run(backend: BackendName) -> None:
    token = f"rlvr-daemon-{os.getpid()}-{time.time_ns()}"
    program = (
        "import os, sys\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        os.execv(sys.executable,\n"
        f"            [sys.executable, '-c', 'import time; time.sleep(30)', {token!r}])\n"
        "    os._exit(0)\n"
        "os.wait()\nprint('parent done')\n"
    )
    result = sandboxes.run(program, backend=backend)
    assert result.stdout == "parent done\n"
    deadline = time.monotonic() + 2
    while stray_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stray_processes(token) == []


def test_runner_interpreter_is_not_the_sandbox_identity(backend: BackendName) -> None:
    if os.geteuid() != 0:
        pytest.skip("without root there is no uid switch")
    result = sandboxes.run("import os\nprint(os.getuid(), os.geteuid())\n", backend=backend)
    uid, euid = map(int, result.stdout.split())
    assert uid != 0 and euid != 0
    assert sys.executable


def _hunt(backend: BackendName, attack: str) -> None:
    """Run a doctor attack that hunts for a token the runner holds (its environment and
    memory, inheritable descriptors, a host process, a world-readable file); it must not find it.
    """
    program, check, limits = ATTACKS[attack]
    with _bait() as target:
        result = sandboxes.run(program(target), limits=limits, backend=backend)
        blocked, detail = check(result, target)
    assert (result.backend, result.status) == (backend, Status.OK), result
    assert blocked, detail


def test_own_objects_frames_and_modules_hold_no_runner_secret(backend: BackendName) -> None:
    _hunt(backend, "introspect_memory")


def test_proc_self_and_own_memory_hold_no_runner_secret(backend: BackendName) -> None:
    _hunt(backend, "proc_self")


def test_no_runner_descriptor_is_inherited(backend: BackendName) -> None:
    _hunt(backend, "inherited_fds")


def test_other_processes_are_invisible(backend: BackendName) -> None:
    not_covered(backend, {"process"}, "processes of other users (no pid namespace)")
    _hunt(backend, "other_processes")


def test_world_readable_host_files_are_invisible(backend: BackendName) -> None:
    not_covered(backend, {"process"}, "files readable by others (no mount namespace)")
    _hunt(backend, "read_host_files")
