"""glibc-exact expf/logf device functions (cuda_mathf) equal the C library's (cpu_mathf) bit for bit."""
import numpy as np
import pytest
from numba import cuda

from ssdref.kernels.cpu_mathf import expf, logf
from ssdref.kernels.cuda_mathf import expf32, logf32


@cuda.jit
def _apply(x, out_exp, out_log):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        out_exp[i] = expf32(x[i])
        out_log[i] = logf32(x[i])


@pytest.mark.cuda
def test_device_expf_logf_equal_glibc_bit_for_bit(rng):
    x = np.concatenate([rng.uniform(-110, 90, 600), rng.uniform(-2, 2, 600),
                        1 + rng.standard_normal(400) * 1e-4, np.exp(rng.uniform(-100, 80, 300)),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1.0, 88.72, 88.73, -103.9,
                         -104.0, 1.0]]).astype(np.float32)
    out_exp, out_log = np.zeros_like(x), np.zeros_like(x)
    _apply[4, 32](x, out_exp, out_log)
    with np.errstate(all="ignore"):
        want_exp, want_log = expf(x), logf(x)
    np.testing.assert_array_equal(out_exp, want_exp)
    np.testing.assert_array_equal(out_log, want_log)     # NaN == NaN here


@pytest.mark.cuda
def test_numpy_row_stack_alias_is_there_for_numba_cuda():
    # numba-cuda <= 0.30.4 registers an overload of np.row_stack (removed in NumPy 2.5) when it
    # first compiles a kernel; cuda_mathf restores the alias so real-GPU compiles keep working.
    import ssdref.kernels.cuda_mathf  # noqa: F401
    assert np.row_stack is np.vstack or np.__version__ < "2.5"
