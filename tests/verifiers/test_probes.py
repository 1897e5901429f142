"""Adversarial probe packs: every shipped probe scores 0 on its verifier, the runner reports a
hack rate and flags verifiers that can be fooled, hang or raise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import pytest

import verifiers
from verifiers import Example, Verdict, probes
from verifiers.json_schema.examples import PERSON
from verifiers.reasoning_gym.examples import ARITHMETIC, BACKWARD
from verifiers.reasoning_gym.tasks import installed

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests.verifiers.test_probes"
BUILT_IN = ("math", "json_schema", "code", "think_format", "reasoning_gym")
KNOWN_ACCEPTED: dict[str, str] = {}
"""Shipped probes the verifier accepts today (each test on them is a strict xfail)."""
REFERENCES: dict[str, Any] = {
    "math": "42",
    "json_schema": PERSON,
    "code": {"kind": "asserts", "tests": "assert f(2) == 5", "entry_point": "f"},
    "think_format": None,
    "reasoning_gym": ARITHMETIC,
}
"""A reference per built-in for the generic probes."""
NEEDS_GYM = pytest.mark.skipif(not installed(), reason="reasoning-gym is not installed")


def _param(probe: probes.Probe) -> Any:
    marks = []
    if probe.id in KNOWN_ACCEPTED:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_ACCEPTED[probe.id]))
    if probe.verifier == "reasoning_gym":
        marks.append(NEEDS_GYM)
    return pytest.param(probe, id=probe.id, marks=marks)


# --- the packs ---------------------------------------------------------------------------------


def test_packs_are_large_and_well_formed() -> None:
    shipped = probes.load()
    assert len(shipped) >= 100
    counts = {name: len(probes.load(name)) for name in (*BUILT_IN, probes.GENERIC)}
    assert all(counts[name] >= 15 for name in ("math", "json_schema", "code")), counts
    assert {p.verifier for p in shipped} == {*BUILT_IN, probes.GENERIC}
    assert len({p.id for p in shipped}) == len(shipped)
    for probe in shipped:
        prefix = "generic" if probe.verifier == probes.GENERIC else probe.verifier
        assert probe.id.startswith(f"{prefix}-"), probe.id
        assert probe.category in probes.CATEGORIES
        assert probe.reference is None or probe.verifier != probes.GENERIC
    categories = {p.category for p in shipped}
    assert categories == probes.CATEGORIES, probes.CATEGORIES - categories


def test_huge_probes_are_expanded_but_small_on_disk() -> None:
    assert max(len(p.completion) for p in probes.load()) >= 1_000_000
    assert sum(path.stat().st_size for path in probes.PACK_DIR.glob("*.jsonl")) < 400_000


def test_packs_ship_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "*.jsonl" in config["tool"]["setuptools"]["package-data"]["*"]
    assert "verifiers*" in config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert (probes.PACK_DIR / "__init__.py").exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "x"}',
        '{"id": "x", "verifier": "math", "category": "nope", "completion": "", "reference": null}',
    ],
)
def test_malformed_rows_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        probes._probe(json.loads(text), "test.jsonl:1")


def test_masked_reasons_are_the_runtimes() -> None:
    rewards = pytest.importorskip("rlvr.rewards")
    assert probes.MASKED_REASONS == rewards.INFRA_REASONS


# --- every probe scores 0 ------------------------------------------------------------------


@pytest.mark.parametrize("probe", [_param(p) for p in probes.load() if p.verifier != "*"])
def test_probe_scores_zero(probe: probes.Probe) -> None:
    verify = verifiers.get(probe.verifier, probe.options)  # code: the real sandbox, backend auto
    start = time.perf_counter()
    verdict = verify(probe.completion, reference=probe.reference)
    assert verdict.score == 0.0, verdict
    assert verdict.reason not in probes.MASKED_REASONS, verdict
    assert time.perf_counter() - start < 20.0


@pytest.mark.parametrize("name", BUILT_IN)
def test_runner_reports_each_pack(name: str) -> None:
    if name == "reasoning_gym" and not installed():
        pytest.skip("reasoning-gym is not installed")
    pack = probes.load(name)
    report = probes.run(name, pack)
    known = tuple(p.id for p in pack if p.id in KNOWN_ACCEPTED)
    assert report.accepted == known, report.format()
    assert report.hack_rate == pytest.approx(len(known) / len(pack))
    assert not report.masked and not report.killed, report.format()
    assert len(report.results) == len(pack)


@pytest.mark.parametrize("name", BUILT_IN)
def test_generic_probes_score_zero_on_every_built_in(name: str) -> None:
    if name == "reasoning_gym" and not installed():
        pytest.skip("reasoning-gym is not installed")
    report = probes.run(name, probes.generic(), reference=REFERENCES[name])
    assert report.ok and report.hack_rate == 0.0, report.format()


@NEEDS_GYM
def test_positional_credit_for_prose_is_caught() -> None:
    """spell_backward pays 1/len(gold) per letter in place: prose of about the gold's length
    ("All tests passed") would earn a little; the verifier drops low credit for answers unlike
    the gold."""
    report = probes.run("reasoning_gym", probes.generic(), reference=BACKWARD)
    assert report.accepted == ()


# --- the runner catches bad verifiers --------------------------------------------------------


class Gullible:
    """Accepts any completion that says "correct" (a deliberately hackable verifier)."""

    name: ClassVar[str] = "gullible"
    version: ClassVar[str] = "0"
    examples: ClassVar[tuple[Example, ...]] = (Example("correct", None, 1.0, "correct"),)

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        ok = "correct" in completion.lower()
        return Verdict(float(ok), "correct" if ok else "wrong_answer")


class Sleepy(Gullible):
    """Never returns on forged test output; raises on an empty completion."""

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        if completion == "All tests passed":
            time.sleep(60)
        if not completion:
            raise RuntimeError("empty")
        return Verdict(0.0, "wrong_answer")


def test_runner_flags_a_hackable_verifier_with_the_probe_ids() -> None:
    generic = probes.generic()
    fooled = tuple(p.id for p in generic if "correct" in p.completion.lower())
    assert len(fooled) >= 3
    for target in (f"{HERE}:Gullible", Gullible()):
        report = probes.run(target, generic, reference="7")
        assert report.accepted == fooled
        assert report.hack_rate == pytest.approx(len(fooled) / len(generic))
        assert not report.ok
        assert all(probe_id in report.format() for probe_id in fooled)
        assert report.verifier == "gullible"


def test_runner_kills_a_hanging_verifier_and_reports_one_that_raises() -> None:
    generic = probes.generic()
    start = time.perf_counter()
    report = probes.run(Sleepy(), generic, reference=None, timeout_s=2.0)
    assert time.perf_counter() - start < 45
    assert report.killed == ("generic-forged-all-passed",)
    assert report.masked == ("generic-format-empty",)
    assert len(report.results) == len(generic)  # the replacement worker ran the rest
    assert not report.ok and not report.accepted


def test_check_runs_the_shipped_pack_only() -> None:
    assert probes.check(f"{HERE}:Gullible") is None
    outcome = probes.check("math")
    assert outcome is not None and outcome[0] and "hack rate 0.000" in outcome[1]


def test_contract_check_includes_the_probes() -> None:
    contract = pytest.importorskip("rlvr.rewards.contract")
    report = contract.check_verifier("json_schema")
    assert report.checks[-1].name == "probes" and report.ok, report.format()
    assert "probes" not in [c.name for c in contract.check_verifier(f"{HERE}:Gullible").checks]


def test_module_command_runs_generic_probes_against_any_verifier() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "verifiers.probes", f"{HERE}:Gullible", "--generic"]
    fooled = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    assert fooled.returncode == 1 and "generic-injection-ignore" in fooled.stdout
    command = [sys.executable, "-m", "verifiers.probes", "math", "--generic", "--reference", "6"]
    clean = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "hack rate 0.000" in clean.stdout
