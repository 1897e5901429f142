"""The single-process backend: AdamW and the LR schedule of `rlvr.backends.optim`, torch state
files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from rlvr.backends import Dist
from rlvr.backends.optim import build_optimizer, clip_gradients
from rlvr.config.sections import OptimConfig


class TorchBackend:
    """Plain PyTorch in one process: `loss.backward()`, clip, `optimizer.step()`."""

    def __init__(self, model: torch.nn.Module, optim: OptimConfig, *, total_steps: int) -> None:
        self.dist = Dist()
        self._model = model
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._clip = optim.grad_clip
        self.optimizer, self.scheduler = build_optimizer(
            self._params, optim, total_steps=total_steps
        )

    @property
    def module(self) -> torch.nn.Module:
        return self._model

    @property
    def forward_model(self) -> torch.nn.Module:
        return self._model

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> float:
        norm = clip_gradients(self._params, self._clip)
        self.optimizer.step()
        self.scheduler.step()
        return norm

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def full_params(self) -> Iterator[tuple[str, torch.Tensor]]:
        yield from self._model.state_dict().items()

    def save_pretrained(self, path: Path) -> None:
        self._model.save_pretrained(path)  # type: ignore[operator]

    def save_state(self, path: Path) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def close(self) -> None:
        return None
