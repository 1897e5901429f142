"""Run an eval suite on a model: sample through a rollout engine, score with the rows' verifiers,
and compute pass@k, maj@k, mean reward and per-category accuracy with bootstrap intervals;
compare two models on the same prompts.

Implementation details:
  1. Sampling goes through the rollout engines (`hf`: rlvr's decoding loop; `vllm`: the offline
     engine, when installed), `samples` completions per prompt in one `generate` call per task,
     seeded by the suite's seed, so two models see the same prompts and seeds.
  2. A completion is correct when its row's verifier gives score 1 and the reward runtime did
     not mask it (an infrastructure failure counts as not correct and is counted apart).
  3. Every metric is a mean over prompts of a per-prompt value (pass@k's unbiased estimate,
     the maj@k vote, the mean reward); intervals resample the prompts, and a comparison
     resamples the prompts of both models together (paired).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlvr.config.sections import ModelConfig, RewardConfig
from rlvr.distributed import open_runtime
from rlvr.evaluate.metrics import Estimate, bootstrap_interval, maj_at_k, paired_interval, pass_at_k
from rlvr.evaluate.suite import PreparedTask, SuiteConfig
from rlvr.models.loading import ModelNotFoundError, load_policy
from rlvr.rewards import RewardRuntime
from rlvr.rollout import HFEngine, SamplingParams

Engine = Literal["hf", "vllm"]


@dataclass
class TaskResult:
    """One task's results for one model."""

    task: str
    """Task name."""
    ids: list[str]
    """Prompt ids, in order."""
    categories: list[str]
    """Each prompt's category."""
    per_prompt: dict[str, list[float]]
    """Metric -> one value per prompt: `accuracy` (pass@1: the share of a prompt's samples
    that are correct), `pass@k` and `maj@k` for each k > 1, `mean_reward`."""
    estimates: dict[str, Estimate] = field(default_factory=dict)
    """Metric -> mean over prompts with its interval."""
    samples_per_s: float = 0.0
    """Completions generated per second."""
    tokens_per_s: float = 0.0
    """Completion tokens generated per second."""
    masked: int = 0
    """Completions masked by the reward runtime (infrastructure failures)."""


@dataclass
class ModelResult:
    """A suite's results for one model."""

    model: str
    """The model path."""
    engine: Engine
    """The rollout engine that sampled."""
    tasks: list[TaskResult]
    """Per task."""
    categories: dict[str, Estimate]
    """Category -> accuracy over its prompts, all tasks together."""
    generate_s: float
    """Seconds spent generating."""
    samples: int
    """Completions generated."""


def check_model_dir(model_path: str) -> None:
    """Fail in one line when a local path is not a model directory (hub names pass: loading
    them says whether they exist).

    Raises:
        ModelNotFoundError: a file, or a directory without `config.json`.
    """
    path = Path(model_path)
    if path.exists() and not (path / "config.json").is_file():
        kind = "a directory but holds no model (no config.json)" if path.is_dir() else "a file"
        raise ModelNotFoundError(f"model {model_path!r} is {kind}, not a model directory")


def open_engine(engine: Engine, model_path: str, *, seed: int, batch_size: int) -> Any:
    """The rollout engine sampling from `model_path` (loaded here; one-line error if it is not a
    model)."""
    check_model_dir(model_path)
    if engine == "hf":
        model, tokenizer = load_policy(ModelConfig(model_path))
        return HFEngine(model.eval(), tokenizer, batch_size=batch_size)
    from transformers import AutoTokenizer

    from rlvr.rollout.vllm import VLLMEngine, import_vllm

    import_vllm()  # one line saying how to install it, before anything loads
    return VLLMEngine(model_path, AutoTokenizer.from_pretrained(model_path), seed=seed)


def _task_values(
    prepared: PreparedTask, groups: Any, runtime: RewardRuntime
) -> tuple[dict[str, list[float]], int]:
    task = prepared.config
    texts = [t for g in groups for t in g.texts]
    rows = [g.sample for g in groups for _ in g.texts]
    result = runtime.score_batch(texts, rows)
    verdicts = result.verdicts_for_rows()
    values: dict[str, list[float]] = {"accuracy": [], "mean_reward": []}
    ks = [k for k in task.k if k > 1]  # pass@1 and maj@1 are the accuracy
    values.update({f"pass@{k}": [] for k in ks})
    values.update({f"maj@{k}": [] for k in ks})
    n = task.samples
    for i in range(len(groups)):
        part = range(i * n, (i + 1) * n)
        correct = [verdicts[j].score == 1.0 and result.mask[j] for j in part]
        answers = [verdicts[j].extracted for j in part]
        kept = [result.rewards[j] for j in part if result.mask[j]]
        values["accuracy"].append(sum(correct) / n)
        values["mean_reward"].append(sum(kept) / len(kept) if kept else 0.0)
        for k in ks:
            values[f"pass@{k}"].append(pass_at_k(n, sum(correct), k))
            values[f"maj@{k}"].append(maj_at_k(answers, correct, k))
    return values, result.mask.count(False)


def run_task(
    prepared: PreparedTask,
    engine: Any,
    runtime: RewardRuntime,
    *,
    seed: int,
    resamples: int,
    completions_out: Path | None = None,
) -> TaskResult:
    """Sample, score and summarise one task."""
    task, gen = prepared.config, prepared.config.generation
    sampling = SamplingParams(
        max_new_tokens=gen.max_new_tokens, temperature=gen.temperature, top_p=gen.top_p, seed=seed
    )
    start = time.perf_counter()
    groups = engine.generate(prepared.samples, n=task.samples, sampling=sampling)
    elapsed = max(time.perf_counter() - start, 1e-9)
    values, masked = _task_values(prepared, groups, runtime)
    n_samples = len(groups) * task.samples
    tokens = sum(len(ids) for g in groups for ids in g.completion_ids)
    result = TaskResult(
        task.name,
        [s.id for s in prepared.samples],
        prepared.categories,
        values,
        {m: bootstrap_interval(v, resamples=resamples, seed=seed) for m, v in values.items()},
        n_samples / elapsed,
        tokens / elapsed,
        masked,
    )
    if completions_out is not None:
        _write_completions(completions_out, groups)
    return result


def _write_completions(path: Path, groups: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for g in groups:
            row = {"id": g.sample.id, "reference": g.sample.reference, "completions": g.texts}
            f.write(json.dumps(row, default=str) + "\n")


def category_estimates(
    tasks: Sequence[TaskResult], *, resamples: int, seed: int
) -> dict[str, Estimate]:
    """Accuracy per category over the prompts of every task, plus `all`."""
    grouped: dict[str, list[float]] = {}
    for t in tasks:
        for cat, value in zip(t.categories, t.per_prompt["accuracy"], strict=True):
            grouped.setdefault(cat, []).append(value)
            grouped.setdefault("all", []).append(value)
    return {c: bootstrap_interval(v, resamples=resamples, seed=seed) for c, v in grouped.items()}


def run_model(
    suite: SuiteConfig,
    prepared: Sequence[PreparedTask],
    model_path: str,
    *,
    engine: Engine = "hf",
    out: Path | None = None,
    reward: RewardConfig | None = None,
    sampler: Any = None,
) -> ModelResult:
    """Every task of the suite on one model (completions to `out/<task>.jsonl` when given);
    `sampler` is its engine when already open (closed here either way)."""
    if sampler is None:
        batch = max(t.config.generation.batch_size for t in prepared)
        sampler = open_engine(engine, model_path, seed=suite.seed, batch_size=batch)
    results = []
    try:
        with open_runtime(reward or suite.reward) as runtime:
            for p in prepared:
                target = out / f"{p.config.name}.jsonl" if out is not None else None
                results.append(
                    run_task(
                        p,
                        sampler,
                        runtime,
                        seed=suite.seed,
                        resamples=suite.bootstrap,
                        completions_out=target,
                    )
                )
    finally:
        if engine == "vllm":
            sampler.close()
    counts = [len(r.ids) * p.config.samples for r, p in zip(results, prepared, strict=True)]
    seconds = sum(c / r.samples_per_s for c, r in zip(counts, results, strict=True))
    cats = category_estimates(results, resamples=suite.bootstrap, seed=suite.seed)
    return ModelResult(model_path, engine, results, cats, seconds, sum(counts))


@dataclass(frozen=True)
class Comparison:
    """Paired differences B - A over the same prompts."""

    tasks: dict[str, dict[str, Estimate]]
    """Task -> metric -> difference."""
    categories: dict[str, Estimate]
    """Category -> accuracy difference (and `all`)."""


def compare(a: ModelResult, b: ModelResult, *, resamples: int, seed: int) -> Comparison:
    """The paired bootstrap difference B - A of every metric of every task and category."""
    tasks: dict[str, dict[str, Estimate]] = {}
    cats: dict[str, tuple[list[float], list[float]]] = {}
    for ta, tb in zip(a.tasks, b.tasks, strict=True):
        tasks[ta.task] = {
            m: paired_interval(ta.per_prompt[m], tb.per_prompt[m], resamples=resamples, seed=seed)
            for m in ta.per_prompt
        }
        pairs = zip(
            ta.categories, ta.per_prompt["accuracy"], tb.per_prompt["accuracy"], strict=True
        )
        for cat, x, y in pairs:
            for key in (cat, "all"):
                cats.setdefault(key, ([], []))[0].append(x)
                cats[key][1].append(y)
    categories = {
        c: paired_interval(x, y, resamples=resamples, seed=seed) for c, (x, y) in cats.items()
    }
    return Comparison(tasks, categories)
