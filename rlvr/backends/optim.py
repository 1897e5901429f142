"""Optimizer and learning-rate schedule from an `OptimConfig`."""

from __future__ import annotations

import math

import torch

from rlvr.config.sections import OptimConfig


def build_optimizer(
    params: list[torch.nn.Parameter], cfg: OptimConfig, *, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over `params` and a LambdaLR: linear warm-up, then the configured decay.

    The AdamW is torch's fused implementation (one kernel over each parameter, as the
    `adamw_torch_fused` default of Hugging Face's Trainer) when every parameter is a float
    tensor on CPU or CUDA; otherwise the per-tensor loop. On CPU the fused step is several
    times faster than the loop, most of all over DeepSpeed's flat ZeRO partitions.
    """
    optimizer = torch.optim.AdamW(
        params,
        lr=cfg.lr,
        betas=cfg.betas,
        weight_decay=cfg.weight_decay,
        fused=_fusable(params),
    )
    return optimizer, build_scheduler(optimizer, cfg, total_steps=total_steps)


def _fusable(params: list[torch.nn.Parameter]) -> bool:
    return bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, *, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over `optimizer`: linear warm-up, then the configured decay to 10% of `lr`."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        if cfg.schedule == "linear":
            return 1.0 - 0.9 * progress
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def clip_gradients(params: list[torch.nn.Parameter], max_norm: float | None) -> float:
    """Clip the global gradient norm (when `max_norm` is set); return the norm before clipping."""
    if max_norm is None:
        grads = [p.grad.detach().norm() for p in params if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else 0.0
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
