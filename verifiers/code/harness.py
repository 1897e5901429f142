"""The test harness that runs *inside* the sandbox; its source is the sandboxed `main.py`.

Standard library only, no import of `verifiers` (the package is not in the sandbox).

Process roles:
  - The supervisor (this program) never runs candidate code. It makes itself non-dumpable
    before reading anything, so processes of the same uid can neither trace it nor open its
    memory or descriptors through `/proc`.
  - It reads its work from stdin, one message at a time, never ahead: a header, then one
    message per test just before that test runs, then (after the last test) the nonce. So a
    test's process, which starts as a copy of the supervisor, holds the data of the tests up
    to its own and nothing later; and no test's expected value or assert ever comes in (the
    verifier keeps them, see `verifiers.code.asserts`).
  - For each test it forks a fresh child, which drops stdin/stdout, imports the candidate
    (asserts) or runs it as `__main__` (stdio), and reports over a private pipe. The supervisor
    enforces the per-test timeout and kills the child's process group afterwards, so tests are
    independent: a crash, `sys.exit`, `os._exit`, a hang or a patched builtin in one test only
    affects that test.
  - After the last test, with no candidate process of its own left, the supervisor reads the
    nonce (the children closed their copy of stdin before any candidate code ran) and prints
    one line: an HMAC-SHA256 of the results under the nonce, then the results. A line the
    candidate forged cannot carry a valid HMAC.

An asserts test is a list of steps: statements its calls need (`("x", source)`) and calls
(`("c", marshalled (args, kwargs) | None, call source | None, targets | None)`), whose values
are sent back as plain data (`encode`): built-in scalars and containers, with subclasses
converted to their base type, so no candidate object, `__eq__` or `__repr__` ever reaches the
comparison, which happens outside the sandbox.

Data formats are chosen for start-up time (this runs once per verification): messages on stdin
are `marshal` data after an 8-byte length, written by the verifier; reports and results are
`ascii()` of plain dicts, lists and strings, which the verifier reads with `ast.literal_eval`
(never `eval`, never unpickling). `json` and `hashlib` would cost more to import than the rest
of the harness.
"""

import _sha256
import ctypes
import importlib
import marshal
import os
import select
import signal
import sys
import time
from typing import Any

PR_SET_DUMPABLE = 4
_MAX_DEPTH = 64
_MAX_VALUE_BYTES = 1 << 20
_STDERR_TAIL = 2000


def hmac_sha256(key: bytes, message: bytes) -> str:
    """RFC 2104 HMAC with SHA-256, hex digest (equal to `hmac.new(key, message, "sha256")`)."""
    key = key.ljust(64, b"\0") if len(key) <= 64 else _sha256.sha256(key).digest().ljust(64, b"\0")
    inner = _sha256.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return str(_sha256.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest())


def encode(value: Any, depth: int = 0) -> Any:
    """`value` as tagged plain data, so that types survive (see `verifiers.code.wire`)."""
    if depth > _MAX_DEPTH:
        return {"o": "too deep"}
    if value is None or type(value) is bool:
        return value
    if isinstance(value, int):
        return {"i": hex(int.__index__(value))}
    if isinstance(value, float):
        return {"f": float.hex(float.__float__(value))}
    if isinstance(value, complex):
        plain = complex.__complex__(value)
        return {"c": [float.hex(plain.real), float.hex(plain.imag)]}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray):
        return {"b": bytes(value).hex()}
    if isinstance(value, list):
        return {"l": [encode(v, depth + 1) for v in list.__iter__(value)]}
    if isinstance(value, tuple):
        return {"t": [encode(v, depth + 1) for v in tuple.__iter__(value)]}
    if isinstance(value, set):
        return {"s": [encode(v, depth + 1) for v in set.__iter__(value)]}
    if isinstance(value, frozenset):
        return {"fs": [encode(v, depth + 1) for v in frozenset.__iter__(value)]}
    if isinstance(value, dict):
        pairs = list(dict.items(value))
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in pairs]}
    return {"o": type(value).__name__}


def _nondumpable() -> None:
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _redirect(stdin_fd: int, stdout_fd: int, stderr_fd: int) -> None:
    os.dup2(stdin_fd, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)


def _read_exact(size: int) -> bytes:
    """Exactly `size` bytes of stdin (never more: what follows belongs to later tests)."""
    chunks = []
    while size > 0:
        chunk = os.read(0, size)
        if not chunk:
            raise EOFError("stdin ended early")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive() -> Any:
    return marshal.loads(_read_exact(int.from_bytes(_read_exact(8), "big")))


def _call(step: tuple[Any, ...], entry: str, namespace: dict[str, Any]) -> Any:
    _, arguments, source, bind = step
    if source is None:
        function = namespace.get(entry)
        if function is None:
            raise NameError(f"name {entry!r} is not defined")
        args, kwargs = marshal.loads(arguments)
        value = function(*args, **kwargs)
    else:
        value = eval(compile(source, "<tests>", "eval"), namespace)
    if bind is not None:
        namespace["__rlvr_value"] = value
        exec(compile(f"{bind} = __rlvr_value", "<tests>", "exec"), namespace)
    return value


def _child_asserts(entry: str, test: dict[str, Any], report: int) -> None:
    """Import the candidate, run the test's steps, report the calls' values (child process)."""
    try:
        module = importlib.import_module("solution")
        namespace = dict(vars(module))
        values = []
        for step in test["steps"]:
            if step[0] == "x":
                exec(compile(step[1], "<tests>", "exec"), namespace)
            else:
                values.append(encode(_call(step, entry, namespace)))
        message: dict[str, Any] = {"status": "ok", "values": values}
    except MemoryError:
        message = {"status": "memory", "error": "MemoryError"}
    except RecursionError:
        message = {"status": "error", "error": "RecursionError"}
    except BaseException as exc:
        message = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    data = ascii(message).encode()
    if len(data) > _MAX_VALUE_BYTES:
        data = ascii({"status": "error", "error": "return value too large"}).encode()
    os.write(report, data)


def _child_stdio(path: str) -> int:
    """Run the candidate as `__main__` like the interpreter would; return its exit status."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path}
    try:
        with open(path, "rb") as f:
            exec(compile(f.read(), path, "exec"), namespace)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return int(code or 0)
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1
    return 0


def _start_child(job: dict[str, Any], test: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """Fork the child for one test; return its pid and the supervisor's pipe ends."""
    ends = {name: os.pipe() for name in ("report", "out", "err")}
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, test.get("input", "").encode())
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdio = job["kind"] == "stdio"
        _redirect(
            stdin_fd if stdio else devnull, ends["out"][1] if stdio else devnull, ends["err"][1]
        )
        report = ends["report"][1]
        os.closerange(3, report)
        os.closerange(report + 1, 1 << 16)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives until exit
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        code = 0
        if stdio:
            code = _child_stdio(job["path"])
        else:
            _child_asserts(job["entry"], test, report)
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - contextlib would slow the start
                stream.flush()
            except BaseException:
                pass
        os._exit(code)
    os.close(stdin_fd)
    for read_end, write_end in ends.values():
        os.close(write_end)
        os.set_blocking(read_end, False)
    return pid, {name: pair[0] for name, pair in ends.items()}


def _collect(
    pid: int, fds: dict[str, int], timeout: float, cap: int
) -> tuple[dict[str, bytes], int | None]:
    """Read the child's pipes until it exits or times out; return data and its wait status."""
    data = {name: b"" for name in fds}
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + timeout
    status: int | None = None
    try:
        while status is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([pidfd, *fds.values()], [], [], remaining)
            for name, fd in fds.items():
                if fd in ready:
                    _drain(fd, name, data, cap)
            if len(data["out"]) > cap:
                break
            if pidfd in ready:
                status = os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)
        try:  # noqa: SIM105 - contextlib would slow the start
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if status is None:
            os.waitpid(pid, 0)
    for name, fd in fds.items():
        _drain(fd, name, data, cap)
        os.close(fd)
    return data, status


def _drain(fd: int, name: str, data: dict[str, bytes], cap: int) -> None:
    """Read what `fd` has now: keep the tail of stderr, the head (cap + 1 bytes) of the rest."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            return
        if not chunk:
            return
        if name == "err":
            data[name] = (data[name] + chunk)[-_STDERR_TAIL * 4 :]
        else:
            limit = _MAX_VALUE_BYTES if name == "report" else cap
            data[name] = (data[name] + chunk)[: limit + 1]


def run_test(job: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    """Run one test in a fresh child and describe what happened (plain data)."""
    pid, fds = _start_child(job, test)
    data, status = _collect(pid, fds, float(job["timeout_s"]), int(job["output_bytes"]))
    stderr = data["err"].decode("utf-8", "replace")[-_STDERR_TAIL:]
    record: dict[str, Any] = {"stderr": stderr}
    if len(data["out"]) > int(job["output_bytes"]):
        return {**record, "status": "output_limit"}
    if status is None:
        return {**record, "status": "timeout"}
    code = os.waitstatus_to_exitcode(status)
    if code == -signal.SIGXCPU:
        return {**record, "status": "timeout", "error": "CPU-time limit"}
    if job["kind"] == "stdio":
        out = data["out"].decode("utf-8", "replace")
        return {**record, "status": "ok", "exit": code, "stdout": out}
    if not data["report"]:
        return {**record, "status": "exit", "exit": code}
    return {**record, "status": "reported", "report": data["report"].decode("ascii", "replace")}


def main() -> None:
    """Run every test sent on stdin and print the authenticated results."""
    _nondumpable()
    job = _receive()
    results = [run_test(job, _receive()) for _ in range(int(job["count"]))]
    nonce = _read_exact(64)
    payload = ascii(results)
    sys.stdout.write(f"\n{hmac_sha256(nonce, payload.encode())} {payload}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
