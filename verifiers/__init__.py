"""Plug-in verifiers: turn a completion into a `Verdict`. Torch-free.

Built-ins are imported explicitly below, so registration is never a hidden side effect:
`code`, `think_format`, `length`, `json_schema` and `math`.
"""

from verifiers import code as code
from verifiers import format as format
from verifiers import json_schema as json_schema
from verifiers import math as math
from verifiers.registry import RegistryError, available, get, register, resolve
from verifiers.verdict import Example, Verdict, Verifier

__all__ = [
    "Example",
    "RegistryError",
    "Verdict",
    "Verifier",
    "available",
    "code",
    "format",
    "get",
    "json_schema",
    "math",
    "register",
    "resolve",
]
