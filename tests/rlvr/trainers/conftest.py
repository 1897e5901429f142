"""Helpers to write stage configs (the `tiny_model` fixture is in tests/rlvr/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_config(path: Path, data: dict[str, object]) -> Path:
    """Write a stage config as YAML (with the comment header recipes carry)."""
    path.write_text("# test config\n" + yaml.safe_dump(data, sort_keys=False))
    return path
