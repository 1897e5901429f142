"""One training step's rollouts: scored groups, and the tensors and metrics made from them.

Rows are prompt-major: with G completions per prompt, rows `g*G .. g*G+G-1` share prompt `g`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlvr.data.types import RolloutGroup
from rlvr.models.tokens import TokenBatch, pad_pairs
from rlvr.rewards import RewardResult


@dataclass
class Rollouts:
    """One step's scored completions, prompt-major: rows `g*G .. g*G+G-1` share a prompt."""

    groups: list[RolloutGroup]
    """The sampled groups."""
    scores: torch.Tensor
    """Summed verifier rewards, `[N]` (N = groups * G)."""
    mask: torch.Tensor
    """False where the reward is an infrastructure failure, `[N]`."""
    results: list[RewardResult]
    """The reward runtime's results (one per rollout round), for metrics."""

    @property
    def group_size(self) -> int:
        """G, the completions per prompt (1 when there are no groups)."""
        return len(self.groups[0].completion_ids) if self.groups else 1


def concat_rollouts(parts: list[Rollouts]) -> Rollouts:
    """The rounds' rollouts as one, in order."""
    return Rollouts(
        [grp for p in parts for grp in p.groups],
        torch.cat([p.scores for p in parts]),
        torch.cat([p.mask for p in parts]),
        [res for p in parts for res in p.results],
    )


def select_groups(r: Rollouts, keep: list[int], g: int) -> Rollouts:
    """The groups at indices `keep` (G = `g` rows each), in that order."""
    rows = torch.tensor([i * g + j for i in keep for j in range(g)], dtype=torch.long)
    return Rollouts([r.groups[i] for i in keep], r.scores[rows], r.mask[rows], r.results)


def rollout_metrics(r: Rollouts, elapsed: float) -> dict[str, float]:
    """Completion lengths, truncation, throughput and reward statistics of one step."""
    lengths = [len(ids) for g in r.groups for ids in g.completion_ids]
    truncated = [reason == "length" for g in r.groups for reason in g.finish_reasons]
    metrics: dict[str, float] = {
        "completion/length_mean": sum(lengths) / max(1, len(lengths)),
        "completion/length_max": max(lengths, default=0),
        "completion/truncated_share": sum(truncated) / max(1, len(truncated)),
        "rollout/tokens_per_s": sum(lengths) / max(elapsed, 1e-9),
        "rollout/s": elapsed,
    }
    if len(r.groups):
        metrics["reward/mean"] = float(r.scores.mean())
        metrics["reward/std"] = float(r.scores.std()) if len(r.scores) > 1 else 0.0
    per_verifier: dict[str, list[float]] = {}
    for result in r.results:
        for name, verdicts in result.verdicts.items():
            per_verifier.setdefault(name, []).extend(v.score for v in verdicts if v is not None)
        for key, value in result.metrics("verify").items():
            if not key.endswith(("/mean", "/kept_fraction")):
                metrics[key] = metrics.get(key, 0.0) + value
    for name, scores in per_verifier.items():
        t = torch.tensor(scores)
        metrics[f"reward/{name}/mean"] = float(t.mean()) if len(t) else 0.0
        metrics[f"reward/{name}/std"] = float(t.std()) if len(t) > 1 else 0.0
        metrics[f"reward/{name}/pass_rate"] = float((t == 1.0).float().mean()) if len(t) else 0.0
    return metrics


def token_batch(r: Rollouts, pad_id: int) -> TokenBatch:
    """Prompt + completion ids of every row, right-padded."""
    pairs = [(list(g.prompt_ids), list(ids)) for g in r.groups for ids in g.completion_ids]
    return pad_pairs(pairs, pad_id=pad_id)


def sampling_logprobs(r: Rollouts, batch: TokenBatch, start: int) -> torch.Tensor:
    """The engines' sampling log-probabilities laid out like `token_logprobs(batch, start=start)`.

    Returns:
        `[N, L - start]`, each row's completion log-probs at its completion columns, 0 elsewhere.
    """
    out = torch.zeros(batch.input_ids.shape[0], batch.input_ids.shape[1] - start)  # [N, W]
    row = 0
    for g in r.groups:
        first = len(g.prompt_ids) - start
        for lps in g.logprobs:
            out[row, first : first + len(lps)] = torch.tensor(lps, dtype=out.dtype)
            row += 1
    return out
