"""The DeepSpeed backend: ZeRO stages 0-3 over every process of a `deepspeed`/`torchrun` launch.

Launch with `deepspeed --num_gpus 8 -m rlvr.cli train cfg.yaml` or
`torchrun --nproc_per_node 2 -m rlvr.cli train cfg.yaml` and `backend: {kind: deepspeed}`; a
plain `rlvr train` runs it as a world of one. Without CUDA, `DS_ACCELERATOR=cpu` and gloo are
used, and no DeepSpeed C++ op is compiled (the CPU communicator's shared-memory all-reduce is
switched off). `offload_optimizer` is refused there: it would JIT-compile DeepSpeed's CPU Adam
(about a minute, and a C++ toolchain) to move optimizer state to the memory it is already in.

Implementation details:
  1. Gradients equal the torch backend's: gradient accumulation is left to the trainer
     (`managed_gradient_accumulation: false`, `gradient_accumulation_steps: 1`), so
     `backward` never divides the loss, and every `step` is an optimizer step. DeepSpeed
     averages gradients over ranks while each rank's loss is its share of the global loss
     (normalised by whole-batch counts), so `backward` multiplies the loss by the world size.
  2. The optimizer is `torch.optim.AdamW` passed as DeepSpeed's client optimizer (ZeRO
     partitions its state; `zero_allow_untested_optimizer`), with the LR schedule of
     `rlvr.backends.optim`. With `offload_optimizer`, DeepSpeed builds its own (CPU) AdamW from the
     config instead. Clipping uses DeepSpeed's `gradient_clipping`, which scales gradients by
     `max_norm / (norm + 1e-6)` like `torch.nn.utils.clip_grad_norm_`. At ZeRO stage 0 the
     engine steps the client optimizer itself and its clipping keeps no norm, so there the
     backend clips in an optimizer step pre-hook (after DeepSpeed's all-reduce) instead.
  3. Training forward passes go through the engine (`forward_model`): it counts micro-steps
     there, and ZeRO-3 accumulates a step's micro-batch gradients only when they are counted
     (called directly, the module would overwrite them with the last micro-batch's).
  4. `bf16` keeps fp32 master weights in the optimizer and runs the module in bfloat16, on CPU
     as on GPU. It needs ZeRO stage 1-3 (`BackendConfig` says why stage 0 is refused).
  5. Under ZeRO-3 every rank holds a slice of each parameter: `full_params` gathers them one
     at a time (`deepspeed.zero.GatheredParameters`) and yields full tensors with their HF
     names, which is what saving a final model and syncing weights to a rollout engine use.
  6. Checkpoints: rank 0 writes the HF-format model (gathered) and the trainer state; every
     rank writes its partition of the optimizer state with `engine.save_checkpoint` into
     `<checkpoint>/deepspeed`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from rlvr.backends import Dist, free_port
from rlvr.backends.optim import build_optimizer, build_scheduler, clip_gradients
from rlvr.config.sections import BackendConfig, OptimConfig

STATE_DIR = "deepspeed"
"""Sub-directory of a checkpoint holding DeepSpeed's (partitioned) engine state."""


def _import_deepspeed() -> Any:
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        import deepspeed
    except ImportError as exc:
        raise ImportError(
            "backend.kind=deepspeed needs DeepSpeed: pip install 'rlvr[deepspeed]'"
        ) from exc
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    return deepspeed


def _skip_shm_op(deepspeed: Any) -> None:
    """Keep DeepSpeed's CPU communicator from JIT-compiling its shared-memory all-reduce (C++).

    It builds the op when its first process group starts; ZeRO's collectives run on gloo
    without it, so it is marked unavailable (`build_shm_op` then returns None).
    """
    from deepspeed.accelerator import get_accelerator

    # Internals (DeepSpeed 0.19): the op builder's name and the `__compatible_ops__` table are
    # what `build_shm_op` consults; no public switch turns the shared-memory op off.
    builder = get_accelerator().create_op_builder("ShareMemCommBuilder")
    if builder is not None:
        deepspeed.ops.__compatible_ops__[builder.NAME] = False


def check_device(cfg: BackendConfig, *, on_gpu: bool) -> None:
    """Refuse options that only make sense with a GPU.

    Raises:
        ValueError: `offload_optimizer` without CUDA.
    """
    if cfg.offload_optimizer and not on_gpu:
        raise ValueError(
            "backend.offload_optimizer is for GPU runs: without CUDA the optimizer state is "
            "already in CPU memory, and offloading would JIT-compile DeepSpeed's CPU Adam "
            "(C++); leave it off on CPU"
        )


def init_distributed(cfg: BackendConfig, dist: Dist) -> None:
    """Initialise the process group for this launch (a world of one when not launched).

    Raises:
        ValueError: an option this machine cannot run (see `check_device`).
    """
    check_device(cfg, on_gpu=torch.cuda.is_available())
    deepspeed = _import_deepspeed()
    if not torch.cuda.is_available():
        _skip_shm_op(deepspeed)
    if dist.world_size == 1:
        for key, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
            os.environ.setdefault(key, value)
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    backend = cfg.dist_backend
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(dist.local_rank)
    deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False, verbose=False)


def ds_config(
    cfg: BackendConfig, optim: OptimConfig, world_size: int, *, on_gpu: bool
) -> dict[str, Any]:
    """The DeepSpeed config dict for `cfg` (see the module docstring for why each value)."""
    # On CPU there are no streams to overlap, and bucketing gradients into a contiguous buffer
    # is one more copy per parameter and micro-batch.
    zero: dict[str, Any] = {
        "stage": cfg.zero_stage,
        "overlap_comm": on_gpu and cfg.zero_stage >= 2,
        "contiguous_gradients": on_gpu,
    }
    if cfg.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu"}
    if cfg.offload_params:
        zero["offload_param"] = {"device": "cpu"}
    config: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": 1,
        "train_batch_size": world_size,
        "managed_gradient_accumulation": False,
        # stage 0: clipped by the backend, which keeps the norm (module docstring, item 2)
        "gradient_clipping": (optim.grad_clip or 0.0) if cfg.zero_stage else 0.0,
        "zero_optimization": zero,
        "bf16": {"enabled": cfg.bf16},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }
    if cfg.offload_optimizer:
        config["optimizer"] = {
            "type": "AdamW",
            "params": {
                "lr": optim.lr,
                "betas": list(optim.betas),
                "weight_decay": optim.weight_decay,
            },
        }
    return config


class DeepSpeedBackend:
    """A DeepSpeed engine over the model; see the module docstring."""

    def __init__(
        self,
        cfg: BackendConfig,
        dist: Dist,
        model: torch.nn.Module,
        optim: OptimConfig,
        *,
        total_steps: int,
    ) -> None:
        deepspeed = _import_deepspeed()
        self.dist = dist
        self._zero3 = cfg.zero_stage == 3
        self._clip = optim.grad_clip
        self._stage0 = cfg.zero_stage == 0
        self._norm = float("nan")
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = None
        if not cfg.offload_optimizer:
            optimizer = build_optimizer(params, optim, total_steps=total_steps)[0]
            if self._stage0:
                optimizer.register_step_pre_hook(self._clip_before_step)
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=model,
            model_parameters=params,
            optimizer=optimizer,
            lr_scheduler=lambda opt: build_scheduler(opt, optim, total_steps=total_steps),
            config=ds_config(cfg, optim, dist.world_size, on_gpu=torch.cuda.is_available()),
            dist_init_required=False,
        )

    @property
    def module(self) -> torch.nn.Module:
        return self.engine.module  # type: ignore[no-any-return]

    @property
    def forward_model(self) -> Any:
        return self.engine

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss * self.dist.world_size, scale_wrt_gas=False)

    def _clip_before_step(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        # ZeRO stage 0: the gradients are all-reduced by now, and not yet clipped
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self._norm = clip_gradients(params, self._clip)

    def step(self) -> float:
        self.engine.step()
        if self._stage0:
            return self._norm
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def zero_grad(self) -> None:
        self.engine.zero_grad()

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def full_params(self) -> Iterator[tuple[str, torch.Tensor]]:
        if not self._zero3:
            yield from self.module.state_dict().items()
            return
        # the state dict's names (tied weights under each name, persistent buffers), with each
        # partitioned parameter gathered for as long as it is being read
        gathered = _import_deepspeed().zero.GatheredParameters
        wanted = set(self.module.state_dict())
        for name, p in self.module.named_parameters(remove_duplicate=False):
            if name in wanted:
                with gathered([p], modifier_rank=None):
                    yield name, p.detach().clone()
        for name, b in self.module.named_buffers():
            if name in wanted:
                yield name, b.detach()

    def save_pretrained(self, path: Path) -> None:
        state = {name: t.cpu() for name, t in self.full_params()}
        if self.dist.is_main:
            self.module.save_pretrained(path, state_dict=state)  # type: ignore[operator]
        self.dist.barrier()

    def save_state(self, path: Path) -> dict[str, Any]:
        self.engine.save_checkpoint(str(path), tag=STATE_DIR)
        return {"optimizer": None, "scheduler": None, "deepspeed": STATE_DIR}

    def load_state(self, path: Path, state: dict[str, Any]) -> None:
        loaded, _ = self.engine.load_checkpoint(
            str(path), tag=state["deepspeed"], load_optimizer_states=True
        )
        if loaded is None:
            raise FileNotFoundError(f"no DeepSpeed state under {path / state['deepspeed']}")

    def close(self) -> None:
        self.dist.barrier()
        self.engine.destroy()
