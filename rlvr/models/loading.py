"""Load the policy model and tokenizer a model section names (building a tiny model first when
asked; LoRA adapters when asked, `rlvr.models.lora`), with one-line errors for a path that holds
no model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

from rlvr.config.sections import ModelConfig
from rlvr.models.lora import adapter_base, apply_lora, is_adapter_dir, is_lora, load_adapter_dir
from rlvr.models.tiny import CONFIG_FILE, PRESETS, build_tiny
from rlvr.models.versions import check_supported


class ModelNotFoundError(FileNotFoundError):
    """`model.path` names neither a model directory nor a model on the hub."""


def load_policy(
    cfg: ModelConfig, *, checkpoint: str | Path | None = None
) -> tuple[PreTrainedModel, Tokenizer]:
    """Load the causal LM and tokenizer at `cfg.path`, with LoRA adapters when `cfg.lora` is set.

    With `cfg.tiny_preset`, a missing or empty directory gets a tiny model of that preset built
    first; a directory that already holds a model (a trained run's `final/`, say) is loaded as
    it is. A directory of LoRA adapters (a LoRA stage's `final/`) is merged into its base.
    `checkpoint` resumes a run: its weights (or, under LoRA, its adapters on `cfg.path`'s model)
    replace the starting ones.

    Raises:
        UnsupportedVersionError: the installed transformers release is not supported.
        ModelNotFoundError: the path is neither a model directory nor a hub model (one line).
        ValueError: a LoRA target matches no module (one line).
    """
    check_supported("transformers")
    path = Path(cfg.path)
    holds_trained_model = (path / "config.json").is_file() and not (path / CONFIG_FILE).exists()
    if cfg.tiny_preset is not None and not holds_trained_model and not is_adapter_dir(path):
        build_tiny(path, PRESETS[cfg.tiny_preset])
    base = adapter_base(path) if is_adapter_dir(path) else cfg.path
    _check_model_path(base)
    tokenizer_dir = checkpoint if checkpoint is not None else cfg.path
    if not (Path(tokenizer_dir) / "tokenizer_config.json").is_file():
        tokenizer_dir = base
    tokenizer = AutoTokenizer.from_pretrained(
        str(tokenizer_dir), trust_remote_code=cfg.trust_remote_code
    )
    full = checkpoint if checkpoint is not None and cfg.lora is None else base
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(full), dtype=getattr(torch, cfg.dtype), trust_remote_code=cfg.trust_remote_code
    )
    if is_adapter_dir(path) and full == base:
        model = load_adapter_dir(path, model, trainable=False)
    if cfg.lora is not None:
        if checkpoint is not None:
            return load_adapter_dir(checkpoint, model, trainable=True), tokenizer
        model = apply_lora(model, cfg.lora, where=cfg.path)
    return model, tokenizer


def load_weights(model: Any, path: str | Path) -> None:
    """Put the weights of the HF directory `path` (a checkpoint of `model`: full weights, or
    peft adapters when `model` has them) into `model` in place, e.g. to roll a run back."""
    path = Path(path)
    if is_lora(model):
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
        return
    from safetensors.torch import load_file

    for file in sorted(path.glob("*.safetensors")):
        model.load_state_dict(load_file(str(file)), strict=False)


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
