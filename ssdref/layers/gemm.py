"""Matrix products of the dense layers: BLAS in 'fast' precision, a fixed summation order in
'portable' precision (`ssdref.backend.use_precision`).

Why: BLAS (OpenBLAS here) sums each dot product in an order that depends on the CPU kernel it
picks (Haswell, SkylakeX, ...) and on its thread count, so float32 convolution outputs differ in
their last bits between machines. The portable product fixes the order:

    out[..., i, j] = round_to_dtype( (((0 + p_0) + p_1) + ... + p_{K-1}) ),
    p_k = float64(a[..., i, k]) * float64(b[..., k, j]),  every operation in float64,

k ascending, one IEEE-754 operation at a time. For float32 inputs each product is exact in float64
(24 + 24 significant bits < 53), the float64 sum is ~2^29 times finer than float32, and the result
is rounded once. Every step is a basic IEEE operation in a fixed order, so the result is the same
bits on every machine, whatever the vector width or thread count (the Numba kernel splits rows and
columns between threads, never a sum). Shapes follow np.matmul: a (..., M, K), b (..., K, N) with
broadcast batch axes; out optional (written, and returned).
"""
from __future__ import annotations

import numpy as np

from ssdref.backend import dispatch, get_precision


def matmul(a, b, out=None):
    """a @ b: np.matmul in 'fast' precision, `portable_matmul` (by backend) in 'portable'."""
    if get_precision() == "fast":
        return np.matmul(a, b, out=out)
    return dispatch(portable_matmul)(a, b, out=out)


def portable_matmul(a, b, out=None):
    """a @ b summed in float64 in ascending k, rounded once to the inputs' dtype (the readable
    specification: one pass of broadcast multiply-adds per k)."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    acc = np.zeros(batch + (a.shape[-2], b.shape[-1]), np.float64)
    for k in range(a.shape[-1]):
        acc += a64[..., :, k, None] * b64[..., None, k, :]      # one rounding per add, k ascending
    if out is None:
        return acc.astype(dtype)
    out[...] = acc
    return out
