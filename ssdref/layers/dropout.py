"""Dropout: y = x * mask / (1 - p) in training, the identity at inference.

Mirrors: src/operator/nn/dropout-inl.h (MXNet 1.9.1; spec mxnet-layers.md §6).
Conventions that bite:
- mode 'training' (default) drops only when is_train; mode 'always' drops at inference too;
- mask ~ Bernoulli(1 - p), scaled by 1/(1 - p); `axes` lists axes along which ONE mask value is
  shared (broadcast), e.g. axes=(1,) drops whole [n, :, k] columns;
- the mask comes from numpy.random.default_rng(seed) (MXNet's RNG cannot be reproduced bit for bit;
  the same seed always gives the same mask);
- p = 1 gives y = 0 and dx = 0 (MXNet computes 0 * inf = NaN; ssdref never returns a silent NaN).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail

OP = "Dropout"
MODES = ("training", "always")


class DropoutCache(NamedTuple):
    scaled_mask: np.ndarray | None   # mask / (1 - p), broadcastable against x; None: identity
    x_shape: tuple


def _mask_shape(shape, axes):
    ndim = len(shape)
    shape = list(shape)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            fail(OP, f"axes must be axes of data with shape {tuple(shape)}, got {tuple(axes)}")
        shape[int(a) % ndim] = 1
    return tuple(shape)


def dropout_forward(x, *, p=0.5, mode="training", axes=(), is_train=True, seed=0):
    """Dropout forward -> (y, cache); y has x's shape and dtype. The scaled mask is the hidden output."""
    x = check_array(OP, "data", x)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        fail(OP, f"p must be a number in [0, 1], got {p!r}")
    if mode not in MODES:
        fail(OP, f"mode must be one of {MODES}, got {mode!r}")
    mask_shape = _mask_shape(x.shape, tuple(axes))
    if not (is_train or mode == "always") or p == 0:
        return x.copy(), DropoutCache(None, x.shape)
    keep = np.random.default_rng(seed).random(mask_shape) < 1.0 - p
    scale = x.dtype.type(0.0 if p == 1 else 1.0 / (1.0 - p))
    scaled_mask = keep.astype(x.dtype) * scale
    return x * scaled_mask, DropoutCache(scaled_mask, x.shape)


def mask_output(cache: DropoutCache, dtype) -> np.ndarray:
    """The hidden 'mask' output in data's shape (ones for the identity)."""
    if cache.scaled_mask is None:
        return np.ones(cache.x_shape, dtype)
    return np.broadcast_to(cache.scaled_mask, cache.x_shape).astype(dtype)


def dropout_backward(dy, cache: DropoutCache):
    """dx = dy * mask / (1 - p) (dy itself for the identity)."""
    dy = check_array(OP, "out_grad", dy)
    if dy.shape != tuple(cache.x_shape):
        fail(OP, f"out_grad must have shape {tuple(cache.x_shape)}, got {dy.shape}")
    if cache.scaled_mask is None:
        return dy.copy()
    check_same_dtype(OP, mask=cache.scaled_mask, out_grad=dy)
    return dy * cache.scaled_mask
