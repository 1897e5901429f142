"""`sandboxes.run` on ordinary programs, against every available backend."""

from __future__ import annotations

import threading

import pytest

import sandboxes
from sandboxes import BackendName, ExecResult, Limits, Status


def test_stdout_stdin_and_files(backend: BackendName) -> None:
    program = "import helper\nprint(helper.VALUE, input(), open('data/in.txt').read())\n"
    files: dict[str, str | bytes] = {"helper.py": "VALUE = 41 + 1\n", "data/in.txt": b"bytes-file"}
    result = sandboxes.run(program, stdin="from-stdin\n", files=files, backend=backend)
    assert result.status is Status.OK, result
    assert result.stdout == "42 from-stdin bytes-file\n"
    assert result.exit_code == 0
    assert result.backend == backend
    assert not result.truncated


def test_large_stdin_is_fed_while_the_program_reads(backend: BackendName) -> None:
    data = "x" * 3_000_000
    result = sandboxes.run(
        "import sys\nprint(len(sys.stdin.read()))\n", stdin=data, backend=backend
    )
    assert result.stdout == "3000000\n"


def test_program_that_ignores_stdin_does_not_block(backend: BackendName) -> None:
    result = sandboxes.run("print('done')\n", stdin="y" * 3_000_000, backend=backend)
    assert result.stdout == "done\n"


def test_nonzero_exit_is_an_error_with_its_code(backend: BackendName) -> None:
    result = sandboxes.run("import sys\nprint('bye')\nsys.exit(3)\n", backend=backend)
    assert (result.status, result.exit_code, result.stdout) == (Status.ERROR, 3, "bye\n")


def test_exit_builtin_is_available(backend: BackendName) -> None:
    result = sandboxes.run("exit(0)\n", backend=backend)
    assert result.status is Status.OK


def test_uncaught_exception_reports_a_traceback(backend: BackendName) -> None:
    result = sandboxes.run("def f():\n    1 / 0\nf()\n", backend=backend)
    assert result.status is Status.ERROR
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr
    assert "rlvr-sandbox-started" not in result.stderr


def test_killed_by_signal_has_negative_exit_code(backend: BackendName) -> None:
    result = sandboxes.run(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", backend=backend
    )
    assert (result.status, result.exit_code) == (Status.ERROR, -11)


def test_hash_seed_is_fixed_for_determinism(backend: BackendName) -> None:
    program = "print(hash('rlvr'))\n"
    first = sandboxes.run(program, backend=backend).stdout
    assert first == sandboxes.run(program, backend=backend).stdout


def test_concurrent_runs_from_threads(backend: BackendName) -> None:
    results: list[ExecResult] = []

    def work(i: int) -> None:
        results.append(sandboxes.run(f"print({i} * 2)\n", backend=backend))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(r.stdout) for r in results) == [0, 2, 4, 6, 8, 10]


def test_site_packages_are_importable(backend: BackendName) -> None:
    result = sandboxes.run("import pytest\nprint('ok')\n", backend=backend)
    assert result.stdout == "ok\n"


def test_unknown_language_and_backend_are_rejected() -> None:
    with pytest.raises(ValueError, match="language"):
        sandboxes.run("print(1)", language="ruby")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        sandboxes.run("print(1)", backend="chroot")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.py", "a/../../b", "main.py", ""])
def test_bad_file_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="bad sandbox file name"):
        sandboxes.run("print(1)", files={name: "x"})


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="wall_s"):
        Limits(wall_s=0)
    with pytest.raises(TypeError, match="memory_mb must be an integer"):
        Limits(memory_mb=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limits must be"):
        sandboxes.run("print(1)", limits={"wall_s": 1})  # type: ignore[arg-type]


def test_auto_picks_the_strongest_working_backend() -> None:
    chosen = sandboxes.resolve("auto")
    assert chosen == next(n for n in sandboxes.AUTO_ORDER if sandboxes.probe(n) is None)
    assert sandboxes.describe().startswith(chosen + ": ")
    assert "docker" not in sandboxes.AUTO_ORDER


def test_unavailable_backend_raises_clearly() -> None:
    if sandboxes.probe("docker") is None:
        pytest.skip("a docker engine answers here")
    with pytest.raises(sandboxes.SandboxUnavailable, match="docker"):
        sandboxes.run("print(1)", backend="docker")
