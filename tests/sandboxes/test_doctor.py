"""`sandboxes.doctor`: the attack battery and its report."""

from __future__ import annotations

from pathlib import Path

import pytest

import sandboxes
from sandboxes import AttackResult, process_backend
from tests.sandboxes.conftest import require_bwrap


def test_bwrap_blocks_every_attack() -> None:
    require_bwrap()
    results = sandboxes.doctor(["bwrap"])
    assert {r.attack for r in results} >= set(sandboxes.ATTACKS) - {"read_root_secret"}
    assert [r for r in results if not r.blocked] == []


def test_process_backend_reports_exactly_its_documented_gaps() -> None:
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    results = sandboxes.doctor(["process"])
    gaps = {"write_tmp", "other_processes", "read_host_files"}
    if not process_backend.namespaces()[0]:
        gaps.add("network_loopback")
    assert {r.attack for r in results if not r.blocked} == gaps


def test_format_report_lists_each_attack_and_a_summary() -> None:
    results = [
        AttackResult("bwrap", "fork_bomb", True, "timeout"),
        AttackResult("process", "network_loopback", False, "listener got data"),
    ]
    text = sandboxes.format_report(results, "in use (auto): bwrap: ...")
    assert "fork_bomb" in text and "NOT BLOCKED" in text
    assert "bwrap: 1/1 attacks blocked" in text
    assert "process: 0/1 attacks blocked" in text
    assert text.endswith("in use (auto): bwrap: ...")


def test_the_report_names_the_backend_in_use() -> None:
    line = sandboxes.format_report([]).splitlines()[-1]
    try:
        in_use = sandboxes.describe()
    except sandboxes.SandboxUnavailable as exc:
        assert line == f"in use (auto): NONE, runs refuse to start: {exc}"
    else:
        assert line == f"in use (auto): {in_use}"


def test_host_file_hunt_is_not_used_up_by_a_crowded_tmp(tmp_path: Path) -> None:
    # more files than the hunt's budget, deeper than the bait: the hunt must still reach it,
    # or the process backend would look as if it blocked host file reads
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    crowd = tmp_path / "crowd" / "deep"
    crowd.mkdir(parents=True)
    for i in range(21000):
        (crowd / f"f{i}").touch()
    results = sandboxes.doctor(["process"])
    hunt = next(r for r in results if r.attack == "read_host_files")
    assert not hunt.blocked and hunt.detail == "token found"
