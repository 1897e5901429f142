"""The harness for `check` references, run *inside* the sandbox as `main.py`.

A `check` reference (HumanEval's form) is test code that defines `check(candidate)` and asserts
on the values the candidate returns. That code and its expected values must run somewhere; here
they run in a process that never runs candidate code. Standard library only; the shared pieces
come from `rlvr_harness` (`verifiers/code/harness.py`, shipped beside it and imported before any
candidate code runs, so a candidate that rewrites the file changes nothing).

Process roles, per test:
  - The supervisor (this program, non-dumpable as in `harness.py`) forks the candidate process
    first: it drops stdin and stdout, imports `solution` and serves calls of the entry point
    over a pipe, returning each value as plain data (`rlvr_harness.encode`: built-in scalars
    and containers, subclasses converted to their base type).
  - Only then does the supervisor read the test's message (the prompt code and the tests) from
    stdin, so the candidate's memory never holds them; then it forks the tester, which stays
    non-dumpable (no other process of the uid can trace it or read its memory or descriptors),
    drops the work directory from `sys.path` (the candidate can write files there, never
    modules the tests import), runs the prompt code and the tests in a fresh namespace and
    calls `check` with a stand-in whose calls go to the candidate process. Values come back as
    plain data (`ast.literal_eval`, then `decode`), so no candidate object, `__eq__`, patched
    builtin or redefined helper reaches the assertions; exceptions come back by type name.
  - The tester reports `ok`, `wrong` (an assertion failed), or `error` (anything else raised,
    the candidate could not be imported, died, or was never called) over its own pipe; the
    supervisor enforces the test's timeout and kills both process groups afterwards.
After the last test the supervisor prints the results with their HMAC, as `harness.py` does.
"""

import ast
import builtins
import ctypes
import importlib
import marshal
import os
import select
import signal
import sys
import time
from typing import Any

import rlvr_harness as base

_MAX_REPLY = 1 << 20
_CONTAINERS = {"l": list, "t": tuple, "s": set, "fs": frozenset}


class CandidateError(Exception):
    """The candidate process could not answer a call (died, garbled reply, not importable)."""


def decode(data: Any, depth: int = 0) -> Any:
    """The value `base.encode` made, from its plain-data form (as `verifiers.code.wire`)."""
    if depth > 100:
        raise CandidateError("value nested too deeply")
    if data is None or type(data) in (bool, str):
        return data
    if type(data) is not dict or len(data) != 1:
        raise CandidateError("malformed value")
    ((tag, body),) = data.items()
    if tag == "i" and type(body) is str:
        return int(body, 16)
    if tag == "f" and type(body) is str:
        return float.fromhex(body)
    if tag == "c" and type(body) is list and len(body) == 2:
        return complex(float.fromhex(str(body[0])), float.fromhex(str(body[1])))
    if tag == "b" and type(body) is str:
        return bytes.fromhex(body)
    if tag in _CONTAINERS and type(body) is list:
        return _CONTAINERS[tag](decode(v, depth + 1) for v in body)
    if tag == "d" and type(body) is list:
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
    if tag == "o" and type(body) is str:
        raise CandidateError(f"returned a {body[:60]} object, not plain data")
    raise CandidateError(f"malformed value tag {tag!r}")


def _send(fd: int, data: bytes) -> None:
    data = len(data).to_bytes(8, "big") + data
    while data:
        data = data[os.write(fd, data) :]


def _recv(fd: int, cap: int) -> bytes:
    size = int.from_bytes(_read(fd, 8), "big")
    if size > cap:
        raise CandidateError("reply too large")
    return _read(fd, size)


def _read(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            raise CandidateError("the candidate process ended")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _serve(entry: str, requests: int, replies: int) -> None:
    """Candidate process: import the program, then answer calls until the tester hangs up."""
    try:
        function = vars(importlib.import_module("solution"))[entry]
        if not callable(function):
            raise TypeError(f"{entry} is not callable")
        _send(replies, b"{'ok': 1}")
    except BaseException as exc:
        _send(replies, ascii({"e": f"{type(exc).__name__}: {exc}"[:500]}).encode())
        return
    while True:
        try:
            args, kwargs = marshal.loads(_recv(requests, 1 << 26))
        except CandidateError:
            return
        try:
            message: dict[str, Any] = {"v": base.encode(function(*args, **kwargs))}
        except BaseException as exc:
            message = {"e": f"{type(exc).__name__}: {exc}"[:500], "t": type(exc).__name__}
        data = ascii(message).encode()
        if len(data) > _MAX_REPLY:
            data = b"{'e': 'return value too large', 't': 'ValueError'}"
        _send(replies, data)


class Candidate:
    """The tester's stand-in for the entry point: each call runs in the candidate process."""

    def __init__(self, requests: int, replies: int) -> None:
        self._requests, self._replies = requests, replies
        self.calls = 0

    def _reply(self) -> dict[str, Any]:
        message = ast.literal_eval(_recv(self._replies, _MAX_REPLY).decode("ascii"))
        if type(message) is not dict:
            raise CandidateError("malformed reply")
        return message

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        _send(self._requests, marshal.dumps((args, kwargs)))
        message = self._reply()
        if "v" in message:
            return decode(message["v"])
        kind = getattr(builtins, str(message.get("t")), None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = CandidateError
        raise kind(str(message.get("e", "")))


def _test(test: dict[str, Any], entry: str, requests: int, replies: int) -> dict[str, Any]:
    """Tester process: run the prompt code and the tests, call `check` on the stand-in.

    The entry point's name is bound to the stand-in too, as in HumanEval's own harness (where
    the candidate's definition replaces the prompt's): HumanEval/33's tests call it by name."""
    work = os.path.dirname(os.path.abspath(sys.argv[0]))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != work]
    candidate = Candidate(requests, replies)
    try:
        ready = candidate._reply()
        if "e" in ready:
            return {"status": "error", "error": f"cannot import the program: {ready['e']}"}
        namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "rlvr_tests"}
        exec(compile(test["prefix"], "<prompt>", "exec"), namespace)
        namespace[entry] = candidate
        exec(compile(test["tests"], "<tests>", "exec"), namespace)
        namespace["check"](candidate)
    except AssertionError as exc:
        return {"status": "wrong", "error": f"AssertionError: {exc}"[:300]}
    except MemoryError:
        return {"status": "memory", "error": "MemoryError"}
    except BaseException as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    if not candidate.calls:
        return {"status": "error", "error": "the tests never called the candidate"}
    return {"status": "ok"}


def _fork(keep: tuple[int, ...], stderr: int | None) -> int:
    """Fork a child in its own process group with stdin/stdout on /dev/null and only `keep`
    (and `stderr`, as fd 2) open; returns the pid (0 in the child)."""
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_RDWR)
        base._redirect(devnull, devnull, devnull if stderr is None else stderr)
        low = 3
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
    return pid


def run_check(job: dict[str, Any]) -> dict[str, Any]:
    """One test: the candidate process, then the tester; a record like `harness.run_test`'s."""
    (call_r, call_w), (reply_r, reply_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
    serving = _fork((call_r, reply_w), err_w)
    if serving == 0:
        ctypes.CDLL(None).prctl(base.PR_SET_DUMPABLE, 1, 0, 0, 0)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        _serve(str(job["entry"]), call_r, reply_w)
        os._exit(0)
    for fd in (call_r, reply_w, err_w):
        os.close(fd)
    test = base._receive()
    result_r, result_w = os.pipe()
    tester = _fork((call_w, reply_r, result_w), None)
    if tester == 0:
        os.write(result_w, ascii(_test(test, str(job["entry"]), call_w, reply_r)).encode())
        os._exit(0)
    for fd in (call_w, reply_r, result_w):
        os.close(fd)
    return _collect(tester, serving, result_r, err_r, float(job["timeout_s"]))


def _collect(tester: int, serving: int, result: int, err: int, timeout: float) -> dict[str, Any]:
    """Read the tester's report and the candidate's stderr until the tester exits or the
    deadline passes; then kill both process groups."""
    data = {"report": b"", "err": b""}
    fds = {"report": result, "err": err}
    for fd in fds.values():
        os.set_blocking(fd, False)
    pidfd = os.pidfd_open(tester)
    deadline = time.monotonic() + timeout
    ended = False
    try:
        while not ended and (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([pidfd, *fds.values()], [], [], remaining)
            for name, fd in list(fds.items()):
                if fd in ready and _read_some(fd, name, data):
                    del fds[name]  # at its end
            ended = pidfd in ready
    finally:
        os.close(pidfd)
        for pid in (tester, serving):
            try:  # noqa: SIM105 - contextlib would slow the start
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
    for name, fd in (("report", result), ("err", err)):
        _read_some(fd, name, data)
        os.close(fd)
    record: dict[str, Any] = {"stderr": data["err"].decode("utf-8", "replace")[-2000:]}
    if not ended:
        return {**record, "status": "timeout"}
    if not data["report"]:
        return {**record, "status": "exit", "exit": None}
    return {**record, "status": "reported", "report": data["report"].decode("ascii", "replace")}


def _read_some(fd: int, name: str, data: dict[str, bytes]) -> bool:
    """Read what `fd` has now into `data[name]` (the report's head, stderr's tail); True at
    its end."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        keep = data[name] + chunk
        data[name] = keep[-8000:] if name == "err" else keep[: _MAX_REPLY + 1]


def main() -> None:
    """Run every test sent on stdin and print the authenticated results."""
    base._nondumpable()
    job = base._receive()
    results = [run_check(job) for _ in range(int(job["count"]))]
    nonce = base._read_exact(64)
    payload = ascii(results)
    sys.stdout.write(f"\n{base.hmac_sha256(nonce, payload.encode())} {payload}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
