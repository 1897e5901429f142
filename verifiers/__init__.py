"""Plug-in verifiers: turn a completion into a `Verdict`. Torch-free.

Built-ins are imported explicitly below, so registration is never a hidden side effect:
`code`, `think_format`, `length`, `json_schema`, `math` and `reasoning_gym` (whose
`reasoning-gym` package is optional and imported only when it scores).
"""

from verifiers import code as code
from verifiers import format as format
from verifiers import json_schema as json_schema
from verifiers import math as math
from verifiers import reasoning_gym as reasoning_gym
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
    "reasoning_gym",
    "register",
    "resolve",
]
