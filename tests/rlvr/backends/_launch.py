"""Run `rlvr train` in N local processes the way `torchrun` would (RANK, WORLD_SIZE, ...)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from rlvr.backends import free_port, rank_env

ROOT = Path(__file__).resolve().parents[3]


def launch(config: Path, world_size: int, *overrides: str, timeout: float = 240) -> None:
    """`python -m rlvr.cli train config` on `world_size` ranks; raises if any rank fails."""
    port = free_port()
    procs = []
    for rank in range(world_size):
        env = {
            **os.environ,
            **rank_env(rank, world_size, port),
            "PYTHONPATH": str(ROOT),
            "DS_ACCELERATOR": "cpu",
            "OMP_NUM_THREADS": "1",
        }
        cmd = [sys.executable, "-m", "rlvr.cli", "train", str(config), *overrides]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0].decode(errors="replace"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (proc, out) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"rank {rank} exited {proc.returncode}:\n{out[-4000:]}"


def metrics(run_dir: Path, key: str) -> list[float]:
    """Values of `key` in a run's metrics.jsonl, in step order."""
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    return [r[key] for r in rows if key in r]


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    """The tensors of an HF safetensors model directory."""
    return load_file(str(model_dir / "model.safetensors"))
