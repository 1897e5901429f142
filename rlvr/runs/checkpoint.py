"""Checkpoints every trainer shares: HF-format weights plus the state needed to resume exactly.

```
<run>/checkpoints/
  step-00000040/        model + tokenizer (save_pretrained), trainer_state.pt
  latest                name of the newest complete checkpoint
```

Implementation details:
  1. A checkpoint is written into a temporary sibling directory and renamed into place, and
     `latest` is replaced atomically afterwards, so a run killed mid-save resumes from the
     previous complete checkpoint.
  2. `trainer_state.pt` holds the step, the backend's optimizer and scheduler state (DeepSpeed
     keeps its partitioned state in a `deepspeed/` sub-directory), python and torch RNG
     states and any trainer-specific state (e.g. the data cursor), so a resumed run draws the
     same batches and samples as an uninterrupted one.
  3. On resume, metrics lines logged after the checkpoint's step are dropped from
     metrics.jsonl: the resumed run logs them again, and the stream matches an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlvr.backends import Dist, TrainBackend
from rlvr.config.sections import RunConfig
from rlvr.runs import Run, create_run
from rlvr.runs.contract import ContractError, format_contract, pin_contract

STATE_FILE = "trainer_state.pt"
LATEST = "latest"


@dataclass(frozen=True)
class Resumed:
    """What a trainer gets back from `load_latest`."""

    path: Path
    """The checkpoint directory (loadable with `from_pretrained`)."""
    step: int
    """Optimizer steps completed when it was saved."""
    state: dict[str, Any]
    """The full trainer state (optimizer, scheduler, rng, extra)."""


def save_checkpoint(
    checkpoints: Path,
    step: int,
    *,
    backend: TrainBackend,
    tokenizer: Any,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
    parts: Mapping[str, TrainBackend] | None = None,
) -> Path:
    """Write checkpoint `step` and point `latest` at it; keep the newest `keep` checkpoints.

    `parts` are further models trained beside the main one (PPO's critic): each is written to
    the sub-directory of its name (HF weights and its backend state), and what its backend
    returns goes to `state["parts"][name]` (see `load_part_state`).

    Collective: every rank of a distributed backend calls it; rank 0 writes the files.
    """
    main = backend.dist.is_main
    name = f"step-{step:08d}"
    final = checkpoints / name
    tmp = checkpoints / f".{name}.tmp"
    if main:
        checkpoints.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    backend.dist.barrier()
    backend.save_pretrained(tmp)
    backend_state = backend.save_state(tmp)
    part_states = {}
    for part_name, part in (parts or {}).items():
        part.save_pretrained(tmp / part_name)
        part_states[part_name] = part.save_state(tmp / part_name)
    backend.dist.barrier()
    if main:
        tokenizer.save_pretrained(tmp)
        state = {
            "step": step,
            **backend_state,
            "python_rng": random.getstate(),
            "torch_rng": torch.get_rng_state(),
            "extra": extra or {},
            "parts": part_states,
        }
        torch.save(state, tmp / STATE_FILE)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        pointer = checkpoints / f".{LATEST}.tmp"
        pointer.write_text(name + "\n")
        os.replace(pointer, checkpoints / LATEST)
        for old in sorted(checkpoints.glob("step-*"))[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    backend.dist.barrier()
    return final


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint directory, or None."""
    pointer = checkpoints / LATEST
    if not pointer.exists():
        return None
    path = checkpoints / pointer.read_text().strip()
    return path if (path / STATE_FILE).exists() else None


def load_latest(checkpoints: Path) -> Resumed | None:
    """Trainer state of the newest checkpoint, with RNG states restored; None if there is none."""
    path = latest_checkpoint(checkpoints)
    if path is None:
        return None
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    random.setstate(state["python_rng"])
    torch.set_rng_state(state["torch_rng"])
    return Resumed(path, int(state["step"]), state)


def truncate_metrics(metrics: Path, step: int) -> None:
    """Drop metrics lines logged after `step` (they are logged again by the resumed run)."""
    if not metrics.exists():
        return
    kept = []
    for line in metrics.read_text().splitlines():
        if line.strip() and json.loads(line).get("step", 0) <= step:
            kept.append(line)
    metrics.write_text("".join(f"{line}\n" for line in kept))


def open_trainer_run(
    run_cfg: RunConfig,
    config: Any,
    *,
    stage: str,
    datasets: dict[str, str],
    verifier_names: Iterable[str] = (),
    dist: Dist | None = None,
    contract: Mapping[str, Any] | None = None,
) -> tuple[Run, Resumed | None]:
    """Create the run directory, or reopen it when it holds checkpoints and overwrite is off.

    With `dist`, rank 0 creates the directory and the other ranks get a `Run` that writes
    nothing. Returns the run and the newest checkpoint to resume from (None for a fresh run).
    With `contract` (see `rlvr.runs.contract`), rank 0 pins it in the manifest and prints it,
    or, resuming, checks it against the pinned one.

    Raises:
        ContractError: on every rank, when the contract changed and
            `run.accept_contract_change` is off.
    """
    dist = dist or Dist()
    checkpoints = run_cfg.output_dir / run_cfg.name / "checkpoints"
    resume = not run_cfg.overwrite and checkpoints.exists()
    dist.barrier()  # every rank has looked for checkpoints before rank 0 may delete them
    if not dist.is_main:
        dist.barrier()
        error = dist.broadcast_object(None)
        if error is not None:
            raise ContractError(error)
        run = Run(run_cfg.output_dir / run_cfg.name, main=False)
        return run, load_latest(run.checkpoints) if resume else None
    run = create_run(
        run_cfg.output_dir,
        run_cfg.name,
        config,
        stage=stage,
        seed=run_cfg.seed,
        datasets=datasets,
        verifier_names=verifier_names,
        overwrite=run_cfg.overwrite,
        resume=resume,
        loggers=run_cfg.loggers,
    )
    error = None
    if contract is not None:
        pointer = latest_checkpoint(run.checkpoints)
        step = int(pointer.name.split("-")[-1]) if pointer is not None else 0
        try:
            pin_contract(run, contract, accept_change=run_cfg.accept_contract_change, step=step)
            print(format_contract(contract))
        except ContractError as exc:
            error = str(exc)
    dist.barrier()
    dist.broadcast_object(error)
    if error is not None:
        run.close()
        raise ContractError(error)
    return run, load_latest(run.checkpoints)


def restore_training(resumed: Resumed | None, run: Run, backend: TrainBackend) -> tuple[int, int]:
    """Load the backend's optimizer and scheduler state and drop metrics logged after the
    checkpoint. Returns (steps done, data cursor); (0, 0) for a fresh run.
    """
    if resumed is None:
        return 0, 0
    backend.load_state(resumed.path, resumed.state)
    if backend.dist.is_main:
        truncate_metrics(run.dir / "metrics.jsonl", resumed.step)
    return resumed.step, int(resumed.state["extra"]["cursor"])


def load_part_state(resumed: Resumed, name: str, backend: TrainBackend) -> None:
    """Restore the optimizer and scheduler state of part `name` of a checkpoint (its weights
    load from `resumed.path / name`)."""
    backend.load_state(resumed.path / name, resumed.state["parts"][name])


def rewind(checkpoints: Path, before: int) -> Path | None:
    """Go back to the newest complete checkpoint of a step below `before`: later ones are
    deleted and `latest` points at it. Rank 0 calls it; then every rank may `load_latest`.
    Returns its directory, or None (nothing changed) when there is none."""
    steps = sorted(checkpoints.glob("step-*"))
    kept = [p for p in steps if int(p.name.split("-")[-1]) < before]
    target = next((p for p in reversed(kept) if (p / STATE_FILE).exists()), None)
    if target is None:
        return None
    for later in steps:
        if later.name > target.name:
            shutil.rmtree(later, ignore_errors=True)
    pointer = checkpoints / f".{LATEST}.tmp"
    pointer.write_text(target.name + "\n")
    os.replace(pointer, checkpoints / LATEST)
    return target


def roll_back(
    checkpoints: Path,
    before: int,
    backend: TrainBackend,
    *,
    parts: Mapping[str, TrainBackend] | None = None,
    load_weights: Callable[[Any, Path], None] | None = None,
) -> Resumed | None:
    """Put the models and optimizers back to the newest checkpoint of a step below `before`
    (`rewind`, then every rank loads it); None, with nothing changed, when there is none.

    `load_weights(module, directory)` loads HF weights into a module in place: needed for
    backends whose saved state does not hold the weights (torch); DeepSpeed's does.
    Collective: every rank calls it.
    """
    dist = backend.dist
    target = rewind(checkpoints, before) if dist.is_main else None
    if dist.broadcast_object(target) is None:
        return None
    dist.barrier()
    resumed = load_latest(checkpoints)
    assert resumed is not None
    for name, part in {"": backend, **(parts or {})}.items():
        if load_weights is not None:
            load_weights(part.module, resumed.path / name)
        if name:
            load_part_state(resumed, name, part)
        else:
            backend.load_state(resumed.path, resumed.state)
    return resumed


def save_final(run: Run, backend: TrainBackend, tokenizer: Any) -> Path:
    """Save the trained model and tokenizer in HF format to `<run>/final` (collective)."""
    final = run.dir / "final"
    backend.save_pretrained(final)
    if backend.dist.is_main:
        tokenizer.save_pretrained(final)
    backend.dist.barrier()
    return final
