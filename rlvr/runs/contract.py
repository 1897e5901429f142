"""The training contract: what a run is pinned to before its first step.

A trainer builds it with `training_contract(...)` (data fingerprints, verifier names and
versions, algorithm preset, KL budget, step and time budgets, backend, world size) and hands it
to `open_trainer_run`, which writes it to `manifest.json` (`contract`) and prints it. A resumed
run compares the contract it would run under with the pinned one: any difference stops it with
a one-line `ContractError` naming what changed, unless `run.accept_contract_change` is set
(`rlvr train --accept-contract-change`); then the new contract is pinned and the change is
appended to the manifest's `contract_changes` with the step it happened at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rlvr.runs.run import Run

CONTRACT_KEYS = (
    "stage",
    "datasets",
    "verifiers",
    "algorithm",
    "kl_budget",
    "max_steps",
    "max_seconds",
    "backend",
    "world_size",
)
"""The fields of a contract, in the order they are printed."""


class ContractError(ValueError):
    """A resumed run whose contract differs from the pinned one (a user error: one line)."""


def training_contract(
    *,
    stage: str,
    datasets: Mapping[str, str],
    verifier_names: Iterable[str],
    algorithm: Mapping[str, Any],
    kl_budget: float | None,
    max_steps: int,
    max_seconds: float | None,
    backend: Mapping[str, Any],
    world_size: int,
) -> dict[str, Any]:
    """A contract as plain JSON data (verifier versions looked up in the registry).

    Args:
        stage: the trainer (`sft`, `grpo`, ...).
        datasets: label -> fingerprint of every dataset the run reads.
        verifier_names: verifiers the run scores with.
        algorithm: the algorithm preset and its resolved values.
        kl_budget: the KL the run may reach (`monitors.kl.budget`), None for none.
        max_steps: the step budget.
        max_seconds: the time budget, None for none.
        backend: the training backend's settings (kind, ZeRO stage, precision).
        world_size: processes training together.
    """
    import verifiers

    contract = {
        "stage": stage,
        "datasets": dict(datasets),
        "verifiers": {n: str(verifiers.resolve(n).version) for n in sorted(set(verifier_names))},
        "algorithm": dict(algorithm),
        "kl_budget": kl_budget,
        "max_steps": max_steps,
        "max_seconds": max_seconds,
        "backend": dict(backend),
        "world_size": world_size,
    }
    plain: dict[str, Any] = json.loads(json.dumps(contract, default=str))  # as the manifest
    return plain


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): data}


def contract_changes(pinned: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Dotted key -> [pinned value, new value] for every leaf that differs (None: absent)."""
    old_flat, new_flat = _flat(pinned), _flat(new)
    keys = sorted(set(old_flat) | set(new_flat))
    return {
        k: [old_flat.get(k), new_flat.get(k)] for k in keys if old_flat.get(k) != new_flat.get(k)
    }


def format_contract(contract: Mapping[str, Any]) -> str:
    """The contract as a few lines for the console."""
    lines = ["training contract (pinned in manifest.json):"]
    for key in CONTRACT_KEYS:
        value = contract.get(key)
        text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        lines.append(f"  {key}: {text}")
    return "\n".join(lines)


def pin_contract(
    run: Run, contract: Mapping[str, Any], *, accept_change: bool, step: int
) -> dict[str, list[Any]]:
    """Pin `contract` in the run's manifest, or check it against the pinned one.

    Returns the changes accepted (empty for a fresh run or an unchanged contract).

    Raises:
        ContractError: the contract changed and `accept_change` is False.
    """
    path = run.dir / "manifest.json"
    manifest = json.loads(path.read_text())
    pinned = manifest.get("contract")
    changes = {} if pinned is None else contract_changes(pinned, contract)
    if changes and not accept_change:
        shown = ", ".join(
            f"{k}: {json.dumps(a)} -> {json.dumps(b)}" for k, (a, b) in changes.items()
        )
        raise ContractError(
            f"{run.dir}: the training contract changed since it was pinned ({shown}); resume "
            "with --accept-contract-change (run.accept_contract_change=true) to accept and "
            "record the change, or start a new run"
        )
    if pinned is not None and not changes:
        return {}
    manifest["contract"] = dict(contract)
    if changes:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "step": step, "changes": changes}
        manifest.setdefault("contract_changes", []).append(record)
    run.write_json("manifest.json", manifest)
    return changes
