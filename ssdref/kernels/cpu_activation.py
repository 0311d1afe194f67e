"""Numba relu for Activation (the only activation on SSD's hot path); others use the NumPy spec.

Mirrors ssdref.layers.activation (spec mxnet-layers.md §4), bit for bit: y = x if x > 0 else 0
(so NaN and -0.0 give +0), dx = g if x > 0 else 0. One pass each, no temporary mask.
Memory: y > 0 exactly where x > 0, so the relu cache keeps y in both of its fields (the spec's
backward reads only `x > 0`): the layer's input, usually a convolution output, is not held until
backward, which halves the activations a training step keeps.
"""
from __future__ import annotations

import numba
import numpy as np

from ssdref.kernels import buffers
from ssdref.layers import activation as _spec


@numba.njit(cache=True, parallel=True)
def _relu_forward(x, zero, y):
    for i in numba.prange(x.size):
        value = x[i]
        y[i] = value if value > 0 else zero


@numba.njit(cache=True, parallel=True)
def _relu_backward(x, dy, zero, dx):
    for i in numba.prange(x.size):
        dx[i] = dy[i] if x[i] > 0 else zero


def activation_forward(x, *, act_type):
    """Numba Activation forward: same signature and result as the NumPy specification."""
    x = _spec.check_array(_spec.OP, "data", x)
    if act_type != "relu":
        return _spec.activation_forward(x, act_type=act_type)
    y = buffers.empty(x.shape, x.dtype)
    _relu_forward(np.ascontiguousarray(x).reshape(-1), x.dtype.type(0), y.reshape(-1))
    return y, _spec.ActivationCache(act_type, y, y)     # y stands in for x: same `> 0` mask


def activation_backward(dy, cache):
    """Numba Activation backward: same signature and result as the NumPy specification."""
    if cache.act_type != "relu":
        return _spec.activation_backward(dy, cache)
    dy = _spec.check_array(_spec.OP, "out_grad", dy)
    x = cache.x
    if dy.shape != x.shape:
        _spec.fail(_spec.OP, f"out_grad must have shape {x.shape}, got {dy.shape}")
    _spec.check_same_dtype(_spec.OP, data=x, out_grad=dy)
    dx = buffers.empty(x.shape, x.dtype)
    _relu_backward(np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(dy).reshape(-1),
                   x.dtype.type(0), dx.reshape(-1))
    return dx
