"""Load the policy model and tokenizer a model section names (building a tiny model first when
asked), with one-line errors for a path that holds no model."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

from rlvr.config.sections import ModelConfig
from rlvr.models.tiny import CONFIG_FILE, PRESETS, build_tiny
from rlvr.models.versions import check_supported


class ModelNotFoundError(FileNotFoundError):
    """`model.path` names neither a model directory nor a model on the hub."""


def load_policy(cfg: ModelConfig) -> tuple[PreTrainedModel, Tokenizer]:
    """Load the causal LM and tokenizer at `cfg.path`.

    With `cfg.tiny_preset`, a missing or empty directory gets a tiny model of that preset built
    first; a directory that already holds a model (a trained run's `final/`, say) is loaded as
    it is.

    Raises:
        UnsupportedVersionError: the installed transformers release is not supported.
        ModelNotFoundError: the path is neither a model directory nor a hub model (one line).
    """
    check_supported("transformers")
    path = Path(cfg.path)
    holds_trained_model = (path / "config.json").is_file() and not (path / CONFIG_FILE).exists()
    if cfg.tiny_preset is not None and not holds_trained_model:
        build_tiny(path, PRESETS[cfg.tiny_preset])
    _check_model_path(cfg.path)
    tokenizer = AutoTokenizer.from_pretrained(cfg.path, trust_remote_code=cfg.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        cfg.path, dtype=getattr(torch, cfg.dtype), trust_remote_code=cfg.trust_remote_code
    )
    return model, tokenizer


def _check_model_path(name: str) -> None:
    """Fail in one line unless `name` is a model directory or a model the hub can serve."""
    path = Path(name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"model.path {name!r} is a directory but holds no model (no config.json)"
            )
        return
    if path.exists():
        raise ModelNotFoundError(f"model.path {name!r} is a file, not a model directory")
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(
            f"model.path {name!r} does not exist, and it was not found on the hub either "
            f"({reason[:200]})"
        ) from None
