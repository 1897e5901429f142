"""Plug-in verifiers: turn a completion into a `Verdict`. Torch-free.

Built-ins are imported explicitly below, so registration is never a hidden side effect.
"""

from verifiers.registry import RegistryError, available, get, register, resolve
from verifiers.verdict import Example, Verdict, Verifier

__all__ = [
    "Example",
    "RegistryError",
    "Verdict",
    "Verifier",
    "available",
    "get",
    "register",
    "resolve",
]
