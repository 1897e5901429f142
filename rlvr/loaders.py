"""Build what a config section names: the policy model and tokenizer, the rows of a dataset."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

from rlvr.data import Prompt, Sample, fingerprint, generate, load_samples, load_sft_rows
from rlvr.sections import DataConfig, ModelConfig
from rlvr.tiny import PRESETS, build_tiny


def load_policy(cfg: ModelConfig) -> tuple[PreTrainedModel, Tokenizer]:
    """Load (building first, for a tiny preset) the causal LM and tokenizer at `cfg.path`."""
    if cfg.tiny_preset is not None:
        build_tiny(Path(cfg.path), PRESETS[cfg.tiny_preset])
    tokenizer = AutoTokenizer.from_pretrained(cfg.path, trust_remote_code=cfg.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        cfg.path, dtype=getattr(torch, cfg.dtype), trust_remote_code=cfg.trust_remote_code
    )
    return model, tokenizer


def load_rows(cfg: DataConfig) -> tuple[list[Sample], str]:
    """The samples a data section names, and their fingerprint for the run manifest."""
    if cfg.synthetic is not None:
        tasks = generate(cfg.synthetic, cfg.n, seed=cfg.seed, options=cfg.options)
        return [task.sample for task in tasks], _synthetic_id(cfg)
    assert cfg.source is not None
    samples = load_samples(cfg.source, split=cfg.split, limit=cfg.n)
    return samples, fingerprint(cfg.source)


def load_sft(cfg: DataConfig) -> tuple[list[tuple[Prompt, str]], str]:
    """(prompt, completion) pairs a data section names, and their fingerprint.

    Synthetic generators supply their worked solutions as completions.
    """
    if cfg.synthetic is not None:
        tasks = generate(cfg.synthetic, cfg.n, seed=cfg.seed, options=cfg.options)
        pairs = [(task.sample.prompt, task.solution) for task in tasks]
        return pairs, _synthetic_id(cfg)
    assert cfg.source is not None
    return load_sft_rows(cfg.source, split=cfg.split, limit=cfg.n), fingerprint(cfg.source)


def _synthetic_id(cfg: DataConfig) -> str:
    options = ",".join(f"{k}={v}" for k, v in sorted(cfg.options.items()))
    return f"synthetic:{cfg.synthetic}:n={cfg.n}:seed={cfg.seed}:{options}"
