"""The docker backend without an engine (what CI has), and its limit mapping."""

from __future__ import annotations

import time

import pytest

from sandboxes import Limits, Status, docker_backend

pytest.importorskip("docker", reason="the docker extra is not installed")


@pytest.fixture
def no_engine() -> None:
    if docker_backend.probe() is None:
        pytest.skip("a docker engine answers here")


@pytest.mark.usefixtures("no_engine")
def test_probe_says_no_engine_at_once() -> None:
    started = time.monotonic()
    reason = docker_backend.probe()
    assert reason is not None and "no docker engine answers" in reason
    assert time.monotonic() - started < 5


@pytest.mark.usefixtures("no_engine")
def test_run_without_engine_is_a_sandbox_error() -> None:
    result = docker_backend.run("print(1)", "", None, Limits())
    assert result.status is Status.SANDBOX_ERROR
    assert result.backend == "docker"
    assert "no docker engine answers" in result.detail


def test_limits_map_to_container_options() -> None:
    options = docker_backend.container_options(
        Limits(memory_mb=256, processes=8, tmpfs_mb=16, cpu_s=2.5, open_files=64)
    )
    assert options["network_disabled"] is True
    assert options["read_only"] is True
    assert options["mem_limit"] == options["memswap_limit"] == 256 * 2**20
    assert options["pids_limit"] == 8
    assert "size=16m" in options["tmpfs"]["/work"]
    assert options["cap_drop"] == ["ALL"]
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in options["ulimits"]}
    assert ulimits["cpu"] == (3, 4)
    assert ulimits["nofile"] == (64, 64)
    assert ulimits["core"] == (0, 0)


def test_image_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert docker_backend.image() == docker_backend.DEFAULT_IMAGE
    monkeypatch.setenv("RLVR_SANDBOX_IMAGE", "python:3.12-slim")
    assert docker_backend.image() == "python:3.12-slim"
