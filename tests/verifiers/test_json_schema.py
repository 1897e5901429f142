"""Contract tests for the `json_schema` verifier: a table of (completion, schema, score, reason)."""

from __future__ import annotations

import copy
import doctest
import pickle
import time
from typing import Any

import pytest

from verifiers import registry
from verifiers.json_schema import (
    JsonSchemaVerifier,
    extract,
    formats,
    keywords,
    numeric,
    patterns,
    schema,
    stack,
    strict,
)
from verifiers.json_schema.examples import PERSON

D7 = "http://json-schema.org/draft-07/schema#"
D4 = "http://json-schema.org/draft-04/schema#"
NUM = {"type": "number", "multipleOf": 0.1}
INT = {"type": "integer"}
STR = {"type": "string"}
ADA = '{"name": "Ada", "age": 36}'
EVIL = "a" * 40 + "!"
SLOW = "^(a|aa)+$"
OPEN_PATTERNS = {"patternProperties": {"^x-": {}}, "additionalProperties": False}
EVALUATED = {"allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False}
D2020 = "https://json-schema.org/draft/2020-12/schema"
TREE = {"$schema": D2020, "anyOf": [INT, {"type": "array", "items": {"$ref": "#"}}]}
TREE_7 = {
    "$schema": D7,
    "anyOf": [{"pattern": SLOW, **STR}, {"type": "array", "items": {"$ref": "#"}}],
}
LOCAL_REF = {"$defs": {"pos": {"type": "integer", "minimum": 0}}, "items": {"$ref": "#/$defs/pos"}}


def fmt(name: str) -> dict[str, Any]:
    return {"type": "string", "format": name}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES: list[tuple[str, str, Any, float, str]] = [
    # extraction
    ("fenced json", f"```json\n{ADA}\n```", PERSON, 1.0, "correct"),
    ("fence language any case", f"Sure.\n```JSON\n{ADA}\n```\nDone.", PERSON, 1.0, "correct"),
    ("bare fence with object", f"```\n{ADA}\n```", PERSON, 1.0, "correct"),
    ("tilde fence", f"~~~json\n{ADA}\n~~~", PERSON, 1.0, "correct"),
    (
        "last json fence wins",
        f'```json\n{ADA}\n```\n```json\n{{"name": "B"}}\n```',
        PERSON,
        0.0,
        "schema_violation",
    ),
    ("fence beats later prose", f'```json\n{ADA}\n```\nor {{"name": 1}}', PERSON, 1.0, "correct"),
    (
        "prose decoy before fence",
        f'{ADA}\n```json\n{{"age": 1}}\n```',
        PERSON,
        0.0,
        "schema_violation",
    ),
    ("fence closed on the content line", f"```json\n{ADA}```\nDone.", PERSON, 1.0, "correct"),
    ("one-line backticks are not a fence", f"```json {ADA}```", PERSON, 1.0, "correct"),
    ("unclosed fence runs to end", f"```json\n{ADA}", PERSON, 1.0, "correct"),
    ("truncated fence", '```json\n{"name": "Ada", "ag', PERSON, 0.0, "invalid_json"),
    ("broken fence, no fallback", f"{ADA}\n```json\n{{name: 1}}\n```", PERSON, 0.0, "invalid_json"),
    ("other-language fence only", "```python\nprint(1)\n```", PERSON, 0.0, "no_json"),
    ("whole integer", "42", INT, 1.0, "correct"),
    ("whole string", ' "hello" ', STR, 1.0, "correct"),
    ("whole null", "null", {"type": "null"}, 1.0, "correct"),
    ("object in prose", f"Here you go: {ADA}. Anything else?", PERSON, 1.0, "correct"),
    ("last of two objects", f'{ADA} or rather {{"name": "Bob"}}', PERSON, 0.0, "schema_violation"),
    ("non-json braces after answer", f"{ADA} (with {{care}})", PERSON, 1.0, "correct"),
    ("brackets inside strings", 'x {"name": "a}b{", "age": 1} y', PERSON, 1.0, "correct"),
    ("only non-json braces", "the set {a, b} is finite", PERSON, 0.0, "invalid_json"),
    ("no json", "I do not know.", PERSON, 0.0, "no_json"),
    ("empty completion", "", PERSON, 0.0, "no_json"),
    ("bare NaN is not a value", "NaN", {"type": "number"}, 0.0, "no_json"),
    # strict JSON
    ("trailing comma", "[1, 2,]", {"type": "array"}, 0.0, "invalid_json"),
    ("duplicate key", '{"name": "Ada", "age": 36, "age": 1}', PERSON, 0.0, "invalid_json"),
    ("nested duplicate key", '{"a": [{"k": 1, "k": 2}]}', {}, 0.0, "invalid_json"),
    ("NaN inside", '{"name": "Ada", "age": NaN}', PERSON, 0.0, "invalid_json"),
    ("Infinity", "[Infinity]", {"type": "array"}, 0.0, "invalid_json"),
    ("-Infinity", "[-Infinity]", {"type": "array"}, 0.0, "invalid_json"),
    ("single quotes", "{'name': 'Ada', 'age': 36}", PERSON, 0.0, "invalid_json"),
    ("comment", '{"name": "Ada", // x\n "age": 36}', PERSON, 0.0, "invalid_json"),
    ("leading zero", '{"name": "Ada", "age": 036}', PERSON, 0.0, "invalid_json"),
    ("raw tab in string", '{"name": "A\tda", "age": 36}', PERSON, 0.0, "invalid_json"),
    ("exponent out of range", "[1e99999999999999999999]", {}, 0.0, "invalid_json"),
    # numbers
    ("0.3 multiple of 0.1", "0.3", NUM, 1.0, "correct"),
    ("float noise not a multiple", "0.30000000000000004", NUM, 0.0, "schema_violation"),
    ("7.5 multiple of 2.5", "7.5", {"multipleOf": 2.5}, 1.0, "correct"),
    ("10 not multiple of 4", "10", {"multipleOf": 4}, 0.0, "schema_violation"),
    (
        "1e999999 integer multiple",
        "1e999999",
        {"type": "integer", "multipleOf": 0.25},
        1.0,
        "correct",
    ),
    ("1e-999999 not multiple of 1", "1e-999999", {"multipleOf": 1}, 0.0, "schema_violation"),
    ("99k-digit integer", "9" * 99_000, {"type": "integer", "multipleOf": 9}, 1.0, "correct"),
    ("huge integer above maximum", "1" + "0" * 400, {"maximum": 1e308}, 0.0, "schema_violation"),
    ("1.0 is an integer (2020-12)", "1.0", INT, 1.0, "correct"),
    ("1.0 is an integer (draft 7)", "1.0", {"$schema": D7, "type": "integer"}, 1.0, "correct"),
    (
        "1.0 is not an integer (draft 4)",
        "1.0",
        {"$schema": D4, "type": "integer"},
        0.0,
        "schema_violation",
    ),
    ("1.5 is not an integer", "1.5", INT, 0.0, "schema_violation"),
    ("true is not an integer", "true", INT, 0.0, "schema_violation"),
    ("const float exact", '{"x": 0.1}', {"properties": {"x": {"const": 0.1}}}, 1.0, "correct"),
    ("unique items 1 and 1.0", "[1, 1.0]", {"uniqueItems": True}, 0.0, "schema_violation"),
    ("unique items 1 and true", "[1, true]", {"uniqueItems": True}, 1.0, "correct"),
    ("unique objects", '[{"a": 1}, {"a": 1.0}]', {"uniqueItems": True}, 0.0, "schema_violation"),
    (
        "8000 distinct objects",
        "[" + ",".join(f'{{"a": {i}}}' for i in range(8000)) + "]",
        {"uniqueItems": True},
        1.0,
        "correct",
    ),
    # formats
    ("date", '"2024-02-29"', fmt("date"), 1.0, "correct"),
    ("date not in calendar", '"2023-02-29"', fmt("date"), 0.0, "schema_violation"),
    ("date-time", '"2024-01-01T10:00:00.5+02:00"', fmt("date-time"), 1.0, "correct"),
    (
        "date-time without offset",
        '"2024-01-01T10:00:00"',
        fmt("date-time"),
        0.0,
        "schema_violation",
    ),
    ("date-time with space", '"2024-01-01 10:00:00Z"', fmt("date-time"), 0.0, "schema_violation"),
    ("leap second", '"1998-12-31T23:59:60Z"', fmt("date-time"), 1.0, "correct"),
    ("leap second wrong hour", '"1998-12-31T22:59:60Z"', fmt("date-time"), 0.0, "schema_violation"),
    ("email", '"ada.lovelace+x@example.co.uk"', fmt("email"), 1.0, "correct"),
    ("email double dot", '"ada..lovelace@example.com"', fmt("email"), 0.0, "schema_violation"),
    ("ipv4", '"192.168.0.1"', fmt("ipv4"), 1.0, "correct"),
    ("ipv4 leading zero", '"192.168.0.01"', fmt("ipv4"), 0.0, "schema_violation"),
    ("ipv6", '"2001:db8::1"', fmt("ipv6"), 1.0, "correct"),
    ("ipv6 zone", '"fe80::1%eth0"', fmt("ipv6"), 0.0, "schema_violation"),
    ("uuid", '"123e4567-e89b-12d3-a456-426614174000"', fmt("uuid"), 1.0, "correct"),
    (
        "uuid in braces",
        '"{123e4567-e89b-12d3-a456-426614174000}"',
        fmt("uuid"),
        0.0,
        "schema_violation",
    ),
    ("unasserted format", '"-not a host-"', fmt("hostname"), 1.0, "correct"),
    # regular expressions
    ("pattern", '"123"', {"pattern": "^\\d{3}$"}, 1.0, "correct"),
    (
        "pattern \\d is ASCII",
        '"\u0661\u0662\u0663"',
        {"pattern": "^\\d{3}$"},
        0.0,
        "schema_violation",
    ),
    ("pattern $ is the very end", '"123\\n"', {"pattern": "^\\d{3}$"}, 0.0, "schema_violation"),
    (
        "nested quantifier, fast engine",
        f'"{EVIL}"',
        {"pattern": "^(a+)+$"},
        0.0,
        "schema_violation",
    ),
    ("catastrophic pattern", f'"{EVIL}"', {"pattern": SLOW}, 0.0, "timeout"),
    (
        "catastrophic patternProperties",
        f'{{"{EVIL}": 1}}',
        {"patternProperties": {SLOW: {}}},
        0.0,
        "timeout",
    ),
    (
        "catastrophic unevaluated keys",
        f'{{"{EVIL}": 1}}',
        {"allOf": [{"patternProperties": {SLOW: {}}}], "unevaluatedProperties": False},
        0.0,
        "timeout",
    ),
    ("additionalProperties with patterns", '{"x-a": 1}', OPEN_PATTERNS, 1.0, "correct"),
    ("additional property rejected", '{"y": 1}', OPEN_PATTERNS, 0.0, "schema_violation"),
    ("unevaluated property allowed", '{"a": 1}', EVALUATED, 1.0, "correct"),
    ("unevaluated property rejected", '{"a": 1, "b": 2}', EVALUATED, 0.0, "schema_violation"),
    (
        "long string, pattern and format",
        '"' + "a" * 90_000 + '"',
        {"pattern": "^a+$", "format": "email"},
        0.0,
        "schema_violation",
    ),
    (
        "3000 keys through patterns and unevaluatedProperties",
        "{" + ",".join(f'"a{i}": "v"' for i in range(3000)) + "}",
        {"allOf": [{"patternProperties": {"^a[0-9]+$": {}}}], "unevaluatedProperties": False},
        1.0,
        "correct",
    ),
    # references
    ("local $ref", "[1, 2]", LOCAL_REF, 1.0, "correct"),
    ("recursive $ref keeps 2020-12 rules", "[[1.0]]", TREE, 1.0, "correct"),
    ("recursive $ref keeps the regex guard", f'[["{EVIL}"]]', TREE_7, 0.0, "timeout"),
    ("local $ref violated", "[1, -2]", LOCAL_REF, 0.0, "schema_violation"),
    ("schema as JSON text", ADA, '{"required": ["name"]}', 1.0, "correct"),
    ("boolean schema true", ADA, True, 1.0, "correct"),
    ("boolean schema false", ADA, False, 0.0, "schema_violation"),
    ("remote $ref", ADA, {"$ref": "https://example.com/person.json"}, 0.0, "reference_error"),
    ("missing local $ref", ADA, {"$ref": "#/$defs/missing"}, 0.0, "reference_error"),
    ("circular $ref", ADA, {"$ref": "#"}, 0.0, "reference_error"),
    ("invalid schema", ADA, {"type": "strnig"}, 0.0, "reference_error"),
    ("pattern that does not compile", ADA, {"pattern": "("}, 0.0, "reference_error"),
    (
        "unknown $schema",
        ADA,
        {"$schema": "https://example.com/s", "type": "object"},
        0.0,
        "reference_error",
    ),
    ("schema text not JSON", ADA, "{type: object}", 0.0, "reference_error"),
    ("schema is an array", ADA, [{"type": "object"}], 0.0, "reference_error"),
    ("non-finite float in schema", "1", {"maximum": float("inf")}, 0.0, "reference_error"),
    ("broken schema beats missing json", "no json here", {"type": 3}, 0.0, "reference_error"),
    # bombs
    ("nesting 50k deep", nested(50_000), {"type": "array"}, 0.0, "invalid_json"),
    ("nesting at the cap", nested(512), {"type": "array"}, 1.0, "correct"),
    ("nesting over the cap", nested(513), {"type": "array"}, 0.0, "invalid_json"),
    ("unbalanced 50k openers", "[" * 50_000, {"type": "array"}, 0.0, "no_json"),
    ("over max_chars", ADA + " " * 100_000, PERSON, 0.0, "invalid_json"),
    ("megabyte string", '"' + "a" * 1_000_000 + '"', STR, 0.0, "invalid_json"),
]


@pytest.mark.parametrize(
    ("completion", "reference", "score", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_table(completion: str, reference: Any, score: float, reason: str) -> None:
    start = time.perf_counter()
    verdict = JsonSchemaVerifier()(completion, reference=reference)
    elapsed = time.perf_counter() - start
    assert (verdict.score, verdict.reason) == (score, reason), verdict.detail
    assert elapsed < 1.0


PARTIAL: list[tuple[str, str, Any, float]] = [
    ("all valid", ADA, PERSON, 1.0),
    ("one of two missing", '{"name": "Ada"}', PERSON, 1 / 3),
    ("one of two invalid", '{"name": "Ada", "age": "x"}', PERSON, 1 / 3),
    ("required fine, extra key", '{"name": "Ada", "age": 36, "x": 1}', PERSON, 2 / 3),
    ("not an object", "[1]", PERSON, 0.0),
    ("no required list", '{"a": "x"}', {"properties": {"a": INT}}, 0.0),
    (
        "pattern property applies",
        '{"x-a": "s", "b": 1}',
        {"required": ["x-a", "b"], "patternProperties": {"^x-": INT}},
        1 / 3,
    ),
    (
        "additionalProperties applies",
        '{"a": "s", "b": 1}',
        {"required": ["a", "b"], "additionalProperties": INT},
        1 / 3,
    ),
    (
        "local $ref in property",
        '{"a": 1}',
        {"$defs": {"n": INT}, "properties": {"a": {"$ref": "#/$defs/n"}}, "required": ["a", "b"]},
        1 / 3,
    ),
]


@pytest.mark.parametrize(
    ("completion", "reference", "score"),
    [case[1:] for case in PARTIAL],
    ids=[case[0] for case in PARTIAL],
)
def test_partial_credit(completion: str, reference: Any, score: float) -> None:
    verdict = JsonSchemaVerifier(partial_credit=True)(completion, reference=reference)
    assert verdict.score == pytest.approx(score)
    assert verdict.reason == ("correct" if score == 1.0 else "schema_violation")


def test_partial_credit_leaves_other_reasons_at_zero() -> None:
    verify = JsonSchemaVerifier(partial_credit=True)
    assert verify('{"name": "Ada",}', reference=PERSON).score == 0.0
    assert verify("nothing", reference=PERSON).reason == "no_json"


def test_examples_hold() -> None:
    verify = JsonSchemaVerifier()
    assert len(verify.examples) >= 12
    assert {example.kind for example in verify.examples} == {"true", "false", "adversarial"}
    for example in verify.examples:
        verdict = verify(example.completion, reference=example.reference)
        assert (verdict.score, verdict.reason) == (example.score, example.reason), example


def test_deterministic_and_picklable() -> None:
    verify = JsonSchemaVerifier(partial_credit=True, max_depth=32)
    clone = pickle.loads(pickle.dumps(verify))
    assert clone == verify
    for _, completion, reference, _, reason in CASES:
        if reason != "timeout":
            assert clone(completion, reference=reference) == verify(completion, reference=reference)


def test_reference_not_mutated() -> None:
    reference = {"properties": {"x": {"multipleOf": 0.1, "pattern": "^a$"}}, "required": ["x"]}
    before = copy.deepcopy(reference)
    JsonSchemaVerifier()('{"x": 0.2}', reference=reference)
    assert reference == before


def test_registered_and_built_from_options() -> None:
    verify = registry.get("json_schema", {"partial_credit": True, "max_chars": 10})
    assert isinstance(verify, JsonSchemaVerifier)
    assert verify(ADA, reference=PERSON).reason == "invalid_json"


def test_details_name_path_and_position() -> None:
    verify = JsonSchemaVerifier()
    violation = verify('{"name": "Ada", "age": -1}', reference=PERSON)
    assert violation.detail.startswith("$.age: -1 is less than the minimum of 0")
    assert violation.extracted == '{"name": "Ada", "age": -1}'
    broken = verify('{"name": "Ada",\n "age": }', reference=PERSON)
    assert "line 2 column 9" in broken.detail


def test_garbage_completion_is_a_verdict() -> None:
    verdict = JsonSchemaVerifier()(None, reference=PERSON)  # type: ignore[arg-type]
    assert verdict.reason == "verifier_error"


@pytest.mark.parametrize(
    "options",
    [
        {"max_chars": 0},
        {"max_depth": -1},
        {"max_depth": True},
        {"partial_credit": "yes"},
        {"pattern_budget_s": 0},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        JsonSchemaVerifier(**options)


@pytest.mark.parametrize(
    "module",
    [extract, formats, keywords, numeric, patterns, schema, stack, strict],
    ids=lambda module: module.__name__,
)
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_verifier_doctest() -> None:
    import verifiers.json_schema as package

    result = doctest.testmod(package)
    assert result.attempted > 0
    assert result.failed == 0
