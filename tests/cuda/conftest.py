"""CUDA kernel tests: run in their own pytest process, under the CUDA simulator or on a real GPU.

`make test` runs them with NUMBA_ENABLE_CUDASIM=1 (the simulator patches numba.cuda process-wide,
hence the separate process). On a GPU machine, SSDREF_CUDA_TESTS=gpu runs them for real (do not set
the simulator then). Without either, every test here is skipped with the reason.

On a real GPU (device time is scarce):
- hypothesis does not shrink: a failing example is reported as drawn, instead of hundreds of
  further calls (each failed kernel compile is retried, not cached, so shrinking one broken kernel
  took minutes);
- a session smoke test compiles and launches one kernel that uses the cuda_mathf helpers (NVVM,
  libdevice, linking, loading) before anything else; if that fails, the run stops at once with the
  traceback instead of failing every test the slow way;
- numba's low-occupancy performance warnings (every small test launch) are switched off.
`bench/cuda_compile_check.py` compiles every kernel for a GPU on a CPU-only machine.
"""
import os
import traceback

import numpy as np
import pytest

try:    # module level: the simulator swaps the `cuda` global of kernels defined here
    from numba import cuda
except ImportError:
    cuda = None

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")
WANTS_GPU = os.environ.get("SSDREF_CUDA_TESTS", "") == "gpu"
REAL_GPU = WANTS_GPU and not SIMULATOR

if REAL_GPU:
    from hypothesis import Phase, settings

    # Loaded before the test modules here are imported, so their @settings inherit it.
    settings.register_profile("cuda-gpu", parent=settings.default,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate), deadline=None)
    settings.load_profile("cuda-gpu")


def _cuda_skip_reason():
    if not SIMULATOR and not WANTS_GPU:
        return ("CUDA kernel tests need NUMBA_ENABLE_CUDASIM=1 (simulator, as `make test` runs them) "
                "or SSDREF_CUDA_TESTS=gpu on a machine with a CUDA GPU")
    if cuda is None:
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


def _smoke_launch():
    """Compile and run one small kernel through the cuda_mathf helpers; compare with glibc."""
    from ssdref.kernels.cpu_mathf import expf, logf
    from ssdref.kernels.cuda_mathf import expf32, logf32, mul32

    @cuda.jit
    def smoke(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = mul32(expf32(x[i]), logf32(x[i] + np.float32(2)))

    x = np.linspace(-1.5, 3, 32).astype(np.float32)
    out = cuda.device_array(32, np.float32)
    smoke[1, 32](cuda.to_device(x), out)
    got = out.copy_to_host()
    want = expf(x) * logf(x + np.float32(2))
    np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="session", autouse=True)
def _cuda_smoke():
    """Stop the whole run, with the traceback, when kernels cannot be compiled or launched at all."""
    if _cuda_skip_reason() is None:
        if REAL_GPU:
            from numba import config
            config.CUDA_LOW_OCCUPANCY_WARNINGS = 0
        try:
            _smoke_launch()
        except Exception:   # noqa: BLE001 - any failure here means every kernel test would fail
            pytest.exit("CUDA smoke kernel failed (every kernel test would fail the same way):\n"
                        + traceback.format_exc(), returncode=1)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
