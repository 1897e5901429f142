"""`verifier_options`: the rows' own verifiers built with options (all-or-nothing code rewards)."""

from __future__ import annotations

import pytest

from rlvr.config.sections import RewardConfig
from rlvr.data.types import Sample
from rlvr.distributed import open_runtime
from rlvr.rewards import RewardRuntime
from tests.rlvr.rewards._toy_verifiers import PREFIX

EXACT = PREFIX + "Exact"
SQUARE = {
    "kind": "asserts",
    "tests": "assert square(2) == 4\nassert square(-3) == 9\nassert square(0) == 0\n",
    "entry_point": "square",
}


def test_rows_use_the_options_named_for_their_verifier() -> None:
    rows = [Sample("q", "abc", EXACT), Sample("q", "abc", EXACT)]
    with RewardRuntime(workers=0) as plain:
        assert plain.score_batch(["ABC", "abc"], rows).rewards == [0.0, 1.0]
    options = {EXACT: {"ignore_case": True}, "other": {"anything": 1}}
    with RewardRuntime(workers=0, verifier_options=options) as runtime:
        assert runtime.score_batch(["ABC", "abc"], rows).rewards == [1.0, 1.0]


def test_all_or_nothing_code_rewards_from_the_reward_section() -> None:
    completion = "```python\ndef square(x):\n    return x + x\n```"  # passes 2 of 3
    rows = [Sample("q", SQUARE, "code")]
    cfg = RewardConfig(workers=1)
    with open_runtime(cfg) as runtime:
        assert runtime.score_batch([completion], rows).rewards == [pytest.approx(2 / 3)]
    strict = RewardConfig(workers=1, verifier_options={"code": {"partial_credit": False}})
    with open_runtime(strict) as runtime:
        result = runtime.score_batch([completion], rows)
    assert result.rewards == [0.0] and result.counts == {"code": {"tests_failed": 1}}


@pytest.mark.parametrize("options", [{3: {}}, {"code": ["partial_credit"]}])
def test_malformed_options_are_refused(options: object) -> None:
    with pytest.raises(TypeError, match="verifier_options"):
        RewardRuntime(workers=0, verifier_options=options)  # type: ignore[arg-type]
