"""smooth_l1(data, scalar=sigma): elementwise Huber-like loss and its gradient (uses the head gradient).

Mirrors: src/operator/mshadow_op.h `smooth_l1_loss` / `smooth_l1_gradient` (op `smooth_l1`), MXNet 1.9.1.
Spec: mxnet-semantics.md §4.2, §8 case M.

With s2 = sigma*sigma and t = 1/s2, evaluated in the data's dtype in MXNet's order:
    f(x) = x - 0.5*t        if x >  t
         = -x - 0.5*t       if x < -t
         = 0.5*x*x*s2       otherwise (|x| == t falls here: same value)
    f'(x) = sign(x) for |x| > t, else s2*x      (continuous; f'(t) = 1)
dX = g * f'(x). SSD uses sigma = 1.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_float, fail

OP = "smooth_l1"


class SmoothL1Cache(NamedTuple):
    x: np.ndarray
    sigma: float


def _thresholds(sigma: float, dtype):
    sigma_sq = dtype(sigma) * dtype(sigma)      # MXNet squares the scalar after casting it to DType
    return sigma_sq, dtype(1.0) / sigma_sq


def smooth_l1_forward(x, *, scalar=1.0) -> tuple[np.ndarray, SmoothL1Cache]:
    """x (any shape, float32/float64) -> f(x), same shape and dtype."""
    x = check_array(OP, "data", x)
    sigma = check_float(OP, "scalar", scalar)
    if sigma == 0:
        fail(OP, "scalar (sigma) must be nonzero, got 0.0 (the threshold 1/sigma^2 would be inf)")
    dtype = x.dtype.type
    sigma_sq, t = _thresholds(sigma, dtype)
    half_t = dtype(0.5) * t
    quadratic = dtype(0.5) * x * x * sigma_sq
    y = np.where(x > t, x - half_t, np.where(x < -t, -x - half_t, quadratic))
    return y.astype(x.dtype, copy=False), SmoothL1Cache(x, sigma)


def smooth_l1_backward(dy, cache: SmoothL1Cache) -> np.ndarray:
    """dX = dy * f'(x); dy has x's shape and dtype."""
    x, sigma = cache
    dy = check_array(OP, "head gradient", dy)
    if dy.shape != x.shape or dy.dtype != x.dtype:
        fail(OP, f"head gradient must match data (shape {x.shape}, dtype {x.dtype}), "
                 f"got shape {dy.shape}, dtype {dy.dtype}")
    dtype = x.dtype.type
    sigma_sq, t = _thresholds(sigma, dtype)
    slope = np.where(x > t, dtype(1), np.where(x < -t, dtype(-1), sigma_sq * x))
    return (dy * slope).astype(x.dtype, copy=False)
