"""`sandboxes.doctor`: the attack battery and its report."""

from __future__ import annotations

import pytest

import sandboxes
from sandboxes import AttackResult


def test_bwrap_blocks_every_attack() -> None:
    if sandboxes.probe("bwrap") is not None:
        pytest.skip(f"bwrap unavailable here: {sandboxes.probe('bwrap')}")
    results = sandboxes.doctor(["bwrap"])
    assert {r.attack for r in results} >= set(sandboxes.ATTACKS) - {"read_root_secret"}
    assert [r for r in results if not r.blocked] == []


def test_process_backend_reports_exactly_its_documented_gaps() -> None:
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    results = sandboxes.doctor(["process"])
    assert {r.attack for r in results if not r.blocked} == {"write_tmp", "network_loopback"}


def test_format_report_lists_each_attack_and_a_summary() -> None:
    results = [
        AttackResult("bwrap", "fork_bomb", True, "timeout"),
        AttackResult("process", "network_loopback", False, "listener got data"),
    ]
    text = sandboxes.format_report(results)
    assert "fork_bomb" in text and "NOT BLOCKED" in text
    assert "bwrap: 1/1 attacks blocked" in text
    assert "process: 0/1 attacks blocked" in text
