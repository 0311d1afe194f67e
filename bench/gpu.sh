#!/usr/bin/env bash
# The one prepared GPU check: run the CUDA kernel tests for real, then the benchmark table.
#   bench/gpu.sh           on a GPU machine (python3 with numba, numba-cuda, torch, torchvision)
#   bench/gpu.sh --smoke   on a CPU machine: the same script under the CUDA simulator, tiny sizes
# Run from anywhere; it works from the repository root with PYTHONPATH=$PWD and installs nothing.
# Environment: PYTHON (default python3), SKIP_TESTS=1 to go straight to the benchmark.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-/tmp/ssdref-numba-cache}"
PY="${PYTHON:-python3}"
status=0
if [ "${1:-}" = "--smoke" ]; then
    export NUMBA_ENABLE_CUDASIM=1
    tests=(tests/cuda/test_cuda_mathf.py tests/cuda/test_cuda_prior.py)   # the full set: make test
else
    unset NUMBA_ENABLE_CUDASIM
    export SSDREF_CUDA_TESTS=gpu
    tests=(tests/cuda)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
fi
"$PY" -c "import numba, numpy; from numba import cuda; print('numba', numba.__version__, 'numpy', numpy.__version__, 'cuda available:', cuda.is_available())"
if [ "${SKIP_TESTS:-0}" != "1" ]; then
    echo "== CUDA kernel tests (${tests[*]})"
    if "$PY" -c "import pytest, hypothesis" 2>/dev/null; then
        "$PY" -m pytest -q -p no:cacheprovider -o addopts="" "${tests[@]}" || status=1
    else
        echo "pytest/hypothesis missing for $PY: tests not run"; status=1
    fi
fi
echo "== benchmark"
"$PY" bench/gpu_bench.py "$@" || status=1
if [ "${1:-}" != "--smoke" ]; then
    echo "== host<->device copies"
    "$PY" bench/gpu_transfers.py || status=1
fi
exit $status
