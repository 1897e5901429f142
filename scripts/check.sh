#!/usr/bin/env bash
# Lint, type-check and test. Run after installing the dev extra (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check rlvr verifiers sandboxes recipes tests benchmarks
ruff format --check rlvr verifiers sandboxes recipes tests benchmarks
echo "== mypy"
mypy rlvr verifiers sandboxes
echo "== pytest"
python -m pytest "$@"
