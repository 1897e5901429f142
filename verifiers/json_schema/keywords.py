"""Keyword overrides that make `jsonschema` exact, bounded and safe on model output.

`extend(base)` returns `base` (a `jsonschema` draft validator class) with these changes (one
class per draft, built once and shared):

Implementation details:
    1. `multipleOf` (and draft 3's `divisibleBy`) is decided exactly on `Decimal`s by
       `numeric.is_multiple_of`, never by float division.
    2. `integer` is `numeric.integer_check`: an integral `Decimal` (`1.0`) is an integer from
       draft 6 on; in drafts 3 and 4 only a number written without fraction or exponent is.
    3. `pattern`, `patternProperties`, `additionalProperties` and `unevaluatedProperties` match
       regular expressions through the current `PatternBudget` (`patterns.current_budget`:
       the `regex` engine with a deadline) instead of Python's `re`, which `jsonschema` uses
       and which cannot be interrupted.
       `unevaluatedProperties` collects evaluated keys the way `jsonschema` does for draft
       2020-12 (following `$ref`, `$dynamicRef`, `$recursiveRef`, applicators and
       `if`/`then`/`else`); draft 2019-09 schemas get the same 2020-12 rules.
    4. `uniqueItems` hashes a canonical form of each item, so it is linear, where `jsonschema`
       falls back to comparing every pair of unhashable items (quadratic on a large array).
    5. Every keyword first checks the current budget's validation deadline
       (`PatternBudget.check_deadline`), so a validation that explodes on a deep document stops
       with `PatternTimeout` instead of running for hours.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from jsonschema import Draft3Validator, Draft4Validator, ValidationError, validators
from jsonschema.protocols import Validator

from verifiers.json_schema.numeric import integer_check, is_multiple_of
from verifiers.json_schema.patterns import current_budget

Keyword = Callable[[Any, Any, Any, Any], Iterator[ValidationError]]


def canonical(value: object) -> Hashable:
    """A hashable form of a JSON value; equal JSON values (`1` and `1.0`) give equal forms.

    >>> canonical([1, {"a": True}]) == canonical([Decimal("1.0"), {"a": True}])
    True
    """
    if value is None or isinstance(value, (bool, str)):
        return (type(value).__name__, value)
    if isinstance(value, (int, float, Decimal)):
        return ("number", Decimal(value))
    if isinstance(value, list):
        return ("array", tuple(canonical(item) for item in value))
    if isinstance(value, Mapping):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _is_valid(validator: Any, instance: object, schema: object) -> bool:
    return next(validator.descend(instance, schema), None) is None


def _search(pattern: str, text: str) -> bool:
    return current_budget().search(pattern, text)


class _Keywords:
    """Keyword functions matching patterns under the current `PatternBudget`."""

    def _declared(self, key: str, schema: Mapping[str, Any]) -> bool:
        return key in schema.get("properties", {}) or any(
            _search(pattern, key) for pattern in schema.get("patternProperties", {})
        )

    def pattern(
        self, validator: Any, pattern: str, instance: object, schema: object
    ) -> Iterator[ValidationError]:
        if isinstance(instance, str) and not _search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")

    def pattern_properties(
        self, validator: Any, patterns: Mapping[str, Any], instance: object, schema: object
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, Mapping):
            return
        for pattern, subschema in patterns.items():
            for key, item in instance.items():
                if _search(pattern, key):
                    yield from validator.descend(item, subschema, path=key, schema_path=pattern)

    def additional_properties(
        self, validator: Any, extra_schema: object, instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, Mapping):
            return
        extras = [key for key in instance if not self._declared(key, schema)]
        if isinstance(extra_schema, Mapping):
            for key in extras:
                yield from validator.descend(instance[key], extra_schema, path=key)
        elif extra_schema is False and extras:
            names = ", ".join(repr(key) for key in extras)
            yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")

    def evaluated_keys(
        self, validator: Any, instance: Mapping[str, Any], schema: object
    ) -> set[str]:
        """Keys of `instance` that `schema` evaluates (for `unevaluatedProperties`)."""
        if not isinstance(schema, Mapping):
            return set()
        keys: set[str] = set()
        for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
            if isinstance(ref := schema.get(keyword), str):
                resolved = validator._resolver.lookup(ref)
                scoped = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
                keys |= self.evaluated_keys(scoped, instance, resolved.contents)
        keys.update(key for key in instance if key in schema.get("properties", {}))
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            if keyword in schema:
                sub = schema[keyword]
                keys.update(
                    key for key, item in instance.items() if _is_valid(validator, item, sub)
                )
        for pattern in schema.get("patternProperties", {}):
            keys.update(key for key in instance if _search(pattern, key))
        for name, sub in schema.get("dependentSchemas", {}).items():
            if name in instance:
                keys |= self.evaluated_keys(validator, instance, sub)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(keyword, ()):
                if _is_valid(validator, instance, sub):
                    keys |= self.evaluated_keys(validator, instance, sub)
        if "if" in schema:
            taken = ("if", "then") if _is_valid(validator, instance, schema["if"]) else ("else",)
            for keyword in taken:
                keys |= self.evaluated_keys(validator, instance, schema.get(keyword))
        return keys

    def unevaluated_properties(
        self, validator: Any, extra_schema: object, instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, Mapping):
            return
        evaluated = self.evaluated_keys(validator, instance, schema)
        bad = [
            key
            for key, item in instance.items()
            if key not in evaluated and not _is_valid(validator, item, extra_schema)
        ]
        if bad:
            names = ", ".join(repr(key) for key in bad)
            yield ValidationError(f"Unevaluated properties are not allowed ({names} unexpected)")


def _multiple_of(
    validator: Any, divisor: Decimal | int, instance: object, schema: object
) -> Iterator[ValidationError]:
    if isinstance(instance, bool) or not isinstance(instance, (int, Decimal)):
        return
    if not is_multiple_of(instance, divisor):
        yield ValidationError(f"{instance} is not a multiple of {divisor}")


def _unique_items(
    validator: Any, unique: object, instance: object, schema: object
) -> Iterator[ValidationError]:
    if unique is not True or not isinstance(instance, list):
        return
    first: dict[Hashable, int] = {}
    for index, item in enumerate(instance):
        earlier = first.setdefault(canonical(item), index)
        if earlier != index:
            yield ValidationError(f"items {earlier} and {index} are equal, but uniqueItems is true")
            return


def _checked(check: Keyword) -> Keyword:
    """`check`, run only while the validation deadline has not passed (no extra stack frame
    while its errors are iterated: the keyword's generator is returned as it is)."""

    def run(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        current_budget().check_deadline()
        return check(validator, value, instance, schema)

    return run


@functools.cache
def extend(base: type[Validator]) -> type[Validator]:
    """`base` with the keyword overrides of the module docstring (built once per draft)."""
    keywords = _Keywords()
    overrides: dict[str, Keyword] = {
        "multipleOf": _multiple_of,
        "divisibleBy": _multiple_of,
        "uniqueItems": _unique_items,
        "pattern": keywords.pattern,
        "patternProperties": keywords.pattern_properties,
        "additionalProperties": keywords.additional_properties,
        "unevaluatedProperties": keywords.unevaluated_properties,
    }
    plain = base in (Draft3Validator, Draft4Validator)
    checks = {**base.VALIDATORS, **{k: v for k, v in overrides.items() if k in base.VALIDATORS}}
    extended: type[Validator] = validators.extend(  # type: ignore[no-untyped-call, unused-ignore]
        base,
        {name: _checked(check) for name, check in checks.items()},
        type_checker=base.TYPE_CHECKER.redefine("integer", integer_check(plain)),
    )
    return extended


__all__ = ["canonical", "extend"]
