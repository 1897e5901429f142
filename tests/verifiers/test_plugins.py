"""Out-of-tree verifiers: an installed package's entry points, and `pkg.module:Class` specs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import verifiers
from verifiers import RegistryError, Verdict, register

PLUGIN = '''
from dataclasses import dataclass
from typing import Any, ClassVar

from verifiers import Example, Verdict


@dataclass(frozen=True)
class Palindrome:
    """Score 1 when the completion reads the same backwards."""

    name: ClassVar[str] = "palindrome"
    version: ClassVar[str] = "0.3"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("abba", None, 1.0, "correct"),
        Example("abc", None, 0.0, "wrong_answer", kind="false"),
    )
    ignore_case: bool = False

    def __call__(self, completion: str, *, reference: Any) -> Verdict:
        text = completion.strip().lower() if self.ignore_case else completion.strip()
        ok = text == text[::-1]
        return Verdict(float(ok), "correct" if ok else "wrong_answer", extracted=text)
'''


def install_plugin(site: Path) -> None:
    """Lay out an installed distribution (code + dist-info with an entry point) in `site`."""
    (site / "palindrome_plugin.py").write_text(PLUGIN)
    info = site / "palindrome_plugin-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: palindrome-plugin\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(
        "[rlvr.verifiers]\npalindrome = palindrome_plugin:Palindrome\n"
    )


def run_python(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env_path = f"{site}:{Path(__file__).resolve().parents[2]}"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )


def test_installed_plugin_is_found_by_name(tmp_path: Path) -> None:
    install_plugin(tmp_path)
    result = run_python(
        tmp_path,
        """
        import verifiers
        v = verifiers.get("palindrome", {"ignore_case": True})
        print(v("Abba", reference=None).score, v.version, "palindrome" in verifiers.available())
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1.0", "0.3", "True"]


def test_installed_plugin_is_listed_by_cli(tmp_path: Path) -> None:
    install_plugin(tmp_path)
    result = run_python(tmp_path, "from rlvr.cli import main; main(['verifiers', 'list'])")
    assert result.returncode == 0, result.stderr
    line = next(row for row in result.stdout.splitlines() if row.startswith("palindrome"))
    assert line.split() == ["palindrome", "0.3", "palindrome_plugin"]


def test_dotted_spec_and_errors() -> None:
    v = verifiers.get("tests.verifiers.test_plugins:Exact", {})
    assert v("x", reference="x") == Verdict(1.0, "correct", extracted="x")
    with pytest.raises(RegistryError, match="unknown verifier 'nope'"):
        verifiers.get("nope")
    with pytest.raises(RegistryError, match="cannot import verifier"):
        verifiers.get("tests.no_such_module:Thing")
    with pytest.raises(RegistryError, match="bad options for verifier"):
        verifiers.get("tests.verifiers.test_plugins:Exact", {"colour": "red"})


def test_register_rejects_duplicates_and_mismatched_names() -> None:
    with pytest.raises(RegistryError, match="its `name` differs"):
        register("other")(Exact)
    register("exact_for_test")(ExactRegistered)
    with pytest.raises(RegistryError, match="already registered"):
        register("exact_for_test")(ExactRegistered)


class Exact:
    """String equality, for the tests above."""

    name = "exact"
    version = "1"
    examples = ()

    def __call__(self, completion: str, *, reference: str) -> Verdict:
        ok = completion == reference
        return Verdict(float(ok), "correct" if ok else "wrong_answer", extracted=completion)


class ExactRegistered(Exact):
    """Registered once under its own name."""

    name = "exact_for_test"
