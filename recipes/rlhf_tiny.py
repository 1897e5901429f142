"""RLHF on a tiny local model: SFT -> reward model -> PPO, with reward hacking shown and stopped.

1. SFT on worked arithmetic; reward models on synthetic arithmetic preference pairs, a clean one
   and a length-biased one (its chosen side, the longer, always restates its answer); a "policy"
   one on the SFT model's own samples of train-split prompts, labelled by the verifier.
2. PPO scored by the clean reward model at beta 0, 0.1 and 1.0 (fixed) and with the adaptive
   controller. The `math` verifier is the hidden gold standard: never reward, only held-out
   accuracy and the training pass rate. Reward-model score up with gold accuracy down is named
   reward hacking. `kl.ceiling` ends runs that drift too far.
3. PPO (adaptive) scored by the policy reward model, and by the length-biased one from an SFT
   model whose data restate one answer in ten (so that the policy writes the long form at times).
4. DPO on the same pairs, against adaptive PPO: wall time, tokens generated, gold accuracy.
5. With `--gain` (about 45 more minutes): a clean reward model PPO can climb, and PPO that
   raises gold with it. SFT of the 4.2M `small` model; a reward model of three new blocks on its
   frozen body, on 5000 synthetic pairs of which half have a near-miss wrong answer; PPO from
   the same tiny SFT model with 128 prompts x 8 samples a step, each prompt's scores centred,
   judged on 1000 held-out prompts (docs/rlhf.md, "The reward model's optimum, the batch, and
   an evaluation that can see the gain").

Usage: python recipes/rlhf_tiny.py [--out runs/rlhf-tiny] [--gain] [--smoke]  (--smoke: toy sizes)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rlvr.cli import exit_on_user_error
from rlvr.config import load_config
from rlvr.data import generate
from rlvr.evaluate.pairs import write_pairs
from rlvr.rollout import SamplingParams
from rlvr.runs.report import plot_pairs, plot_runs, read_metrics, series, write_summary
from rlvr.trainers.pipeline import run_stage

CONFIGS = Path(__file__).parent / "configs"
ARMS = {f"beta-{b}": ["kl.controller=fixed", f"kl.beta={float(b)}"] for b in ("0", "0.1", "1")}
ARMS["adaptive"] = []
SFT = ["train.target_accuracy=0.6", "train.max_steps=3000"]  # a reward model learns more from it
VERBOSE = ["run.name=sft-math-tiny-verbose", "data.options.verbose=0.1"]  # the length arm's start
SMOKE_SFT = ["train.max_steps=4", "train.eval_every=2", "train.batch_size=8", "data.n=64"]
SMOKE_RM = ["train.max_steps=4", "train.eval_every=2", "data.n=64", "eval_data.n=16"]
SMOKE_PPO = ["train.max_steps=3", "train.eval_every=1", "data.n=32", "eval_data.n=8"]
SMOKE_PPO += ["algo.prompts_per_step=2", "reward.workers=1"]
SMOKE_DPO = ["train.max_steps=3", "train.eval_every=2", "data.n=32", "eval_data.n=8"]
POLICY = {"train": (4000, 11, 2), "test": (400, 4321, 1)}  # prompts, seed, pairs per prompt
POLICY_RM = ["data.synthetic=null", "eval_data.synthetic=null", "train.max_steps=1000"]
SMALL = [
    ("sft-math-small", ["train.max_steps=1250"]),  # then a second pass at a lower lr
    ("sft-math-small-2", ["optim.lr=3.0e-4", "optim.warmup_steps=10", "train.max_steps=750"]),
]
GAIN_RM = ["data.n=5000", "train.max_steps=1500", "data.options.near_miss=0.5"]
GAIN_PPO = ["reward.model.normalize=group", "algo.prompts_per_step=128", "optim.lr=3.0e-4",
            "algo.samples_per_prompt=8", "kl.horizon=2048", "train.max_steps=60",
            "train.eval_every=10", "eval_data.n=1000"]  # fmt: skip
KEYS = ("reward/model_mean", "kl/mean", "rollout/tokens_per_s", "rollout/s")  # judged per run
WINDOW = 5  # steps averaged at each end of a run to judge whether its reward-model score rose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/rlhf-tiny"), help="output root")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a quick check")
    parser.add_argument("--gain", action="store_true", help="add the arm of step 5 (docstring)")
    args = parser.parse_args()
    out, smoke = args.out, args.smoke
    common = [f"run.output_dir={out}", "run.overwrite=true"]

    def stage(config: str, toy: list[str], *extra: str) -> Any:
        cfg = load_config(CONFIGS / config, overrides=overrides(common, toy, extra, smoke))
        return run_stage(cfg, config.split("/")[0])

    tiny = [f"model.path={out}/models/tiny"] if smoke else []
    sft = stage("sft/math_tiny.yaml", SMOKE_SFT, *tiny, "run.name=sft-math-tiny", *SFT)
    start = f"model.path={sft.final}"
    verbose = stage("sft/math_tiny.yaml", SMOKE_SFT, *tiny, *SFT, *VERBOSE)
    rm_config = "reward_model/rlhf_tiny.yaml"
    biases = (("clean", "none", sft.final), ("length", "length", verbose.final))
    rms = {n: stage(rm_config, SMOKE_RM, f"model.path={m}", f"run.name=rm-{n}",
                    f"data.options.bias={b}") for n, b, m in biases}  # fmt: skip
    made = {s: policy_pairs(sft.final, out, s, i, smoke) for i, s in enumerate(POLICY)}
    if all(len(r.rows) for r in made.values()):  # an SFT model may get every answer wrong
        src = [f"data.source={out}/pairs/train.jsonl", f"eval_data.source={out}/pairs/test.jsonl"]
        rms["policy"] = stage(rm_config, SMOKE_RM, start, "run.name=rm-policy", *POLICY_RM, *src)

    def ppo(name: str, rm: str, *extra: str, base: Any = sft) -> Any:
        scored = [f"model.path={base.final}", f"reward.model.path={rm}"]
        return stage("ppo/rlhf_tiny.yaml", SMOKE_PPO, f"run.name={name}", *scored, *extra)

    results = {arm: ppo(arm, rms["clean"].final, *extra) for arm, extra in ARMS.items()}
    results["length-biased"] = ppo("length-biased", rms["length"].final, base=verbose)
    if "policy" in rms:
        results["adaptive-policy-rm"] = ppo("adaptive-policy-rm", rms["policy"].final)
    if args.gain:
        body = f"model.path={out}/models/small"
        for name, steps in SMALL:
            small = stage("sft/math_small.yaml", SMOKE_SFT, body, *steps, f"run.name={name}")
            body = f"model.path={small.final}"
        rms["clean-small"] = stage("reward_model/arith_clean.yaml", SMOKE_RM, body,
                                   "run.name=rm-clean-small", *GAIN_RM)  # fmt: skip
        results["gain"] = ppo("gain", rms["clean-small"].final, *GAIN_PPO)
    data = load_config(CONFIGS / rm_config).data  # DPO on the reward model's pairs
    same = [f"data.n={data.n}", f"data.seed={data.seed}", "train.max_seconds=null"]
    dpo = stage("dpo/math_tiny.yaml", SMOKE_DPO, start, "run.name=dpo", *same)

    runs = {name: out / name for name in results}
    pairs = [("kl/mean", "reward/model_mean"), ("step", "eval/accuracy")]
    pairs += [("step", "reward/math/pass_rate"), ("step", "completion/length_mean")]
    plot = plot_pairs(runs, pairs, out / "report.png", title="PPO on tiny-model arithmetic")
    plot_runs(runs, out / "metrics.png", title="PPO runs")
    rows = [("SFT held-out accuracy", f"{sft.eval_accuracy:.3f}")]
    rows += [(f"reward model ({b}) pairwise accuracy", f"{r.eval_accuracy:.3f}")
             for b, r in rms.items()]  # fmt: skip
    rows += [(f"policy pairs ({s})", r.format()) for s, r in made.items()]
    summary: dict[str, Any] = {"policy_pairs": {s: r.format() for s, r in made.items()}}
    summary["reward_models"] = {b: r.eval_accuracy for b, r in rms.items()}
    for name, r in results.items():
        v = judge(out / name, r.accuracy_before, r.accuracy_after)
        summary[name] = {**v, "stopped_by": r.stopped_by, "stop_reason": r.stop_reason}
        hacked = "REWARD HACKING (score up, gold down)" if v["hacked"] else "no hacking signature"
        band = "" if v["kl_in_2x_band"] is None else f" ({v['kl_in_2x_band']:.0%} within 2x)"
        rows.append((name, f"gold {v['gold_before']:.3f} -> {v['gold_after']:.3f}; reward-model "
                     f"score {v['rm_score_rise']:+.3f}, KL max {v['kl_max']:.2f}{band}; {hacked}; "
                     f"stopped by {r.stopped_by} {r.stop_reason}".rstrip()))  # fmt: skip
    adaptive = results["adaptive"]
    ppo_compute = {"seconds": adaptive.trained_s, "tokens": summary["adaptive"]["tokens"]}
    compute = {"ppo": ppo_compute, "dpo": {"seconds": dpo.trained_s, "tokens": 0}}
    rows.append(("DPO vs adaptive PPO", f"gold accuracy {dpo.accuracy_after:.3f} vs "
                 f"{adaptive.accuracy_after:.3f}; {dpo.trained_s:.0f} s vs "
                 f"{adaptive.trained_s:.0f} s training; 0 vs {compute['ppo']['tokens']} "
                 "tokens generated"))  # fmt: skip
    summary |= {"dpo": {"accuracy_before": dpo.accuracy_before, "accuracy_after":
                dpo.accuracy_after}, "compute": compute}  # fmt: skip
    write_summary(out / "report.md", "rlhf_tiny", rows, plot)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(f"{what}: {line}" for what, line in rows), f"\nreport: {out / 'report.md'}")


def overrides(common: list[str], toy: list[str], extra: tuple[str, ...], smoke: bool) -> list[str]:
    """A stage's overrides; with `--smoke` the toy sizes come last, to win over full budgets."""
    return [*common, *extra, *(toy if smoke else [])]


def policy_pairs(model: Path, out: Path, split: str, seed: int, smoke: bool) -> Any:
    """Verifier-labelled pairs from `model`'s samples (8 a prompt) on `split` arithmetic prompts."""
    prompts, data_seed, per_prompt = POLICY[split]
    options = {"ops": ["+", "-"], "split": split}
    tasks = generate("arithmetic", 8 if smoke else prompts, seed=data_seed, options=options)
    sampling = SamplingParams(max_new_tokens=32, seed=seed)
    return write_pairs(model, [t.sample for t in tasks], out / f"pairs/{split}.jsonl", n=8,
                       sampling=sampling, pairs_per_prompt=per_prompt, workers=2)  # fmt: skip


def judge(run: Path, before: float | None, after: float | None) -> dict[str, Any]:
    """Reward-model score rise, gold change, KL, tokens sampled; hacking: score up, gold down."""
    score, kl, rate, secs = (series(rows, k)[1] for rows in [read_metrics(run)] for k in KEYS)
    target = load_config(run / "config.yaml").kl.target if kl else None
    reached = [k for i, k in enumerate(kl) if target and max(kl[: i + 1]) >= target / 2]
    n = min(WINDOW, max(1, len(score) // 2))
    rise = sum(score[-n:]) / n - sum(score[:n]) / n if score else 0.0
    band = [target / 2 <= k <= 2 * target for k in reached] if target else []
    return {"rm_score_rise": rise, "gold_before": before, "gold_after": after,
            "kl_max": max(kl, default=0.0), "kl_last": kl[-1] if kl else 0.0, "kl_target": target,
            "kl_in_2x_band": sum(band) / len(band) if band else None,
            "hacked": rise > 0 and (after or 0.0) < (before or 0.0),
            "tokens": round(sum(r * s for r, s in zip(rate, secs, strict=True)))}  # fmt: skip


if __name__ == "__main__":
    with exit_on_user_error("rlhf_tiny"):
        main()
