"""The `json_schema` verifier on deep documents and depth bombs, and its compiled-schema cache."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from verifiers.json_schema import JsonSchemaVerifier, schema
from verifiers.json_schema.examples import PERSON

ADA = '{"name": "Ada", "age": 36}'
CAP = JsonSchemaVerifier().max_depth
TREE = {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#"}}]}
CHAIN = {"type": "object", "properties": {"c": {"$ref": "#"}}, "additionalProperties": False}
DEFS = {
    "$ref": "#/$defs/node",
    "$defs": {
        "node": {
            "type": "object",
            "required": ["c"],
            "properties": {"c": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/node"}]}},
        }
    },
}


def arrays(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def objects(depth: int, leaf: str = "{}") -> str:
    """`depth` levels of objects, the leaf object counting as one."""
    return '{"c": ' * (depth - 1) + leaf + "}" * (depth - 1)


def fenced(depth: int) -> str:
    return f"Here it is:\n```json\n{arrays(depth)}\n```\nDone."


SHAPES: dict[str, tuple[Any, Callable[[int], str]]] = {
    "any schema": ({}, arrays),
    "array type only": ({"type": "array"}, arrays),
    "recursive items": ({"type": "array", "items": {"$ref": "#"}}, lambda d: "[" * d + "]" * d),
    "anyOf tree": (TREE, arrays),
    "object chain": (CHAIN, objects),
    "oneOf through $defs": (DEFS, lambda d: objects(d, '{"c": null}')),
    "fenced in prose": (TREE, fenced),
}


@pytest.mark.parametrize("depth", [64, 65, 100, 200, 256, 400, CAP])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_deep_legitimate_documents_are_validated(shape: str, depth: int) -> None:
    reference, document = SHAPES[shape]
    verdict = JsonSchemaVerifier()(document(depth), reference=reference)
    assert (verdict.score, verdict.reason) == (1.0, "correct"), verdict.detail


@pytest.mark.parametrize("depth", [100, 300, CAP])
def test_a_violation_at_the_bottom_of_a_deep_document_is_found(depth: int) -> None:
    verdict = JsonSchemaVerifier()(arrays(depth, '"x"'), reference=TREE)
    assert verdict.reason == "schema_violation"
    chain = JsonSchemaVerifier()(objects(depth - 1, '{"c": {}, "d": 1}'), reference=CHAIN)
    assert chain.reason == "schema_violation"
    assert chain.detail.endswith(".c.c: Additional properties are not allowed ('d' unexpected)")


def test_deep_documents_validate_from_a_deep_caller_stack() -> None:
    limit = sys.getrecursionlimit()

    def call_from_depth(frames: int) -> Any:
        if frames == 0:
            return JsonSchemaVerifier()(arrays(CAP), reference=TREE)
        return call_from_depth(frames - 1)

    assert call_from_depth(limit - 150).reason == "correct"
    assert sys.getrecursionlimit() == limit


@pytest.mark.parametrize("size", [10**5, 10**6])
@pytest.mark.parametrize(
    ("opener", "closer"), [("[", "]"), ("{", "}"), ('{"a": ', "}"), ("[{}, ", "]")]
)
def test_depth_bombs_come_back_fast_with_a_clear_reason(
    size: int, opener: str, closer: str
) -> None:
    bomb = opener * size + closer * size
    for verify in (JsonSchemaVerifier(), JsonSchemaVerifier(max_chars=len(bomb))):
        start = time.perf_counter()
        verdict = verify(bomb, reference=TREE)
        assert time.perf_counter() - start < 5.0
        assert verdict.reason == "invalid_json"
        assert "max_chars" in verdict.detail or f"deeper than {CAP} levels" in verdict.detail


@pytest.mark.parametrize("depth", [600, 5_000, 100_000])
def test_a_raised_cap_never_turns_into_a_recursion_error(depth: int) -> None:
    verdict = JsonSchemaVerifier(max_depth=10**6, max_chars=10**7)(arrays(depth), reference=TREE)
    assert verdict.reason in ("correct", "invalid_json")
    assert "RecursionError" not in verdict.detail


EXPONENTIAL = {
    "unevaluatedProperties under recursion": (
        {
            "type": "object",
            "allOf": [{"properties": {"c": {"$ref": "#"}}}],
            "unevaluatedProperties": False,
        },
        objects,
    ),
    "anyOf whose branches both descend": (
        {
            "anyOf": [
                {"type": "array", "items": {"$ref": "#"}, "maxItems": 0},
                {"type": "array", "items": {"$ref": "#"}},
            ]
        },
        lambda d: "[" * d + "]" * d,
    ),
}


@pytest.mark.parametrize("depth", [40, CAP])
@pytest.mark.parametrize("shape", EXPONENTIAL, ids=str)
def test_exponential_validation_stops_at_its_budget(shape: str, depth: int) -> None:
    reference, document = EXPONENTIAL[shape]
    verify = JsonSchemaVerifier(validation_budget_s=0.2)
    assert verify(document(6), reference=reference).reason == "correct"
    start = time.perf_counter()
    verdict = verify(document(depth), reference=reference)
    assert time.perf_counter() - start < 2.0
    assert (verdict.score, verdict.reason) == (0.0, "timeout")
    assert "0.2 s budget" in verdict.detail


def test_validation_budget_is_checked() -> None:
    with pytest.raises(ValueError, match="validation_budget_s"):
        JsonSchemaVerifier(validation_budget_s=0)


def test_the_cap_is_an_option() -> None:
    assert JsonSchemaVerifier(max_depth=200)(arrays(201), reference={}).reason == "invalid_json"
    assert JsonSchemaVerifier(max_depth=200)(arrays(200), reference={}).reason == "correct"


def test_a_circular_reference_is_still_a_reference_error() -> None:
    for document in (ADA, arrays(CAP)):
        verdict = JsonSchemaVerifier()(document, reference={"$ref": "#"})
        assert verdict.reason == "reference_error"


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every schema compiled while the test runs, starting from an empty cache."""
    schema.clear_cache()
    seen: list[object] = []
    compile_schema = schema.compile_schema

    def counting(parsed: Any, *, budget_s: float) -> schema.Schema:
        seen.append(parsed)
        return compile_schema(parsed, budget_s=budget_s)

    monkeypatch.setattr(schema, "compile_schema", counting)
    return seen


def test_an_equal_schema_is_compiled_once(compilations: list[object]) -> None:
    verify = JsonSchemaVerifier()
    as_text = (
        '{"type": "object", "properties": {"name": {"type": "string", "minLength": 1},'
        ' "age": {"type": "integer", "minimum": 0}, "email": {"type": "string",'
        ' "format": "email"}}, "required": ["name", "age"], "additionalProperties": false}'
    )
    for reference in (PERSON, dict(PERSON), as_text, PERSON):
        assert verify(ADA, reference=reference).reason == "correct"
    assert len(compilations) == 1
    assert schema.cache_info() == (3, 1, 1)


def test_different_schemas_compile_separately(compilations: list[object]) -> None:
    verify = JsonSchemaVerifier()
    references = [{"const": 1}, {"const": 2}, {"const": 1.0}, {"const": "1"}, {}, True]
    for reference in references * 2:
        verify("1", reference=reference)
    assert len(compilations) == len(references)


def test_the_cache_is_bounded(compilations: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema._CACHE, "size", 2)
    verify = JsonSchemaVerifier()
    for bound in (1, 2, 3, 3, 1):
        verify("5", reference={"maximum": bound})
    assert len(compilations) == 4
    assert schema.cache_info()[2] == 2


def test_bad_references_are_not_cached(compilations: list[object]) -> None:
    for _ in range(2):
        assert JsonSchemaVerifier()(ADA, reference={"type": "strnig"}).reason == "reference_error"
    assert len(compilations) == 2
    assert schema.cache_info()[2] == 0


def test_cached_and_fresh_compilations_give_the_same_verdicts() -> None:
    verify = JsonSchemaVerifier(partial_credit=True)
    cases = [
        (ADA, PERSON),
        ('{"name": "Ada", "age": -1, "x": 2}', PERSON),
        ('{"name": 3}', PERSON),
        ('["' + "a" * 40 + '!"]', {"items": {"pattern": "^(a|aa)+$"}}),
        (arrays(300, '"x"'), TREE),
    ]
    schema.clear_cache()
    cold = [verify(text, reference=reference) for text, reference in cases]
    warm = [verify(text, reference=reference) for text, reference in cases]
    assert [(v.score, v.reason, v.detail) for v in warm] == [
        (v.score, v.reason, v.detail) for v in cold
    ]
    assert cold[3].reason == "timeout"


def test_each_call_gets_its_own_pattern_budget() -> None:
    slow = {"items": {"pattern": "^(a|aa)+$"}}
    verify = JsonSchemaVerifier(pattern_budget_s=0.05)
    assert verify('["' + "a" * 40 + '!"]', reference=slow).reason == "timeout"
    assert verify('["aaaa"]', reference=slow).reason == "correct"


def test_threads_share_the_cache_safely() -> None:
    verify = JsonSchemaVerifier()
    jobs = [(ADA if i % 2 else '{"name": 1}', PERSON) for i in range(64)]
    jobs += [(arrays(CAP), TREE)] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda job: verify(job[0], reference=job[1]), jobs))
    expected = [verify(text, reference=reference) for text, reference in jobs]
    assert verdicts == expected


def nested_schema(depth: int) -> dict[str, Any]:
    built: dict[str, Any] = {}
    for _ in range(depth):
        built = {"items": built}
    return built


@pytest.mark.parametrize("depth", [64, 127, schema.SCHEMA_MAX_DEPTH])
def test_schemas_as_deep_as_their_cap_compile(depth: int) -> None:
    assert JsonSchemaVerifier()(arrays(depth), reference=nested_schema(depth)).reason == "correct"


def test_a_schema_over_its_cap_is_a_reference_error() -> None:
    verdict = JsonSchemaVerifier()("[]", reference=nested_schema(schema.SCHEMA_MAX_DEPTH + 1))
    assert verdict.reason == "reference_error"
