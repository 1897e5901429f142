#!/usr/bin/env bash
# Lint, type-check and test. Run after installing the dev extra (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy rlvr verifiers sandboxes
echo "== pytest"
python -m pytest "$@"
