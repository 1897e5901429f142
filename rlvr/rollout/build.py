"""The rollout engine a trainer samples from, built from its config, and the weight sync to it.

`open_rollout(cfg, model=..., tokenizer=..., model_dir=..., seed=...)` returns a `Rollout`:
the engine (`hf` or `vllm`) and `after_update(model)`, which the trainer calls after each
training step so the engine samples from the weights just trained.

Implementation details:
  1. `hf` shares the trainer's model object: there is nothing to copy and nothing can go stale.
  2. `vllm` holds its own copy of the weights, loaded from `model_dir` (the checkpoint the
     trainer started or resumed from). Every `sync_every` training steps the trainer's
     weights are pushed with `VLLMEngine.update_weights`; between syncs rollouts come from
     weights up to `sync_every - 1` steps old (the gap shows in `train/logprob_gap`;
     `algo.tis_cap` corrects for it). After every `parity_every`-th sync the parity probe
     compares vLLM's log-probabilities of a fixed text with the trainer's and raises
     `StaleWeightsError` past `parity_tolerance`: a sync that did not arrive stops the run.
  3. vLLM seeds torch, `random` and numpy with the run seed when it starts, and replaces
     `torch.set_num_threads` with a no-op, so the engine is built before the trainer restores
     or seeds its own random state.
  4. With `distributed.kind: ray` and rollout workers, `hf` engines run on Ray actors
     (`rlvr.distributed.rollout`), each on its own copy of the model; the trainer's weights
     are broadcast to them after every training step. The trainer hands `open_rollout` a
     factory for that remote engine (`remote`), so this package never imports Ray's.
  5. Placement over the ranks of a DeepSpeed launch (`Rollout.placement`; how a round is
     split is in `rlvr.rollout.collect`):
     - `shard` (`data_parallel`: hf under ZeRO 0-2, vllm under any stage): each rank
       generates its share of the prompts, hf on the rank's full copy of the weights, vllm
       on the rank's own engine (vLLM's `external_launcher`; under ZeRO-3 every rank gathers
       the full weights for its engine's sync).
     - `replicate` (hf under ZeRO-3, or `data_parallel: false`): every rank generates every
       prompt with the same seed. Under ZeRO-3 each hf forward pass gathers the partitioned
       weights collectively, so the ranks must run the same passes. With
       `data_parallel: false` a run of N ranks reproduces a one-process run.
     - `driver` (Ray): the actors are driven from rank 0, which generates the whole round,
       scores it and pushes the weights; the other ranks receive the round by broadcast and
       still walk `full_params` (ZeRO-3 gathers are collective).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import torch

from rlvr.backends import Dist
from rlvr.data.types import RolloutGroup, Sample
from rlvr.rollout.hf import HFEngine, SamplingParams

if TYPE_CHECKING:
    from rlvr.rollout import RolloutEngine
    from rlvr.rollout.vllm import VLLMEngine


class RemoteEngine(Protocol):
    """An engine in other processes (Ray actors): samples, takes weights, and is closed."""

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]: ...

    def update_weights(
        self, model: Any, *, weights: Iterable[tuple[str, torch.Tensor]] | None = None
    ) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VLLMConfig:
    """Settings of the colocated vLLM engine (used when `rollout.engine` is `vllm`)."""

    sync_every: int = 1
    """Push the trainer's weights to vLLM after every this-many training steps."""
    parity_every: int = 1
    """Run the log-prob parity probe after every this-many weight syncs (0: never)."""
    parity_tolerance: float = 1e-3
    """Largest mean |log-prob difference| the probe accepts (fp32 on CPU: about 1e-7)."""
    dtype: str | None = None
    """Engine dtype; float32 on CPU, the checkpoint's (`auto`) on GPU by default."""
    kv_cache_gib: float | None = None
    """KV cache size; 1 GiB on CPU, the rest of `gpu_memory_utilization` on GPU by default."""
    gpu_memory_utilization: float = 0.3
    """Share of GPU memory vLLM may take; the trainer needs the rest (colocated)."""
    max_model_len: int | None = None
    """Longest prompt + completion the engine accepts; the model's maximum by default."""

    def __post_init__(self) -> None:
        if self.sync_every < 1 or self.parity_every < 0:
            raise ValueError("vllm.sync_every must be >= 1 and vllm.parity_every >= 0")
        if not self.parity_tolerance > 0:
            raise ValueError(f"vllm.parity_tolerance must be positive, got {self.parity_tolerance}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("vllm.gpu_memory_utilization must be in (0, 1]")


@dataclass(frozen=True)
class RolloutConfig:
    """How rollouts are sampled, and by which engine."""

    engine: Literal["hf", "vllm"] = "hf"
    """`hf` (transformers generate on the trainer's model) or `vllm` (colocated offline engine
    with its own weights, synced after training steps; needs the `vllm` extra)."""
    max_new_tokens: int = 32
    """Completion tokens at most (truncated completions are counted)."""
    temperature: float = 1.0
    """Sampling temperature."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    batch_size: int = 256
    """Completions per `generate` call (hf engine; vLLM schedules its own batches)."""
    data_parallel: bool = True
    """On several DeepSpeed ranks (hf under ZeRO 0-2, vllm), each rank generates its share of
    the prompts; false: every rank generates all of them, as one process would."""
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    """Weight sync, parity probe and memory of the vllm engine."""

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be positive, got {self.max_new_tokens}")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("rollout temperature must be > 0 and top_p in (0, 1]")


Placement = Literal["shard", "replicate", "driver"]


class Rollout:
    """A trainer's rollout engine, its placement over the ranks, and its weight syncs."""

    def __init__(
        self,
        engine: RolloutEngine | None,
        cfg: RolloutConfig,
        vllm: VLLMEngine | None = None,
        ray: RemoteEngine | None = None,
        *,
        kind: Literal["hf", "vllm", "ray"] = "hf",
        dist: Dist | None = None,
        placement: Placement = "shard",
    ) -> None:
        self.kind = kind
        """Which engine: in-process `hf`, `vllm`, or `hf` engines on Ray actors (`ray`)."""
        self.engine = engine
        """The engine (None on the ranks > 0 of a `driver` placement)."""
        self.cfg = cfg
        self.dist = dist or Dist()
        self.placement: Placement = placement
        """Where generation runs over the ranks (implementation detail 5)."""
        self._vllm = vllm
        self._ray = ray
        self.updates = 0
        """Training steps reported through `after_update`."""
        self.syncs = 0
        """Weight syncs made."""

    def after_update(
        self,
        model: torch.nn.Module,
        *,
        weights: Callable[[], Iterable[tuple[str, torch.Tensor]]] | None = None,
    ) -> dict[str, float]:
        """Call after each training step, on every rank: syncs and probes when due; returns
        `sync/*` metrics (on the rank that holds the engine).

        Args:
            model: The trainer's model.
            weights: Called once per sync for the (HF name, full tensor) pairs to push, e.g.
                `TrainBackend.full_params` (ZeRO-3 parameters are gathered there); None pushes
                `model.state_dict()`.

        Raises:
            StaleWeightsError: the parity probe after this sync failed.
        """
        self.updates += 1
        if self.kind == "hf" or (self.kind == "vllm" and self.updates % self.cfg.vllm.sync_every):
            return {}
        self.syncs += 1
        if self.engine is None:  # rank > 0 of a driver placement: join the collective gathers
            for _ in weights() if weights is not None else ():
                pass
            return {}
        pairs = None if weights is None else weights()
        if self._ray is not None:
            start = time.perf_counter()
            self._ray.update_weights(model, weights=pairs)
            return {"sync/seconds": time.perf_counter() - start, "sync/count": self.syncs}
        assert self._vllm is not None
        self._vllm.update_weights(model, weights=pairs)
        metrics = {"sync/seconds": float(self._vllm.last_sync_s or 0.0), "sync/count": self.syncs}
        every = self.cfg.vllm.parity_every
        if every and self.syncs % every == 0:
            start = time.perf_counter()
            gap = self._vllm.check_parity(model, tolerance=self.cfg.vllm.parity_tolerance)
            metrics["sync/parity_gap"] = gap
            metrics["sync/parity_seconds"] = time.perf_counter() - start
        return metrics

    def close(self) -> None:
        """Release the engine (vLLM frees its memory; hf has nothing to release)."""
        if self._vllm is not None:
            self._vllm.close()
            self._vllm = None
        if self._ray is not None:
            self._ray.close()
            self._ray = None

    def __enter__(self) -> Rollout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_engine(cfg: RolloutConfig) -> None:
    """Fail before a run writes anything when the engine `cfg` names cannot be imported.

    Raises:
        ImportError: `vllm` is asked for and vLLM is not installed (the message says how).
    """
    if cfg.engine == "vllm":
        from rlvr.rollout.vllm import import_vllm

        import_vllm()


def open_rollout(
    cfg: RolloutConfig,
    *,
    model: Any,
    tokenizer: Any,
    model_dir: str | Path,
    seed: int,
    remote: Callable[[], RemoteEngine] | None = None,
    dist: Dist | None = None,
    zero3: bool = False,
) -> Rollout:
    """The engine `cfg.engine` names, sampling from `model` (hf) or a copy of `model_dir` (vllm).

    `remote` builds `hf` engines in other processes (Ray actors, `rlvr.distributed.rollout`);
    it is called on rank 0 only, which drives them. `dist` is this process's place in a
    DeepSpeed launch and `zero3` whether its weights are partitioned: they choose the placement
    (implementation detail 5).

    Raises:
        ImportError: `vllm` or Ray was asked for and is not installed (the message says how).
    """
    dist = dist or Dist()
    if remote is not None:
        if cfg.engine != "hf":
            raise ValueError("rollouts on Ray actors use the hf engine; set rollout.engine: hf")
        actors = remote() if dist.is_main else None
        return Rollout(actors, cfg, ray=actors, kind="ray", dist=dist, placement="driver")
    local = cfg.data_parallel and (cfg.engine == "vllm" or not zero3)
    placement: Placement = "shard" if local or dist.world_size == 1 else "replicate"
    if cfg.engine == "hf":
        engine = HFEngine(model, tokenizer, batch_size=cfg.batch_size)
        return Rollout(engine, cfg, dist=dist, placement=placement)
    from rlvr.rollout.vllm import VLLMEngine

    vllm = VLLMEngine(
        model_dir,
        tokenizer,
        seed=seed,
        max_model_len=cfg.vllm.max_model_len,
        dtype=cfg.vllm.dtype,
        gpu_memory_utilization=cfg.vllm.gpu_memory_utilization,
        kv_cache_gib=cfg.vllm.kv_cache_gib,
    )
    return Rollout(vllm, cfg, vllm, kind="vllm", dist=dist, placement=placement)
