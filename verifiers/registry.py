"""Name -> verifier class. Built-ins register with `@register`; installed packages through the
`rlvr.verifiers` entry-point group; anything importable through `"pkg.module:attr"`.

>>> from verifiers import get
>>> get("math").name
'math'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, TypeVar

from verifiers.verdict import Verifier

ENTRY_POINT_GROUP = "rlvr.verifiers"

_BUILTIN: dict[str, type[Any]] = {}
T = TypeVar("T", bound=type[Any])


class RegistryError(LookupError):
    """A verifier name that cannot be resolved, registered twice, or built with bad options."""


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a verifier class available as `get(name)`. Duplicates are errors."""

    def decorate(cls: T) -> T:
        if getattr(cls, "name", None) != name:
            raise RegistryError(f"@register({name!r}) on {cls.__qualname__}: its `name` differs")
        if name in _BUILTIN:
            raise RegistryError(f"verifier {name!r} is already registered by {_BUILTIN[name]}")
        _BUILTIN[name] = cls
        return cls

    return decorate


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN or ep.name in found:
            other = _BUILTIN.get(ep.name) or found[ep.name].value
            raise RegistryError(f"entry point {ep.name!r} ({ep.value}) clashes with {other}")
        found[ep.name] = ep
    return found


def _import_attr(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"cannot import verifier {spec!r}: {exc}") from exc
    return obj


def resolve(spec: str) -> type[Any]:
    """The verifier class for a registered name, an entry-point name or `"pkg.module:Class"`."""
    if spec in _BUILTIN:
        return _BUILTIN[spec]
    if ":" in spec:
        cls = _import_attr(spec)
    else:
        eps = _entry_points()
        if spec not in eps:
            known = ", ".join(sorted([*_BUILTIN, *eps])) or "none"
            raise RegistryError(f"unknown verifier {spec!r}; known: {known}")
        cls = eps[spec].load()
    if not isinstance(cls, type):
        raise RegistryError(f"{spec!r} is {type(cls).__name__}, expected a verifier class")
    return cls


def get(spec: str, options: Mapping[str, Any] | None = None) -> Verifier:
    """Build a verifier from its name (or `"pkg.module:Class"`) and its options.

    Raises:
        RegistryError: unknown name, or options the verifier does not take.
    """
    cls = resolve(spec)
    try:
        verifier = cls(**dict(options or {}))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"bad options for verifier {spec!r}: {exc}") from exc
    if not isinstance(verifier, Verifier):
        raise RegistryError(f"{spec!r} does not follow the Verifier protocol")
    return verifier


def available() -> dict[str, type[Any]]:
    """Every verifier known by name: built-ins first, then installed entry points."""
    found = dict(_BUILTIN)
    for name, ep in sorted(_entry_points().items()):
        found[name] = ep.load()
    return found
