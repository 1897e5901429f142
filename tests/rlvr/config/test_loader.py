"""The strict YAML config loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from rlvr.config import ConfigError, describe, dump_yaml, field_docs, from_dict, load_config


@dataclass(frozen=True)
class Inner:
    """A nested section."""

    width: int
    """Required width."""
    mode: Literal["a", "b"] = "a"
    """A literal choice."""


@dataclass(frozen=True)
class Outer:
    """A toy stage config."""

    inner: Inner
    """The nested section."""
    rate: float = 0.5
    """A float; ints are accepted."""
    name: str | None = None
    """Optional name."""
    tags: tuple[str, ...] = ()
    """A list in YAML, a tuple here."""
    path: Path = Path("out")
    """A path."""
    flags: dict[str, bool] = field(default_factory=dict)
    """A mapping."""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_loads_nested_and_converts(tmp_path: Path) -> None:
    path = write(tmp_path, "inner: {width: 3, mode: b}\nrate: 1\ntags: [x, y]\npath: a/b\n")
    cfg = load_config(path, Outer)
    assert cfg == Outer(Inner(3, "b"), rate=1.0, tags=("x", "y"), path=Path("a/b"))
    assert isinstance(cfg.rate, float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inner: {width: 3}\nrat: 1\n", "cfg.yaml: unknown key 'rat' (did you mean 'rate'?)"),
        ("inner: {width: 3, heigth: 2}\n", "cfg.yaml: unknown key 'inner.heigth'"),
        ("inner: {width: three}\n", "cfg.yaml: inner.width: expected int, got str 'three'"),
        ("inner: {width: true}\n", "cfg.yaml: inner.width: expected int, got bool True"),
        ("inner: {width: 1, mode: c}\n", "cfg.yaml: inner.mode: expected one of 'a', 'b'"),
        ("rate: 1\n", "cfg.yaml: missing required key 'inner'"),
        ("inner: {}\n", "cfg.yaml: missing required key 'inner.width'"),
        ("inner: {width: 1}\ntags: x\n", "cfg.yaml: tags: expected a list, got str 'x'"),
        ("inner: {width: 1}\nflags: {a: 1}\n", "cfg.yaml: flags.a: expected bool, got int 1"),
        ("inner: 5\n", "cfg.yaml: inner: expected a mapping, got int"),
        ("- 1\n", "cfg.yaml: top level must be a mapping, got list"),
        ("inner: {width: [\n", "cfg.yaml: invalid YAML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), Outer)
    assert message in str(info.value)


@dataclass(frozen=True)
class Checked:
    """A section whose own check names its field with or without the section."""

    low: int = 0
    high: int = 1

    def __post_init__(self) -> None:
        if self.low < 0:
            raise ValueError(f"checked.low must be >= 0, got {self.low}")
        if self.high <= self.low:
            raise ValueError("high must be above low")


@dataclass(frozen=True)
class WithChecked:
    checked: Checked = field(default_factory=Checked)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("checked.low=-1", "cfg.yaml: checked.low must be >= 0, got -1"),
        ("checked.high=0", "cfg.yaml: checked: high must be above low"),
    ],
)
def test_a_section_check_names_the_section_once(
    tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "{}\n"), WithChecked, [override])
    assert str(info.value) == f"{tmp_path}/{message}"


def test_exponent_without_dot_is_a_float(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "inner: {width: 3}\nrate: 2e-4\n"), Outer, ["name=1e3x"])
    assert cfg.rate == 2e-4 and cfg.name == "1e3x"
    assert load_config(write(tmp_path, "inner: {width: 3}\n"), Outer, ["rate=-1E+2"]).rate == -100


def test_overrides_apply_dotted_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "inner: {width: 3}\n")
    cfg = load_config(path, Outer, overrides=["inner.width=7", "name=run1", "tags=[a]"])
    assert (cfg.inner.width, cfg.name, cfg.tags) == (7, "run1", ("a",))
    with pytest.raises(ConfigError, match="not of the form key=value"):
        load_config(path, Outer, overrides=["inner.width"])
    with pytest.raises(ConfigError, match=r"unknown key 'inner\.depth'"):
        load_config(path, Outer, overrides=["inner.depth=1"])


def test_missing_file_and_stage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml", Outer)
    with pytest.raises(ConfigError, match="missing required key 'stage'"):
        load_config(write(tmp_path, "inner: {width: 1}\n"))
    with pytest.raises(ConfigError, match="unknown stage 'warp'"):
        load_config(write(tmp_path, "stage: warp\n"))


def test_frozen_and_roundtrip(tmp_path: Path) -> None:
    cfg = from_dict(Outer, {"inner": {"width": 2}, "tags": ["t"]})
    with pytest.raises(AttributeError):
        cfg.rate = 2.0  # type: ignore[misc]
    text = dump_yaml(cfg)
    assert load_config(write(tmp_path, text), Outer) == cfg


def test_field_docs_and_describe() -> None:
    assert field_docs(Inner) == {"width": "Required width.", "mode": "A literal choice."}
    rows = {key: (tp, default, doc) for key, tp, default, doc in describe(Outer)}
    assert rows["inner.width"] == ("int", "(required)", "Required width.")
    assert rows["rate"] == ("float", "0.5", "A float; ints are accepted.")


@dataclass(frozen=True)
class Staged:
    """A stage whose section default differs from the section class's own defaults."""

    inner: Inner = field(default_factory=lambda: Inner(width=7, mode="b"))
    """The stage's own default section."""


def test_a_section_given_in_part_keeps_its_fields_default() -> None:
    assert from_dict(Staged, {}).inner == Inner(7, "b")
    assert from_dict(Staged, {"inner": {"width": 3}}).inner == Inner(3, "b")
    assert from_dict(Staged, {"inner": {"mode": "a"}}).inner == Inner(7, "a")
    rows = {key: default for key, _, default, _ in describe(Staged)}
    assert rows["inner.width"] == "7" and rows["inner.mode"] == "'b'"
    with pytest.raises(ConfigError, match=r"inner\.mode: expected one of 'a', 'b'"):
        from_dict(Staged, {"inner": {"mode": "c"}})
