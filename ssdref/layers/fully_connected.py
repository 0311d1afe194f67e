"""FullyConnected (inner product) forward/backward.

Mirrors: src/operator/nn/fully_connected-inl.h (MXNet 1.9.1). Used only by the resnet and
inceptionv3 classifier tails, which never reach an SSD graph, but the bodies build them.
- flatten=True:  x (N, ...) -> (N, K);  y = x · Wᵀ + b, W (num_hidden, K).
- flatten=False: the product acts on the last axis only; y has shape x.shape[:-1] + (num_hidden,).
Backward uses the head gradient g: dX = g · W (reshaped back), dW = gᵀ · x, db = Σ g over all
leading axes. Products: `ssdref.layers.gemm.matmul` (BLAS, or a fixed order in 'portable' precision).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.layers import gemm

OP = "FullyConnected"


class FullyConnectedCache(NamedTuple):
    x2d: np.ndarray          # the input as (rows, K)
    weight: np.ndarray       # (num_hidden, K)
    x_shape: tuple
    has_bias: bool


def _as_rows(x: np.ndarray, flatten: bool) -> np.ndarray:
    return x.reshape(x.shape[0], -1) if flatten else x.reshape(-1, x.shape[-1])


def fully_connected_forward(x, weight, bias, *, flatten: bool = True):
    """y = x·Wᵀ + b. x (N, ...), weight (num_hidden, K), bias (num_hidden,) or None; dtype kept."""
    x = check_array(OP, "data", x, min_ndim=1)
    weight = check_array(OP, "weight", weight, ndim=2)
    if bias is not None:
        bias = check_array(OP, "bias", bias, ndim=1)
    check_same_dtype(OP, data=x, weight=weight, bias=bias)
    if flatten and x.ndim < 2:
        fail(OP, f"data must have at least 2 dimensions with flatten=True, got shape {x.shape}")
    x2d = _as_rows(x, flatten)
    num_hidden, k = weight.shape
    if x2d.shape[1] != k:
        fail(OP, f"weight must have shape ({num_hidden}, {x2d.shape[1]}) for data {x.shape}, got {weight.shape}")
    if bias is not None and bias.shape != (num_hidden,):
        fail(OP, f"bias must have shape ({num_hidden},), got {bias.shape}")
    y = gemm.matmul(x2d, weight.T)
    if bias is not None:
        y = y + bias
    out_shape = (x.shape[0], num_hidden) if flatten else x.shape[:-1] + (num_hidden,)
    return y.reshape(out_shape), FullyConnectedCache(x2d, weight, x.shape, bias is not None)


def fully_connected_backward(dy, cache: FullyConnectedCache):
    """(dx, dweight, dbias); dbias is None without a bias."""
    g = dy.reshape(-1, cache.weight.shape[0])
    dx = gemm.matmul(g, cache.weight).reshape(cache.x_shape)
    dweight = gemm.matmul(g.T, cache.x2d)
    dbias = g.sum(axis=0) if cache.has_bias else None
    return dx, dweight, dbias
