"""The contract cases `rlvr verifiers check json_schema` runs: true, false and adversarial."""

from __future__ import annotations

from verifiers.verdict import Example

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
"""A typical structured-output schema."""

EXAMPLES: tuple[Example, ...] = (
    Example('```json\n{"name": "Ada", "age": 36}\n```', PERSON, 1.0, "correct"),
    Example('Here it is: {"name": "Ada", "age": 36.0}. Done.', PERSON, 1.0, "correct"),
    Example("0.3", {"type": "number", "multipleOf": 0.1}, 1.0, "correct"),
    Example('{"name": "Ada"}', PERSON, 0.0, "schema_violation", "false"),
    Example('{"name": "Ada", "age": "36"}', PERSON, 0.0, "schema_violation", "false"),
    Example("I cannot answer in JSON.", PERSON, 0.0, "no_json", "false"),
    Example('{"name": "Ada", "age": 36,}', PERSON, 0.0, "invalid_json", "false"),
    Example('{"name": "Ada", "age": 36, "age": -1}', PERSON, 0.0, "invalid_json", "adversarial"),
    Example('{"name": "Ada", "age": NaN}', PERSON, 0.0, "invalid_json", "adversarial"),
    Example(
        "0.30000000000000004",
        {"type": "number", "multipleOf": 0.1},
        0.0,
        "schema_violation",
        "adversarial",
    ),
    Example(
        '{"name": "Ada", "age": 36, "email": "ada@@example.com"}',
        PERSON,
        0.0,
        "schema_violation",
        "adversarial",
    ),
    Example(
        'Example: {"name": "Ada", "age": 36}\n```json\n{"name": "Bob"}\n```',
        PERSON,
        0.0,
        "schema_violation",
        "adversarial",
    ),
    Example(
        '"' + "a" * 40 + '!"',
        {"type": "string", "pattern": "^(a+)+$"},
        0.0,
        "schema_violation",
        "adversarial",
    ),
    Example("[" * 50_000 + "]" * 50_000, {"type": "array"}, 0.0, "invalid_json", "adversarial"),
)
"""Each case must give exactly its score and reason with the default options."""
