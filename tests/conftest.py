"""Fixtures shared by the tests: a tiny local model built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlvr.models.tiny import PRESETS, build_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("models") / "tiny", PRESETS["tiny"])
