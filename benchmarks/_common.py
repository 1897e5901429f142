"""Helpers shared by the benchmark scripts and their worker processes (module-level imports are
the standard library only)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM), in MiB; NaN where /proc is absent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution in `names` (None when absent)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def write_results(out: Path, results: dict[str, Any]) -> None:
    """Write `out/results.json` (strict JSON) and say where."""
    path = out / "results.json"
    path.write_text(json.dumps(finite(results), indent=2) + "\n")
    print(f"\nwrote {path}")


def pad_vocabulary(src: Path, dst: Path, rows: int) -> Path:
    """A copy of the model at `src` whose embedding and output matrices have `rows` rows.

    The tiny tokenizer has 512 tokens; released models have 32k-152k rows (Qwen2: 151,936),
    and at that size the logits, not the weights, are most of a training step's memory. The
    added rows are never produced by the tokenizer (as in released models, whose matrices are
    padded past their tokenizers), and each copies the padding token's rows, so they start as
    unlikely as padding and never win a greedy step."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    old = model.get_input_embeddings().weight.shape[0]
    if rows <= old:
        raise SystemExit(f"--vocab {rows}: the model already has {old} rows")
    model.resize_token_embeddings(rows, mean_resizing=False)
    pad = tokenizer.pad_token_id
    with torch.no_grad():
        for matrix in (model.get_input_embeddings(), model.get_output_embeddings()):
            matrix.weight[old:] = matrix.weight[pad]
    model.save_pretrained(dst)
    tokenizer.save_pretrained(dst)
    print(f"starting model padded from {old} to {rows} vocabulary rows: {dst}", flush=True)
    return dst
