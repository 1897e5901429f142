"""RLHF on a tiny local model: SFT -> reward model -> PPO, with reward hacking shown and stopped.

1. SFT on worked arithmetic; reward models on synthetic arithmetic pairs, a clean one and a
   length-biased one (its chosen side, the longer, always restates its answer); a "policy" one
   on the SFT model's own samples of train-split prompts, labelled by the verifier.
2. PPO against the clean reward model at beta 0, 0.1, 1.0 (fixed) and adaptive. The `math`
   verifier is the hidden gold standard (never reward): score up with gold down is named reward
   hacking; `kl.ceiling` ends runs that drift too far.
3. PPO (adaptive) against the policy reward model, and against the length-biased one from an SFT
   model whose data restate one answer in ten (so that the policy writes the long form at times).
4. DPO on the same pairs, against adaptive PPO: wall time, tokens generated, gold accuracy.
5. `--gain` (about 40 minutes more): PPO that raises gold, against a reward model on a `small`
   SFT body (configs/ppo/rlhf_tiny_gain.yaml, configs/reward_model/arith_clean_near.yaml).

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
from rlvr.runs.report import hacking_verdict, plot_pairs, plot_runs, read_metrics, write_summary
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
SMALL = [["run.name=sft-math-small", "train.max_steps=1250"], ["run.name=sft-math-small-2",
         "optim.lr=3.0e-4", "optim.warmup_steps=10", "train.max_steps=750"]]  # fmt: skip


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
    if args.gain:  # step 5: the `small` SFT body in two passes, its reward model, then PPO
        body = f"model.path={out}/models/small"
        for steps in SMALL:
            body = f"model.path={stage('sft/math_small.yaml', SMOKE_SFT, body, *steps).final}"
        rms["clean-small"] = stage("reward_model/arith_clean_near.yaml", SMOKE_RM, body)
        rm = f"reward.model.path={rms['clean-small'].final}"
        results["gain"] = stage("ppo/rlhf_tiny_gain.yaml", SMOKE_PPO, start, rm)
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
        target = load_config(out / name / "config.yaml").kl.target
        v = hacking_verdict(read_metrics(out / name), r.accuracy_before, r.accuracy_after, target)
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
                 f"{adaptive.accuracy_after:.3f}; {dpo.trained_s:.0f} s vs {adaptive.trained_s:.0f}"
                 f" s training; 0 vs {compute['ppo']['tokens']} tokens generated"))  # fmt: skip
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


if __name__ == "__main__":
    with exit_on_user_error("rlhf_tiny"):
        main()
