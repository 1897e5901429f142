"""Docker backend: one throw-away container per run, through the docker SDK (`docker` extra).

Never picked by `backend="auto"`: it needs an engine and an image chosen by the user, and a
container start costs hundreds of milliseconds. Ask for it by name (`backend="docker"`); the
image is `DEFAULT_IMAGE` unless `RLVR_SANDBOX_IMAGE` names another one that has `python` and `sh`
on its PATH. The program's files, its stdin and the prologue (`sandboxes._prologue`, which sets
the rlimits as in the other backends) are bind-mounted read-only from a host temporary
directory (so the engine must run on this host) and the files copied into the container's tmpfs.

Covered:
  - Network: `network_disabled` (no interface but loopback).
  - Files: the image's read-only root file system; nothing of the host but the run's inputs;
    `/work` and `/tmp` are size-capped tmpfs mounts.
  - Identity: user `65534:65534` (nobody), all capabilities dropped, `no-new-privileges`.
  - Memory and processes in total: `mem_limit` (= `memswap_limit`, a cgroup limit across
    every process of the run), `pids_limit`, one CPU (`nano_cpus`); per-process rlimits for CPU
    time, file size and open files; no core files.
  - Processes: the container is removed at the end, daemons included; wall-clock kill.

Not covered:
  - The engine itself: whoever can reach the docker socket is root on the host; the runner
    needs that access.
  - Kernel attack surface beyond docker's default seccomp profile; side channels.
  - The output cap bounds the engine's log file (`max-size`), which keeps the *last* bytes of a
    flood rather than the first; the run is not killed at the cap.
  - Exact output ordering between stdout and stderr (each stream is kept in order).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from sandboxes._common import (
    MAIN,
    MARKER,
    PROLOGUE_SOURCE,
    BackendUnavailable,
    check_files,
    encode,
)
from sandboxes.limits import MIB, ExecResult, Limits, Status

NAME = "docker"
DEFAULT_IMAGE = "python:3.11-slim"
"""Image used unless the environment variable `RLVR_SANDBOX_IMAGE` names another."""
_SCRIPT = (
    'cp -R /input/files/. /work/ && cd /work && exec python -S /input/prologue.py "$@" '
    "< /input/stdin"
)


def image() -> str:
    """The image runs use."""
    return os.environ.get("RLVR_SANDBOX_IMAGE", DEFAULT_IMAGE)


def client() -> Any:
    """A connected docker client.

    Raises:
        BackendUnavailable: the SDK is not installed or no engine answers within 3 s.
    """
    try:
        import docker  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise BackendUnavailable("the docker SDK is missing: pip install 'rlvr[docker]'") from exc
    try:
        engine = docker.from_env(timeout=3)
        engine.ping()
    except Exception as exc:
        raise BackendUnavailable(f"no docker engine answers: {exc}") from exc
    return engine


def container_options(limits: Limits) -> dict[str, Any]:
    """The `containers.create` options that enforce `limits` (besides the wall clock)."""
    import docker.types  # type: ignore[import-not-found,unused-ignore]

    tmpfs = f"rw,nosuid,nodev,size={limits.tmpfs_mb}m"
    return {
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {"/work": tmpfs + ",mode=1777", "/tmp": tmpfs + ",mode=1777"},
        "mem_limit": limits.memory_mb * MIB,
        "memswap_limit": limits.memory_mb * MIB,
        "pids_limit": limits.processes,
        "nano_cpus": 1_000_000_000,
        "user": "65534:65534",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "environment": {"HOME": "/work", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"},
        "log_config": docker.types.LogConfig(
            type="json-file", config={"max-size": str(limits.output_bytes), "max-file": "1"}
        ),
        "ulimits": [
            docker.types.Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds + 1),
            docker.types.Ulimit(
                name="fsize", soft=limits.file_size_mb * MIB, hard=limits.file_size_mb * MIB
            ),
            docker.types.Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
            docker.types.Ulimit(name="core", soft=0, hard=0),
        ],
    }


def run(
    code: str, stdin: str | bytes, files: Mapping[str, str | bytes] | None, limits: Limits
) -> ExecResult:
    """Run `code` as `main.py` in a new container. See `sandboxes.run`."""
    extra = check_files(files)
    try:
        engine = client()
    except BackendUnavailable as exc:
        return _error(str(exc))
    inputs = tempfile.mkdtemp(prefix="rlvr-docker-")
    try:
        os.makedirs(os.path.join(inputs, "files"))
        for name, content in {MAIN: encode(code), **extra}.items():
            path = os.path.join(inputs, "files", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        with open(os.path.join(inputs, "stdin"), "wb") as f:
            f.write(encode(stdin))
        with open(os.path.join(inputs, "prologue.py"), "w") as f:
            f.write(PROLOGUE_SOURCE)
        for root, dirs, names in os.walk(inputs):
            for entry in [root, *(os.path.join(root, n) for n in [*dirs, *names])]:
                os.chmod(entry, 0o755 if os.path.isdir(entry) else 0o644)
        return _run_container(engine, inputs, limits)
    except Exception as exc:
        return _error(f"docker run failed: {exc}")
    finally:
        shutil.rmtree(inputs, ignore_errors=True)


def _run_container(engine: Any, inputs: str, limits: Limits) -> ExecResult:
    started = time.monotonic()
    prologue_args = [
        str(limits.memory_mb * MIB),
        str(limits.cpu_seconds),
        "-1",
        str(limits.file_size_mb * MIB),
        str(limits.open_files),
        "",
        MARKER,
        f"/work/{MAIN}",
    ]
    container = engine.containers.create(
        image(),
        ["sh", "-c", _SCRIPT, "sh", *prologue_args],
        volumes={inputs: {"bind": "/input", "mode": "ro"}},
        **container_options(limits),
    )
    try:
        container.start()
        timed_out = False
        try:
            outcome = container.wait(timeout=limits.wall_s)
        except Exception:
            timed_out = True
            container.kill()
            outcome = container.wait(timeout=10)
        out = container.logs(stdout=True, stderr=False)[: limits.output_bytes]
        err = container.logs(stdout=False, stderr=True)[: max(limits.output_bytes - len(out), 0)]
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        code = int(outcome.get("StatusCode", -1))
    finally:
        container.remove(force=True)
    return _result(out, err, code, timed_out, oom, limits, time.monotonic() - started)


def _result(
    out: bytes, err: bytes, code: int, timed_out: bool, oom: bool, limits: Limits, wall: float
) -> ExecResult:
    truncated = len(out) + len(err) >= limits.output_bytes
    stderr = err.decode("utf-8", "replace").removeprefix(MARKER)
    if timed_out:
        status, detail = Status.TIMEOUT, "wall-clock limit reached"
    elif truncated:
        status, detail = Status.OUTPUT_LIMIT, "output limit reached"
    elif oom or "MemoryError" in stderr[-4096:]:
        status, detail = Status.MEMORY, "out of memory"
    elif code == 0:
        status, detail = Status.OK, ""
    elif code == 128 + 24:
        status, detail = Status.TIMEOUT, "CPU-time limit reached"
    else:
        status, detail = Status.ERROR, f"exit status {code}"
    exit_code = -(code - 128) if code > 128 else code
    out_text = out.decode("utf-8", "replace")
    return ExecResult(status, exit_code, out_text, stderr, wall, truncated, NAME, detail)


def _error(message: str) -> ExecResult:
    return ExecResult(Status.SANDBOX_ERROR, None, "", "", 0.0, False, NAME, message)


def probe() -> str | None:
    """None when a docker engine answers, else why not (checked on every call: 3 s at most)."""
    try:
        client()
    except BackendUnavailable as exc:
        return str(exc)
    return None


def describe() -> str:
    """One line for run manifests."""
    return f"docker (image {image()}, network off, read-only root, nobody)"
