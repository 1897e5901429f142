"""TRL side of `benchmarks/grpo_vs_trl.py`: `trl.GRPOTrainer` for a fixed step count.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_trl_worker.py SPEC.json RESULT.json

Implementation details:
  1. HF `generate`, or with `engine: vllm` TRL's colocated vLLM engine (sleep mode and
     importance-sampling correction off, as on rlvr's side); `loss_type="dapo"`, `beta=0.0`,
     `epsilon=0.2`, `epsilon_high=0.28`, `num_iterations=1`, group std scaling; one optimizer
     step takes `prompts * group` completions in one micro-batch
     (`per_device_train_batch_size = P*G`, `gradient_accumulation_steps = 1`,
     `generation_batch_size = P*G`), as rlvr's trainer does without `micro_batch_size`.
  2. CPU, float32 (`use_cpu=True`, `bf16=False`), `optim="adamw_torch"` (rlvr's
     `torch.optim.AdamW` with defaults; TrainingArguments would pick the fused variant), a
     constant learning rate, gradient clipping at 1.0, and gradient checkpointing off (TRL's
     default is on; rlvr has none).
  3. The dataset is taken in rlvr's prompt order (`order` in the spec) with `shuffle_dataset=False`,
     so step k of both sides sees the same prompts.
  4. The reward is rlvr's `math` verifier called in this process; the same function sums the
     completion token counts TRL passes it (`completion_ids`, EOS included, as rlvr counts).
  5. Step time is wall-clock from `on_step_begin` to `on_step_end` of a `TrainerCallback`:
     generation, reward, loss, backward and the optimizer step; logging runs after it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import peak_rss_mib
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer  # type: ignore[attr-defined]

import verifiers

MATH = verifiers.get("math")
STEP_TOKENS: list[int] = []
"""Completion tokens of each reward call (one call per optimizer step here)."""


def reward(
    prompts: list[str],
    completions: list[str],
    answer: list[str],
    completion_ids: list[list[int]],
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function: rlvr's `math` verifier score of each completion, in-process."""
    STEP_TOKENS.append(sum(len(ids) for ids in completion_ids))
    return [MATH(c, reference=a).score for c, a in zip(completions, answer, strict=True)]


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step, and the mean reward TRL logs for it."""

    def __init__(self) -> None:
        self.step_s: list[float] = []
        self.reward_mean: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the clock of one optimizer step."""
        self._start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stop the clock of one optimizer step."""
        self.step_s.append(time.perf_counter() - self._start)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        """Keep the per-step mean reward (`logging_steps=1`)."""
        if logs and "reward" in logs:
            self.reward_mean.append(float(logs["reward"]))


def build_args(spec: dict[str, Any]) -> GRPOConfig:
    """TRL's GRPOConfig for the benchmark spec."""
    batch = spec["prompts"] * spec["group"]
    return GRPOConfig(
        output_dir=spec["out_dir"],
        max_steps=spec["steps"],
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        generation_batch_size=batch,
        num_generations=spec["group"],
        num_iterations=1,
        max_completion_length=spec["max_new_tokens"],
        temperature=spec["temperature"],
        top_p=1.0,
        top_k=0,
        beta=0.0,
        loss_type="dapo",
        epsilon=0.2,
        epsilon_high=0.28,
        scale_rewards="group",
        mask_truncated_completions=False,
        learning_rate=spec["lr"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        optim="adamw_torch",
        gradient_checkpointing=False,
        shuffle_dataset=False,
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=spec["seed"],
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        **vllm_args(spec),
    )


def vllm_args(spec: dict[str, Any]) -> dict[str, Any]:
    """TRL's vLLM settings: colocated engine, no importance-sampling correction (as rlvr)."""
    if spec["engine"] != "vllm":
        return {}
    return {
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": 0.3,
        "vllm_enable_sleep_mode": False,
        "vllm_importance_sampling_correction": False,
    }


def patch_cpu_weight_sync() -> None:
    """Make TRL's colocated weight sync work on vLLM CPU (`--patch-trl-sync`).

    TRL pushes each parameter through the model's `load_weights`, which fails on vLLM CPU
    (its kernels repack weights at load time); this replaces the colocated branch with one
    `reload_weights` call over the trainer's parameters, the mechanism rlvr's engine uses.
    """
    from trl.generation import vllm_generation

    # Internals of TRL's vLLM generation class (`sync_weights`, `_iter_named_params`): the
    # benchmark replaces one broken method of the peer and says so in its output.
    def sync_weights(self: Any) -> None:
        weights = list(self._iter_named_params())
        self.llm.collective_rpc(
            "reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True}
        )
        self.llm.reset_prefix_cache()

    vllm_generation.VLLMGeneration.sync_weights = sync_weights


def load_dataset(spec: dict[str, Any]) -> Dataset:
    """Plain-text `prompt` and `answer` columns, rows in rlvr's prompt order."""
    lines = Path(spec["train_file"]).read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    ordered = [rows[i] for i in spec["order"]]
    return Dataset.from_list([{"prompt": r["prompt"], "answer": r["reference"]} for r in ordered])


def main(spec_path: str, result_path: str) -> None:
    """Train as the spec says and write the measurements to `result_path`."""
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    if spec["engine"] == "vllm" and spec["patch_trl_sync"]:
        patch_cpu_weight_sync()
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=build_args(spec),
        train_dataset=load_dataset(spec),
        processing_class=tokenizer,
        callbacks=[timer],
    )
    trainer.train()
    final = Path(spec["out_dir"]) / "final"
    trainer.save_model(str(final))
    record = {
        "side": "trl",
        "step_s": timer.step_s,
        "tokens": STEP_TOKENS,
        "reward_mean": timer.reward_mean,
        "final": str(final),
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
    }
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
