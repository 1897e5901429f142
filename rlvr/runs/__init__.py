"""Runs: the run directory every stage writes (`run`: config, manifest, metrics), resumable
checkpoints (`checkpoint`) and reports with plots (`report`). May import `config` and `backends`
(checkpoints hold the backend's optimizer state); never a trainer, an engine or `evaluate`.
"""

from rlvr.runs.run import Run, RunError, create_run, package_versions, seed_everything

__all__ = ["Run", "RunError", "create_run", "package_versions", "seed_everything"]
