"""Pooling (max, avg, sum, lp) over NCW / NCHW / NCDHW windows, conventions 'valid' and 'full'.

Mirrors: src/operator/nn/pooling-inl.h, pool.h (MXNet 1.9.1; spec mxnet-layers.md §3).
Conventions that bite:
- stride defaults to 1 (not the kernel size); pad defaults to 0;
- out = floor((H + 2p - k)/s) + 1 ('valid') or ceil(...) + 1 ('full'), no clipping of the last
  window: a 'full' window may hang over the padded input ('same' is rejected: unusable in MXNet);
- max: the maximum of the window's real cells, starting from the dtype's lowest finite value with a
  strict `>` (pad never wins; a window without real cells gives that lowest value). Backward: each
  window's gradient goes to its FIRST maximum in row-major window order; overlaps accumulate;
- avg: sum of real cells / D. count_include_pad (None means True): D counts window cells inside
  the padded extent [-p, H+p) (pad counted, 'full' overhang not); False: cells inside [0, H).
  A window with D = 0 gives 0, except in 3-D: MXNet's 3-D kernel divides by the product of the
  unclipped per-axis extents, which is 0 for a window starting exactly at the padded edge (or, with
  count_include_pad=False, with no real cell along an axis), and 0/0 gives NaN there
  (`zero_extent_windows`; 1-D and 2-D give 0). Backward: g/D to each real cell;
- sum: D = 1; lp (p_value 1, 2, 3): (sum of x**p)**(1/p), p=1 the plain signed sum;
- global_pool: kernel = the whole spatial extent; kernel, stride, pad, convention ignored.
Every window reduction runs over the taps in row-major order, one tap at a time, so the float sum
order is pinned (the Numba kernel does the same additions in the same order).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail

OP = "Pooling"
INT32_MAX = 2**31 - 1
MAX_ELEMENTS = 2**34        # far beyond any real use; a bigger pad is a typo, not an allocation
POOL_TYPES = ("max", "avg", "sum", "lp")


class PoolingGeometry(NamedTuple):
    kernel: tuple
    stride: tuple
    pad: tuple
    in_spatial: tuple
    out_spatial: tuple
    pool_type: str
    count_include_pad: bool
    p_value: int | None


class PoolingCache(NamedTuple):
    geometry: PoolingGeometry
    x_shape: tuple
    argmax: np.ndarray | None  # max: tap index (row-major in the kernel) per window, -1 for none
    x: np.ndarray | None       # lp only
    y: np.ndarray | None       # lp only


def _tuple(name, value, ndim, default, minimum):
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0):
        return (default,) * ndim
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * ndim
    if not isinstance(value, (tuple, list)) or len(value) != ndim:
        fail(OP, f"{name} must have {ndim} entries (one per spatial dimension of data), got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value):
        fail(OP, f"{name} must be integers, got {value!r}", TypeError)
    if any(v < minimum for v in value):
        fail(OP, f"{name} must be >= {minimum} in every dimension, got {tuple(value)}")
    if any(v > INT32_MAX for v in value):          # MXNet's Shape parameters hold C++ ints
        fail(OP, f"{name} must be int32 values (<= {INT32_MAX}), got {tuple(value)}")
    return tuple(int(v) for v in value)


def pooling_geometry(x_shape, *, kernel, pool_type, stride, pad, pooling_convention, global_pool,
                     count_include_pad, p_value) -> PoolingGeometry:
    """Validate the arguments (the spec's error cases) and size the output."""
    if pool_type not in POOL_TYPES:
        fail(OP, f"pool_type must be one of {POOL_TYPES}, got {pool_type!r}")
    if pooling_convention == "same":
        fail(OP, "pooling_convention 'same' is not supported (MXNet 1.9.1 fails on every 'same' "
                 "call; spec §3); use 'valid' or 'full'")
    if pooling_convention not in ("valid", "full"):
        fail(OP, f"pooling_convention must be 'valid' or 'full', got {pooling_convention!r}")
    if len(x_shape) not in (3, 4, 5):
        fail(OP, f"data must be 3-D, 4-D or 5-D (N, C, *spatial), got shape {tuple(x_shape)}")
    spatial = tuple(x_shape[2:])
    ndim = len(spatial)
    if pool_type == "lp" and p_value not in (1, 2, 3):
        fail(OP, f"p_value must be 1, 2 or 3 for pool_type 'lp', got {p_value!r}")
    cip = True if count_include_pad is None else bool(count_include_pad)
    if global_pool:
        return PoolingGeometry(spatial, (1,) * ndim, (0,) * ndim, spatial, (1,) * ndim,
                               pool_type, cip, p_value)
    if kernel is None or (isinstance(kernel, (tuple, list)) and len(kernel) == 0):
        fail(OP, "kernel is required unless global_pool=True")
    kernel = _tuple("kernel", kernel, ndim, 1, 1)
    stride = _tuple("stride", stride, ndim, 1, 1)
    pad = _tuple("pad", pad, ndim, 0, 0)
    out = []
    for size, k, s, p in zip(spatial, kernel, stride, pad):
        if k > size + 2 * p:
            fail(OP, f"kernel size ({k}) exceeds input ({size} padded to {size + 2 * p})")
        span = size + 2 * p - k
        out.append(span // s + 1 if pooling_convention == "valid" else -(-span // s) + 1)
    padded = math.prod(x_shape[:2]) * math.prod(   # the extent _padded allocates, per axis
        p + size + max(p, (o - 1) * s + k - size - p)
        for size, k, s, p, o in zip(spatial, kernel, stride, pad, out))
    if max(padded, math.prod(x_shape[:2]) * math.prod(out)) > MAX_ELEMENTS:
        fail(OP, f"pad {pad} and stride {stride} must leave a padded input and an output of at most "
                 f"{MAX_ELEMENTS} elements, got {padded} padded and output shape {tuple(out)}")
    return PoolingGeometry(kernel, stride, pad, spatial, tuple(out), pool_type, cip, p_value)


def window_divisor(geometry: PoolingGeometry) -> np.ndarray:
    """D per output position (float64, exact small integers) for avg pooling."""
    g = geometry
    counts = []
    for size, k, s, p, o in zip(g.in_spatial, g.kernel, g.stride, g.pad, g.out_spatial):
        start = np.arange(o) * s - p                       # window start in input coordinates
        lo, hi = (-p, size + p) if g.count_include_pad else (0, size)
        counts.append(np.clip(np.minimum(start + k, hi) - np.maximum(start, lo), 0, None))
    divisor = counts[0].astype(np.float64)
    for c in counts[1:]:
        divisor = np.multiply.outer(divisor, c)
    return divisor


def zero_extent_windows(geometry: PoolingGeometry) -> np.ndarray:
    """Avg windows (bool, out_spatial) that MXNet 1.9.1's 3-D kernel turns into NaN (0/0).

    pool.h's 3-D avg divides by (dend - dstart) * (hend - hstart) * (wend - wstart) with each end
    clipped to the padded extent (and, count_include_pad=False, the start and end to the input)
    but never clamped at 0: an axis whose extent is exactly 0 makes the product 0 (a negative
    extent, a window further out, gives a nonzero product and a 0 result). 1-D/2-D: none."""
    g = geometry
    if len(g.kernel) != 3:
        return np.zeros(g.out_spatial, bool)
    zero_axes = []
    for size, k, s, p, o in zip(g.in_spatial, g.kernel, g.stride, g.pad, g.out_spatial):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not g.count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        zero_axes.append(end - start == 0)
    return (zero_axes[0][:, None, None] | zero_axes[1][None, :, None]
            | zero_axes[2][None, None, :])


def _padded(x, g: PoolingGeometry, fill):
    """x inside a block of `fill`: pad cells before, pad + 'full' overhang after."""
    after = [max(p, (o - 1) * s + k - size - p)
             for size, k, s, p, o in zip(g.in_spatial, g.kernel, g.stride, g.pad, g.out_spatial)]
    shape = x.shape[:2] + tuple(p + size + a for p, size, a in zip(g.pad, g.in_spatial, after))
    padded = np.full(shape, fill, dtype=x.dtype)
    padded[(slice(None),) * 2 + tuple(slice(p, p + s) for p, s in zip(g.pad, g.in_spatial))] = x
    return padded


def _tap_slice(tap, g: PoolingGeometry):
    """The cells tap `tap` of every window reads, as a slice of the padded input."""
    return (slice(None),) * 2 + tuple(slice(t, t + s * (o - 1) + 1, s)
                                      for t, s, o in zip(tap, g.stride, g.out_spatial))


def _crop(padded, g: PoolingGeometry):
    inner = (slice(None),) * 2 + tuple(slice(p, p + s) for p, s in zip(g.pad, g.in_spatial))
    return np.ascontiguousarray(padded[inner])


def pooling_forward(x, *, kernel=(), pool_type="max", stride=(), pad=(), pooling_convention="valid",
                    global_pool=False, count_include_pad=None, p_value=None):
    """Pooling forward. x (N, C, *spatial) float32/float64 -> (y (N, C, *out), PoolingCache)."""
    x = check_array(OP, "data", x)
    g = pooling_geometry(x.shape, kernel=kernel, pool_type=pool_type, stride=stride, pad=pad,
                         pooling_convention=pooling_convention, global_pool=global_pool,
                         count_include_pad=count_include_pad, p_value=p_value)
    taps = list(np.ndindex(*g.kernel))
    out_shape = x.shape[:2] + g.out_spatial
    if g.pool_type == "max":
        lowest = np.finfo(x.dtype).min
        padded = _padded(x, g, lowest)
        y = np.full(out_shape, lowest, dtype=x.dtype)
        argmax = np.full(out_shape, -1, dtype=np.int64)
        for t, tap in enumerate(taps):
            cells = padded[_tap_slice(tap, g)]
            better = cells > y           # strict: the first maximum in row-major order wins
            y = np.where(better, cells, y)
            argmax[better] = t
        return y, PoolingCache(g, x.shape, argmax, None, None)
    padded = _padded(x, g, 0)
    acc = np.zeros(out_shape, dtype=x.dtype)
    for tap in taps:
        cells = padded[_tap_slice(tap, g)]
        acc = acc + (cells ** g.p_value if g.pool_type == "lp" and g.p_value > 1 else cells)
    if g.pool_type == "avg":
        divisor = window_divisor(g).astype(x.dtype)
        y = np.divide(acc, divisor, out=np.zeros_like(acc), where=divisor > 0)
        y[..., zero_extent_windows(g)] = np.nan
    elif g.pool_type == "lp" and g.p_value == 2:
        y = np.sqrt(acc)
    elif g.pool_type == "lp" and g.p_value == 3:
        y = np.cbrt(acc)
    else:
        y = acc
    keep = g.pool_type == "lp"
    return y, PoolingCache(g, x.shape, None, x if keep else None, y if keep else None)


def check_out_grad(dy, cache: PoolingCache):
    dy = check_array(OP, "out_grad", dy)
    expected = tuple(cache.x_shape[:2]) + cache.geometry.out_spatial
    if dy.shape != expected:
        fail(OP, f"out_grad must have shape {expected}, got {dy.shape}")
    return dy


def pooling_backward(dy, cache: PoolingCache):
    """Pooling backward: dx (N, C, *spatial) for head gradient dy (N, C, *out), in dy's dtype."""
    dy = check_out_grad(dy, cache)
    g = cache.geometry
    if cache.x is not None:
        check_same_dtype(OP, data=cache.x, out_grad=dy)
    grad = np.zeros(cache.x_shape, dtype=dy.dtype)
    padded = _padded(grad, g, 0)
    taps = list(np.ndindex(*g.kernel))
    if g.pool_type == "max":
        # np.add.at adds in window row-major order: overlapping windows accumulate in that order.
        has = cache.argmax >= 0
        index = np.nonzero(has)
        tap_coords = np.array(taps, dtype=np.int64).reshape(-1, len(g.kernel))[cache.argmax[has]]
        cells = index[:2] + tuple(index[2 + d] * g.stride[d] + tap_coords[:, d]
                                  for d in range(len(g.kernel)))
        np.add.at(padded, cells, dy[has])
        return _crop(padded, g)
    if g.pool_type == "avg":
        divisor = window_divisor(g).astype(dy.dtype)
        share = np.divide(dy, divisor, out=np.zeros_like(dy), where=divisor > 0)
    else:
        share = dy
    if g.pool_type == "lp" and g.p_value > 1:
        # d/dx (sum x^p)^(1/p) = (x / y)^(p-1); windows with y = 0 pass no gradient
        x_padded = _padded(cache.x, g, 0)
        y = cache.y
        safe_y = np.where(y != 0, y, 1)
        for tap in taps:
            ratio = x_padded[_tap_slice(tap, g)] / safe_y
            term = ratio if g.p_value == 2 else ratio * ratio
            padded[_tap_slice(tap, g)] += np.where(y != 0, share * term, 0)
        return _crop(padded, g)
    for tap in taps:
        padded[_tap_slice(tap, g)] += share
    return _crop(padded, g)
