"""Numba Pooling kernels: max / avg / sum over 1-D and 2-D windows (lp and 3-D use the NumPy spec).

Mirrors ssdref.layers.pooling (spec mxnet-layers.md §3), bit for bit:
- max starts from the dtype's lowest finite value and takes a tap only when strictly greater,
  visiting real cells in row-major order: the same maximum and the same first-maximum argmax;
- avg/sum add the window's real cells in row-major tap order from +0 (pad cells add 0 in the spec);
- max backward visits windows in row-major order (the order np.add.at uses in the spec);
- avg/sum backward visits windows in REVERSE row-major order: a cell then receives its
  contributions in ascending tap order, which is the order of the spec's tap-by-tap `+=`.
Parallel over (image, channel) planes: each plane is independent, so results do not depend on the
thread count.
"""
from __future__ import annotations

import numba
import numpy as np

from ssdref.kernels import buffers
from ssdref.layers import pooling as _spec


@numba.njit(cache=True, parallel=True)
def _max_forward_2d(x, kh, kw, sh, sw, ph, pw, lowest, y, argmax):
    """Each window's real taps are the box [u_lo, u_hi) x [v_lo, v_hi), computed once per window,
    so the tap loop has no bounds tests; flat indices into the contiguous planes."""
    n, channels, height, width = x.shape
    ho, wo = y.shape[2], y.shape[3]
    xf, yf, af = x.reshape(-1), y.reshape(-1), argmax.reshape(-1)
    for plane in numba.prange(n * channels):
        x_base = plane * height * width
        for oh in range(ho):
            h0 = oh * sh - ph
            u_lo, u_hi = max(0, -h0), min(kh, height - h0)
            y_base = (plane * ho + oh) * wo
            for ow in range(wo):
                w0 = ow * sw - pw
                v_lo, v_hi = max(0, -w0), min(kw, width - w0)
                best = lowest
                arg = -1
                for u in range(u_lo, u_hi):
                    row = x_base + (h0 + u) * width + w0
                    for v in range(v_lo, v_hi):
                        value = xf[row + v]
                        if value > best:
                            best = value
                            arg = u * kw + v
                yf[y_base + ow] = best
                af[y_base + ow] = arg


@numba.njit(cache=True, parallel=True)
def _max_forward_2x2(x, lowest, y, argmax):
    """kernel 2, stride 2, no pad (VGG's pools): the whole windows as four compares written with
    selects (so LLVM vectorizes them along the row), in _max_forward_2d's order and rule (start
    from `lowest`, take a tap only when strictly greater); windows cut by the edge ('full'
    convention) go through the general per-tap loop."""
    n, channels, height, width = x.shape
    ho, wo = y.shape[2], y.shape[3]
    whole_w = min(wo, width // 2)
    for plane in numba.prange(n * channels):
        img, c = plane // channels, plane % channels
        for oh in range(ho):
            h0 = 2 * oh
            start = whole_w if h0 + 1 < height else 0
            if h0 + 1 < height:
                for ow in range(whole_w):
                    best, arg = lowest, -1
                    value = x[img, c, h0, 2 * ow]
                    take = value > best
                    best, arg = (value if take else best), (0 if take else arg)
                    value = x[img, c, h0, 2 * ow + 1]
                    take = value > best
                    best, arg = (value if take else best), (1 if take else arg)
                    value = x[img, c, h0 + 1, 2 * ow]
                    take = value > best
                    best, arg = (value if take else best), (2 if take else arg)
                    value = x[img, c, h0 + 1, 2 * ow + 1]
                    take = value > best
                    best, arg = (value if take else best), (3 if take else arg)
                    y[img, c, oh, ow] = best
                    argmax[img, c, oh, ow] = arg
            for ow in range(start, wo):
                best, arg = lowest, -1
                for u in range(min(2, height - h0)):
                    for v in range(min(2, width - 2 * ow)):
                        value = x[img, c, h0 + u, 2 * ow + v]
                        if value > best:
                            best, arg = value, u * 2 + v
                y[img, c, oh, ow] = best
                argmax[img, c, oh, ow] = arg


@numba.njit(cache=True, parallel=True)
def _max_backward_2d(dy, argmax, kw, sh, sw, ph, pw, dx):
    n, channels, height, width = dx.shape
    ho, wo = dy.shape[2], dy.shape[3]
    for plane in numba.prange(n * channels):
        img, c = plane // channels, plane % channels
        dx[img, c, :, :] = 0
        for oh in range(ho):
            for ow in range(wo):
                arg = argmax[img, c, oh, ow]
                if arg >= 0:
                    h = oh * sh - ph + arg // kw
                    w = ow * sw - pw + arg % kw
                    dx[img, c, h, w] += dy[img, c, oh, ow]


@numba.njit(cache=True, parallel=True)
def _sum_forward_2d(x, kh, kw, sh, sw, ph, pw, divisor, zero, y):
    """divisor (ho, wo): the avg divisor, or None-like all-ones for sum (then y = acc / 1 = acc)."""
    n, channels, height, width = x.shape
    ho, wo = y.shape[2], y.shape[3]
    for plane in numba.prange(n * channels):
        img, c = plane // channels, plane % channels
        for oh in range(ho):
            h0 = oh * sh - ph
            for ow in range(wo):
                w0 = ow * sw - pw
                acc = zero
                for u in range(kh):
                    h = h0 + u
                    if h < 0 or h >= height:
                        continue
                    for v in range(kw):
                        w = w0 + v
                        if w >= 0 and w < width:
                            acc += x[img, c, h, w]
                d = divisor[oh, ow]
                y[img, c, oh, ow] = acc / d if d > 0 else zero


@numba.njit(cache=True, parallel=True)
def _sum_backward_2d(dy, kh, kw, sh, sw, ph, pw, divisor, zero, dx):
    n, channels, height, width = dx.shape
    ho, wo = dy.shape[2], dy.shape[3]
    for plane in numba.prange(n * channels):
        img, c = plane // channels, plane % channels
        dx[img, c, :, :] = 0
        for oh in range(ho - 1, -1, -1):
            h0 = oh * sh - ph
            for ow in range(wo - 1, -1, -1):
                d = divisor[oh, ow]
                if not d > 0:
                    continue
                share = dy[img, c, oh, ow] / d
                w0 = ow * sw - pw
                for u in range(kh):
                    h = h0 + u
                    if h < 0 or h >= height:
                        continue
                    for v in range(kw):
                        w = w0 + v
                        if w >= 0 and w < width:
                            dx[img, c, h, w] += share


def _as_2d(g):
    if len(g.kernel) == 2:
        return g.kernel, g.stride, g.pad
    return (1,) + g.kernel, (1,) + g.stride, (0,) + g.pad


def _divisor(g, dtype):
    divisor = _spec.window_divisor(g) if g.pool_type == "avg" else np.ones(g.out_spatial)
    return np.ascontiguousarray(divisor.astype(dtype).reshape((-1,) + divisor.shape[-1:]))


def pooling_forward(x, *, kernel=(), pool_type="max", stride=(), pad=(), pooling_convention="valid",
                    global_pool=False, count_include_pad=None, p_value=None):
    """Numba Pooling forward: same signature and result as ssdref.layers.pooling.pooling_forward."""
    x = _spec.check_array(_spec.OP, "data", x)
    args = dict(kernel=kernel, pool_type=pool_type, stride=stride, pad=pad,
                pooling_convention=pooling_convention, global_pool=global_pool,
                count_include_pad=count_include_pad, p_value=p_value)
    g = _spec.pooling_geometry(x.shape, **args)
    if len(g.kernel) == 3 or g.pool_type == "lp":
        return _spec.pooling_forward(x, **args)
    (kh, kw), (sh, sw), (ph, pw) = _as_2d(g)
    shape4 = x.shape[:2] + ((1,) if len(g.kernel) == 1 else ()) + g.in_spatial
    x4 = np.ascontiguousarray(x).reshape(shape4)
    out4 = x.shape[:2] + ((1,) if len(g.kernel) == 1 else ()) + g.out_spatial
    y = buffers.empty(out4, x.dtype)
    out_shape = x.shape[:2] + g.out_spatial
    if g.pool_type == "max":
        argmax = buffers.empty(out4, np.int64)
        lowest = np.finfo(x.dtype).min.astype(x.dtype)
        if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0):
            _max_forward_2x2(x4, lowest, y, argmax)
        else:
            _max_forward_2d(x4, kh, kw, sh, sw, ph, pw, lowest, y, argmax)
        return y.reshape(out_shape), _spec.PoolingCache(g, x.shape, argmax.reshape(out_shape), None, None)
    _sum_forward_2d(x4, kh, kw, sh, sw, ph, pw, _divisor(g, x.dtype), x.dtype.type(0), y)
    return y.reshape(out_shape), _spec.PoolingCache(g, x.shape, None, None, None)


def pooling_backward(dy, cache):
    """Numba Pooling backward: same signature and result as ssdref.layers.pooling.pooling_backward."""
    g = cache.geometry
    if len(g.kernel) == 3 or g.pool_type == "lp":
        return _spec.pooling_backward(dy, cache)
    dy = _spec.check_out_grad(dy, cache)
    (kh, kw), (sh, sw), (ph, pw) = _as_2d(g)
    lift = (1,) if len(g.kernel) == 1 else ()
    dy4 = np.ascontiguousarray(dy).reshape(dy.shape[:2] + lift + g.out_spatial)
    dx = buffers.empty(tuple(cache.x_shape[:2]) + lift + g.in_spatial, dy.dtype)
    if g.pool_type == "max":
        argmax4 = np.ascontiguousarray(cache.argmax).reshape(dy4.shape)
        _max_backward_2d(dy4, argmax4, kw, sh, sw, ph, pw, dx)
    else:
        _sum_backward_2d(dy4, kh, kw, sh, sw, ph, pw, _divisor(g, dy.dtype), dy.dtype.type(0), dx)
    return dx.reshape(cache.x_shape)
