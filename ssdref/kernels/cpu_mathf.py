"""Single-precision expf/logf exactly as the C library computes them (MXNet's CPU kernels call them).

Why: NumPy's SIMD float32 exp/log differ from glibc's `expf`/`logf` by 1 ulp on a sizeable share of
inputs (spec §0), and those ulps flip hard-negative selections. Numba lowers `math.exp`/`math.log`
on float32 to libm's `expf`/`logf` (verified on 200,000 inputs), so these tiny compiled functions
are the bit-exact helpers the NumPy specification uses. float64 inputs use exp/log in double.
"""
import math

import numba
import numpy as np


@numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
def _exp(x):
    return math.exp(x)


@numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
def _log(x):
    return math.log(x)


def expf(x):
    """Elementwise exp in the dtype of `x` (float32 -> C expf, bit-exact with MXNet's CPU ops)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"expf: x must be float32 or float64, got dtype {x.dtype}")
    return _exp(x)


def logf(x):
    """Elementwise log in the dtype of `x` (float32 -> C logf, bit-exact with MXNet's CPU ops)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"logf: x must be float32 or float64, got dtype {x.dtype}")
    return _log(x)
