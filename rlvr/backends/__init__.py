"""Training backends: how gradients are reduced, the optimizer steps and checkpoints are written.

Every trainer drives its model through one `TrainBackend`, chosen by the config's `backend:`
section:

- `torch` (default): one process; AdamW from `rlvr.backends.optim`, `clip_gradients`, state saved
  with `torch.save` (`rlvr.backends.torch_backend`: a submodule named `torch` would replace
  the `torch` package in this module's namespace as soon as it is imported).
- `deepspeed`: ZeRO stages 0-3 over every process of a `deepspeed` or `torchrun` launch
  (gloo on CPU, NCCL on GPU). Imported only when chosen; see `rlvr.backends.deepspeed`.

Implementation details:
  1. A trainer computes its global normalisers (token and sequence counts) over the whole batch,
     which every rank holds, then runs forward/backward on its own rows only (`shard`). Each
     rank's loss is therefore its share of the single-process loss, and the sum over ranks of
     the gradients equals the single-process gradient. The backend reduces gradients as a sum
     (DeepSpeed averages, so its backend scales the loss by the world size first).
  2. Statistics that are shares of the batch (loss, token accuracy, ...) are summed over ranks
     with `Dist.all_reduce_sum`, so rank 0 logs the same numbers a single process would.
  3. Only rank 0 writes metrics, checkpoints and final models; the other ranks join the
     collective parts (gathering ZeRO-3 parameters, DeepSpeed's partitioned optimizer state).
"""

from __future__ import annotations

import atexit
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from rlvr.config.sections import BackendConfig, OptimConfig


@dataclass(frozen=True)
class Dist:
    """This process's place in the launch (rank 0 of 1 when not launched distributed)."""

    rank: int = 0
    """Global rank."""
    world_size: int = 1
    """Processes in the launch."""
    local_rank: int = 0
    """Rank on this node (selects the GPU)."""

    @property
    def is_main(self) -> bool:
        """True on the process that writes metrics, checkpoints and final models."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op in one process)."""
        if self.world_size > 1:
            torch.distributed.barrier()

    def all_reduce_sum(self, stats: dict[str, float]) -> dict[str, float]:
        """Sum each value over ranks; every rank must pass the same keys in the same order."""
        if self.world_size == 1 or not stats:
            return stats
        values = torch.tensor(list(stats.values()), dtype=torch.float64)
        if torch.distributed.get_backend() == "nccl":
            values = values.cuda()
        torch.distributed.all_reduce(values)
        return dict(zip(stats, values.cpu().tolist(), strict=True))

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (pickled; `[obj]` in one process)."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (pickled; the other ranks' argument is ignored)."""
        if self.world_size == 1:
            return obj
        box = [obj if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def shard(self, n: int) -> range:
        """This rank's contiguous share of `n` rows (sizes differ by at most one)."""
        return range(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)

    def micro_batches(self, n: int, micro: int) -> list[tuple[slice, bool]]:
        """This rank's share of `n` rows in micro-batches of at most `micro`, as
        `(rows, padding)`; every rank gets as many as the largest share needs.

        ZeRO reduces gradients and gathers weights in each forward/backward, so every rank must
        run the same number of passes: a rank whose share is a row shorter (or empty) ends with
        a padding pass over one row (its first, else row 0), whose loss it scales by zero.
        """
        rows = self.shard(n)
        first = rows.start if rows else 0
        out = []
        for start in range(rows.start, rows.start + -(-n // self.world_size), micro):
            stop = min(start + micro, rows.stop)
            out.append(
                (slice(start, stop), False) if start < stop else (slice(first, first + 1), True)
            )
        return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for `MASTER_PORT`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rank_env(rank: int, world_size: int, port: int) -> dict[str, str]:
    """The variables `torchrun` sets for `rank` of a one-node launch of `world_size` ranks, for
    starting the ranks by hand (tests, benchmarks)."""
    return {
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(world_size),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }


def launch_env() -> Dist:
    """Rank, world size and local rank from the variables `torchrun` and `deepspeed` set."""
    return Dist(
        rank=int(os.environ.get("RANK", "0")),
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def shutdown() -> None:
    """Destroy the process group, if one is up. Trainers call it last (after closing a vLLM
    engine, whose own groups hang off it); `launch` also registers it to run at exit."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def launch(cfg: BackendConfig) -> Dist:
    """Join the launch: initialise the process group for `deepspeed` (gloo on CPU, NCCL on GPU).

    The process group is destroyed by `TrainBackend.close()`, or at interpreter exit when a run
    fails before that.

    Raises:
        ValueError: the `torch` backend was launched in several processes.
        ImportError: `deepspeed` was chosen but is not installed.
    """
    dist = launch_env()
    if cfg.kind == "torch":
        if dist.world_size > 1:
            raise ValueError(
                f"backend.kind=torch runs in one process, but WORLD_SIZE={dist.world_size}; "
                "use backend.kind=deepspeed for multi-process training"
            )
        return dist
    from rlvr.backends.deepspeed import init_distributed

    init_distributed(cfg, dist)
    atexit.register(shutdown)
    return dist


class TrainBackend(Protocol):
    """What a trainer needs from a backend. `backward` and `step` are collective calls."""

    dist: Dist
    """This process's rank and the launch size."""

    @property
    def module(self) -> Any:
        """The HF model: generation, evaluation and forward passes without gradients."""
        ...

    @property
    def forward_model(self) -> Any:
        """What to call for forward passes whose loss goes to `backward` (the DeepSpeed engine,
        which does its gradient-accumulation bookkeeping there; the HF model for torch)."""
        ...

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients of this rank's `loss` (summed over ranks at `step`)."""
        ...

    def step(self) -> float:
        """Reduce gradients, clip them, step optimizer and schedule; return the norm pre-clip."""
        ...

    def zero_grad(self) -> None:
        """Drop accumulated gradients."""
        ...

    def lr(self) -> float:
        """The learning rate of the next step."""
        ...

    def full_params(self) -> Iterator[tuple[str, torch.Tensor]]:
        """(HF name, full tensor) of every `state_dict()` entry, ZeRO-3 parameters gathered;
        collective under ZeRO-3, so every rank must consume the whole iterator. For weight sync
        to a rollout engine and for saving."""
        ...

    def save_pretrained(self, path: Path) -> None:
        """Write the full model in HF format to `path` (rank 0 writes; collective)."""
        ...

    def save_state(self, path: Path) -> dict[str, Any]:
        """Write optimizer/scheduler state under `path` (collective); return what goes into
        `trainer_state.pt` (rank 0 writes that file)."""
        ...

    def load_state(self, path: Path, state: dict[str, Any]) -> None:
        """Restore optimizer/scheduler state saved by `save_state` into `path`/`state`."""
        ...

    def close(self) -> None:
        """Release the backend (collective); the process group stays up until `shutdown()`."""
        ...


def build_backend(
    cfg: BackendConfig,
    dist: Dist,
    model: torch.nn.Module,
    optim: OptimConfig,
    *,
    total_steps: int,
) -> TrainBackend:
    """The backend `cfg.kind` over `model`'s trainable parameters (after `launch(cfg)`)."""
    if cfg.kind == "torch":
        from rlvr.backends.torch_backend import TorchBackend

        return TorchBackend(model, optim, total_steps=total_steps)
    from rlvr.backends.deepspeed import DeepSpeedBackend

    return DeepSpeedBackend(cfg, dist, model, optim, total_steps=total_steps)
