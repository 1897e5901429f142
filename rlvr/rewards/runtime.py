"""The reward runtime: score completions with verifiers in worker processes, safely.

Typical use in a trainer::

    with RewardRuntime(workers=8, timeout_s=5.0) as runtime:
        result = runtime.score_batch(completions, samples, extra=[RewardSpec("format", 0.1)])
    rewards, mask = result.rewards, result.mask  # lists of length B

What a reward is made of:
  * Each row is scored by its own verifier (`Sample.verifier`, per-row routing), weight 1,
    built with the runtime's `verifier_options` for that name (e.g. `{"code":
    {"partial_credit": False}}` for all-or-nothing code rewards), else with its defaults.
  * Extra terms (`RewardSpec`, e.g. a format reward) are scored on every row and added with their
    weight; weight 0 means scored and counted ("log only") but not part of the reward.

Failures, and what they do to the loss, by where they happen:
  * In the completion, or in the program it holds: a wrong answer, and everything a program
    does in its sandbox (`timeout`, `memory_limit`, `output_limit`, `crashed`, `runtime_error`,
    ...). These are the completion's doing: they score 0 and stay in the loss. Masking them
    would let a policy escape a negative advantage by, say, allocating past the memory limit.
  * `timeout` from the runtime: the call ran past `timeout_s` and the parent killed its worker.
    The runtime cannot tell a completion that makes a verifier slow from a slow verifier, and
    masking would make such completions a free escape, so it also scores 0 and stays in the
    loss; `RewardResult.n_timeouts` counts it. (Verifiers bound their own work below the
    timeout; `rlvr verifiers check` flags one that does not.)
  * In the verifier or the machine (`INFRA_REASONS`): the verifier raised (`verifier_error`)
    or ran out of its worker's memory (`verifier_memory`), its worker died (`worker_died`),
    the reference was unusable (`reference_error`), or the sandbox could not start
    (`sandbox_error`). The row is masked out of the loss (`mask=False`, placeholder reward 0.0)
    and counted (`n_infra_failures`), never silently scored 0.
  * A verifier that cannot be built (unknown name, bad options) is a configuration error, raised
    before any call runs.

Implementation details:
  1. Workers are processes started with `forkserver` (safe in a process that already holds torch
     threads; `spawn` where it is unavailable). The fork server preloads `verifiers`, so starting
     a replacement worker costs milliseconds. Workers do not import the parent's `__main__`
     (unless `import_main=True`), so scripts need no `if __name__ == "__main__":` guard and
     their heavy imports stay out of the workers; a verifier defined in `__main__` is then a
     configuration error, raised with a hint.
  2. The parent enforces the per-call wall-clock timeout and kills the worker (see
     `rlvr.rewards.workers`); all calls of a batch, main and extra, go out as one pool run so
     every worker stays busy.
  3. Verifiers are built once in the parent to validate names and options, and once per worker.
  4. Completions longer than `max_completion_chars` are cut to their first characters before
     verification, as if generation had stopped there; `RewardResult.n_capped` counts them.
  5. This module does not import torch; the trainer turns the lists into tensors.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import verifiers
from rlvr.config.sections import RewardConfig
from rlvr.data.types import Sample
from rlvr.rewards.workers import CallResult, Task, TaskPool, WorkerPool, call_verifier
from verifiers import RegistryError, Verdict, Verifier

StartMethod = Literal["forkserver", "spawn"]

INFRA_REASONS = frozenset(
    {"verifier_error", "verifier_memory", "worker_died", "reference_error", "sandbox_error"}
)
"""Failures of the verifier or the machine, not of the completion: masked out of the loss.
A verifier reports what the completion's program did with other reasons (`memory_limit`,
`timeout`, ...), which score 0 and stay in the loss."""

_FORKSERVER_PRELOAD = ["verifiers", "rlvr.rewards.workers"]

__all__ = [
    "INFRA_REASONS",
    "CallResult",
    "RewardResult",
    "RewardRuntime",
    "RewardSpec",
    "VerifierCall",
    "is_infra_failure",
    "reward_specs",
]


def is_infra_failure(verdict: Verdict) -> bool:
    """True when the verdict reports a broken verifier, worker or reference, not the completion."""
    return verdict.reason in INFRA_REASONS


def reward_specs(cfg: RewardConfig) -> list[RewardSpec]:
    """The extra reward terms of a reward section, as runtime specs."""
    return [RewardSpec(s.verifier, s.weight, tuple(s.options.items())) for s in cfg.extra]


def _check_options(where: str, options: Sequence[tuple[str, Any]]) -> None:
    for pair in options:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(f"{where}: options must be (name, value) pairs, got {pair!r}")


@dataclass(frozen=True, slots=True)
class RewardSpec:
    """One extra reward term, the runtime form of a config entry `{verifier, weight, options}`.

    >>> RewardSpec("format", 0.5, (("strict", True),)).option_dict()
    {'strict': True}
    """

    verifier: str
    """Registered verifier name or `"pkg.module:Class"`."""
    weight: float = 1.0
    """Weight of this term in the summed reward; 0 means scored and counted but not rewarded."""
    options: tuple[tuple[str, Any], ...] = ()
    """Keyword options of the verifier class, as (name, value) pairs (immutable)."""

    def __post_init__(self) -> None:
        if not isinstance(self.verifier, str) or not self.verifier:
            raise TypeError(f"RewardSpec.verifier must be a non-empty str, got {self.verifier!r}")
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise TypeError(f"reward {self.verifier!r}: weight must be a number, got {weight!r}")
        if not math.isfinite(weight):
            raise ValueError(f"reward {self.verifier!r}: weight must be finite, got {weight}")
        if not isinstance(self.options, tuple):
            raise TypeError(f"reward {self.verifier!r}: options must be a tuple of pairs")
        _check_options(f"reward {self.verifier!r}", self.options)

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> RewardSpec:
        """Build from the config form `{"verifier": ..., "weight": ..., "options": {...}}`."""
        unknown = sorted(set(entry) - {"verifier", "weight", "options"})
        if unknown:
            raise ValueError(f"reward entry {dict(entry)!r}: unknown keys {unknown}")
        if "verifier" not in entry:
            raise ValueError(f"reward entry {dict(entry)!r}: missing key 'verifier'")
        options = entry.get("options") or {}
        if not isinstance(options, Mapping):
            raise TypeError(f"reward {entry['verifier']!r}: options must be a mapping")
        return cls(entry["verifier"], entry.get("weight", 1.0), tuple(options.items()))

    def option_dict(self) -> dict[str, Any]:
        """The options as keyword arguments."""
        return dict(self.options)


@dataclass(frozen=True, slots=True)
class VerifierCall:
    """One call for `RewardRuntime.verify`: a completion checked by a named verifier."""

    completion: str
    """The model output."""
    verifier: str
    """Registered verifier name or `"pkg.module:Class"`."""
    reference: Any
    """Passed to the verifier as `reference=`."""
    options: tuple[tuple[str, Any], ...] = ()
    """Keyword options of the verifier class, as (name, value) pairs."""


@dataclass(frozen=True, slots=True)
class RewardResult:
    """Rewards of one batch plus what is needed to log and debug them. Lists are `[B]`."""

    rewards: list[float]
    """Row's own verifier score plus weighted extra terms; 0.0 placeholder where masked."""
    mask: list[bool]
    """False where an infrastructure failure hit a weighted term: exclude the row from the loss."""
    verdicts: dict[str, list[Verdict | None]]
    """Verifier -> one entry per row: its verdict, or None where that verifier did not score it."""
    counts: dict[str, dict[str, int]]
    """Verifier -> reason -> number of verdicts, e.g. `{"math": {"correct": 3}}`."""
    row_verifiers: list[str]
    """Each row's own verifier (the key of its main verdict in `verdicts`)."""
    n_timeouts: int
    """Calls that hit the timeout (scored 0, kept in the loss)."""
    n_infra_failures: int
    """Calls with an infrastructure failure (`INFRA_REASONS`), including log-only terms."""
    n_capped: int
    """Completions cut to `max_completion_chars` before verification."""
    elapsed_s: float
    """Wall-clock seconds spent scoring the batch."""

    def verdicts_for_rows(self) -> list[Verdict]:
        """Each row's main verdict, from its own verifier."""
        out: list[Verdict] = []
        for i, name in enumerate(self.row_verifiers):
            verdict = self.verdicts[name][i]
            assert verdict is not None, "every row has a verdict from its own verifier"
            out.append(verdict)
        return out

    def metrics(self, prefix: str = "reward") -> dict[str, float]:
        """Flat scalars for logging: mean reward, kept fraction, failures and reason counts."""
        kept = [r for r, m in zip(self.rewards, self.mask, strict=True) if m]
        out = {
            f"{prefix}/mean": sum(kept) / len(kept) if kept else 0.0,
            f"{prefix}/kept_fraction": len(kept) / len(self.mask) if self.mask else 1.0,
            f"{prefix}/n_timeouts": float(self.n_timeouts),
            f"{prefix}/n_infra_failures": float(self.n_infra_failures),
            f"{prefix}/n_capped": float(self.n_capped),
            f"{prefix}/elapsed_s": self.elapsed_s,
        }
        for name, reasons in sorted(self.counts.items()):
            for reason, n in sorted(reasons.items()):
                out[f"{prefix}/{name}/{reason}"] = float(n)
        return out


def _resolve_start_method(
    start_method: StartMethod, import_main: bool
) -> multiprocessing.context.BaseContext:
    if start_method not in ("forkserver", "spawn"):
        raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    if start_method == "forkserver" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        preload = ["__main__", *_FORKSERVER_PRELOAD] if import_main else _FORKSERVER_PRELOAD
        context.set_forkserver_preload(preload)
        return context
    return multiprocessing.get_context("spawn")


def _row_options(
    by_name: Mapping[str, Mapping[str, Any]],
) -> dict[str, tuple[tuple[str, Any], ...]]:
    """`verifier_options` as (name, value) pairs per verifier name.

    Raises:
        TypeError: a name is not a string or its options are not a mapping.
    """
    out = {}
    for name, options in by_name.items():
        if not isinstance(name, str) or not isinstance(options, Mapping):
            raise TypeError(f"verifier_options[{name!r}] must map option names to values")
        out[name] = tuple(options.items())
        _check_options(f"verifier_options[{name!r}]", out[name])
    return out


def _cache_key(spec: str, options: Sequence[tuple[str, Any]]) -> str:
    return spec + "\0" + json.dumps(sorted(options, key=lambda kv: kv[0]), default=repr)


class RewardRuntime:
    """Scores completions in worker processes with a hard timeout and memory cap per call.

    Use as a context manager, or call `close()`; workers are also killed at garbage collection
    and when this process dies. Not thread-safe: one scoring call at a time.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout_s: float = 5.0,
        memory_mb: int | None = 2048,
        max_completion_chars: int | None = 200_000,
        start_method: StartMethod = "forkserver",
        import_main: bool = False,
        verifier_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Configure the runtime; worker processes start on the first scoring call.

        Args:
            workers: Worker processes; None means `os.cpu_count()`. 0 scores in this process,
                for debugging: no timeout, no memory cap, a crash takes this process down.
            timeout_s: Wall-clock seconds per verifier call before its worker is killed.
            memory_mb: Address space (MiB) a worker may map beyond what it holds at start
                (`RLIMIT_AS`); None for no cap.
            max_completion_chars: Completions are cut to this many leading characters before
                verification (guards verifiers against pathological lengths); None keeps all.
            start_method: `forkserver` (default; falls back to `spawn` where unavailable) or
                `spawn`.
            import_main: Workers import this process's `__main__` module, as multiprocessing
                does by default; needed only for verifiers defined in the running script.
            verifier_options: Options of the rows' own verifiers, by verifier name (rows whose
                verifier is not named use its defaults). Checked on first use.
        """
        n = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"workers must be a non-negative int or None, got {workers!r}")
        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        if memory_mb is not None and memory_mb <= 0:
            raise ValueError(f"memory_mb must be positive or None, got {memory_mb!r}")
        if max_completion_chars is not None and max_completion_chars <= 0:
            raise ValueError(
                f"max_completion_chars must be positive or None, got {max_completion_chars!r}"
            )
        self.workers = n
        self.timeout_s = float(timeout_s)
        self.memory_mb = memory_mb
        self.max_completion_chars = max_completion_chars
        self.import_main = import_main
        self.verifier_options = _row_options(verifier_options or {})
        self._context = _resolve_start_method(start_method, import_main) if n > 0 else None
        self._built: dict[str, Verifier] = {}
        self._pool: TaskPool | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False

    def __enter__(self) -> RewardRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill and reap all workers. Idempotent; the runtime cannot score afterwards."""
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()

    def worker_pids(self) -> list[int | None]:
        """Process ids of the live workers (empty before the first call and after `close`)."""
        return self._pool.pids() if self._pool is not None and not self._closed else []

    def verify(self, calls: Sequence[VerifierCall]) -> list[CallResult]:
        """Run each call with its own verifier; one `CallResult` per call, in order.

        Raises:
            RegistryError: a verifier name or its options cannot be built (before any call runs).
            TypeError: a completion is not a str.
        """
        if self._closed:
            raise RuntimeError("RewardRuntime is closed")
        tasks = [self._task(i, call) for i, call in enumerate(calls)]
        if not tasks:
            return []
        if self.workers == 0:
            return [call_verifier(self._built[t.key], t.completion, t.reference)[0] for t in tasks]
        return self._ensure_pool().run(tasks, self.timeout_s)

    def score_batch(
        self,
        completions: Sequence[str],
        samples: Sequence[Sample],
        extra: Sequence[RewardSpec] = (),
    ) -> RewardResult:
        """Score each completion with its sample's verifier, plus the `extra` terms.

        Extra verifiers receive the row's reference too. Verifier names must be distinct across
        `extra` and from the rows' own verifiers, since results are keyed by name.

        Raises:
            ValueError: lengths differ, or a name is used twice.
            RegistryError: a verifier cannot be built (before any call runs).
        """
        start = time.perf_counter()
        if len(completions) != len(samples):
            raise ValueError(f"{len(completions)} completions for {len(samples)} samples")
        row_verifiers = [s.verifier for s in samples]
        names = [spec.verifier for spec in extra]
        clash = sorted({n for n in names if names.count(n) > 1 or n in row_verifiers})
        if clash:
            raise ValueError(
                f"extra reward verifiers must be unique and not row verifiers: {clash}"
            )
        options = self.verifier_options
        calls = [
            VerifierCall(c, s.verifier, s.reference, options.get(s.verifier, ()))
            for c, s in zip(completions, samples, strict=True)
        ]
        for spec in extra:
            calls += [
                VerifierCall(c, spec.verifier, s.reference, spec.options)
                for c, s in zip(completions, samples, strict=True)
            ]
        results = self.verify(calls)
        return self._assemble(results, row_verifiers, extra, completions, start)

    def _assemble(
        self,
        results: list[CallResult],
        row_verifiers: list[str],
        extra: Sequence[RewardSpec],
        completions: Sequence[str],
        start: float,
    ) -> RewardResult:
        n = len(row_verifiers)
        verdicts: dict[str, list[Verdict | None]] = {name: [None] * n for name in row_verifiers}
        rewards, mask = [0.0] * n, [True] * n
        for i, name in enumerate(row_verifiers):
            verdicts[name][i] = results[i].verdict
        terms = [(name, 1.0, results[i].verdict) for i, name in enumerate(row_verifiers)]
        for k, spec in enumerate(extra):
            column = [r.verdict for r in results[(k + 1) * n : (k + 2) * n]]
            verdicts[spec.verifier] = list(column)
            terms += [(spec.verifier, spec.weight, v) for v in column]
        counts: dict[str, dict[str, int]] = {}
        for j, (name, weight, verdict) in enumerate(terms):
            row = j % n
            reasons = counts.setdefault(name, {})
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
            if is_infra_failure(verdict) and weight != 0:
                mask[row] = False
            rewards[row] += weight * verdict.score
        cap = self.max_completion_chars
        return RewardResult(
            rewards=[r if m else 0.0 for r, m in zip(rewards, mask, strict=True)],
            mask=mask,
            verdicts=verdicts,
            counts=counts,
            row_verifiers=row_verifiers,
            n_timeouts=sum(v.reason == "timeout" for _, _, v in terms),
            n_infra_failures=sum(is_infra_failure(v) for _, _, v in terms),
            n_capped=0 if cap is None else sum(len(c) > cap for c in completions),
            elapsed_s=time.perf_counter() - start,
        )

    def _task(self, i: int, call: VerifierCall) -> Task:
        if not isinstance(call.completion, str):
            raise TypeError(f"call {i}: completion must be a str, got {type(call.completion)}")
        _check_options(f"call {i} ({call.verifier!r})", call.options)
        key = _cache_key(call.verifier, call.options)
        if key not in self._built:
            try:
                self._built[key] = verifiers.get(call.verifier, dict(call.options))
            except RegistryError as exc:
                raise RegistryError(f"call {i}: {exc}") from exc
            defined_in = type(self._built[key]).__module__
            if defined_in == "__main__" and self.workers > 0 and not self.import_main:
                del self._built[key]
                raise RegistryError(
                    f"call {i}: verifier {call.verifier!r} is defined in the running script "
                    "(__main__), which reward workers do not import; move it into a module "
                    "(`pkg.module:Class`) or set import_main=True (reward.import_main: true)"
                )
        cap = self.max_completion_chars
        completion = call.completion if cap is None else call.completion[:cap]
        return Task(key, call.verifier, dict(call.options), completion, call.reference)

    def _ensure_pool(self) -> TaskPool:
        if self._pool is None:
            self._pool = self._new_pool()
            self._finalizer = weakref.finalize(self, self._pool.close)
        return self._pool

    def _new_pool(self) -> TaskPool:
        """The pool that runs the calls (`rlvr.distributed.rewards` runs them on Ray actors)."""
        assert self._context is not None
        return WorkerPool(
            self.workers,
            memory_mb=self.memory_mb,
            context=self._context,
            import_main=self.import_main,
        )
