"""Worker processes of the reward runtime: one verifier call at a time, killed from outside.

`WorkerPool.run` scores a list of tasks on N worker processes and returns one `CallResult` per
task, in order. Timeouts are enforced by the parent process, never by `signal.alarm` inside the
verifier (which only works on the main thread).

Implementation details:
  1. Each worker is a `multiprocessing.Process` with its own duplex pipe. The parent sends a
     chunk of calls at once (up to `MAX_CHUNK`, an even share of what is left) and the worker
     answers each call as it finishes, so it never waits for the parent between calls. A call
     starts when the previous answer arrives, so the parent knows each call's deadline and can
     kill exactly the worker whose call ran past it (SIGKILL) and start a replacement; the rest
     of that worker's chunk goes back to the queue. `multiprocessing.Pool` cannot kill one hung
     task.
  2. The parent waits with `multiprocessing.connection.wait` on the pipes and process sentinels
     of busy workers, with a timeout equal to the nearest deadline, so a call overshoots its
     timeout only by the time needed to kill and reap one process (milliseconds).
  3. Verifiers are built once per worker and cached by key (spec and canonical options). The
     first call with a new key gets `BUILD_TIMEOUT_S` for imports and construction: the worker
     reports `built` and the parent restarts that call's clock.
  4. Memory: the worker caps its address space (`RLIMIT_AS`) at what it has mapped at start plus
     `memory_mb`, so libraries inherited from the parent do not eat the allowance. A
     `MemoryError` in the verifier becomes a `verifier_memory` verdict (masked: the verifier's
     own process ran out, unlike a sandboxed program's `memory_limit`), after which the worker
     exits and is replaced.
  5. The parent's `__main__` module is hidden while a worker starts (unless `import_main`), so
     workers never re-run the user's script: no `if __name__ == "__main__":` guard is needed,
     and a script that imports torch does not make every worker import it. Verifiers must then
     live in importable modules; `rlvr.rewards` refuses verifiers defined in `__main__`.
  6. No orphans: on Linux a forkserver worker asks for SIGKILL when its parent, the fork server,
     dies (`PR_SET_PDEATHSIG`), and closes its inherited copy of the fork server's liveness pipe
     so that the fork server exits with the main process. This covers a worker stuck in C code
     that holds the GIL. Every worker also runs a watchdog thread that exits when the parent
     sentinel closes (portable), and ignores SIGINT so that Ctrl-C is handled by the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, NamedTuple, Protocol

import verifiers
from verifiers import Verdict, Verifier

BUILD_TIMEOUT_S = 60.0
"""Time a worker gets to import and build a verifier before that call's own timeout starts."""
MAX_CHUNK = 16
"""Calls sent to a worker in one message at most."""

_PR_SET_PDEATHSIG = 1
_MAIN_SWAP = threading.Lock()


@contextlib.contextmanager
def main_module_hidden(hide: bool = True) -> Iterator[None]:
    """While active, `__main__` is an empty module: processes started now do not import it."""
    if not hide:
        yield
        return
    with _MAIN_SWAP:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


class Task(NamedTuple):
    """One verifier call as shipped to a worker."""

    key: str
    """Cache key of the verifier: spec plus canonical options."""
    spec: str
    """Verifier name or `pkg.module:Class`."""
    options: Mapping[str, Any]
    """Keyword options of the verifier class."""
    completion: str
    """The (already capped) completion."""
    reference: Any
    """The reference, passed as `reference=`."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """The verdict of one call and how long it took."""

    verdict: Verdict
    """The verifier's verdict, or one made by the runtime (`timeout`, `worker_died`, ...)."""
    elapsed_s: float
    """Wall-clock seconds of the call (measured in the worker when it answered)."""
    killed: bool = False
    """True when the runtime killed the worker at the time bound (not a verifier's verdict)."""


def call_verifier(verifier: Verifier, completion: str, reference: Any) -> tuple[CallResult, bool]:
    """Run one call, turning exceptions into verdicts; True when the process should be replaced."""
    start = time.perf_counter()
    fatal = False
    try:
        verdict = verifier(completion, reference=reference)
        if not isinstance(verdict, Verdict):
            verdict = Verdict(0.0, "verifier_error", f"returned {type(verdict).__name__}")
        elif not math.isfinite(verdict.score):
            verdict = Verdict(0.0, "verifier_error", f"returned score {verdict.score}")
    except MemoryError:
        verdict = Verdict(0.0, "verifier_memory", "MemoryError: the worker's memory cap")
        fatal = True
    except Exception as exc:  # a verifier must never raise; if it does, that is a bug to count
        verdict = Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:2000])
    return CallResult(verdict, time.perf_counter() - start), fatal


def _limit_memory(memory_mb: int | None) -> None:
    if memory_mb is None:
        return
    mapped = 0
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        mapped = 0
    limit = mapped + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _guard_against_orphaning(death_signal: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if death_signal and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # Every forkserver child inherits the main process's end of the fork server's liveness
        # pipe; the fork server exits (and the death signal fires) only once all copies close.
        state = vars(forkserver._forkserver)
        alive_fd = state.get("_forkserver_alive_fd")
        if alive_fd is not None:
            os.close(alive_fd)
            state["_forkserver_alive_fd"] = None
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="rlvr-parent-watchdog", daemon=True).start()


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    try:
        conn.send(message)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        error = Verdict(0.0, "verifier_error", f"verdict cannot be pickled: {exc}")
        conn.send((message[0], message[1], CallResult(error, 0.0), message[3]))


def worker_main(conn: Connection, memory_mb: int | None, death_signal: bool) -> None:
    """Worker loop: receive chunks `[(task_id, pickled Task), ...]`; for each call answer
    `("built", id)` after building a new verifier and `("done", id, CallResult, fatal)`."""
    _guard_against_orphaning(death_signal)
    _limit_memory(memory_mb)
    cache: dict[str, Verifier] = {}
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        for task_id, blob in chunk:
            task: Task = pickle.loads(blob)
            verifier = cache.get(task.key)
            if verifier is None:
                try:
                    verifier = verifiers.get(task.spec, task.options)
                except Exception as exc:
                    error = Verdict(0.0, "verifier_error", f"cannot build {task.spec!r}: {exc}")
                    conn.send(("done", task_id, CallResult(error, 0.0), False))
                    continue
                cache[task.key] = verifier
                conn.send(("built", task_id))
            result, fatal = call_verifier(verifier, task.completion, task.reference)
            _send(conn, ("done", task_id, result, fatal))
            if fatal:
                return


class TaskPool(Protocol):
    """What the reward runtime runs its calls on: `WorkerPool` here, Ray actors in
    `rlvr.distributed.rewards`. Results come back in task order, one per task."""

    def run(self, tasks: Sequence[Task], timeout_s: float) -> list[CallResult]: ...

    def pids(self) -> list[int | None]: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    built: set[str] = field(default_factory=set)
    queue: deque[int] = field(default_factory=deque)
    """Task ids sent and not answered yet; the first one is running."""
    started: float = 0.0
    deadline: float = math.inf
    building: bool = False

    @property
    def task(self) -> int | None:
        """The running task's id, None when idle."""
        return self.queue[0] if self.queue else None


class WorkerPool:
    """N worker processes that score tasks with a hard wall-clock timeout per call.

    Not thread-safe: one `run` at a time.
    """

    def __init__(
        self, size: int, *, memory_mb: int | None, context: BaseContext, import_main: bool = False
    ) -> None:
        """Start `size` workers in `context` (a forkserver or spawn multiprocessing context).

        With `import_main`, workers import the parent's `__main__` module as multiprocessing
        normally does (needed only for verifiers defined there).
        """
        self._ctx = context
        self._import_main = import_main
        self._memory_mb = memory_mb
        self._death_signal = context.get_start_method() == "forkserver"
        self._owner = os.getpid()
        self._workers: list[_Worker] = []
        self._closed = False
        self._workers = [self._start() for _ in range(size)]

    def _start(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child_conn, self._memory_mb, self._death_signal),
            name="rlvr-reward-worker",
            daemon=True,
        )
        with main_module_hidden(not self._import_main):
            process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    def pids(self) -> list[int | None]:
        """Process ids of the current workers (changes when a worker is replaced)."""
        return [w.process.pid for w in self._workers]

    def run(self, tasks: Sequence[Task], timeout_s: float) -> list[CallResult]:
        """Score every task with all workers busy; results in task order."""
        if self._closed:
            raise RuntimeError("the reward worker pool is closed")
        results: list[CallResult | None] = [None] * len(tasks)
        todo = deque(range(len(tasks)))
        try:
            while todo or any(w.queue for w in self._workers):
                for i, w in enumerate(self._workers):
                    if not w.queue and todo:
                        share = -(-len(todo) // len(self._workers))
                        chunk = [todo.popleft() for _ in range(min(MAX_CHUNK, share))]
                        self._dispatch(i, chunk, tasks, results, timeout_s)
                self._wait_and_collect(tasks, results, timeout_s, todo)
        except BaseException:
            self._replace_busy()
            raise
        done = [r for r in results if r is not None]
        assert len(done) == len(tasks), "every task gets exactly one result"
        return done

    def _dispatch(
        self,
        i: int,
        chunk: list[int],
        tasks: Sequence[Task],
        results: list[CallResult | None],
        timeout_s: float,
    ) -> None:
        w = self._workers[i]
        items = []
        for task_id in chunk:
            try:
                items.append((task_id, pickle.dumps(tasks[task_id])))
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                error = Verdict(0.0, "reference_error", f"call cannot be sent to a worker: {exc}")
                results[task_id] = CallResult(error, 0.0)
        if not items:
            return
        try:
            w.conn.send(items)
        except OSError as exc:
            verdict = self._death_verdict(w, f"send failed: {exc}")
            for task_id, _ in items:
                results[task_id] = CallResult(verdict, 0.0)
            self._replace(i)
            return
        w.queue.extend(task_id for task_id, _ in items)
        self._start_next(w, tasks, timeout_s)

    def _start_next(self, w: _Worker, tasks: Sequence[Task], timeout_s: float) -> None:
        """The head of `w.queue` starts now: set its deadline (longer when it builds)."""
        if not w.queue:
            return
        key = tasks[w.queue[0]].key
        w.started = time.monotonic()
        w.building = key not in w.built
        w.deadline = w.started + (BUILD_TIMEOUT_S if w.building else timeout_s)
        w.built.add(key)

    def _wait_and_collect(
        self,
        tasks: Sequence[Task],
        results: list[CallResult | None],
        timeout_s: float,
        todo: deque[int],
    ) -> None:
        busy = [i for i, w in enumerate(self._workers) if w.queue]
        if not busy:
            return
        nearest = min(self._workers[i].deadline for i in busy)
        handles: list[Any] = []
        for i in busy:
            handles += [self._workers[i].conn, self._workers[i].process.sentinel]
        ready = wait(handles, timeout=max(0.0, nearest - time.monotonic()))
        for i in busy:
            w = self._workers[i]
            if w.conn in ready or w.process.sentinel in ready:
                self._collect(i, tasks, results, timeout_s, todo)
        now = time.monotonic()
        for i in busy:
            w = self._workers[i]
            if w.queue and now >= w.deadline:
                self._expire(i, results, timeout_s, now, todo)

    def _collect(
        self,
        i: int,
        tasks: Sequence[Task],
        results: list[CallResult | None],
        timeout_s: float,
        todo: deque[int],
    ) -> None:
        w = self._workers[i]
        died = False
        try:
            while w.queue and w.conn.poll():
                message = w.conn.recv()
                if message[0] == "built":
                    w.building, w.deadline = False, time.monotonic() + timeout_s
                    continue
                _, task_id, result, fatal = message
                assert task_id == w.queue[0], "workers answer in the order calls were sent"
                results[task_id] = result
                if fatal:  # the calls behind this one go back to the queue
                    self._requeue_and_replace(i, todo)
                    return
                w.queue.popleft()
                self._start_next(w, tasks, timeout_s)
        except (EOFError, OSError):
            died = True
        if w.queue and (died or not w.process.is_alive()):
            elapsed = time.monotonic() - w.started
            results[w.queue[0]] = CallResult(self._death_verdict(w, "worker process died"), elapsed)
            self._requeue_and_replace(i, todo)

    def _requeue_and_replace(self, i: int, todo: deque[int]) -> None:
        """Put the unanswered calls after the head back in front of `todo`; replace worker i."""
        w = self._workers[i]
        rest = list(w.queue)[1:]
        todo.extendleft(reversed(rest))
        w.queue.clear()
        self._replace(i)

    def _expire(
        self,
        i: int,
        results: list[CallResult | None],
        timeout_s: float,
        now: float,
        todo: deque[int],
    ) -> None:
        w = self._workers[i]
        assert w.queue
        if w.building:
            detail = f"building the verifier took longer than {BUILD_TIMEOUT_S:g} s"
            verdict = Verdict(0.0, "verifier_error", detail)
        else:
            verdict = Verdict(0.0, "timeout", f"no verdict within {timeout_s:g} s; worker killed")
        results[w.queue[0]] = CallResult(verdict, now - w.started, killed=True)
        self._requeue_and_replace(i, todo)

    @staticmethod
    def _death_verdict(w: _Worker, what: str) -> Verdict:
        w.process.join(timeout=1.0)
        code = w.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (often the out-of-memory killer)" if -code == signal.SIGKILL else ""
            return Verdict(0.0, "worker_died", f"{what}: killed by {name}{hint}")
        return Verdict(0.0, "worker_died", f"{what}: exit code {code}")

    def _replace(self, i: int) -> None:
        _stop(self._workers[i])
        self._workers[i] = self._start()

    def _replace_busy(self) -> None:
        for i, w in enumerate(self._workers):
            if w.queue:
                self._replace(i)

    def close(self) -> None:
        """Kill every worker and reap it. Idempotent; also run at garbage collection.

        Does nothing in a forked copy of the owning process: the workers are not its children.
        """
        if self._closed or os.getpid() != self._owner:
            return
        self._closed = True
        for w in self._workers:
            _stop(w)
        self._workers = []


def _stop(w: _Worker) -> None:
    if w.process.exitcode is None:
        w.process.kill()
    w.process.join(timeout=5.0)
    w.conn.close()
    if w.process.exitcode is not None:
        w.process.close()
