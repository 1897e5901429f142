"""A tiny local model, built once per test session, and helpers to write stage configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlvr.tiny import PRESETS, build_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("models") / "tiny", PRESETS["tiny"])


def write_config(path: Path, data: dict[str, object]) -> Path:
    """Write a stage config as YAML (with the comment header recipes carry)."""
    path.write_text("# test config\n" + yaml.safe_dump(data, sort_keys=False))
    return path
