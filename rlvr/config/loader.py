"""Typed, frozen configs loaded from YAML.

Every stage has one frozen dataclass composed of sub-configs. Each field is documented once, by
the string literal on the line beneath it; `field_docs` reads those strings back for CLI help and
for the test that every field has one.

The loader is strict: an unknown key, a value of the wrong type or a missing required field is a
`ConfigError` that names the file and the dotted key, e.g.
`recipes/configs/x.yaml: model.hidden_size: expected int, got str 'big'`.

Which dataclass a YAML file holds is named by its top-level `stage:` key (see `STAGES`).
Command-line overrides are `dotted.key=value` strings, the value parsed as YAML.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import enum
import importlib
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

T = TypeVar("T")

STAGES: dict[str, str] = {
    "eval": "rlvr.evaluate:EvalConfig",
    "sft": "rlvr.trainers.sft:SFTConfig",
    "grpo": "rlvr.trainers.grpo:GRPOConfig",
    "dpo": "rlvr.trainers.dpo:DPOConfig",
    "reward_model": "rlvr.trainers.reward_model:RewardModelConfig",
    "ppo": "rlvr.trainers.ppo:PPOConfig",
    "pipeline": "rlvr.trainers.pipeline:PipelineConfig",
}
"""Stage name (the YAML's `stage:` key) -> `module:Class` of its config dataclass."""


class ConfigError(ValueError):
    """A config file or override that does not match its dataclass."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader that also reads `1e-4` (no dot) as a float, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.[\d_]*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.[\d_]*$"),
    list("-+0123456789."),
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def stage_class(stage: str) -> type[Any]:
    """The config dataclass registered for a stage name."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; known stages: {', '.join(sorted(STAGES))}")
    module, _, attr = STAGES[stage].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), attr)
    return cls


def read_stage(path: str | Path) -> str:
    """The `stage:` key of a YAML config file, without building the config."""
    raw = _read_yaml(path)
    stage = raw.get("stage")
    if not isinstance(stage, str):
        raise ConfigError(f"{path}: missing required key 'stage' (a string naming the stage)")
    return stage


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        raw = _yaml(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(raw).__name__}")
    return raw


def load_config(path: str | Path, cls: type[T] | None = None, overrides: Sequence[str] = ()) -> T:
    """Load a YAML file into its config dataclass.

    Args:
        path: the YAML file.
        cls: the dataclass; default: the one registered for the file's `stage:` key.
        overrides: `dotted.key=value` strings applied on top of the file.

    Raises:
        ConfigError: unreadable file, unknown key, wrong type, missing required field.
    """
    source = str(path)
    raw = _read_yaml(path)
    for override in overrides:
        _apply_override(raw, override, source)
    stage = raw.pop("stage", None)
    if cls is None:
        if stage is None:
            raise ConfigError(f"{source}: missing required key 'stage'")
        try:
            cls = stage_class(stage)
        except ConfigError as exc:
            raise ConfigError(f"{source}: stage: {exc}") from None
    return from_dict(cls, raw, source=source)


def _apply_override(raw: dict[str, Any], override: str, source: str) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"{source}: override {override!r} is not of the form key=value")
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: override {override!r}: {part!r} is not a mapping")
        node = child
    node[parts[-1]] = _yaml(value)


def from_dict(cls: type[T], data: Any, *, source: str = "<dict>", prefix: str = "") -> T:
    """Build dataclass `cls` from plain data, checking every key and type."""
    where = f"{source}: {prefix.rstrip('.') or '<top>'}"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(str(key), fields, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"{source}: unknown key {prefix + str(key)!r}{suggestion}")
    hints = _type_hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        key = f"{prefix}{name}"
        if name in data:
            value = data[name]
            if isinstance(value, Mapping) and field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
                if dataclasses.is_dataclass(default) and not isinstance(default, type):
                    # a section given in part keeps the rest of its field's default, which may
                    # differ from the section class's own defaults (a stage's monitors)
                    value = _merged(to_dict(default), value)
            values[name] = _convert(hints[name], value, source=source, key=key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key {key!r}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        section = prefix.rstrip(".")
        said = str(exc)
        named = not section or said.startswith(prefix) or said.startswith(f"{section}:")
        raise ConfigError(f"{source}: {said}" if named else f"{source}: {section}: {said}") from exc


def _merged(base: Mapping[str, Any], over: Mapping[Any, Any]) -> dict[Any, Any]:
    """`over` laid on `base`, mappings merged key by key."""
    out: dict[Any, Any] = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = _merged(below, value)
        else:
            out[key] = value
    return out


def _type_hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any, *, source: str, key: str) -> Any:
    """Check `value` against annotation `tp`, converting lists to tuples and str to Path."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: expected {expected}, got {_describe(value)}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, source=source, prefix=f"{key}.")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, source=source, key=key)
            except ConfigError as exc:
                errors.append(exc)
        raise fail(" or ".join(_type_name(a) for a in args))
    if origin is Literal:
        if value in args and all(type(value) is type(a) for a in args if a == value):
            return value
        raise fail("one of " + ", ".join(repr(a) for a in args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise fail("bool")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail("int")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise fail("float")
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail("str")
    if tp is Path:
        if isinstance(value, str):
            return Path(value)
        raise fail("path string")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise fail("one of " + ", ".join(repr(m.value) for m in tp)) from None
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            raise fail("a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise fail(f"a list of {len(args)} items")
            item_types = list(args)
        else:
            item_types = [args[0] if args else Any] * len(value)
        items = [
            _convert(t, v, source=source, key=f"{key}[{i}]")
            for i, (t, v) in enumerate(zip(item_types, value, strict=True))
        ]
        return items if origin is list else tuple(items)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise fail("a mapping")
        key_t, val_t = args or (Any, Any)
        return {
            _convert(key_t, k, source=source, key=f"{key}.<key>"): _convert(
                val_t, v, source=source, key=f"{key}.{k}"
            )
            for k, v in value.items()
        }
    raise ConfigError(f"{source}: {key}: unsupported annotation {tp!r} in the config class")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def to_dict(config: Any) -> Any:
    """Plain YAML-safe data from a config (paths become strings, tuples lists)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    if isinstance(config, Mapping):
        return {str(k): to_dict(v) for k, v in config.items()}
    if isinstance(config, Path):
        return str(config)
    if isinstance(config, enum.Enum):
        return config.value
    return config


def dump_yaml(config: Any, stage: str | None = None) -> str:
    """The resolved config as YAML text (with its `stage:` key first when given)."""
    data = to_dict(config)
    if stage is not None:
        data = {"stage": stage, **data}
    return str(yaml.safe_dump(data, sort_keys=False))


def field_docs(cls: type[Any]) -> dict[str, str]:
    """Field name -> the docstring written beneath it in the class body ("" when missing)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, following in zip(body, [*body[1:], None], strict=True):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        doc = ""
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = inspect.cleandoc(following.value.value)
        docs[node.target.id] = doc
    return docs


def describe(
    cls: type[Any], prefix: str = "", defaults: Any = None
) -> list[tuple[str, str, str, str]]:
    """Rows of (dotted key, type, default, doc) for every field, nested configs flattened;
    `defaults`: the instance whose values are the defaults (a field's default section)."""
    rows: list[tuple[str, str, str, str]] = []
    hints = _type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            rows.append((f"{prefix}{f.name}", _type_name(tp), "", docs.get(f.name, "")))
            if defaults is not None:
                section = getattr(defaults, f.name)
            elif f.default_factory is not dataclasses.MISSING:
                section = f.default_factory()
            else:
                section = None
            rows.extend(describe(tp, prefix=f"{prefix}{f.name}.", defaults=section))
            continue
        if defaults is not None:
            default = repr(to_dict(getattr(defaults, f.name)))
        elif f.default is not dataclasses.MISSING:
            default = repr(to_dict(f.default))
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(to_dict(f.default_factory()))
        else:
            default = "(required)"
        rows.append((f"{prefix}{f.name}", _type_name(tp), default, docs.get(f.name, "")))
    return rows
