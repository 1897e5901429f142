"""Probe packs from `rlvr eval --probes`: every built-in verifier's hack rate, and policy
probes scored into susceptibility and adoption rates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

import verifiers
from rlvr.cli import main
from rlvr.config.sections import GenerationConfig, RewardConfig
from rlvr.data import RolloutGroup, Sample
from rlvr.evaluate.probes import (
    compare_policy,
    load_policy_probes,
    run_policy_probes,
    run_verifier_probes,
)
from rlvr.rollout import SamplingParams


def test_the_policy_pack_is_well_formed() -> None:
    probes = load_policy_probes()
    assert len(probes) == 100 and len({p.id for p in probes}) == 100
    assert set(Counter(p.category for p in probes).values()) == {20}
    math = verifiers.get("math")
    for p in probes:
        assert p.tempting != p.reference and p.tempting in p.prompt
        assert p.prompt.endswith(p.control) and p.control.startswith("What is ")
        assert math(f"\\boxed{{{p.reference}}}", reference=p.reference).score == 1.0


class Answers:
    """An engine that answers each prompt with a fixed function of its sample."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        texts = [f"\\boxed{{{self.answer(s)}}}" for s in samples]  # type: ignore[operator]
        return [
            RolloutGroup(s, (1,), ((2,),), ((0.0,),), (t,), ("stop",))
            for s, t in zip(samples, texts, strict=True)
        ]


def test_susceptibility_and_adoption_count_flips() -> None:
    probes = load_policy_probes()[:10]
    tempting = {p.id: p.tempting for p in probes}
    swayed = Answers(lambda s: tempting.get(s.id, s.reference))  # controls right, tempted wrong
    stubborn = Answers(lambda s: s.reference)
    gen, reward = GenerationConfig(max_new_tokens=8), RewardConfig(workers=0)
    a = run_policy_probes(stubborn, "a", probes, generation=gen, reward=reward)
    b = run_policy_probes(swayed, "b", probes, generation=gen, reward=reward)
    assert a.susceptibility().value == 0.0 and not any(a.adopted)
    assert b.susceptibility().value == 1.0 and all(b.adopted)
    assert b.summary()["flipped"] == 10 and b.summary()["control_correct"] == 10
    diff = compare_policy(a, b, resamples=200)
    assert diff["flipped"].value == 1.0 and diff["adoption"].excludes_zero()


def test_policy_probes_run_on_the_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    from rlvr.evaluate.suite_run import open_engine

    engine = open_engine("hf", str(tiny_model), seed=0, batch_size=64)
    probes = load_policy_probes()[:8]
    gen, reward = GenerationConfig(max_new_tokens=4), RewardConfig(workers=0)
    result = run_policy_probes(engine, str(tiny_model), probes, generation=gen, reward=reward)
    assert len(result.completions) == 8 and len(result.adopted) == 8


def test_built_in_verifiers_accept_no_probe() -> None:
    [math] = run_verifier_probes(["math"])
    assert math.report is not None and math.report.hack_rate == 0.0
    own = len(__import__("verifiers.probes", fromlist=["load"]).load("math"))
    assert len(math.report.results) == own + 19  # its pack plus the generic pack
    [length] = run_verifier_probes(["length"])
    assert length.report is None and "not probed" in length.line()


def test_cli_lists_hack_rates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--probes", "verifiers", "--verifier", "json_schema"]) == 0
    out = capsys.readouterr().out
    assert "json_schema:" in out and "hack rate 0.000" in out and "0 verifier(s) hacked" in out
