"""Numba Convolution: Winograd F(2x2, 3x3) or F(4x4, 3x3) where chosen, else im2col/col2im (1-D
and 2-D; 3-D uses the NumPy columns) through the same GEMM driver as the NumPy specification.

Mirrors ssdref.layers.conv (spec mxnet-layers.md §2). Two algorithms, each bit-identical to a NumPy
version of itself:
- 3x3, stride 1, undilated 2-D layers with >= 64 channels and filters per group
  (`cpu_winograd.chosen`: every VGG16 layer but conv1_1, fc6 and fc7): forward, and dx and dW
  where pad <= 2, by Winograd: F(2x2, 3x3) (`ssdref.layers.winograd` + `ssdref.kernels.cpu_winograd`,
  2.25x fewer multiplies; float32: a few 1e-7 of the largest value) or, when the conv algorithm
  is 'auto' (the default; 'f2x2' never) and a call has many tiles per weight
  (`cpu_winograd.transforms_for`: VGG16 conv1_2 ... conv3_3 at batch 1), F(4x4, 3x3)
  (`ssdref.layers.winograd43` + `ssdref.kernels.cpu_winograd43`, 4x fewer; float32: a few 1e-6,
  as oneDNN's own Winograd); equal to the im2col specification up to float rounding, not bit for
  bit, and bit-identical to the NumPy Winograd of the same tile size. `SSDREF_WINOGRAD=0` turns it
  off; 'portable' precision (`ssdref.use_precision`, the golden files) always takes im2col.
- everything else, and dbias always: the columns are built in the specification's layout and the
  same `conv_forward_with` / `conv_backward_with` driver does the GEMMs, so y, dweight and dbias
  are bit-identical to it; col2im adds taps in row-major order per input cell, as the NumPy
  col2im does, so dx is bit-identical too.
Speed: one pass over the columns with branch-free inner loops (the valid output range of each tap
is computed once), parallel over channels (each channel owns its rows / its dx plane: no shared
accumulator, so results do not depend on the thread count). The layer functions build columns in a
per-thread workspace reused across calls (a fresh 200 MB array per call costs as much in page
faults as im2col itself); the columns never outlive the driver call that asked for them. The bias
is added on several threads (the same one addition per element as the spec's broadcast `+=`).
"""
from __future__ import annotations

import math
import threading

import numba
import numpy as np

from ssdref.kernels import buffers, cpu_winograd
from ssdref.layers import conv as _spec
from ssdref.layers import winograd as _winograd


@numba.njit(cache=True, inline="always")
def _valid_range(tap_offset, pad, stride, in_size, out_size):
    """Output positions o with 0 <= o*stride + tap_offset - pad < in_size, as [lo, hi)."""
    first = pad - tap_offset  # o*stride >= first
    lo = 0 if first <= 0 else (first + stride - 1) // stride
    last = in_size - 1 + pad - tap_offset  # o*stride <= last
    hi = -1 if last < 0 else last // stride
    hi = min(hi + 1, out_size)
    return min(lo, hi), hi


@numba.njit(cache=True, parallel=True)
def _im2col_2d(x, kh, kw, sh, sw, dh, dw, ph, pw, ho, wo, cols):
    n, channels, height, width = x.shape
    out_size = ho * wo
    for c in numba.prange(channels):
        for u in range(kh):
            h_lo, h_hi = _valid_range(u * dh, ph, sh, height, ho)
            for v in range(kw):
                w_lo, w_hi = _valid_range(v * dw, pw, sw, width, wo)
                row = (c * kh + u) * kw + v
                w0 = v * dw - pw
                for img in range(n):
                    base = img * out_size
                    cols[row, base:base + h_lo * wo] = 0            # rows above the input
                    for oh in range(h_lo, h_hi):
                        col0 = base + oh * wo
                        h = oh * sh + u * dh - ph
                        cols[row, col0:col0 + w_lo] = 0
                        if sw == 1:  # a contiguous run: lowered to a vectorized copy
                            cols[row, col0 + w_lo:col0 + w_hi] = x[img, c, h, w_lo + w0:w_hi + w0]
                        else:
                            for ow in range(w_lo, w_hi):
                                cols[row, col0 + ow] = x[img, c, h, ow * sw + w0]
                        cols[row, col0 + w_hi:col0 + wo] = 0
                    cols[row, base + h_hi * wo:base + out_size] = 0  # rows below the input


@numba.njit(cache=True, parallel=True)
def _col2im_2d(cols, kh, kw, sh, sw, dh, dw, ph, pw, ho, wo, dx):
    n, channels, height, width = dx.shape
    out_size = ho * wo
    for c in numba.prange(channels):
        for img in range(n):
            dx[img, c, :, :] = 0
        for u in range(kh):
            h_lo, h_hi = _valid_range(u * dh, ph, sh, height, ho)
            for v in range(kw):
                w_lo, w_hi = _valid_range(v * dw, pw, sw, width, wo)
                row = (c * kh + u) * kw + v
                w0 = v * dw - pw
                for img in range(n):
                    for oh in range(h_lo, h_hi):
                        h = oh * sh + u * dh - ph
                        col0 = img * out_size + oh * wo
                        if sw == 1:
                            dx[img, c, h, w_lo + w0:w_hi + w0] += cols[row, col0 + w_lo:col0 + w_hi]
                        else:
                            for ow in range(w_lo, w_hi):
                                dx[img, c, h, ow * sw + w0] += cols[row, col0 + ow]


@numba.njit(cache=True, parallel=True)
def _add_bias(y, bias):
    n, channels, size = y.shape
    for plane in numba.prange(n * channels):
        img, c = plane // channels, plane % channels
        value = bias[c]
        for i in range(size):
            y[img, c, i] += value


@numba.njit(cache=True, parallel=True)
def _transpose_tiles(a, out):
    """out[g, j, i] = a[g, i, j], tile by tile: 8 rows of a (8 ways of L1: dW's rows are a power
    of two apart, 16 rows would evict each other) x 64 columns. Measured on the 4608 x 1024 fc6
    dW: 8 x 64 ~10 ms, 16 x 16 ~18 ms."""
    groups, rows, cols = a.shape
    tile_i, tile_j = 8, 64
    tile_rows, tile_cols = (rows + tile_i - 1) // tile_i, (cols + tile_j - 1) // tile_j
    for t in numba.prange(groups * tile_rows * tile_cols):
        g, rest = t // (tile_rows * tile_cols), t % (tile_rows * tile_cols)
        i0, j0 = (rest // tile_cols) * tile_i, (rest % tile_cols) * tile_j
        for j in range(j0, min(j0 + tile_j, cols)):
            for i in range(i0, min(i0 + tile_i, rows)):
                out[g, j, i] = a[g, i, j]


def transpose_last2(a):
    """Cache-blocked version of ssdref.layers.conv.transpose_last2 (the same exact copy): numpy's
    strided copy of a 4608 x 1024 dW^T takes ~40 ms, this a few."""
    if a.ndim != 3:
        return _spec.transpose_last2(a)
    out = np.empty((a.shape[0], a.shape[2], a.shape[1]), a.dtype)
    _transpose_tiles(np.ascontiguousarray(a), out)
    return out


_workspace = threading.local()


def _column_buffer(shape, dtype):
    """An uninitialised array of `shape` in this thread's reusable workspace (grown on demand)."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buffer = getattr(_workspace, "buffer", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = _workspace.buffer = np.empty(nbytes, np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)


def _as_2d(g):
    """(kernel, stride, dilate, pad, in, out) as 2-D tuples; 1-D is a height-1 2-D problem."""
    if len(g.kernel) == 2:
        return g.kernel, g.stride, g.dilate, g.pad, g.in_spatial, g.out_spatial
    return ((1,) + g.kernel, (1,) + g.stride, (1,) + g.dilate, (0,) + g.pad,
            (1,) + g.in_spatial, (1,) + g.out_spatial)


def im2col(x, geometry, *, reuse=False):
    """Numba im2col: same result as ssdref.layers.conv.im2col. reuse=True builds the columns in
    the thread's workspace: valid only until the next reuse=True call."""
    g = geometry
    if len(g.kernel) == 3:
        return _spec.im2col(x, g)
    n, channels = x.shape[:2]
    rows = channels // g.num_group * math.prod(g.kernel)
    out_size = math.prod(g.out_spatial)
    kernel, stride, dilate, pad, in_spatial, out_spatial = _as_2d(g)
    x4 = np.ascontiguousarray(x).reshape((n, channels) + in_spatial)
    shape = (channels * math.prod(kernel), n * out_size)
    cols = _column_buffer(shape, x.dtype) if reuse else np.empty(shape, x.dtype)
    _im2col_2d(x4, *kernel, *stride, *dilate, *pad, *out_spatial, cols)
    return cols.reshape(g.num_group, rows, n * out_size)


def _im2col_reused(x, geometry):
    return im2col(x, geometry, reuse=True)


def _add_bias_threads(y, bias):
    _add_bias(y, bias)


def col2im(cols, geometry, n, out=None):
    """Numba col2im: same result as ssdref.layers.conv.col2im (into `out` when given)."""
    g = geometry
    if len(g.kernel) == 3:
        return _spec.col2im(cols, g, n, out=out)
    channels = cols.shape[0] * cols.shape[1] // math.prod(g.kernel)
    kernel, stride, dilate, pad, in_spatial, out_spatial = _as_2d(g)
    shape = (n, channels) + g.in_spatial
    if out is None or not out.flags.c_contiguous:
        dx = buffers.empty(shape, cols.dtype)
    else:
        dx = out
    _col2im_2d(np.ascontiguousarray(cols).reshape(cols.shape[0] * cols.shape[1], -1),
               *kernel, *stride, *dilate, *pad, *out_spatial, dx.reshape((n, channels) + in_spatial))
    if out is not None and dx is not out:
        out[...] = dx
        return out
    return dx


def conv_forward(x, weight, bias, *, kernel=None, stride=1, dilate=1, pad=0, num_group=1):
    """Numba Convolution forward: same signature and result as ssdref.layers.conv.conv_forward."""
    x, weight, bias = _spec.check_inputs(x, weight, bias)
    geometry = _spec.conv_geometry(x.shape, weight.shape, kernel=kernel, stride=stride,
                                   dilate=dilate, pad=pad, num_group=num_group)
    if cpu_winograd.chosen(geometry, weight.shape[0], x.shape[1]):
        transforms = cpu_winograd.transforms_for(geometry, x.shape[0], weight.shape[0], x.shape[1])
        y = _winograd.winograd_forward_with(transforms, x, weight, bias, geometry, buffers.empty)
    else:
        y = _spec.conv_forward_with(_im2col_reused, x, weight, bias, geometry, _add_bias_threads,
                                    buffers.empty)
    return y, _spec.ConvCache(x, weight, bias is not None, geometry)


def _winograd_backward_geometry(cache):
    """dx's correlation geometry where Winograd computes backward (`cpu_winograd.chosen`, and
    pad <= 2 so that dx is a plain correlation of dy), else None (im2col/col2im)."""
    if not cpu_winograd.chosen(cache.geometry, cache.weight.shape[0], cache.x.shape[1]):
        return None
    return _spec.data_grad_geometry(cache.geometry)


def conv_backward(dy, cache, *, data_grad=True):
    """Numba Convolution backward: same signature as ssdref.layers.conv.conv_backward; dbias is
    bit-identical to it, dx and dweight too unless Winograd computes them (equal up to rounding)."""
    dy = _spec.check_out_grad(dy, cache)
    grad_geometry = _winograd_backward_geometry(cache)
    if grad_geometry is None:
        return _spec.conv_backward_with(_im2col_reused, col2im, dy, cache, transpose_last2,
                                        buffers.empty, bool(data_grad))
    n_img, num_filter, channels = cache.x.shape[0], cache.weight.shape[0], cache.x.shape[1]
    transforms = cpu_winograd.transforms_for(cache.geometry, n_img, num_filter, channels)
    dweight = _winograd.winograd_weight_grad_with(transforms, cache.x, dy, cache.geometry,
                                                  buffers.empty)
    dbias = _spec.bias_grad(dy) if cache.has_bias else None
    dx = None
    if data_grad:   # dy correlated with the flipped kernel (ssdref.layers.conv.data_grad_geometry)
        transforms = cpu_winograd.transforms_for(grad_geometry, n_img, channels, num_filter)
        dx = _winograd.winograd_forward_with(transforms, dy, cache.weight, None, grad_geometry,
                                             buffers.empty, flip=True)
    return dx, dweight, dbias
