"""Helpers shared by the benchmark scripts and their worker processes (standard library only)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM), in MiB; NaN where /proc is absent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution in `names` (None when absent)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def write_results(out: Path, results: dict[str, Any]) -> None:
    """Write `out/results.json` (strict JSON) and say where."""
    path = out / "results.json"
    path.write_text(json.dumps(finite(results), indent=2) + "\n")
    print(f"\nwrote {path}")
