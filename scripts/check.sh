#!/usr/bin/env bash
# Lint, type-check and test. Run after installing the dev extra (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check rlvr verifiers sandboxes recipes tests benchmarks
ruff format --check rlvr verifiers sandboxes recipes tests benchmarks
echo "== mypy"
mypy rlvr verifiers sandboxes
if [ "${RLVR_NO_VLLM:-0}" != "1" ]; then
    # The tests marked `vllm` need vLLM; the script is a no-op when it is already installed.
    echo "== vllm (RLVR_NO_VLLM=1 skips this and those tests)"
    bash scripts/install_vllm.sh
fi
echo "== pytest"
python -m pytest "$@"
