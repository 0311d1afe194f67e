"""numba.cuda device helpers shared by the cuda_* kernels: glibc-exact expf/logf, uncontracted products, bit casts.

Why these exist (spec §0):
- The NumPy specification uses the C library's `expf`/`logf` (`cpu_mathf`). CUDA's own `expf`/`logf`
  (libdevice) differ from glibc by up to 2 ulp, and a 1-ulp change in a background probability flips
  hard-negative selections. So `expf32`/`logf32` below evaluate glibc's algorithm (the Arm
  optimized-routines `expf`/`logf` that glibc >= 2.28 ships): a table lookup and a short polynomial
  evaluated in double, rounded once to float32. Checked bit-exact against glibc on 1,000,000 expf and
  80,000 logf inputs, with and without FMA in the double-precision steps (the one final rounding hides
  the difference). float64 inputs use `math.exp`/`math.log` in double (libdevice on a GPU: within
  1 ulp of glibc's correctly rounded results; equal in the simulator).
- The specification evaluates `a*b + c` as a rounded product then a rounded sum. NVVM contracts such
  pairs into FMA by default, which changes the last bit, so every product that feeds a sum goes
  through `mul32`/`mul64` (`__fmul_rn`/`__dmul_rn`, which are never contracted).
- The CUDA simulator (NUMBA_ENABLE_CUDASIM=1) runs kernels as Python on NumPy scalars, where float32
  arithmetic is IEEE float32 and nothing is contracted; the same helpers have plain-Python bodies there.

Constants of the expf/logf polynomials and the logf table: Arm optimized-routines (Copyright (c)
2017-2018 Arm Limited, SPDX-License-Identifier: MIT), as shipped in glibc and musl. The expf table is
2^(i/32) correctly rounded, computed below.
"""
import math
from decimal import Decimal, getcontext
from fractions import Fraction

import numba
import numpy as np
from numba import cuda

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)

# NumPy 2.5 removed the `np.row_stack` alias, but numba-cuda (0.30.4 and earlier) registers an
# overload for it, unguarded, when its typing registries first load - at the first kernel compile.
# Without the alias every real-GPU compile fails with "module 'numpy' has no attribute 'row_stack'"
# (and, the failed import being retried, every launch is slow). numba itself guards it since 0.68.
# Restoring the alias (it is np.vstack) before any compile keeps the GPU path working.
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack


def _exp2_table():
    """2^(i/32), i = 0..31, correctly rounded to double (the glibc expf table, derived)."""
    getcontext().prec = 60
    return np.array([float(Fraction((Decimal(i) / 32 * Decimal(2).ln()).exp())) for i in range(32)])


_EXP2_TAB = _exp2_table()
_INVLN2_N = float.fromhex("0x1.71547652b82fep+0") * 32
_EXP_SHIFT = float.fromhex("0x1.8p+52")   # adding then subtracting it rounds a double to an integer
_EXP_C0 = float.fromhex("0x1.c6af84b912394p-5") / 32 ** 3
_EXP_C1 = float.fromhex("0x1.ebfce50fac4f3p-3") / 32 ** 2
_EXP_C2 = float.fromhex("0x1.62e42ff0c52d6p-1") / 32
_EXP_OFLOW = float.fromhex("0x1.62e42ep6")     # above: expf overflows to inf
_EXP_UFLOW = float.fromhex("-0x1.9fe368p6")    # below: expf underflows to 0

_LOG_INVC = np.array([float.fromhex(h) for h in (
    "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0", "0x1.3c995b0b80385p+0",
    "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0", "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0",
    "0x1.0953f419900a7p+0", "0x1p+0", "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1",
    "0x1.b2036576afce6p-1", "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1")])
_LOG_LOGC = np.array([float.fromhex(h) for h in (
    "-0x1.57bf7808caadep-2", "-0x1.2bef0a7c06ddbp-2", "-0x1.01eae7f513a67p-2", "-0x1.b31d8a68224e9p-3",
    "-0x1.6574f0ac07758p-3", "-0x1.1aa2bc79c81p-3", "-0x1.a4e76ce8c0e5ep-4", "-0x1.1973c5a611cccp-4",
    "-0x1.252f438e10c1ep-5", "0x0p+0", "0x1.aa5aa5df25984p-5", "0x1.c5e53aa362eb4p-4",
    "0x1.526e57720db08p-3", "0x1.bc2860d22477p-3", "0x1.1058bc8a07ee1p-2", "0x1.4043057b6ee09p-2")])
_LOG_A0 = float.fromhex("-0x1.00ea348b88334p-2")
_LOG_A1 = float.fromhex("0x1.5575b0be00b6ap-2")
_LOG_A2 = float.fromhex("-0x1.ffffef20a4123p-2")
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_LOG_OFF = 0x3f330000   # bit pattern of 0.69921875: the reduced argument lies in [OFF, 2*OFF)

_F32_INF = np.float32(np.inf)
_F32_NAN = np.float32(np.nan)
_F32_NINF = np.float32(-np.inf)
_F32_ZERO = np.float32(0.0)

if SIMULATOR:
    @cuda.jit(device=True)
    def mul32(a, b):
        return np.float32(a) * np.float32(b)

    @cuda.jit(device=True)
    def mul64(a, b):
        return np.float64(a) * np.float64(b)

    @cuda.jit(device=True)
    def float_bits(x):
        return np.int64(np.float32(x).view(np.uint32))

    @cuda.jit(device=True)
    def bits_float(i):
        return np.uint32(i & 0xFFFFFFFF).view(np.float32)

    @cuda.jit(device=True)
    def double_bits(x):
        return np.float64(x).view(np.int64)

    @cuda.jit(device=True)
    def _ldexp1(e):
        return math.ldexp(1.0, int(e))
else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def mul32(a, b):
        return libdevice.fmul_rn(a, b)

    @cuda.jit(device=True)
    def mul64(a, b):
        return libdevice.dmul_rn(a, b)

    @cuda.jit(device=True)
    def float_bits(x):
        return numba.int64(libdevice.float_as_int(x)) & numba.int64(0xFFFFFFFF)

    @cuda.jit(device=True)
    def bits_float(i):
        return libdevice.int_as_float(numba.int32(numba.int64(i) - ((numba.int64(i) >> 31) << 32)))

    @cuda.jit(device=True)
    def double_bits(x):
        return libdevice.double_as_longlong(x)

    @cuda.jit(device=True)
    def _ldexp1(e):
        return math.ldexp(1.0, numba.int32(e))


@cuda.jit(device=True)
def expf32(x):
    """glibc expf: exp(x) = 2^(k/32) * 2^(r/32), k integer, |r| <= 1/2; cubic in r, evaluated in double."""
    xd = numba.float64(x)
    if xd != xd:
        return x
    if xd > _EXP_OFLOW:
        return _F32_INF
    if xd < _EXP_UFLOW:
        return _F32_ZERO
    z = mul64(_INVLN2_N, xd)
    kd = (z + _EXP_SHIFT) - _EXP_SHIFT
    r = z - kd
    ki = numba.int64(kd)
    s = _EXP2_TAB[ki & 31] * _ldexp1(ki >> 5)
    zp = mul64(_EXP_C0, r) + _EXP_C1
    r2 = mul64(r, r)
    y = mul64(_EXP_C2, r) + 1.0
    y = mul64(zp, r2) + y
    return numba.float32(mul64(y, s))


@cuda.jit(device=True)
def logf32(x):
    """glibc logf: x = 2^k z, log(x) = log1p(z/c - 1) + log(c) + k ln2 with c from a 16-entry table."""
    ix = float_bits(x)
    if ix == 0x3f800000:
        return _F32_ZERO
    if ix - 0x00800000 >= 0x7f800000 - 0x00800000 or ix < 0x00800000:
        if (ix & 0x7FFFFFFF) == 0:
            return _F32_NINF
        if ix == 0x7f800000:
            return x
        if (ix & 0x80000000) != 0 or ix > 0x7f800000:
            return _F32_NAN
        ix = float_bits(mul32(x, np.float32(8388608.0)))   # subnormal: scale by 2^23 ...
        ix -= 23 << 23                                      # ... and take it back from the exponent
    tmp = (ix - _LOG_OFF) & 0xFFFFFFFF
    i = (tmp >> 19) & 15
    k = tmp >> 23
    if k >= 256:   # tmp is a negative int32: its arithmetic shift
        k -= 512
    iz = (ix - (tmp & 0xff800000)) & 0xFFFFFFFF
    z = numba.float64(bits_float(iz))
    r = mul64(z, _LOG_INVC[i]) - 1.0
    y0 = _LOG_LOGC[i] + mul64(numba.float64(k), _LN2)
    r2 = mul64(r, r)
    y = mul64(_LOG_A1, r) + _LOG_A2
    y = mul64(_LOG_A0, r2) + y
    y = mul64(y, r2) + (y0 + r)
    return numba.float32(y)


@cuda.jit(device=True)
def exp64(x):
    return math.exp(x)


@cuda.jit(device=True)
def log64(x):
    return math.log(x)


def math_for(dtype):
    """(mul, exp, log, scalar type) device helpers for float dtype `dtype` (float32 or float64)."""
    if np.dtype(dtype) == np.float32:
        return mul32, expf32, logf32, np.float32
    return mul64, exp64, log64, np.float64
