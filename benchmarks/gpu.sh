#!/usr/bin/env bash
# The GPU run, on a bare CUDA machine, within 8 minutes: make an environment with a CUDA build of
# torch and incprof's dependencies, calibrate the device, write the latency reports of googlenet and
# inception_v3 at batch 1 and 64 in fp32 (TF32 on and off), bf16, channels-last and compiled, and
# check that back-to-back runs agree within 3% (benchmarks/gpu_run.py). Results: reports/latency/.
#
# Usage: bash benchmarks/gpu.sh                     (from anywhere; it runs in the repository root)
#        INCPROF_DRY_RUN=1 bash benchmarks/gpu.sh   prints its steps and the planned runs only
#
# The environment: .venv-gpu, made with --system-site-packages, so that a torch already installed
# with CUDA (as on most GPU images) is used as it is; where there is none, pip installs PyPI's
# torch, whose Linux wheels are CUDA builds. Where pip cannot reach a registry and the imports
# already work from the checkout, the run goes on with PYTHONPATH set to it.
# Exit code: gpu_run.py's (1 when a back-to-back pair disagrees or a run failed), 124 past 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

DRY="${INCPROF_DRY_RUN:-}"
VENV="${INCPROF_GPU_VENV:-.venv-gpu}"
PY="${PYTHON:-python3}"
START=$(date +%s)

step() {  # print a step; run it unless this is a dry run
    echo "+ $*" >&2
    if [ -z "$DRY" ]; then "$@"; fi
}

if [ -z "$DRY" ]; then
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "gpu.sh: no nvidia-smi: this script needs a CUDA machine (INCPROF_DRY_RUN=1 shows its steps)" >&2
        exit 2
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

if [ ! -x "$VENV/bin/python" ]; then
    step "$PY" -m venv --system-site-packages "$VENV"
fi
RUN="$VENV/bin/python"
if ! step "$RUN" -m pip install --quiet -e .; then
    echo "gpu.sh: pip could not install incprof's dependencies; trying the checkout as it is" >&2
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
step "$RUN" -c "import torch, incprof.cli.app; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"

LEFT=$(( 480 - ($(date +%s) - START) ))
echo "gpu.sh: $LEFT s of the 8 minutes left for the runs" >&2
if [ -n "$DRY" ]; then  # the plan, from the code the real run uses
    "${DRY_PYTHON:-$PY}" benchmarks/gpu_run.py --dry-run --budget-s $(( LEFT - 60 ))
    exit 0
fi
step timeout "$LEFT" "$RUN" benchmarks/gpu_run.py --device cuda --out reports --budget-s $(( LEFT - 60 ))
