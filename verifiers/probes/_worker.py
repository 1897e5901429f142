"""A worker process that runs one verifier on probe after probe, killed and replaced when a
probe passes the wall-clock bound (so a hanging verifier cannot hang the run)."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import verifiers
from verifiers.verdict import Verdict, Verifier

if TYPE_CHECKING:  # ForkServerContext does not exist on Windows
    from multiprocessing.context import ForkServerContext, SpawnContext

_READY = "ready"
_START_S = 120.0


def build(target: str | Verifier, options: Mapping[str, Any]) -> Verifier:
    """The verifier `target` names (built with `options`), or `target` with `options` applied.

    Raises:
        verifiers.RegistryError: a name that does not resolve, or bad options.
        ValueError: options for a verifier instance that is not a dataclass.
    """
    if isinstance(target, str):
        return verifiers.get(target, options)
    if not options:
        return target
    if not dataclasses.is_dataclass(target):
        raise ValueError(f"probe options {dict(options)} need a dataclass verifier")
    built: Verifier = dataclasses.replace(target, **options)
    return built


def _serve(conn: Connection, target: str | Verifier, options: dict[str, Any]) -> None:
    cache: dict[str, Verifier] = {}
    conn.send(_READY)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        completion, reference, extra = message
        start = time.perf_counter()
        try:
            merged = {**options, **extra}
            key = repr(sorted(merged.items()))
            if key not in cache:
                cache[key] = build(target, merged)
            verifier = cache[key]
            verdict = verifier(completion, reference=reference)
            if not isinstance(verdict, Verdict):
                verdict = Verdict(0.0, "verifier_error", f"returned {type(verdict).__name__}")
        except Exception as exc:  # the verifier broke its contract: report, never crash
            verdict = Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:300])
        conn.send((verdict, time.perf_counter() - start))


class Worker:
    """One worker process; `call` sends a probe and waits at most `timeout_s` for its verdict.

    Workers start with `forkserver` (else `spawn`), as the reward runtime's do, so a script
    that runs probes needs the `if __name__ == "__main__":` guard.

    Raises:
        RuntimeError: a worker process could not start.
    """

    def __init__(self, target: str | Verifier, options: Mapping[str, Any]) -> None:
        self._ctx: ForkServerContext | SpawnContext = (
            multiprocessing.get_context("forkserver")
            if "forkserver" in multiprocessing.get_all_start_methods()
            else multiprocessing.get_context("spawn")
        )
        self._args = (target, dict(options))
        self._start()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(target=_serve, args=(child, *self._args), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        try:
            ready = parent.poll(_START_S) and parent.recv() == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._process.kill()
            self._process.join()
            raise RuntimeError(
                "the probe worker process did not start (a script that runs probes needs "
                "`if __name__ == '__main__':` around them, and the verifier must be picklable)"
            )

    def call(
        self, completion: str, reference: Any, options: Mapping[str, Any], timeout_s: float
    ) -> tuple[Verdict, float, bool]:
        """(verdict, seconds, killed): killed when the worker passed the bound or died."""
        start = time.perf_counter()
        try:
            self._conn.send((completion, reference, dict(options)))
            if self._conn.poll(timeout_s):
                verdict, elapsed = self._conn.recv()
                return verdict, elapsed, False
            verdict = Verdict(0.0, "timeout", f"no verdict within {timeout_s:g} s")
        except (EOFError, OSError) as exc:
            verdict = Verdict(0.0, "worker_died", f"the worker process died: {exc!r}"[:300])
        self._conn.close()
        self._process.kill()
        self._process.join()
        self._start()
        return verdict, time.perf_counter() - start, True

    def close(self) -> None:
        """Stop the worker (killed when it does not stop at once)."""
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        self._conn.close()
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
