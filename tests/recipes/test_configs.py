"""Every YAML under recipes/ loads, and every config field is documented."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from rlvr.config import STAGES, field_docs, load_config, stage_class

ROOT = Path(__file__).resolve().parents[2]
YAMLS = sorted((ROOT / "recipes").rglob("*.yaml"))


def test_there_are_recipes() -> None:
    assert YAMLS, "no YAML configs under recipes/"


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: str(p.relative_to(ROOT)))
def test_recipe_config_loads(path: Path) -> None:
    config = load_config(path)
    assert dataclasses.is_dataclass(config)
    header = path.read_text().splitlines()[0]
    assert header.startswith("#"), f"{path.name} must start with a comment header"


def _config_classes() -> list[type]:
    seen: list[type] = []
    todo = [stage_class(stage) for stage in sorted(STAGES)]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for tp in typing.get_type_hints(cls).values():
            for candidate in (tp, *typing.get_args(tp)):
                if dataclasses.is_dataclass(candidate) and isinstance(candidate, type):
                    todo.append(candidate)
    return seen


@pytest.mark.parametrize("cls", _config_classes(), ids=lambda c: c.__name__)
def test_every_field_has_a_docstring(cls: type) -> None:
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == [], f"{cls.__name__} fields without a docstring: {missing}"
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} must be frozen"  # type: ignore[attr-defined]
