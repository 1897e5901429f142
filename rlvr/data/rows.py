"""The rows a data section names: a file/directory/hub dataset, a synthetic generator, or a
package task (`humaneval`, `reasoning_gym:NAME`; see `rlvr.data.packages`)."""

from __future__ import annotations

from rlvr.config.sections import DataConfig
from rlvr.data.loading import fingerprint, load_samples, load_sft_rows
from rlvr.data.packages import package_version
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

    Raises:
        ValueError: a task without a worked solution (a reasoning-gym task with no single gold
            answer).
    """
    if cfg.synthetic is not None:
        tasks = generate(cfg.synthetic, cfg.n, seed=cfg.seed, options=cfg.options)
        missing = [task.sample.id for task in tasks if not task.solution]
        if missing:
            raise ValueError(
                f"{cfg.synthetic}: {len(missing)} rows have no worked solution to fine-tune on "
                f"(first: {missing[0]}); SFT needs a gold answer per row"
            )
        pairs = [(task.sample.prompt, task.solution) for task in tasks]
        return pairs, _synthetic_id(cfg)
    assert cfg.source is not None
    return load_sft_rows(cfg.source, split=cfg.split, limit=cfg.n), fingerprint(cfg.source)


def _synthetic_id(cfg: DataConfig) -> str:
    assert cfg.synthetic is not None
    options = ",".join(f"{k}={v}" for k, v in sorted(cfg.options.items()))
    version = package_version(cfg.synthetic)
    at = f"@{version}" if version else ""
    return f"synthetic:{cfg.synthetic}{at}:n={cfg.n}:seed={cfg.seed}:{options}"
