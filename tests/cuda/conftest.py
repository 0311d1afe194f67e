"""CUDA kernel tests: run in their own pytest process, under the CUDA simulator or on a real GPU.

`make test` runs them with NUMBA_ENABLE_CUDASIM=1 (the simulator patches numba.cuda process-wide,
hence the separate process). On a GPU machine, SSDREF_CUDA_TESTS=gpu runs them for real (do not set
the simulator then). Without either, every test here is skipped with the reason.
"""
import os

import pytest


def _cuda_skip_reason():
    simulator = os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")
    wants_gpu = os.environ.get("SSDREF_CUDA_TESTS", "") == "gpu"
    if not simulator and not wants_gpu:
        return ("CUDA kernel tests need NUMBA_ENABLE_CUDASIM=1 (simulator, as `make test` runs them) "
                "or SSDREF_CUDA_TESTS=gpu on a machine with a CUDA GPU")
    try:
        from numba import cuda
    except ImportError:
        return "numba.cuda is not installed (pip install numba-cuda)"
    if not cuda.is_available():
        return "SSDREF_CUDA_TESTS=gpu but numba.cuda finds no usable GPU"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _cuda_skip_reason()
    for item in items:
        if "tests/cuda" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.cuda)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def rng():
    import numpy as np
    return np.random.default_rng(0)
