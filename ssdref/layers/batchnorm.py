"""BatchNorm: per-channel normalization with batch statistics (training) or moving ones (inference).

Mirrors: src/operator/nn/batch_norm.cc (MXNet 1.9.1; spec mxnet-layers.md §5).
Conventions that bite:
- eps defaults to float32(1e-3) as a double, 0.0010000000474974513; momentum 0.9; fix_gamma=True
  (gamma is treated as 1 and dgamma = 0 exactly; MXNet also writes 1.0 into gamma, ssdref never
  mutates its inputs);
- training uses the BIASED batch variance (divide by m = N*H*W);
- the moving statistics are updated in BACKWARD, not forward (`batchnorm_moving_update`, called
  by the graph's `update_aux`), and never when use_global_stats;
- output_mean_var exposes (mean, inverse std 1/sqrt(var + eps)), not the variance;
- the executor's backward runs in train mode: after an inference forward it applies the training
  formula with the moving statistics in place of the batch ones (MXNet's autograd quirk, §5);
  `train_mode=False` gives the plain global-stats formula.
Shapes: x (N, C, ...) with the channel on `axis` (default 1, negative allowed); gamma, beta,
moving_mean, moving_var (C,). Output y has x's shape and dtype.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail

OP = "BatchNorm"
DEFAULT_EPS = float(np.float32(1e-3))  # 0.0010000000474974513


class BatchNormCache(NamedTuple):
    x_hat: np.ndarray         # (x - mean) * invstd, x's shape
    gamma: np.ndarray         # (C,), ones when fix_gamma
    mean: np.ndarray          # (C,) the statistics the forward used (batch or moving)
    var: np.ndarray           # (C,)
    invstd: np.ndarray        # (C,) 1 / sqrt(var + eps)
    axis: int                 # non-negative channel axis
    fix_gamma: bool
    use_global_stats: bool
    batch_stats: bool         # True when the forward normalized with the batch statistics


def _channel_axis(x, axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        fail(OP, f"axis must be an integer, got {axis!r}", TypeError)
    if not -x.ndim <= axis < x.ndim:
        fail(OP, f"axis must be in [{-x.ndim}, {x.ndim}) for data of shape {x.shape} "
                 f"(Channel axis out of range), got {axis}")
    return int(axis) % x.ndim


def _per_channel(a, axis, ndim):
    """(C,) -> broadcastable against x."""
    shape = [1] * ndim
    shape[axis] = -1
    return a.reshape(shape)


def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, *, eps=DEFAULT_EPS, momentum=0.9,
                      fix_gamma=True, use_global_stats=False, output_mean_var=False, axis=1,
                      is_train=True):
    """BatchNorm forward -> ((y, mean, invstd), cache).

    mean/invstd are what output_mean_var shows: batch values in training, moving ones otherwise.
    momentum and output_mean_var only select outputs/updates in the graph; they are accepted here
    so the signature mirrors the operator."""
    x = check_array(OP, "data", x, min_ndim=1)
    axis = _channel_axis(x, axis)
    channels = x.shape[axis]
    arrays = {"gamma": gamma, "beta": beta, "moving_mean": moving_mean, "moving_var": moving_var}
    for name, a in arrays.items():
        arrays[name] = check_array(OP, name, a, ndim=1)
        if arrays[name].shape != (channels,):
            fail(OP, f"{name} must have shape ({channels},) (data channels on axis {axis}), "
                     f"got {arrays[name].shape}")
    check_same_dtype(OP, data=x, **arrays)
    if eps <= 0:
        fail(OP, f"eps must be > 0, got {eps}")
    dtype = x.dtype
    gamma = np.ones(channels, dtype) if fix_gamma else arrays["gamma"]
    reduce_axes = tuple(a for a in range(x.ndim) if a != axis)
    batch_stats = bool(is_train) and not use_global_stats
    if batch_stats:
        mean = x.mean(axis=reduce_axes, dtype=dtype)
        centered = x - _per_channel(mean, axis, x.ndim)
        var = (centered * centered).mean(axis=reduce_axes, dtype=dtype)  # biased: / m
    else:
        mean, var = arrays["moving_mean"], arrays["moving_var"]
        centered = x - _per_channel(mean, axis, x.ndim)
    invstd = (dtype.type(1) / np.sqrt(var + dtype.type(eps))).astype(dtype)
    x_hat = centered * _per_channel(invstd, axis, x.ndim)
    y = x_hat * _per_channel(gamma, axis, x.ndim) + _per_channel(arrays["beta"], axis, x.ndim)
    cache = BatchNormCache(x_hat, gamma, mean, var, invstd, axis, bool(fix_gamma),
                           bool(use_global_stats), batch_stats)
    return (y.astype(dtype, copy=False), mean, invstd), cache


def batchnorm_backward(dy, cache: BatchNormCache, *, train_mode=True):
    """(dx, dgamma, dbeta) for head gradient dy (x's shape). dgamma is 0 when fix_gamma."""
    dy = check_array(OP, "out_grad", dy)
    c = cache
    if dy.shape != c.x_hat.shape:
        fail(OP, f"out_grad must have shape {c.x_hat.shape}, got {dy.shape}")
    check_same_dtype(OP, data=c.x_hat, out_grad=dy)
    ndim, dtype = dy.ndim, dy.dtype
    reduce_axes = tuple(a for a in range(ndim) if a != c.axis)
    dbeta = dy.sum(axis=reduce_axes, dtype=dtype)
    dgamma_full = (dy * c.x_hat).sum(axis=reduce_axes, dtype=dtype)
    dgamma = np.zeros_like(dgamma_full) if c.fix_gamma else dgamma_full
    scale = _per_channel(c.gamma * c.invstd, c.axis, ndim)
    if c.use_global_stats or not train_mode:
        dx = dy * scale
    else:
        # dx = gamma*invstd * (g - mean(g) - x_hat * mean(g * x_hat)), means over the channel
        m = dtype.type(dy.size // dy.shape[c.axis])
        mean_g = _per_channel(dbeta / m, c.axis, ndim)
        mean_gx = _per_channel(dgamma_full / m, c.axis, ndim)
        dx = scale * (dy - mean_g - c.x_hat * mean_gx)
    return dx.astype(dtype, copy=False), dgamma, dbeta


def batchnorm_moving_update(cache: BatchNormCache, moving_mean, moving_var, *, momentum=0.9):
    """New (moving_mean, moving_var) after a training backward; unchanged with use_global_stats.

    moving <- momentum * moving + (1 - momentum) * statistic, with the statistics the forward used
    (batch mean and biased variance; after an inference forward they are the moving ones)."""
    if cache.use_global_stats:
        return moving_mean, moving_var
    dtype = moving_mean.dtype
    keep, blend = dtype.type(momentum), dtype.type(1.0 - momentum)
    new_mean = moving_mean * keep + cache.mean.astype(dtype) * blend
    new_var = moving_var * keep + cache.var.astype(dtype) * blend
    return new_mean.astype(dtype, copy=False), new_var.astype(dtype, copy=False)
