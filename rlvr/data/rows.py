"""The rows a data section names: a file/directory/hub dataset, or a synthetic generator."""

from __future__ import annotations

from rlvr.config.sections import DataConfig
from rlvr.data.loading import fingerprint, load_samples, load_sft_rows
from rlvr.data.synthetic import generate
from rlvr.data.types import Prompt, Sample


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
