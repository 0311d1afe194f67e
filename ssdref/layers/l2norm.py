"""L2Normalization: y = x / sqrt(eps + sum of x^2) over an instance, a channel vector or a plane.

Mirrors: src/operator/l2_normalization.cc (MXNet 1.9.1; spec mxnet-semantics.md §5,
mxnet-layers.md §10).
Conventions that bite:
- eps (default 1e-10) sits INSIDE the square root and is the accumulator's starting value: the sum
  is eps + x_0^2 + x_1^2 + ... added sequentially in index order in the input dtype (bit-exact
  with MXNet's float32 CPU forward in channel mode);
- modes: 'instance' (default) sums over every non-batch element -> norm (N,); 'channel' over the
  channel axis at each position -> norm (N, 1, *spatial); 'spatial' over the spatial axes ->
  norm (N, C). channel and spatial need ndim >= 3;
- backward dx = (g - y * sum(g * y)) / norm over the same set: an all-zero group has
  norm = 1e-5 and passes g * 1e5.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail

OP = "L2Normalization"
MODES = ("instance", "channel", "spatial")


class L2NormCache(NamedTuple):
    mode: str
    y: np.ndarray
    # broadcastable against y: (N, 1, ...) instance, (N, 1, *spatial) channel, (N, C, 1, ...) spatial
    norm: np.ndarray


def _sequential_sum_from(start, squares, axis):
    """start + squares[0] + squares[1] + ... along `axis`, strictly left to right.

    np.cumsum is a sequential running sum (np.sum is pairwise, a different float32 result), so the
    last running total is the sequential sum; `start` is prepended as element 0."""
    shape = list(squares.shape)
    shape[axis] = 1
    first = np.full(shape, start, dtype=squares.dtype)
    running = np.cumsum(np.concatenate([first, squares], axis=axis), axis=axis, dtype=squares.dtype)
    return np.take(running, [-1], axis=axis)


def l2norm_forward(x, *, mode="instance", eps=1e-10):
    """L2Normalization forward: (y, cache); y has x's shape and dtype; cache.norm is the hidden
    'norm' output (kept broadcastable; `norm_output` gives MXNet's shape)."""
    x = check_array(OP, "data", x)
    if mode not in MODES:
        fail(OP, f"mode must be one of {MODES}, got {mode!r}")
    if mode == "instance" and x.ndim < 2:
        fail(OP, f"data must have at least 2 dimensions (N, ...), got shape {x.shape}")
    if mode != "instance" and x.ndim < 3:
        fail(OP, f"data must have at least 3 dimensions in {mode} mode, got shape {x.shape}")
    if not eps >= 0:
        fail(OP, f"eps must be >= 0, got {eps}")
    start = x.dtype.type(eps)
    squares = x * x
    if mode == "channel":
        # one (N, *spatial) accumulator, channels added in order: sequential at every position
        total = np.full((x.shape[0], 1) + x.shape[2:], start, dtype=x.dtype)
        for c in range(x.shape[1]):
            total += squares[:, c:c + 1]
    elif mode == "instance":
        flat = squares.reshape(x.shape[0], -1)
        total = _sequential_sum_from(start, flat, axis=1).reshape((x.shape[0],) + (1,) * (x.ndim - 1))
    else:  # spatial
        flat = squares.reshape(x.shape[0], x.shape[1], -1)
        total = _sequential_sum_from(start, flat, axis=2).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    norm = np.sqrt(total)
    y = x / norm
    return y, L2NormCache(mode, y, norm)


def norm_output(cache: L2NormCache) -> np.ndarray:
    """The hidden 'norm' output in MXNet's shape: (N,), (N, 1, *spatial) or (N, C)."""
    if cache.mode == "instance":
        return cache.norm.reshape(cache.norm.shape[0])
    if cache.mode == "spatial":
        return cache.norm.reshape(cache.norm.shape[:2])
    return cache.norm


def l2norm_backward(dy, cache: L2NormCache):
    """dx = (dy - y * sum(dy * y)) / norm, sums over the mode's reduction set."""
    dy = check_array(OP, "out_grad", dy)
    y = cache.y
    if dy.shape != y.shape:
        fail(OP, f"out_grad must have shape {y.shape}, got {dy.shape}")
    check_same_dtype(OP, data=y, out_grad=dy)
    if cache.mode == "instance":
        axes = tuple(range(1, y.ndim))
    elif cache.mode == "channel":
        axes = (1,)
    else:
        axes = tuple(range(2, y.ndim))
    projection = (dy * y).sum(axis=axes, keepdims=True, dtype=y.dtype)
    return (dy - y * projection) / cache.norm
