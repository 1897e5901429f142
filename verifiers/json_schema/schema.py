"""Turn a reference into a checked JSON Schema, or say exactly why it is unusable.

A reference is a schema object, a boolean schema, or the JSON text of either. Anything wrong
with it raises `BadReference`: that is the dataset's fault, not the model's, and the verifier
reports it as `reference_error`, which the reward runtime counts as an infrastructure failure
and masks out of the loss rather than scoring 0.

Implementation details:
    1. Text references are parsed by `strict.loads` (duplicate keys are errors there too).
       Object references are copied with every float turned into the `Decimal` of its shortest
       repr, so `{"multipleOf": 0.1}` means exactly 0.1; non-finite floats, non-string keys
       and non-JSON Python values are errors. Nesting is capped at `SCHEMA_MAX_DEPTH`.
    2. The dialect comes from `$schema` (drafts 3, 4, 6, 7, 2019-09 and 2020-12, with or
       without the trailing `#`); without it the schema is draft 2020-12. An unknown `$schema`
       is an error, never a silent fallback.
    3. The schema is validated against its metaschema, with the `regex` format asserted by the
       engine that will run the patterns, with stack room for the schema's depth
       (`stack.call_with_frames`).
    4. Every `$ref` and `$dynamicRef` is resolved up front through a `referencing.Registry`
       whose retrieve function refuses everything: local references (`#/$defs/x`, anchors,
       embedded `$id`s) and the bundled metaschemas resolve, and nothing is ever fetched.
    5. After those checks `$schema` is removed from every schema object of the (private) copy:
       `jsonschema` picks a validator class afresh for each subschema that names a `$schema`,
       which would drop the keyword overrides of `keywords` below a recursive `$ref: "#"`.
       So the root's `$schema` chooses the dialect for the whole document, embedded resources
       included. A `$ref` into the bundled metaschemas still switches to `jsonschema`'s own
       class for that part, as the metaschemas name their `$schema`.
    6. A schema is compiled (steps 2-5 and the validator built) once per process: `load` keys
       a bounded LRU cache (`CACHE_SIZE` entries) by the SHA-256 of the schema's canonical
       JSON (compact, numbers as written, keys in the order given: the order decides which of
       several errors `best_match` reports, so two orders are two entries). Equal schemas, as
       objects or text, share one compiled validator; only successful compilations are kept.
       The cache holds no per-call state (the pattern budget is a context variable), so a hit
       and a miss give the same verdicts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import referencing.jsonschema
from jsonschema import (
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
)
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from verifiers.json_schema.formats import format_checker
from verifiers.json_schema.keywords import extend
from verifiers.json_schema.patterns import BadPattern, PatternTimeout, budget
from verifiers.json_schema.stack import call_with_frames
from verifiers.json_schema.strict import JsonError, loads, nesting_depth

SCHEMA_MAX_DEPTH = 128
"""The deepest nesting of arrays and objects accepted in a reference schema."""
CACHE_SIZE = 512
"""Most compiled schemas kept per process (least recently used ones are dropped)."""
_META_FRAMES_PER_LEVEL = 16
_META_BASE_FRAMES = 200
_DRAFTS: tuple[type[Validator], ...] = (  # oldest first; the last one is the default
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
)


class BadReference(ValueError):
    """The reference is not a usable schema; the message says why."""


def _dialect(draft: type[Validator]) -> str:
    meta = draft.META_SCHEMA
    return str(meta.get("$id", meta.get("id", ""))).rstrip("#")


def _refuse(uri: str) -> Resource[Any]:
    raise LookupError(f"remote reference {uri!r} is not fetched")


def _copy(value: object, path: str, depth: int) -> object:
    if depth > SCHEMA_MAX_DEPTH:
        raise BadReference(f"schema nests deeper than {SCHEMA_MAX_DEPTH} levels at {path}")
    if value is None or isinstance(value, (bool, int, str, Decimal)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadReference(f"non-finite number {value} at {path}")
        return Decimal(repr(value))
    if isinstance(value, (list, tuple)):
        return [_copy(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise BadReference(f"object with a non-string key at {path}")
        return {key: _copy(item, f"{path}.{key}", depth + 1) for key, item in value.items()}
    raise BadReference(f"{type(value).__name__} at {path} is not a JSON value")


def _parse(reference: object) -> Mapping[str, Any] | bool:
    if isinstance(reference, str):
        try:
            schema: object = loads(reference, max_depth=SCHEMA_MAX_DEPTH)
        except JsonError as exc:
            raise BadReference(f"reference is not valid JSON: {exc}") from None
    elif isinstance(reference, (Mapping, bool)):
        schema = _copy(reference, "$", 0)
    else:
        raise BadReference(
            f"reference must be a JSON Schema (object, boolean or JSON text), "
            f"got {type(reference).__name__}"
        )
    if not isinstance(schema, (Mapping, bool)):
        raise BadReference(f"a schema is an object or a boolean, got {type(schema).__name__}")
    return schema


def _draft(schema: Mapping[str, Any] | bool) -> type[Validator]:
    if isinstance(schema, bool) or "$schema" not in schema:
        return _DRAFTS[-1]
    dialect = schema["$schema"]
    for draft in _DRAFTS:
        if isinstance(dialect, str) and dialect.rstrip("#") == _dialect(draft):
            return draft
    raise BadReference(f"unsupported $schema {dialect!r}")


def _offline_registry() -> Registry[Any]:
    # mypy's attrs plugin does not see the public `retrieve` alias of `Registry._retrieve`.
    return Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _resolve_refs(schema: Mapping[str, Any] | bool, draft: type[Validator]) -> None:
    """Resolve every reference up front, and drop `$schema` from every schema object."""
    resource = referencing.jsonschema.specification_with(_dialect(draft)).create_resource(schema)
    registry = SPECIFICATIONS.combine(_offline_registry())
    pending = [(resource, registry.resolver_with_root(resource))]
    while pending:
        resource, resolver = pending.pop()
        if isinstance(resource.contents, dict):
            resource.contents.pop("$schema", None)
            for keyword in ("$ref", "$dynamicRef"):
                ref = resource.contents.get(keyword)
                if not isinstance(ref, str):
                    continue
                try:
                    resolver.lookup(ref)
                except Unresolvable as exc:
                    raise BadReference(f"cannot resolve {keyword} {ref!r}: {exc}") from None
        pending.extend((sub, resolver.in_subresource(sub)) for sub in resource.subresources())


@dataclass(frozen=True)
class Schema:
    """A reference that passed every check of the module docstring, compiled."""

    contents: Mapping[str, Any] | bool
    """The schema, numbers as `Decimal`."""
    draft: type[Validator]
    """The `jsonschema` validator class of its dialect."""
    validator: Validator
    """Validates instances: keyword overrides of `keywords`, formats asserted, refs offline."""
    depth: int
    """The schema's own deepest nesting of arrays and objects."""


def canonical_json(value: object) -> str:
    """Compact JSON text of a parsed schema: numbers as written, keys in the order given.

    >>> canonical_json({"b": [1, Decimal("0.10")], "a": {"x": None, "y": True}})
    '{"b":[1,0.10],"a":{"x":null,"y":true}}'
    """
    if isinstance(value, Mapping):
        items = (f"{json.dumps(key)}:{canonical_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value)
    return str(value)


class _Cache:
    """A thread-safe LRU of compiled schemas keyed by content hash, with hit/miss counts."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, Schema] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str) -> Schema | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self.entries.move_to_end(key)
            return found

    def put(self, key: str, compiled: Schema) -> None:
        with self.lock:
            self.entries[key] = compiled
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_CACHE = _Cache(CACHE_SIZE)


def cache_info() -> tuple[int, int, int]:
    """(hits, misses, entries) of the compiled-schema cache; every miss is one compilation."""
    with _CACHE.lock:
        return _CACHE.hits, _CACHE.misses, len(_CACHE.entries)


def clear_cache() -> None:
    """Drop every compiled schema and reset the counts (for tests and cold benchmarks)."""
    with _CACHE.lock:
        _CACHE.entries.clear()
        _CACHE.hits = _CACHE.misses = 0


@functools.cache
def _meta_validator(draft: type[Validator]) -> Validator:
    return extend(draft)(
        draft.META_SCHEMA,
        registry=_offline_registry(),
        format_checker=format_checker(include_regex=True),
    )


def compile_schema(schema: Mapping[str, Any] | bool, *, budget_s: float) -> Schema:
    """Check a parsed schema (module docstring, steps 2-5) and build its validator.

    Args:
        schema: A parsed reference (private: `$schema` keywords are removed from it).
        budget_s: Time for matching the metaschema's patterns against the schema.

    Raises:
        BadReference: The schema is not usable.
    """
    draft = _draft(schema)
    depth = nesting_depth(canonical_json(schema))

    def check() -> Any:
        with budget(budget_s):
            found = best_match(_meta_validator(draft).iter_errors(schema))
            if found is None:
                _resolve_refs(schema, draft)
            return found

    try:
        error = call_with_frames(check, frames=_META_BASE_FRAMES + _META_FRAMES_PER_LEVEL * depth)
    except (BadPattern, PatternTimeout, RecursionError) as exc:
        raise BadReference(f"schema cannot be checked: {exc}") from None
    if error is not None:
        path = error.json_path.replace("$", "schema", 1)
        raise BadReference(f"invalid schema at {path}: {error.message}")
    validator = extend(draft)(schema, registry=_offline_registry(), format_checker=format_checker())
    return Schema(schema, draft, validator, depth)


def load(reference: object, *, budget_s: float) -> Schema:
    """Parse and check a reference (see the module docstring), compiled once per process.

    Args:
        reference: A schema object, boolean schema, or the JSON text of one.
        budget_s: Time for matching the metaschema's patterns against the schema.

    Raises:
        BadReference: The reference is not a usable schema.
    """
    schema = _parse(reference)
    key = hashlib.sha256(canonical_json(schema).encode()).hexdigest()  # ASCII text: json.dumps
    compiled = _CACHE.get(key)
    if compiled is None:
        compiled = compile_schema(schema, budget_s=budget_s)
        _CACHE.put(key, compiled)
    return compiled


__all__ = [
    "CACHE_SIZE",
    "SCHEMA_MAX_DEPTH",
    "BadReference",
    "Schema",
    "cache_info",
    "canonical_json",
    "clear_cache",
    "compile_schema",
    "load",
]
