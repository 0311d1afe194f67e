"""Activation: relu, sigmoid, tanh, softrelu (softplus), softsign, element-wise.

Mirrors: src/operator/nn/activation-inl.h, mshadow_op.h (MXNet 1.9.1; spec mxnet-layers.md §4).
Conventions that bite:
- relu(x) = x if x > 0 else 0: relu(NaN) = relu(-inf) = 0, and the gradient at exactly 0 is 0;
- softrelu(x) = x for x > 20 (MXNet's overflow guard), else log1p(exp(x)); its gradient is
  sigmoid(x) (= 1 - exp(-softrelu(x)), MXNet's form, up to rounding);
- exp, tanh and log1p are the C library's (ssdref.mathf: expf, tanhf, log1pf in float32), as MXNet's
  CPU kernels call them; NumPy's SIMD versions change their last bit with the machine.
The head gradient g is always used: dx = g * f'(x).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.mathf import expf, log1pf, tanhf

OP = "Activation"
ACT_TYPES = ("relu", "sigmoid", "softrelu", "softsign", "tanh")
SOFTRELU_LINEAR_ABOVE = 20.0


class ActivationCache(NamedTuple):
    act_type: str
    x: np.ndarray
    y: np.ndarray


def _sigmoid(x):
    one = x.dtype.type(1)
    return one / (one + expf(-x))


def activation_forward(x, *, act_type):
    """y = f(x) element-wise, same shape and dtype as x (float32/float64). Returns (y, cache)."""
    x = check_array(OP, "data", x)
    if act_type not in ACT_TYPES:
        fail(OP, f"act_type must be one of {ACT_TYPES}, got {act_type!r}")
    if act_type == "relu":
        y = np.where(x > 0, x, x.dtype.type(0))
    elif act_type == "sigmoid":
        y = _sigmoid(x)
    elif act_type == "tanh":
        y = tanhf(x)
    elif act_type == "softrelu":
        # exp only of the values that cannot overflow; above 20 softplus(x) == x in float precision
        linear = x > SOFTRELU_LINEAR_ABOVE
        y = np.where(linear, x, log1pf(expf(np.where(linear, 0, x).astype(x.dtype))))
    else:  # softsign
        y = x / (x.dtype.type(1) + np.abs(x))
    return y.astype(x.dtype, copy=False), ActivationCache(act_type, x, y)


def activation_backward(dy, cache: ActivationCache):
    """dx = dy * f'(x), in dy's dtype (which must be x's)."""
    dy = check_array(OP, "out_grad", dy)
    x, y = cache.x, cache.y
    if dy.shape != x.shape:
        fail(OP, f"out_grad must have shape {x.shape}, got {dy.shape}")
    check_same_dtype(OP, data=x, out_grad=dy)
    one = x.dtype.type(1)
    if cache.act_type == "relu":
        dx = np.where(x > 0, dy, x.dtype.type(0))
    elif cache.act_type == "sigmoid":
        dx = dy * (y * (one - y))
    elif cache.act_type == "tanh":
        dx = dy * (one - y * y)
    elif cache.act_type == "softrelu":
        dx = dy * _sigmoid(x)
    else:  # softsign
        denominator = one + np.abs(x)
        dx = dy / (denominator * denominator)
    return dx.astype(x.dtype, copy=False)
