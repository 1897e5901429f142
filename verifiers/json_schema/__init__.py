"""`json_schema`: the completion's JSON must validate against the reference JSON Schema.

Reasons (closed set):
    - `correct` (score 1): the extracted JSON validates.
    - `schema_violation` (score 0, or partial credit): it does not; the detail is the best
      error's JSON path and message.
    - `invalid_json`: a JSON candidate was found but is not strict JSON (duplicate keys,
      `NaN`, trailing commas, nesting deeper than `max_depth`, ...), or the completion is
      longer than `max_chars`; the detail names the problem and its position.
    - `no_json`: nothing in the completion looks like JSON (see `extract` for the rule).
    - `reference_error`: the reference is not a usable schema (invalid, unknown `$schema`,
      unresolvable or remote `$ref`). Not the model's fault: the reward runtime treats it as an
      infrastructure failure and masks the sample out of the loss instead of scoring 0.
    - `timeout`: pattern matching (`pattern`, `patternProperties`) used up
      `pattern_budget_s`, i.e. the completion drove a schema regex into catastrophic
      backtracking, or validation as a whole ran past `validation_budget_s` (a deep document
      against a schema that revisits subtrees). Scored 0, like every timeout caused by a
      completion.
    - `verifier_error`: an unexpected internal failure; never raised, always reported.

Implementation details:
    1. Extraction: `extract` (last fenced `json` block, else the whole text, else the last
       parsing top-level bracketed span). Parsing: `strict` (RFC 8259 only, numbers as
       `Decimal`). Schema loading: `schema` (draft from `$schema`, default 2020-12; metaschema
       check; offline `$ref` resolution). Keywords: `keywords` (exact `multipleOf`, integral
       `1.0` is an integer, regex under a time budget, linear `uniqueItems`). Formats:
       `formats` (`date`, `date-time`, `email`, `ipv4`, `ipv6`, `uuid` asserted).
    2. Regex patterns follow ECMA-262 where the engines differ most (`$`, `\\d`, `\\w`); the
       remaining differences are listed in `patterns`.
    3. Partial credit: with `n` strings in the root schema's own `required`, the score is
       `k / (n + 1)` where `k` counts required properties present and valid against the
       subschemas that apply to them (`properties`, `patternProperties`,
       `additionalProperties`); the last unit is the whole instance validating, so only a
       fully valid instance scores 1. A non-object instance scores 0.
    4. Timeouts depend on the machine's speed; everything else is deterministic.
    5. Depth: documents nest up to `max_depth` (512) levels, well within what Python's `json`
       decoder handles; deeper text (`[[[[...` bombs of any size) is `invalid_json`, found by a
       linear scan before anything recurses. Decoding and validating run with stack room for
       the document's and the schema's depth (`stack.call_with_frames`), so a deep but legal
       document is validated, not lost to a `RecursionError`.
    6. Each distinct schema is checked and compiled once per process (`schema.load`: an LRU
       keyed by a content hash); the per-call pattern budget is a context variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing.exceptions import Unresolvable

from verifiers.json_schema.examples import EXAMPLES
from verifiers.json_schema.extract import InvalidJson, find_json
from verifiers.json_schema.patterns import BadPattern, PatternTimeout, budget
from verifiers.json_schema.schema import BadReference, Schema, load
from verifiers.json_schema.stack import MAX_FRAMES, call_with_frames
from verifiers.json_schema.strict import nesting_depth
from verifiers.registry import register
from verifiers.verdict import Example, Verdict

_DECIMAL_REPR = re.compile(r"Decimal\('([^']*)'\)")
_DETAIL_CHARS = 400
_PATH_CHARS = 120
_FRAMES_PER_LEVEL = 12
"""Stack frames granted per level of document and schema nesting (`jsonschema` uses 4-6)."""
_BASE_FRAMES = 200


def _describe(error: ValidationError) -> str:
    """`path: message`; a long path (a deep document) is cut in its middle, the message kept."""
    message = _DECIMAL_REPR.sub(r"\1", error.message)
    path = error.json_path
    if len(path) > _PATH_CHARS:
        path = f"{path[: _PATH_CHARS // 2 - 2]}...{path[-(_PATH_CHARS // 2 - 1) :]}"
    detail = f"{path}: {message}"
    return detail if len(detail) <= _DETAIL_CHARS else detail[: _DETAIL_CHARS - 3] + "..."


def _required_valid(validator: Validator, schema: object, value: object) -> tuple[int, int]:
    """(required properties present and valid, required properties) of the root schema."""
    required = schema.get("required") if isinstance(schema, Mapping) else None
    if not isinstance(required, list) or not isinstance(schema, Mapping):
        return 0, 0
    names = [name for name in required if isinstance(name, str)]
    if not isinstance(value, Mapping):
        return 0, len(names)
    keys = ("properties", "patternProperties", "additionalProperties")
    applicable = validator.evolve(schema={key: schema[key] for key in keys if key in schema})
    valid = sum(name in value and applicable.is_valid({name: value[name]}) for name in names)
    return valid, len(names)


@register("json_schema")
@dataclass(frozen=True, slots=True)
class JsonSchemaVerifier:
    """Score 1 when the completion's JSON validates against the reference schema.

    >>> verify = JsonSchemaVerifier()
    >>> schema = {"type": "object", "required": ["n"], "properties": {"n": {"multipleOf": 0.1}}}
    >>> verify('```json\\n{"n": 0.3}\\n```', reference=schema)
    Verdict(score=1.0, reason='correct', detail='', extracted='{"n": 0.3}')
    >>> verify('{"n": 0.30000000000000004}', reference=schema).reason
    'schema_violation'
    >>> verify('{"n": 1, "n": 2}', reference=schema).reason
    'invalid_json'
    """

    name: ClassVar[str] = "json_schema"
    version: ClassVar[str] = "1.1.0"
    examples: ClassVar[tuple[Example, ...]] = EXAMPLES

    partial_credit: bool = False
    """Score an invalid object by its valid required properties (module docstring, item 3)."""
    max_chars: int = 100_000
    """Longer completions are `invalid_json` without being read, bounding time and memory."""
    max_depth: int = 512
    """Deepest nesting of arrays and objects accepted in the answer's JSON (Python's own `json`
    decoder stops near 1000 at its default recursion limit)."""
    pattern_budget_s: float = 0.25
    """Seconds the regex engine may spend on all matches of one verification before `timeout`."""
    validation_budget_s: float = 2.0
    """Wall-clock seconds validation may take before `timeout` (recursive schemas can take time
    exponential in a deep document's depth)."""

    def __post_init__(self) -> None:
        if not isinstance(self.partial_credit, bool):
            raise ValueError(f"partial_credit must be a bool, got {self.partial_credit!r}")
        for option in ("max_chars", "max_depth"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be a positive int, got {value!r}")
        for option in ("pattern_budget_s", "validation_budget_s"):
            budget = getattr(self, option)
            if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
                raise ValueError(f"{option} must be a positive number, got {budget!r}")

    def __call__(self, completion: str, *, reference: Mapping[str, Any] | bool | str) -> Verdict:
        """Verify `completion` against the schema `reference` (object, boolean or JSON text)."""
        try:
            return self._verify(completion, reference)
        except Exception as exc:
            return Verdict(0.0, "verifier_error", f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS])

    def _verify(self, completion: str, reference: object) -> Verdict:
        try:
            schema = load(reference, budget_s=self.pattern_budget_s)
        except BadReference as exc:
            return Verdict(0.0, "reference_error", str(exc)[:_DETAIL_CHARS])
        if not isinstance(completion, str):
            raise TypeError(f"completion must be a str, got {type(completion).__name__}")
        if len(completion) > self.max_chars:
            detail = f"completion has {len(completion)} characters, over max_chars={self.max_chars}"
            return Verdict(0.0, "invalid_json", detail)
        try:
            found = find_json(completion, max_depth=self.max_depth)
        except InvalidJson as exc:
            return Verdict(0.0, "invalid_json", str(exc), extracted=exc.text)
        if found is None:
            return Verdict(0.0, "no_json", "no JSON value, fenced block or bracketed span found")
        text, value = found
        depth = nesting_depth(text)
        frames = _BASE_FRAMES + _FRAMES_PER_LEVEL * (depth + schema.depth)
        if frames > MAX_FRAMES:
            detail = f"nesting of {depth} levels is too deep to validate against this schema"
            return Verdict(0.0, "invalid_json", detail, extracted=text)
        try:
            return call_with_frames(lambda: self._budgeted(schema, text, value), frames)
        except PatternTimeout as exc:
            return Verdict(0.0, "timeout", str(exc), extracted=text)
        except (BadPattern, Unresolvable, RecursionError) as exc:
            detail = f"schema cannot be applied: {type(exc).__name__}: {exc}"[:_DETAIL_CHARS]
            return Verdict(0.0, "reference_error", detail, extracted=text)

    def _budgeted(self, schema: Schema, text: str, value: Any) -> Verdict:
        with budget(self.pattern_budget_s, self.validation_budget_s):
            return self._judge(schema.validator, schema.contents, text, value)

    def _judge(self, validator: Validator, schema: object, text: str, value: Any) -> Verdict:
        error = best_match(validator.iter_errors(value))
        if error is None:
            return Verdict(1.0, "correct", extracted=text)
        detail = _describe(error)
        if not self.partial_credit:
            return Verdict(0.0, "schema_violation", detail, extracted=text)
        valid, total = _required_valid(validator, schema, value)
        detail = f"{detail} ({valid} of {total} required properties valid)"
        return Verdict(valid / (total + 1), "schema_violation", detail, extracted=text)


__all__ = ["JsonSchemaVerifier"]
