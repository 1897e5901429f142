"""TRL side of `benchmarks/dpo_vs_trl.py`: `trl.DPOTrainer` (or `trl.KTOTrainer`) for a fixed
step count, or the loss-parity check against rlvr's loss on one batch.

The benchmark starts this file in a fresh interpreter, so the process's peak RSS is this side's
alone::

    python benchmarks/_dpo_trl_worker.py SPEC.json RESULT.json

Implementation details:
  1. Same settings as rlvr's side: CPU float32, `optim="adamw_torch"`, a constant learning
     rate, gradient clipping at 1.0, one micro-batch per optimizer step, gradient checkpointing
     off (TRL's default is on; rlvr has none), `max_length` as given, the rows in rlvr's order
     (`train_sampling_strategy="sequential"`), no evaluation, logging every step.
  2. The reference is TRL's default: a second model loaded from the policy's path, or none with
     `precompute` (`precompute_ref_log_probs=True`).
  3. Step time: `on_step_begin` to `on_step_end` of a `TrainerCallback`. Tokens: the attention
     mask of each batch `compute_loss` receives (chosen and rejected sequences, prompt
     included), counted by a subclass that then calls TRL's own `compute_loss`.
  4. Parity (`mode: parity`): a policy whose weights are the starting model's plus seeded
     Gaussian noise, and the starting model as reference; TRL's `compute_loss` on the first
     batch of its collator, and rlvr's `sequence_logps` + `pair_loss` (or `kto_baseline` +
     `kto_loss`) on exactly the token rows of that batch, with the same two models.
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
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer  # type: ignore[attr-defined]

TOKENS: list[int] = []
"""Tokens (attention mask sum) of each `compute_loss` call: one per optimizer step here."""


class CountingDPOTrainer(DPOTrainer):  # type: ignore[misc]
    """TRL's DPOTrainer, counting the tokens of each batch before its own `compute_loss`."""

    def compute_loss(self, model: Any, inputs: Any, *args: Any, **kw: Any) -> Any:
        if model.training:
            TOKENS.append(int(inputs["attention_mask"].sum()))
        return super().compute_loss(model, inputs, *args, **kw)


class CountingKTOTrainer(KTOTrainer):  # type: ignore[misc]
    """TRL's KTOTrainer, counting tokens like `CountingDPOTrainer` (KL sequences included)."""

    def compute_loss(self, model: Any, inputs: Any, *args: Any, **kw: Any) -> Any:
        if model.training:
            TOKENS.append(int(inputs["attention_mask"].sum() + inputs["KL_attention_mask"].sum()))
        return super().compute_loss(model, inputs, *args, **kw)


class StepTimer(TrainerCallback):  # type: ignore[misc]
    """Wall time of each optimizer step, and the `rewards/accuracies` TRL logs for it."""

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
            self.accuracy.append(float(logs.get("rewards/accuracies", float("nan"))))


def build_args(spec: dict[str, Any]) -> Any:
    """TRL's DPOConfig or KTOConfig for the benchmark spec."""
    common = {
        "output_dir": spec["out_dir"],
        "max_steps": spec["steps"],
        "per_device_train_batch_size": spec["batch"],
        "gradient_accumulation_steps": 1,
        "learning_rate": spec["lr"],
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "optim": "adamw_torch",
        "gradient_checkpointing": False,
        "train_sampling_strategy": "sequential",
        "use_cpu": True,
        "bf16": False,
        "fp16": False,
        "seed": spec["seed"],
        "report_to": "none",
        "logging_steps": 1,
        "save_strategy": "no",
        "eval_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "beta": spec["beta"],
        "max_length": spec["max_length"],
        "precompute_ref_log_probs": spec["precompute"],
    }
    if spec["loss"] == "kto":
        return KTOConfig(**common, loss_type="kto")
    return DPOConfig(**common, loss_type=["sigmoid"])


def load_dataset(spec: dict[str, Any]) -> Dataset:
    """The parent's rows (plain text), in rlvr's order."""
    lines = Path(spec["train_file"]).read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    keep = (
        ("prompt", "completion", "label")
        if spec["loss"] == "kto"
        else ("prompt", "chosen", "rejected")
    )
    return Dataset.from_list([{k: rows[i][k] for k in keep} for i in spec["order"]])


def make_trainer(spec: dict[str, Any], model: Any, ref: Any, callbacks: list[Any]) -> Any:
    """TRL's trainer over the spec's data (reference: `ref`, or TRL's default when None)."""
    cls = CountingKTOTrainer if spec["loss"] == "kto" else CountingDPOTrainer
    return cls(
        model=model,
        ref_model=ref,
        args=build_args(spec),
        train_dataset=load_dataset(spec),
        processing_class=AutoTokenizer.from_pretrained(spec["model"]),
        callbacks=callbacks,
    )


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train for the spec's steps; the record of measurements."""
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    timer = StepTimer()
    trainer = make_trainer(spec, model, None, [timer])
    trainer.train()
    final = Path(spec["out_dir"]) / "final"
    trainer.save_model(str(final))
    return {
        "side": "trl",
        "step_s": timer.step_s,
        "tokens": TOKENS,
        "accuracy": timer.accuracy,
        "loss": timer.loss,
        "final": str(final),
        "peak_rss_mib": peak_rss_mib(),
        "torch_threads": torch.get_num_threads(),
    }


def _rows(ids: torch.Tensor, attention: torch.Tensor, completion: torch.Tensor) -> list[Any]:
    """(prompt ids, completion ids) of each row of a collated batch."""
    rows = []
    for i, a, c in zip(ids.tolist(), attention.tolist(), completion.tolist(), strict=True):
        prompt = [t for t, m, k in zip(i, a, c, strict=True) if m and not k]
        rows.append((prompt, [t for t, k in zip(i, c, strict=True) if k]))
    return rows


def parity(spec: dict[str, Any]) -> dict[str, Any]:
    """TRL's loss and rlvr's on the same batch and weights (module docstring, item 4)."""
    from rlvr.algorithms.preference import kto_baseline, kto_loss, pair_loss
    from rlvr.trainers.dpo import sequence_logps

    torch.manual_seed(spec["seed"])
    ref = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    policy = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * spec["noise"])
    trainer = make_trainer(spec, policy, ref, [])
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(spec["batch"])])
    policy.train()
    with torch.no_grad():
        theirs = float(trainer.compute_loss(trainer.model, batch))
        pad = trainer.processing_class.pad_token_id

        def logps(model: Any, rows: list[Any]) -> torch.Tensor:
            return sequence_logps(model, rows, pad_id=pad, share_prefix=True)[0]

        rows = _rows(batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        if spec["loss"] == "kto":
            kl_rows = _rows(
                batch["KL_input_ids"], batch["KL_attention_mask"], batch["KL_completion_mask"]
            )
            z0 = kto_baseline(logps(policy, kl_rows) - logps(ref, kl_rows))
            ours, _ = kto_loss(
                logps(policy, rows) - logps(ref, rows),
                batch["label"].bool(),
                kl_baseline=z0,
                beta=spec["beta"],
            )
        else:
            b = len(rows) // 2
            lp, lr = logps(policy, rows), logps(ref, rows)
            tokens = torch.tensor([len(c) for _, c in rows], dtype=torch.float32)
            ours, _ = pair_loss(
                "sigmoid", lp[:b], lp[b:], chosen_tokens=tokens[:b], rejected_tokens=tokens[b:],
                ref_chosen=lr[:b], ref_rejected=lr[b:], beta=spec["beta"],
            )  # fmt: skip
    return {"loss": spec["loss"], "trl": theirs, "ours": float(ours), "rows": len(rows)}


def main(spec_path: str, result_path: str) -> None:
    """Train (or check parity) as the spec says and write the record to `result_path`."""
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    record = parity(spec) if spec.get("mode") == "parity" else train(spec)
    Path(result_path).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
