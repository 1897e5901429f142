"""TRL side of `benchmarks/reward_model_vs_trl.py`: `trl.RewardTrainer` for a fixed step count.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_rm_trl_worker.py SPEC.json RESULT.json

Implementation details:
  1. The model is `AutoModelForSequenceClassification(num_labels=1)` loaded from the same
     starting causal LM as rlvr's side (TRL sets `pad_token_id` itself); the scalar head is
     initialised from the same seed before loading.
  2. Same settings as rlvr's side: CPU float32, `optim="adamw_torch"`, a constant learning
     rate, gradient clipping at 1.0, one micro-batch per optimizer step, gradient checkpointing
     off (TRL's default is on; rlvr has none), bf16 off (TRL's default is on), no reward
     centring, `max_length` as given, the pairs in rlvr's order
     (`train_sampling_strategy="sequential"`), no evaluation, logging every step.
  3. Step time: `on_step_begin` to `on_step_end` of a `TrainerCallback`. Tokens: the attention
     mask of each batch `compute_loss` receives (chosen and rejected sequences, prompt
     included), counted by a subclass that then calls TRL's own `compute_loss`.
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
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
from trl import RewardConfig, RewardTrainer  # type: ignore[attr-defined]

TOKENS: list[int] = []
"""Tokens (attention mask sum) of each training `compute_loss` call: one per optimizer step."""


class CountingRewardTrainer(RewardTrainer):  # type: ignore[misc]
    """TRL's RewardTrainer, counting the tokens of each batch before its own `compute_loss`."""

    def compute_loss(self, model: Any, inputs: Any, *args: Any, **kw: Any) -> Any:
        if model.training:
            TOKENS.append(int(inputs["attention_mask"].sum()))
        return super().compute_loss(model, inputs, *args, **kw)


class StepTimer(TrainerCallback):  # type: ignore[misc]
    """Wall time of each optimizer step, and the loss and accuracy TRL logs for it."""

    def __init__(self) -> None:
        self.step_s: list[float] = []
        self.accuracy: list[float] = []
        self.loss: list[float] = []
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
        """Keep the per-step metrics (`logging_steps=1`)."""
        if logs and "loss" in logs:
            self.loss.append(float(logs["loss"]))
            self.accuracy.append(float(logs.get("accuracy", float("nan"))))


def build_args(spec: dict[str, Any]) -> RewardConfig:
    """TRL's RewardConfig for the benchmark spec."""
    return RewardConfig(
        output_dir=spec["out_dir"],
        max_steps=spec["steps"],
        per_device_train_batch_size=spec["batch"],
        gradient_accumulation_steps=1,
        learning_rate=spec["lr"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        optim="adamw_torch",
        gradient_checkpointing=False,
        train_sampling_strategy="sequential",
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
        max_length=spec["max_length"],
        center_rewards_coefficient=None,
    )


def load_dataset(spec: dict[str, Any]) -> Dataset:
    """The parent's pairs (plain text), in rlvr's order over the steps."""
    lines = Path(spec["train_file"]).read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    keep = ("prompt", "chosen", "rejected")
    return Dataset.from_list([{k: rows[i][k] for k in keep} for i in spec["order"]])


def main(spec_path: str, result_path: str) -> None:
    """Train as the spec says and write the measurements to `result_path`."""
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    model = AutoModelForSequenceClassification.from_pretrained(
        spec["model"], num_labels=1, dtype=torch.float32
    )
    timer = StepTimer()
    trainer = CountingRewardTrainer(
        model=model,
        args=build_args(spec),
        train_dataset=load_dataset(spec),
        processing_class=AutoTokenizer.from_pretrained(spec["model"]),
        callbacks=[timer],
    )
    trainer.train()
    final = Path(spec["out_dir"]) / "final"
    trainer.save_model(str(final))
    trainer.processing_class.save_pretrained(str(final))
    record = {
        "side": "trl",
        "step_s": timer.step_s,
        "tokens": TOKENS,
        "accuracy": timer.accuracy,
        "loss": timer.loss,
        "final": str(final),
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
    }
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
