"""The reward runtime: routing, composite weights, timeouts, crashes, memory caps, cleanup."""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import sandboxes
from rlvr.config.sections import RewardConfig
from rlvr.data.types import Sample
from rlvr.rewards import RewardRuntime, RewardSpec, VerifierCall, is_infra_failure
from rlvr.runs import RunError, create_run
from sandboxes import runner as sandbox_runner
from tests.rlvr.rewards._toy_verifiers import PREFIX
from verifiers import RegistryError

EXACT = PREFIX + "Exact"
ROOT = Path(__file__).resolve().parents[3]


def _sample(reference: str, verifier: str = EXACT) -> Sample:
    return Sample(prompt="q", reference=reference, verifier=verifier)


def _gone(pid: int | None) -> bool:
    """True when the process no longer runs (absent, or a zombie nobody reaped)."""
    assert pid is not None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _wait_gone(pids: list[int | None], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return all(_gone(pid) for pid in pids)


@pytest.fixture(scope="module")
def runtime() -> Iterator[RewardRuntime]:
    with RewardRuntime(workers=2, timeout_s=0.5, memory_mb=512) as rt:
        yield rt


def test_scores_follow_each_row_and_keep_input_order(runtime: RewardRuntime) -> None:
    completions = [str(i) if i % 3 else "wrong" for i in range(30)]
    samples = [_sample(str(i)) for i in range(30)]
    result = runtime.score_batch(completions, samples)
    assert result.rewards == [0.0 if i % 3 == 0 else 1.0 for i in range(30)]
    assert result.mask == [True] * 30
    assert result.counts == {EXACT: {"correct": 20, "wrong_answer": 10}}
    assert [v.extracted for v in result.verdicts_for_rows()] == completions
    assert result.n_timeouts == result.n_infra_failures == 0


def test_rows_route_to_their_own_verifiers(runtime: RewardRuntime) -> None:
    sleeper = PREFIX + "Sleeps"
    samples = [_sample("a"), _sample("x", sleeper), _sample("b")]
    result = runtime.score_batch(["a", "ignored", "c"], samples)
    assert result.rewards == [1.0, 1.0, 0.0]
    assert result.verdicts[sleeper][0] is None and result.verdicts[EXACT][1] is None
    assert result.counts == {EXACT: {"correct": 1, "wrong_answer": 1}, sleeper: {"correct": 1}}


def test_extra_terms_are_weighted_and_weight_zero_only_logs(runtime: RewardRuntime) -> None:
    extra = [RewardSpec(PREFIX + "BuildCount", 0.25), RewardSpec(PREFIX + "Raises", 0.0)]
    result = runtime.score_batch(["1", "2"], [_sample("1"), _sample("1")], extra=extra)
    assert result.rewards == [1.25, 0.25]
    assert result.mask == [True, True]
    assert result.counts[PREFIX + "Raises"] == {"verifier_error": 2}
    assert result.n_infra_failures == 2
    assert result.metrics()[f"reward/{PREFIX}Raises/verifier_error"] == 2.0


def test_infra_failure_in_a_weighted_term_masks_the_row(runtime: RewardRuntime) -> None:
    result = runtime.score_batch(["1"], [_sample("1")], extra=[RewardSpec(PREFIX + "Raises", 0.1)])
    assert result.mask == [False]
    assert result.rewards == [0.0]
    assert result.metrics()["reward/kept_fraction"] == 0.0


@pytest.mark.parametrize("name", ["SleepsForever", "BusyRegex"])
def test_hung_verifier_times_out_within_bound_and_runtime_goes_on(
    runtime: RewardRuntime, name: str
) -> None:
    runtime.verify([VerifierCall("warm", PREFIX + name, "x")])  # the first call builds
    start = time.monotonic()
    (hung,) = runtime.verify([VerifierCall("c", PREFIX + name, "x")])
    took = time.monotonic() - start
    assert hung.verdict.reason == "timeout" and hung.verdict.score == 0.0
    assert 0.5 <= took < 1.5
    result = runtime.score_batch(["4"], [_sample("4")])
    assert result.rewards == [1.0] and result.mask == [True]


def test_calls_queued_behind_a_hung_or_dying_call_are_rescored() -> None:
    # One worker gets the whole batch as a chunk; the calls after the hung one and after the
    # one that kills its worker go back to the queue and are answered by the replacements.
    calls = [VerifierCall(str(i), EXACT, str(i)) for i in range(12)]
    calls[3] = VerifierCall("x", PREFIX + "SleepsForever", "x")
    calls[7] = VerifierCall("exit", PREFIX + "ExitsHard", "x")
    with RewardRuntime(workers=1, timeout_s=0.5) as rt:
        rt.verify([VerifierCall("w", PREFIX + "SleepsForever", "x")])  # build it once
        start = time.monotonic()
        out = rt.verify(calls)
        took = time.monotonic() - start
    reasons = [r.verdict.reason for r in out]
    assert reasons[3] == "timeout" and out[3].killed
    assert reasons[7] == "worker_died"
    assert [r.verdict.score for i, r in enumerate(out) if i not in (3, 7)] == [1.0] * 10
    assert took < 0.5 + 3.0  # one timeout, plus starting two replacement workers


def test_timeout_scores_zero_and_stays_in_the_loss(runtime: RewardRuntime) -> None:
    samples = [_sample("x", PREFIX + "SleepsForever"), _sample("1")]
    result = runtime.score_batch(["a", "1"], samples)
    assert result.rewards == [0.0, 1.0]
    assert result.mask == [True, True]
    assert result.n_timeouts == 1


def test_raising_verifier_is_masked_as_verifier_error(runtime: RewardRuntime) -> None:
    result = runtime.score_batch(["a", "1"], [_sample("x", PREFIX + "Raises"), _sample("1")])
    assert result.mask == [False, True]
    (verdict, _) = result.verdicts_for_rows()
    assert verdict.reason == "verifier_error" and "boom" in verdict.detail
    assert result.n_infra_failures == 1


def test_reference_error_is_masked(runtime: RewardRuntime) -> None:
    samples = [Sample("q", reference=None, verifier=EXACT), _sample("1")]
    result = runtime.score_batch(["1", "1"], samples)
    assert result.mask == [False, True]
    assert result.counts[EXACT] == {"reference_error": 1, "correct": 1}


def test_worker_exit_is_masked_and_the_worker_replaced(runtime: RewardRuntime) -> None:
    runtime.verify([VerifierCall("1", EXACT, "1")])
    before = set(runtime.worker_pids())
    exits = PREFIX + "ExitsHard"
    samples = [_sample("x", exits), _sample("1"), _sample("x", exits), _sample("2")]
    result = runtime.score_batch(["exit", "1", "fine", "2"], samples)
    assert result.mask == [False, True, True, True]
    assert result.rewards == [0.0, 1.0, 1.0, 1.0]
    died = result.verdicts_for_rows()[0]
    assert died.reason == "worker_died" and "exit code 3" in died.detail
    assert len(before - set(runtime.worker_pids())) == 1


def test_memory_cap_is_masked(runtime: RewardRuntime) -> None:
    calls = [VerifierCall("a", PREFIX + "Allocates", "x"), VerifierCall("1", EXACT, "1")]
    hog, ok = runtime.verify(calls)
    assert hog.verdict.reason == "verifier_memory"
    assert ok.verdict.reason == "correct"


def test_calls_queued_behind_a_memory_failure_are_rescored() -> None:
    # The worker answers `verifier_memory` and exits; every call behind it is rescored.
    calls = [VerifierCall(str(i), EXACT, str(i)) for i in range(6)]
    calls[1] = VerifierCall("a", PREFIX + "Allocates", "x")
    with RewardRuntime(workers=1, timeout_s=5.0, memory_mb=512) as rt:
        out = rt.verify(calls)
    assert [r.verdict.reason for r in out] == ["correct", "verifier_memory"] + ["correct"] * 4


def _code_row(program: str) -> tuple[str, Sample]:
    reference = {"kind": "asserts", "tests": "assert f(2) == 4", "entry_point": "f"}
    return f"```python\n{program}\n```", Sample("q", reference=reference, verifier="code")


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("def f(x):\n    return bytearray(8 * 1024 ** 3)", "memory_limit"),
        ("def f(x):\n    while True:\n        pass", "timeout"),
        ("import os\ndef f(x):\n    os.kill(os.getpid(), 9)", "crashed"),
        ("import os\ndef f(x):\n    os._exit(0)", "runtime_error"),
        (
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        0",
            "timeout",
        ),
    ],
    ids=["memory-bomb", "hang", "signal", "exit", "fork-bomb"],
)
def test_what_a_program_does_in_its_sandbox_scores_zero_and_stays_in_the_loss(
    program: str, reason: str
) -> None:
    """Masking these would let a policy escape a negative advantage on purpose."""
    try:
        sandboxes.resolve("auto")
    except sandboxes.SandboxUnavailable as exc:
        pytest.skip(f"the code verifier has no sandbox here: {exc}")
    completion, row = _code_row(program)
    with RewardRuntime(workers=1, timeout_s=20.0) as rt:
        result = rt.score_batch([completion, "1"], [row, _sample("1")])
    verdict = result.verdicts_for_rows()[0]
    assert (verdict.score, verdict.reason) == (0.0, reason), verdict.detail
    assert result.mask == [True, True] and result.rewards == [0.0, 1.0]
    assert result.n_infra_failures == 0


def test_failures_of_the_verifier_or_the_machine_are_masked_and_counted() -> None:
    """A crashed or out-of-memory verifier and a sandbox that cannot start: masked, counted."""
    if sandboxes.probe("docker") is None:
        pytest.skip("a docker engine answers here, so the docker sandbox would start")
    completion, code_row = _code_row("def f(x):\n    return x * x")
    samples = [
        _sample("x", PREFIX + "ExitsHard"),
        _sample("x", PREFIX + "Allocates"),
        _sample("1"),
    ]
    with RewardRuntime(workers=1, timeout_s=5.0, memory_mb=512) as rt:
        result = rt.score_batch(["exit", "a", "1"], samples)
        (docker,) = rt.verify(
            [VerifierCall(completion, "code", code_row.reference, (("backend", "docker"),))]
        )
    assert [v.reason for v in result.verdicts_for_rows()] == [
        "worker_died",
        "verifier_memory",
        "correct",
    ]
    assert result.mask == [False, False, True]
    assert result.n_infra_failures == 2
    assert docker.verdict.reason == "sandbox_error" and is_infra_failure(docker.verdict)


def test_unknown_verifier_or_bad_options_fail_before_scoring(runtime: RewardRuntime) -> None:
    slow = VerifierCall("a", PREFIX + "Sleeps", "x", (("seconds", 5.0),))
    start = time.monotonic()
    with pytest.raises(RegistryError, match=r"call 1: unknown verifier 'no_such_verifier'"):
        runtime.verify([slow, VerifierCall("a", "no_such_verifier", "x")])
    with pytest.raises(RegistryError, match="bad options"):
        runtime.verify([VerifierCall("a", EXACT, "x", (("colour", "red"),))])
    assert time.monotonic() - start < 1.0
    with pytest.raises(TypeError, match="call 0: completion must be a str"):
        runtime.verify([VerifierCall(b"bytes", EXACT, "x")])  # type: ignore[arg-type]


def test_verifiers_are_built_once_per_worker(runtime: RewardRuntime) -> None:
    results = runtime.verify([VerifierCall(str(i), PREFIX + "BuildCount", "") for i in range(40)])
    details = {r.verdict.detail for r in results}
    assert all(d.endswith(":1") for d in details)
    assert 1 <= len(details) <= 2


def test_calls_run_on_all_workers_at_once(runtime: RewardRuntime) -> None:
    calls = [VerifierCall("a", PREFIX + "Sleeps", "x", (("seconds", 0.3),)) for _ in range(4)]
    runtime.verify(calls[:2])
    start = time.monotonic()
    results = runtime.verify(calls)
    assert [r.verdict.reason for r in results] == ["correct"] * 4
    assert time.monotonic() - start < 1.1  # 4 x 0.3 s on 2 workers: 0.6 s, serial: 1.2 s


def test_long_completions_are_capped() -> None:
    with RewardRuntime(workers=0, max_completion_chars=3) as rt:
        result = rt.score_batch(["12345", "12"], [_sample("123"), _sample("12")])
    assert result.rewards == [1.0, 1.0]
    assert result.n_capped == 1


def test_in_process_mode_scores_and_reports_errors() -> None:
    with RewardRuntime(workers=0) as rt:
        result = rt.score_batch(["1", "a"], [_sample("1"), _sample("x", PREFIX + "Raises")])
        assert rt.worker_pids() == []
    assert result.rewards == [1.0, 0.0]
    assert result.mask == [True, False]


def test_batch_shape_and_name_clashes_are_rejected(runtime: RewardRuntime) -> None:
    with pytest.raises(ValueError, match="2 completions for 1 samples"):
        runtime.score_batch(["a", "b"], [_sample("a")])
    with pytest.raises(ValueError, match="must be unique"):
        runtime.score_batch(["a"], [_sample("a")], extra=[RewardSpec(EXACT)])


def test_reward_spec_validation_config_form_and_pickling() -> None:
    spec = RewardSpec.from_dict({"verifier": "format", "weight": 0, "options": {"strict": True}})
    assert spec == RewardSpec("format", 0, (("strict", True),))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.option_dict() == {"strict": True}
    with pytest.raises(ValueError, match=r"unknown keys \['name'\]"):
        RewardSpec.from_dict({"verifier": "format", "name": "x"})
    with pytest.raises(ValueError, match="weight must be finite"):
        RewardSpec("format", math.nan)
    with pytest.raises(TypeError, match="options must be"):
        RewardSpec("format", 1.0, {"strict": True})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"workers": -1}, "workers"), ({"timeout_s": 0}, "timeout_s"), ({"memory_mb": 0}, "memory")],
)
def test_bad_runtime_settings_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RewardRuntime(**kwargs)  # type: ignore[arg-type]


def test_close_and_garbage_collection_leave_no_workers() -> None:
    rt = RewardRuntime(workers=2, timeout_s=1.0)
    rt.verify([VerifierCall("1", EXACT, "1")])
    pids = rt.worker_pids()
    rt.close()
    rt.close()
    assert _wait_gone(pids, 2.0)
    with pytest.raises(RuntimeError, match="closed"):
        rt.verify([VerifierCall("1", EXACT, "1")])
    rt = RewardRuntime(workers=2, timeout_s=1.0)
    rt.verify([VerifierCall("1", EXACT, "1")])
    pids = rt.worker_pids()
    del rt
    gc.collect()
    assert _wait_gone(pids, 2.0)
    assert not [p for p in multiprocessing.active_children() if p.pid in pids]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_their_parent_even_when_stuck_in_c_code() -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, threading, time
        from rlvr.rewards import RewardRuntime, VerifierCall
        if __name__ == "__main__":
            rt = RewardRuntime(workers=2, timeout_s=60)
            calls = [VerifierCall("a", "{PREFIX}SleepsForever", "x"),
                     VerifierCall("a", "{PREFIX}BusyRegex", "x")]
            threading.Thread(target=rt.verify, args=(calls,), daemon=True).start()
            time.sleep(1.0)
            print(*rt.worker_pids(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    pids: list[int | None] = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2, done.stderr
    assert _wait_gone(pids, 5.0)


_UNGUARDED_SCRIPT = """
import json, sys
from pathlib import Path
from rlvr.rewards import RewardRuntime, VerifierCall
from tests.rlvr.rewards._toy_verifiers import Exact
from verifiers import RegistryError

marker = Path(sys.argv[1])
with marker.open("a") as out:  # O_APPEND: processes writing at once lose no line
    out.write("ran\\n")

class InMain(Exact):
    pass

result = {}
with RewardRuntime(workers=2, timeout_s=5.0, import_main=sys.argv[2] == "1") as rt:
    exact = "tests.rlvr.rewards._toy_verifiers:Exact"
    calls = [VerifierCall(str(i), exact, str(i)) for i in range(4)]
    result["scores"] = [r.verdict.score for r in rt.verify(calls)]
    try:
        result["main"] = rt.verify([VerifierCall("x", "__main__:InMain", "x")])[0].verdict.score
    except RegistryError as exc:
        result["main"] = str(exc)
print(json.dumps(result))
"""


@pytest.mark.parametrize("import_main", [False, True])
def test_workers_do_not_rerun_the_launching_script(tmp_path: Path, import_main: bool) -> None:
    # No `if __name__ == "__main__":` guard: with import_main the workers would re-run the
    # script (multiprocessing's default), here refused by multiprocessing's own bootstrap check.
    script, marker = tmp_path / "train.py", tmp_path / "marker.txt"
    script.write_text(_UNGUARDED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(marker), "1" if import_main else "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    if import_main:
        assert done.returncode != 0 or marker.read_text().count("ran") > 1
        return
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["scores"] == [1.0, 1.0, 1.0, 1.0]
    assert "defined in the running script" in result["main"]
    assert "import_main" in result["main"]
    assert marker.read_text() == "ran\n"


def test_import_main_lets_workers_use_a_verifier_defined_in_the_script(tmp_path: Path) -> None:
    script = tmp_path / "guarded.py"
    head, tail = _UNGUARDED_SCRIPT.split("result = {}")
    script.write_text(
        head + "if __name__ == '__main__':\n" + textwrap.indent("result = {}" + tail, "    ")
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "m.txt"), "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["main"] == 1.0


@dataclass(frozen=True)
class _StageConfig:
    reward: RewardConfig = field(default_factory=RewardConfig)


def test_a_code_run_refuses_to_start_without_bwrap_unless_the_weaker_sandbox_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "bwrap: Can't make symlink at /tmp: destination exists and is not a symlink"
    real_probe = sandbox_runner.probe
    monkeypatch.setattr(
        sandbox_runner, "probe", lambda n: reason if n == "bwrap" else real_probe(n)
    )
    monkeypatch.delenv(sandboxes.ALLOW_PROCESS_ENV, raising=False)
    args = {"stage": "eval", "seed": 0, "verifier_names": ["code"]}
    with pytest.raises(RunError, match=r"Can't make symlink at /tmp.*RLVR_SANDBOX_ALLOW_PROCESS"):
        create_run(tmp_path, "refused", _StageConfig(), **args)  # type: ignore[arg-type]
    assert not (tmp_path / "refused").exists()
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    allowed = _StageConfig(RewardConfig(sandbox_allow_process=True))
    run = create_run(tmp_path, "allowed", allowed, **args)  # type: ignore[arg-type]
    manifest = json.loads((run.dir / "manifest.json").read_text())
    assert (
        manifest["sandbox"].startswith("process: ") and "bwrap cannot start" in manifest["sandbox"]
    )
    assert os.environ[sandboxes.ALLOW_PROCESS_ENV] == "1"  # reward workers started now inherit it
