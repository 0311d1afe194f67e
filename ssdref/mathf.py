"""The C library's transcendental functions, element-wise, in the dtype of the input.

Why not NumPy's: `np.exp`, `np.log`, `np.tanh`, `np.log1p` and `np.power` run SIMD code that NumPy
picks by CPU at run time (AVX2, AVX-512, ...); their last bits differ between those paths, so a
result computed with them changes with the machine. MXNet's CPU kernels call the C library
(`expf`, `logf`, `tanhf`, `log1pf`, `powf` in float32; the double functions in float64), which is
one fixed function per platform (glibc on x86-64: the same bits on AVX2 and AVX-512 machines).
Numba lowers `math.exp` etc. on float32 to exactly those calls (verified: tests/layers/test_mathf.py
against ctypes' libm), so these tiny compiled ufuncs are the helpers the NumPy specification uses
and the kernels share: the spec stays the leaf (this module imports nothing from ssdref.kernels).
Elementwise and without reductions: the thread count and vector width cannot change a bit.
"""
import math

import numba
import numpy as np

# Explicit signatures: with them Numba types math.exp of a float32 as C expf and returns float32;
# a signature-less (lazy) ufunc gave float64 results, so the 0.6 s of loading at import stays.
_UNARY = ["float32(float32)", "float64(float64)"]
_BINARY = ["float32(float32, float32)", "float64(float64, float64)"]


@numba.vectorize(_UNARY, cache=True)
def _exp(x):
    return math.exp(x)


@numba.vectorize(_UNARY, cache=True)
def _log(x):
    return math.log(x)


@numba.vectorize(_UNARY, cache=True)
def _tanh(x):
    return math.tanh(x)


@numba.vectorize(_UNARY, cache=True)
def _log1p(x):
    return math.log1p(x)


@numba.vectorize(_BINARY, cache=True)
def _pow(x, y):
    return math.pow(x, y)


def _float(name, x):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: x must be float32 or float64, got dtype {x.dtype}")
    return x


def expf(x):
    """Elementwise exp in the dtype of `x` (float32 -> C expf, bit-exact with MXNet's CPU ops)."""
    return _exp(_float("expf", x))


def logf(x):
    """Elementwise log in the dtype of `x` (float32 -> C logf, bit-exact with MXNet's CPU ops)."""
    return _log(_float("logf", x))


def tanhf(x):
    """Elementwise tanh in the dtype of `x` (float32 -> C tanhf, as mshadow's tanh)."""
    return _tanh(_float("tanhf", x))


def log1pf(x):
    """Elementwise log(1 + x) in the dtype of `x` (float32 -> C log1pf, as mshadow's log1p)."""
    return _log1p(_float("log1pf", x))


def powf(x, y):
    """Elementwise x ** y, broadcast, both of one float dtype (float32 -> C powf, as mshadow's
    power). The C function's special cases are IEEE's: pow(x, 0) = 1, pow(1, y) = 1, a negative
    base with a non-integer exponent gives NaN."""
    x, y = _float("powf", x), _float("powf", y)
    if x.dtype != y.dtype:
        raise TypeError(f"powf: x and y must share one dtype, got {x.dtype} and {y.dtype}")
    return _pow(x, y)
