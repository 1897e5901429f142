"""Training-step throughput on one GPU: SFT and GRPO steps of a ~0.5B Qwen2-shaped model in bf16.

The model is randomly initialised (Qwen2.5-0.5B's shape: 24 layers, width 896, 14 query and 2
key/value heads, SwiGLU 4864, 151,936-token vocabulary, tied embeddings), so nothing is
downloaded. Each backend trains on random token batches through rlvr's own code path: the
backend of `rlvr.backends` (`torch`; DeepSpeed ZeRO-2 with bf16 when `deepspeed` imports),
`rlvr.models.tokens.token_logprobs` and the losses of `rlvr.algorithms.losses`.

    python benchmarks/gpu_train_step.py [--batch-size 8] [--seq-len 1024] [--micro-batch-size 4]
        [--steps 10] [--warmup 3] [--peak-tflops 800] [--out runs/bench-gpu-train-step]
    python benchmarks/gpu_train_step.py --tiny      # a few-layer model: checks the script on CPU

Status: written and checked on CPU with `--tiny`; the GPU numbers are still to be measured.

Implementation details:
  1. Step: zero_grad, forward/backward over `--micro-batch-size` rows at a time, backend step
     (clip at 1.0, AdamW). SFT takes the loss on every token after the first `--seq-len / 4`
     (the "prompt"); GRPO takes the clipped surrogate (token-mean, mu = 1, random advantages)
     on the same tokens, as the trainers do.
  2. s/step: mean wall time of `--steps` steps after `--warmup`, with `cuda.synchronize()` on
     both ends of each step. tokens/s counts every token of the batch (`batch * seq_len`).
  3. Model FLOPs per step: `6 * N * tokens + 12 * layers * width * seq_len * tokens` (forward
     and backward; the second term is attention's scores and values, counted without the
     causal half, as in the PaLM paper's appendix B). N counts every parameter once, so the
     tied embedding stands for the LM head's matmul. MFU = FLOPs / s / `--peak-tflops`
     (default 800 TFLOP/s: dense bf16 of one H200-class GPU, rounded down).
  4. Each (stage, backend) pair runs in a fresh process (`--only STAGE:BACKEND`, which prints
     one JSON line): a DeepSpeed process group cannot be started twice in one process, and each
     measurement starts with an empty GPU.
  5. `torch` runs the model in bf16 with AdamW on bf16 parameters; DeepSpeed runs the module in
     bf16 with fp32 master weights in the optimizer (`backend.bf16`), which costs memory and an
     extra copy per step. Peak memory is `torch.cuda.max_memory_allocated` per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import package_versions, write_results  # noqa: E402
from rlvr.algorithms.losses import policy_loss, sft_loss  # noqa: E402
from rlvr.backends import TrainBackend, build_backend, launch  # noqa: E402
from rlvr.config.sections import BackendConfig, OptimConfig  # noqa: E402
from rlvr.models.tokens import TokenBatch, token_logprobs  # noqa: E402

QWEN2_05B = {
    "vocab_size": 151_936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
}
"""Qwen2.5-0.5B's shape."""
TINY = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
}
"""A shape that runs in seconds on CPU."""


def build_model(shape: dict[str, Any], *, seq_len: int, dtype: torch.dtype, device: str) -> Any:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**shape, max_position_embeddings=max(seq_len, 2048))
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(device=device, dtype=dtype)
    model.train()
    return model


def model_flops(model: Any, tokens: int, seq_len: int) -> float:
    """FLOPs of one forward+backward over `tokens` tokens in rows of `seq_len` (details 3)."""
    n = sum(p.numel() for p in model.parameters())
    cfg = model.config
    return 6.0 * n * tokens + 12.0 * cfg.num_hidden_layers * cfg.hidden_size * seq_len * tokens


def make_batch(args: argparse.Namespace, vocab: int, device: str) -> TokenBatch:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (args.batch_size, args.seq_len), generator=g)
    completion = torch.zeros_like(ids)
    completion[:, args.seq_len // 4 :] = 1
    return TokenBatch(ids, torch.ones_like(ids), completion).to(device)


def step(backend: TrainBackend, batch: TokenBatch, stage: str, micro: int) -> float:
    """One optimizer step over `batch`; returns the summed loss."""
    first = batch.completion_start
    mask = batch.completion_mask[:, first:]  # [B, W]
    tokens = int(mask.sum())
    advantages = torch.linspace(-1, 1, mask.shape[0], device=mask.device)  # [B]
    backend.zero_grad()
    total = 0.0
    for start in range(0, mask.shape[0], micro):
        rows = slice(start, start + micro)
        logprobs, logits = token_logprobs(backend.forward_model, batch[rows], start=first)
        if stage == "sft":
            targets = batch.input_ids[rows, first:]
            loss, _ = sft_loss(logits, targets, mask[rows], global_tokens=tokens)
        else:
            loss, _ = policy_loss(
                logprobs,
                logprobs.detach(),
                advantages[rows],
                mask[rows],
                agg_mode="token-mean",
                global_tokens=tokens,
            )
        backend.backward(loss)
        total += float(loss.detach())
    backend.step()
    return total


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(args: argparse.Namespace, kind: str, stage: str, device: str) -> dict[str, Any]:
    """Build the model and backend `kind`, run warm-up and timed steps of `stage`."""
    deepspeed = kind == "deepspeed-zero2"
    cfg = BackendConfig(kind="deepspeed", zero_stage=2, bf16=True) if deepspeed else BackendConfig()
    dist = launch(cfg)
    dtype = torch.float32 if deepspeed else torch.bfloat16  # DeepSpeed casts the module itself
    shape = TINY if args.tiny else QWEN2_05B
    model = build_model(shape, seq_len=args.seq_len, dtype=dtype, device=device)
    backend = build_backend(cfg, dist, model, OptimConfig(lr=1e-5), total_steps=10**6)
    batch = make_batch(args, shape["vocab_size"], device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, loss = [], 0.0
    for i in range(args.warmup + args.steps):
        _sync(device)
        start = time.perf_counter()
        loss = step(backend, batch, stage, args.micro_batch_size)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    s_per_step = statistics.mean(times)
    tokens = args.batch_size * args.seq_len
    flops = model_flops(backend.module, tokens, args.seq_len)
    result = {
        "backend": kind,
        "stage": stage,
        "s_per_step": s_per_step,
        "tokens_per_s": tokens / s_per_step,
        "model_tflops_per_step": flops / 1e12,
        "mfu": flops / s_per_step / (args.peak_tflops * 1e12),
        "params": sum(p.numel() for p in backend.module.parameters()),
        "last_loss": loss,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
    }
    backend.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="a tiny model (CPU check of the script)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--micro-batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=800.0)
    p.add_argument("--stages", nargs="+", choices=["sft", "grpo"], default=["sft", "grpo"])
    p.add_argument("--out", type=Path, default=Path("runs/bench-gpu-train-step"))
    p.add_argument("--only", help="STAGE:BACKEND: measure one pair, print it as JSON (details 4)")
    args = p.parse_args()
    if args.tiny:
        args.seq_len, args.steps, args.warmup = min(args.seq_len, 64), min(args.steps, 3), 1
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("no CUDA device: run with --tiny to check the script on CPU")
    if args.only:
        stage, kind = args.only.split(":")
        print("RESULT " + json.dumps(measure(args, kind, stage, device)), flush=True)
        return
    kinds = ["torch"] + (["deepspeed-zero2"] if find_spec("deepspeed") else [])
    results = []
    for stage in args.stages:
        for kind in kinds:
            cmd = [sys.executable, __file__, *sys.argv[1:], "--only", f"{stage}:{kind}"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
            results.append(r)
            print(
                f"{stage:>4} {kind:>16}: {r['s_per_step']:.4f} s/step, "
                f"{r['tokens_per_s']:,.0f} tokens/s, MFU {100 * r['mfu']:.2f}% "
                f"(loss {r['last_loss']:.4f}, params {r['params'] / 1e6:.1f}M)",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    write_results(
        args.out,
        {
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "results": results,
            "versions": package_versions(["torch", "deepspeed", "transformers"]),
        },
    )


if __name__ == "__main__":
    main()
