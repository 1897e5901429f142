"""Backend parametrisation: every test taking `backend` runs once per backend that passes its
start-up probe here; the others are skipped with the probe's reason."""

from __future__ import annotations

import pytest

import sandboxes
from sandboxes import BackendName


@pytest.fixture(params=sandboxes.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """A backend that works on this machine."""
    name = str(request.param)
    reason = sandboxes.probe(name)
    if reason is not None:
        pytest.skip(f"{name} backend unavailable here: {reason}")
    return name


def not_covered(backend: BackendName, uncovered: set[str], what: str) -> None:
    """Skip when `backend`'s docstring lists `what` under "Not covered"."""
    if backend in uncovered:
        pytest.skip(f"{backend} backend does not cover {what} (documented under 'Not covered')")
