"""`rlvr eval CONFIG.yaml`: generate completions for a dataset and score them with verifiers.

Writes the run directory with `completions.jsonl` (one row per sample: prompt, completion,
score, reason, extracted) and `summary.json` (accuracy, mean reward, counts per reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rlvr.config import to_dict
from rlvr.config.sections import DataConfig, GenerationConfig, ModelConfig, RewardConfig, RunConfig
from rlvr.data import Sample
from rlvr.data.rows import load_rows
from rlvr.distributed import open_runtime
from rlvr.evaluate.scoring import score_model
from rlvr.models.loading import load_policy
from rlvr.rewards import reward_specs
from rlvr.runs import create_run, seed_everything
from verifiers import Verdict


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate a model on a dataset with the rows' own verifiers."""

    model: ModelConfig
    """The model to evaluate."""
    data: DataConfig
    """The evaluation rows (each names its verifier)."""
    run: RunConfig
    """Output directory and seed."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Decoding settings (greedy by default)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward runtime settings."""


@dataclass(frozen=True)
class EvalResult:
    """What `evaluate` measured."""

    accuracy: float
    """Share of rows whose main verifier gave score 1."""
    mean_reward: float
    """Mean summed reward over rows that were not masked."""
    n: int
    """Rows evaluated."""
    counts: dict[str, dict[str, int]]
    """Verifier -> reason -> count."""
    run_dir: str
    """Where the results were written."""


def evaluate(cfg: EvalConfig) -> EvalResult:
    """Generate one completion per row, score it, write the run directory."""
    seed_everything(cfg.run.seed)
    samples, data_hash = load_rows(cfg.data)
    run = create_run(
        cfg.run.output_dir,
        cfg.run.name,
        cfg,
        stage="eval",
        seed=cfg.run.seed,
        datasets={"eval": data_hash},
        verifier_names=[*(x.verifier for x in samples), *(e.verifier for e in cfg.reward.extra)],
        overwrite=cfg.run.overwrite,
    )
    model, tokenizer = load_policy(cfg.model)
    with open_runtime(cfg.reward) as runtime:
        scored = score_model(
            model,
            tokenizer,
            samples,
            generation=cfg.generation,
            runtime=runtime,
            extra=reward_specs(cfg.reward),
            seed=cfg.run.seed,
        )
    result_rows = scored.result
    _write_completions(
        run.dir / "completions.jsonl", samples, scored.completions, result_rows.verdicts_for_rows()
    )
    kept = [r for r, m in zip(result_rows.rewards, result_rows.mask, strict=True) if m]
    result = EvalResult(
        accuracy=scored.accuracy,
        mean_reward=sum(kept) / max(1, len(kept)),
        n=len(samples),
        counts=result_rows.counts,
        run_dir=str(run.dir),
    )
    metrics = {"eval/accuracy": result.accuracy, "eval/mean_reward": result.mean_reward}
    run.log(0, {**metrics, "eval/generate_s": scored.generate_s})
    run.write_json("summary.json", to_dict(result))
    run.close()
    return result


def _write_completions(
    path: Path, samples: list[Sample], completions: list[str], verdicts: list[Verdict]
) -> None:
    with path.open("w") as f:
        for sample, text, verdict in zip(samples, completions, verdicts, strict=True):
            row = {
                "id": sample.id,
                "prompt": sample.prompt if isinstance(sample.prompt, str) else list(sample.prompt),
                "completion": text,
                "score": verdict.score,
                "reason": verdict.reason,
                "extracted": verdict.extracted,
            }
            f.write(json.dumps(row) + "\n")
