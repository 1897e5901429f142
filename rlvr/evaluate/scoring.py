"""`rlvr eval CONFIG.yaml`: generate completions for a dataset and score them with verifiers.

Writes the run directory with `completions.jsonl` (one row per sample: prompt, completion,
score, reason, extracted) and `summary.json` (accuracy, mean reward, counts per reason).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.backends import Dist
from rlvr.config import to_dict
from rlvr.data import Sample
from rlvr.distributed.config import DistributedConfig
from rlvr.loaders import load_policy, load_rows
from rlvr.rewards import RewardResult, RewardRuntime, RewardSpec
from rlvr.rollout import HFEngine, SamplingParams
from rlvr.runs import create_run, seed_everything
from rlvr.sections import DataConfig, GenerationConfig, ModelConfig, RewardConfig, RunConfig
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


def reward_specs(cfg: RewardConfig) -> list[RewardSpec]:
    """The extra reward terms of a reward section, as runtime specs."""
    return [RewardSpec(s.verifier, s.weight, tuple(s.options.items())) for s in cfg.extra]


@dataclass(frozen=True)
class Scored:
    """Completions of one evaluation pass and their verdicts."""

    completions: list[str]
    """One completion per sample."""
    result: RewardResult
    """The reward runtime's result for them."""
    generate_s: float
    """Seconds spent generating."""

    @property
    def accuracy(self) -> float:
        """Share of rows whose own verifier gave score 1."""
        verdicts = self.result.verdicts_for_rows()
        return sum(v.score == 1.0 for v in verdicts) / max(1, len(verdicts))


def score_model(
    model: Any,
    tokenizer: Any,
    samples: list[Sample],
    *,
    generation: GenerationConfig,
    runtime: RewardRuntime,
    extra: Sequence[RewardSpec] = (),
    seed: int = 0,
) -> Scored:
    """Generate one completion per sample (greedy unless `generation` samples) and score it."""
    engine = HFEngine(model, tokenizer, batch_size=generation.batch_size)
    sampling = SamplingParams(
        max_new_tokens=generation.max_new_tokens,
        temperature=generation.temperature,
        top_p=generation.top_p,
        seed=seed,
    )
    start = time.perf_counter()
    completions = [g.texts[0] for g in engine.generate(samples, n=1, sampling=sampling)]
    generate_s = time.perf_counter() - start
    return Scored(completions, runtime.score_batch(completions, samples, extra=extra), generate_s)


def held_out_accuracy(
    model: Any,
    tokenizer: Any,
    samples: list[Sample],
    *,
    generation: GenerationConfig,
    runtime: RewardRuntime,
    dist: Dist,
    collective_forward: bool,
    seed: int = 0,
) -> float:
    """Held-out accuracy measured once per launch and given to every rank.

    Rank 0 generates and scores, then broadcasts the accuracy. When every forward pass is
    collective (ZeRO-3: each rank holds a slice of the weights), every rank generates the same
    greedy completions so that the passes line up, and only rank 0 scores them.
    """
    accuracy = None
    if dist.is_main or collective_forward:
        engine = HFEngine(model, tokenizer, batch_size=generation.batch_size)
        sampling = SamplingParams(
            max_new_tokens=generation.max_new_tokens,
            temperature=generation.temperature,
            top_p=generation.top_p,
            seed=seed,
        )
        groups = engine.generate(samples, n=1, sampling=sampling)
        if dist.is_main:
            completions = [g.texts[0] for g in groups]
            accuracy = Scored(completions, runtime.score_batch(completions, samples), 0.0).accuracy
    return float(dist.broadcast_object(accuracy))


def open_runtime(cfg: RewardConfig, distributed: DistributedConfig | None = None) -> RewardRuntime:
    """A reward runtime configured by a reward section: local worker processes, or reward
    actors on Ray when `distributed` says `kind: ray` with reward workers (Ray must be
    initialised, see `rlvr.distributed.cluster`; `reward.workers` is then unused)."""
    if distributed is not None and distributed.kind == "ray" and distributed.reward_workers:
        from rlvr.distributed.rewards import RayRewardRuntime

        if cfg.import_main:
            raise ValueError("reward.import_main cannot apply to Ray actors; move the verifier")
        return RayRewardRuntime(
            actors=distributed.reward_workers,
            processes_per_actor=distributed.reward_processes,
            timeout_s=cfg.timeout_s,
            memory_mb=cfg.memory_mb,
            max_completion_chars=cfg.max_completion_chars,
            actor_cpus=distributed.reward_actor_cpus,
            max_restarts=distributed.max_actor_restarts,
        )
    return RewardRuntime(
        workers=cfg.workers,
        timeout_s=cfg.timeout_s,
        memory_mb=cfg.memory_mb,
        max_completion_chars=cfg.max_completion_chars,
        import_main=cfg.import_main,
    )


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
