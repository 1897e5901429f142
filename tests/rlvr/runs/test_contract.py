"""The training contract: pinned and printed on a fresh run, checked on resume, refused when
changed unless accepted, and the accepted change recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rlvr.config.sections import RunConfig
from rlvr.runs.checkpoint import open_trainer_run
from rlvr.runs.contract import ContractError, contract_changes, training_contract


@dataclass(frozen=True)
class Cfg:
    """A stand-in stage config."""

    run: RunConfig
    """Run section."""


def contract(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "stage": "grpo",
        "datasets": {"train": "synthetic:arithmetic:n=64:seed=0:"},
        "verifier_names": ["math"],
        "algorithm": {"preset": "dapo", "eps_high": 0.28},
        "kl_budget": 1.0,
        "max_steps": 100,
        "max_seconds": None,
        "backend": {"kind": "torch"},
        "world_size": 1,
    }
    return training_contract(**{**values, **changes})


def open_run(tmp_path: Path, pinned: dict[str, Any], accept: bool = False) -> Any:
    run_cfg = RunConfig(name="r", output_dir=tmp_path, accept_contract_change=accept)
    run, _ = open_trainer_run(run_cfg, Cfg(run_cfg), stage="grpo", datasets={}, contract=pinned)
    run.close()
    (tmp_path / "r" / "checkpoints").mkdir(exist_ok=True)  # later opens resume
    return json.loads((tmp_path / "r" / "manifest.json").read_text())


def test_the_contract_holds_verifier_versions_and_is_json() -> None:
    c = contract()
    assert c["verifiers"] == {"math": pytest.importorskip("verifiers").get("math").version}
    assert c["algorithm"] == {"preset": "dapo", "eps_high": 0.28} and c["world_size"] == 1


def test_contract_changes_are_dotted_leaves() -> None:
    changes = contract_changes(contract(), contract(max_steps=200, backend={"kind": "deepspeed"}))
    assert changes == {"backend.kind": ["torch", "deepspeed"], "max_steps": [100, 200]}


def test_pinned_printed_and_checked_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = open_run(tmp_path, contract())
    assert manifest["contract"] == contract()
    out = capsys.readouterr().out
    assert "training contract" in out and "kl_budget: 1.0" in out
    assert "contract_changes" not in open_run(tmp_path, contract())  # same contract: resumes


def test_a_changed_contract_is_refused_then_accepted_and_recorded(tmp_path: Path) -> None:
    open_run(tmp_path, contract())
    with pytest.raises(ContractError, match=r"contract changed .*kl_budget: 1.0 -> 2.0") as info:
        open_run(tmp_path, contract(kl_budget=2.0))
    assert "--accept-contract-change" in str(info.value) and "\n" not in str(info.value)
    manifest = open_run(tmp_path, contract(kl_budget=2.0), accept=True)
    assert manifest["contract"]["kl_budget"] == 2.0
    [change] = manifest["contract_changes"]
    assert change["changes"] == {"kl_budget": [1.0, 2.0]} and change["step"] == 0
