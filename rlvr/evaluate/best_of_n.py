"""Best-of-N: sample N completions per prompt, keep the one the reward model scores highest, and
compare its verifier accuracy with a single sample's (`rlvr sample --reward-model RM --n N`).

The simplest way to see whether a reward model helps: if it ranks correct completions above
wrong ones, best-of-N accuracy rises above N=1 towards pass@N (some sample is correct).

Implementation details:
  1. Sampling goes through the rollout engine (`rlvr.rollout.HFEngine`), N completions per
     prompt from one prefill, seeded; verdicts come from the rows' own verifiers in the reward
     runtime; reward-model scores from `rlvr.rewards.learned.LearnedReward` (the policy's
     ids when the tokenizers match, re-tokenised text otherwise).
  2. N=1 accuracy is the expected accuracy of one sample: per prompt, the share of its N
     samples that are correct, averaged over prompts (the same samples, so the comparison is
     paired and free of a second draw's noise).
  3. Ties in reward-model score go to the first sample drawn. Rows whose verdict was masked (an
     infrastructure failure) count as wrong and are counted in `masked`.
  4. The gain's interval is a paired percentile bootstrap over prompts of (best - N=1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rlvr.config.sections import LearnedRewardConfig
from rlvr.data.types import Sample
from rlvr.evaluate.audit_stats import bootstrap_ci
from rlvr.rewards import RewardRuntime
from rlvr.rewards.learned import LearnedReward, completions, correlation
from rlvr.rollout import HFEngine, SamplingParams


@dataclass(frozen=True)
class BestOfNResult:
    """Verifier accuracy of best-of-N picks against one sample."""

    n: int
    """Completions sampled per prompt."""
    prompts: int
    """Prompts evaluated."""
    accuracy_n1: float
    """Expected verifier accuracy of one sample (detail 2)."""
    accuracy_best_of_n: float
    """Verifier accuracy of the completion the reward model ranks first."""
    accuracy_pass_at_n: float
    """Share of prompts with at least one correct sample: the ceiling of any picker."""
    gain: float
    """`accuracy_best_of_n - accuracy_n1`."""
    gain_ci: tuple[float, float]
    """95% paired bootstrap interval of the gain (detail 4)."""
    reward_verifier_corr: float
    """Pearson correlation of reward-model score and verifier score over all samples."""
    masked: int
    """Samples whose verdict was masked (infrastructure failures), counted as wrong."""
    generate_s: float
    """Seconds spent sampling."""
    score_s: float
    """Seconds spent scoring with the reward model."""

    def format(self) -> str:
        """One paragraph for the console."""
        low, high = self.gain_ci
        return (
            f"best-of-{self.n} accuracy {self.accuracy_best_of_n:.3f} vs N=1 "
            f"{self.accuracy_n1:.3f} over {self.prompts} prompts: gain {self.gain:+.3f} "
            f"(95% CI {low:+.3f} to {high:+.3f}); pass@{self.n} {self.accuracy_pass_at_n:.3f}; "
            f"reward/verifier correlation {self.reward_verifier_corr:.3f}"
        )


def best_of_n(
    policy: Any,
    tokenizer: Any,
    reward: LearnedReward,
    samples: Sequence[Sample],
    *,
    n: int,
    sampling: SamplingParams,
    runtime: RewardRuntime,
    batch_size: int = 64,
    out: Path | None = None,
) -> BestOfNResult:
    """Sample `n` completions per sample, pick by reward model, score by verifier.

    With `out`, writes `out/best_of_n.jsonl` (per prompt: each completion, its reward-model
    score and verifier score, the pick) and `out/summary.json`.

    Raises:
        ValueError: `n` < 1 or no samples.
    """
    if n < 1 or not samples:
        raise ValueError("best-of-N needs n >= 1 and at least one prompt")
    engine = HFEngine(policy, tokenizer, batch_size=batch_size)
    start = time.perf_counter()
    groups = engine.generate(list(samples), n=n, sampling=sampling)
    generate_s = time.perf_counter() - start
    rows = completions(groups)
    start = time.perf_counter()
    scores = reward.score(rows)
    score_s = time.perf_counter() - start
    result = runtime.score_batch(
        [r.text for r in rows], [g.sample for g in groups for _ in range(n)]
    )
    verdicts = result.verdicts_for_rows()
    correct = [float(v.score == 1.0 and m) for v, m in zip(verdicts, result.mask, strict=True)]
    picks, n1, best, any_ok = [], [], [], []
    for i in range(len(groups)):
        s, c = scores[i * n : (i + 1) * n], correct[i * n : (i + 1) * n]
        pick = max(range(n), key=lambda j: (s[j], -j))
        picks.append(pick)
        n1.append(sum(c) / n)
        best.append(c[pick])
        any_ok.append(float(any(c)))
    gains = [b - a for a, b in zip(n1, best, strict=True)]
    out_result = BestOfNResult(
        n=n,
        prompts=len(groups),
        accuracy_n1=sum(n1) / len(n1),
        accuracy_best_of_n=sum(best) / len(best),
        accuracy_pass_at_n=sum(any_ok) / len(any_ok),
        gain=sum(gains) / len(gains),
        gain_ci=bootstrap_ci(gains),
        reward_verifier_corr=correlation(torch.tensor(scores), torch.tensor(result.rewards)),
        masked=sum(not m for m in result.mask),
        generate_s=generate_s,
        score_s=score_s,
    )
    if out is not None:
        _write(out, groups, scores, verdicts, picks, out_result)
    return out_result


def _write(
    out: Path,
    groups: Sequence[Any],
    scores: list[float],
    verdicts: list[Any],
    picks: list[int],
    result: BestOfNResult,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    n = result.n
    with (out / "best_of_n.jsonl").open("w") as f:
        for i, (g, pick) in enumerate(zip(groups, picks, strict=True)):
            samples = [
                {
                    "completion": text,
                    "reward": scores[i * n + j],
                    "score": verdicts[i * n + j].score,
                }
                for j, text in enumerate(g.texts)
            ]
            f.write(json.dumps({"id": g.sample.id, "pick": pick, "samples": samples}) + "\n")
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2) + "\n")


def learned_reward(
    path: str, *, policy_tokenizer: Any, device: Any, batch_size: int
) -> LearnedReward:
    """The reward model at `path` as a scorer (weight and normalisation do not apply here)."""
    cfg = LearnedRewardConfig(path=path, batch_size=batch_size)
    return LearnedReward(cfg, policy_tokenizer=policy_tokenizer, device=device)
