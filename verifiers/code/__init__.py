"""The `code` verifier: the completion's program runs against tests in a sandbox.

Registered as `code`; see `verifiers.code.verifier` for the references it takes and
`docs/sandboxes.md` for the isolation underneath.
"""

from verifiers.code.asserts import ReferenceProblem, parse_asserts
from verifiers.code.extract import extract_program
from verifiers.code.verifier import CodeVerifier

__all__ = ["CodeVerifier", "ReferenceProblem", "extract_program", "parse_asserts"]
