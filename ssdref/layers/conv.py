"""Convolution (NCW / NCHW / NCDHW): cross-correlation by im2col + one matrix multiply per group.

Mirrors: src/operator/nn/convolution-inl.h (MXNet 1.9.1; spec mxnet-layers.md §2).
Conventions that bite:
- cross-correlation (no kernel flip); pad cells are zeros; per spatial dimension
  out = floor((in + 2*pad - (dilate*(k-1) + 1)) / stride) + 1;
- group g reads input channels [g*C/G, (g+1)*C/G) and writes filters [g*F/G, (g+1)*F/G);
- weight (F, C/G, *kernel), bias (F,) or None (no_bias).

Shapes: x (N, C, *spatial), y (N, F, *out). Columns of a chunk of n images are laid out
(G, C/G * K, n * O) with K = prod(kernel), O = prod(out): row (c, taps in row-major order), column
(image, output position in row-major order), so y_g = W_g @ cols_g is one GEMM per group for the
whole chunk. Images are processed in chunks whose columns fit `COLUMN_BUDGET_BYTES` (MXNet's
`workspace` plays the same role), so a batch-32 SSD300 never materialises 6 GB of columns.
A pointwise (1x1, stride 1, unpadded) convolution needs no columns: each image's x is its
(C, H*W) matrix. Backward computes dW transposed, cols @ dy^T (BLAS is several times faster
with the long sum over positions in that orientation than with dy @ cols^T).
Every product goes through `ssdref.layers.gemm.matmul`: BLAS in 'fast' precision, a fixed
float64 summation order in 'portable' precision (bit-identical on every machine).
The cache keeps x and weight, not the columns (backward rebuilds them): columns are 9x the size
of the activations. `ssdref.kernels.cpu_conv` replaces im2col/col2im with Numba loops and runs the
same driver, so both backends do identical floating-point operations (except where the Numba
backend takes Winograd, ssdref.layers.winograd). For stride 1, dx is itself a forward
correlation of dy with the flipped kernel (`data_grad_geometry`, `flipped_kernel`): the Winograd
data gradient is computed that way.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.layers import gemm

OP = "Convolution"
COLUMN_BUDGET_BYTES = 256 * 2**20


class ConvGeometry(NamedTuple):
    kernel: tuple
    stride: tuple
    dilate: tuple
    pad: tuple
    num_group: int
    in_spatial: tuple   # (H, W) of the input
    out_spatial: tuple  # (Ho, Wo) of the output


class ConvCache(NamedTuple):
    x: np.ndarray
    weight: np.ndarray
    has_bias: bool
    geometry: ConvGeometry


def _spatial_tuple(name, value, ndim, default, minimum):
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0):
        return (default,) * ndim
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * ndim
    if not isinstance(value, (tuple, list)) or len(value) != ndim:
        fail(OP, f"{name} must have {ndim} entries (one per spatial dimension), got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            fail(OP, f"{name} must be integers, got {value!r}", TypeError)
        if v < minimum:
            fail(OP, f"{name} must be >= {minimum} in every dimension, got {tuple(value)}")
    return tuple(int(v) for v in value)


def conv_output_size(size, kernel, stride, dilate, pad):
    """floor((size + 2*pad - (dilate*(kernel-1) + 1)) / stride) + 1 (spec §2)."""
    return (size + 2 * pad - (dilate * (kernel - 1) + 1)) // stride + 1


def conv_geometry(x_shape, weight_shape, *, kernel, stride, dilate, pad, num_group) -> ConvGeometry:
    """Validate the arguments against the shapes (the spec's error cases) and size the output."""
    if len(x_shape) not in (3, 4, 5):
        fail(OP, f"data must be 3-D, 4-D or 5-D (N, C, *spatial), got shape {tuple(x_shape)}")
    ndim = len(x_shape) - 2
    if kernel is None or (isinstance(kernel, (tuple, list)) and len(kernel) == 0):
        kernel = tuple(weight_shape[2:])
    kernel = _spatial_tuple("kernel", kernel, ndim, 1, 1)
    stride = _spatial_tuple("stride", stride, ndim, 1, 1)
    dilate = _spatial_tuple("dilate", dilate, ndim, 1, 1)
    pad = _spatial_tuple("pad", pad, ndim, 0, 0)
    if isinstance(num_group, bool) or not isinstance(num_group, (int, np.integer)) or num_group < 1:
        fail(OP, f"num_group must be a positive integer, got {num_group!r}")
    channels = x_shape[1]
    if channels % num_group:
        fail(OP, f"data channels ({channels}) must be divisible by num_group ({num_group})")
    num_filter = weight_shape[0] if len(weight_shape) else 0
    expected = (num_filter, channels // num_group) + kernel
    if tuple(weight_shape) != expected or num_filter % num_group or num_filter == 0:
        fail(OP, f"weight must have shape (num_filter, C/num_group, *kernel) = {expected} with "
                 f"num_filter a positive multiple of num_group, got {tuple(weight_shape)}")
    spatial = tuple(x_shape[2:])
    for size, k, d, p in zip(spatial, kernel, dilate, pad):
        if d * (k - 1) + 1 > size + 2 * p:
            fail(OP, f"kernel size exceeds input: dilated kernel {d * (k - 1) + 1} > input {size} "
                     f"padded to {size + 2 * p}")
    out = tuple(conv_output_size(*a) for a in zip(spatial, kernel, stride, dilate, pad))
    return ConvGeometry(kernel, stride, dilate, pad, int(num_group), spatial, out)


def im2col(x, geometry: ConvGeometry) -> np.ndarray:
    """Columns (G, C/G * K, n * O) of the zero-padded x (n, C, *spatial)."""
    g = geometry
    n, channels = x.shape[:2]
    ndim = len(g.kernel)
    padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in g.pad])
    extent = tuple(d * (k - 1) + 1 for k, d in zip(g.kernel, g.dilate))
    # windows[n, c, *out, *dilated taps]: a view; stepping picks strides and dilation taps.
    windows = sliding_window_view(padded, extent, axis=tuple(range(2, 2 + ndim)))
    step = (slice(None),) * 2 + tuple(slice(None, o * s, s) for o, s in zip(g.out_spatial, g.stride))
    windows = windows[step + tuple(slice(None, None, d) for d in g.dilate)]
    # -> (C, *kernel, n, *out), one copy, then group rows
    order = (1,) + tuple(range(2 + ndim, 2 + 2 * ndim)) + (0,) + tuple(range(2, 2 + ndim))
    cols = np.ascontiguousarray(windows.transpose(order))
    return cols.reshape(g.num_group, channels // g.num_group * math.prod(g.kernel),
                        n * math.prod(g.out_spatial))


def col2im(cols, geometry: ConvGeometry, n: int, out=None) -> np.ndarray:
    """The adjoint of im2col: sum each column entry back onto its input cell (pad cells dropped).

    Taps are added in row-major order, so every input cell sums its contributions in that order.
    `out` (n, C, *spatial), if given, receives the result (and is returned)."""
    g = geometry
    ndim = len(g.kernel)
    channels = cols.shape[0] * cols.shape[1] // math.prod(g.kernel)
    per_tap = cols.reshape((channels,) + g.kernel + (n,) + g.out_spatial)
    padded = np.zeros((n, channels) + tuple(s + 2 * p for s, p in zip(g.in_spatial, g.pad)), cols.dtype)
    for tap in np.ndindex(*g.kernel):
        target = (slice(None),) * 2 + tuple(
            slice(t * d, t * d + s * (o - 1) + 1, s)
            for t, d, s, o in zip(tap, g.dilate, g.stride, g.out_spatial))
        padded[target] += np.moveaxis(per_tap[(slice(None),) + tap], 0, 1)
    inner = (slice(None),) * 2 + tuple(slice(p, p + s) for p, s in zip(g.pad, g.in_spatial))
    if out is None:
        return np.ascontiguousarray(padded[inner])
    out[...] = padded[inner]
    return out


def image_chunks(x_shape, geometry: ConvGeometry, itemsize: int):
    """[(start, stop)] image ranges whose columns fit COLUMN_BUDGET_BYTES (at least one image)."""
    per_image = x_shape[1] * math.prod(geometry.kernel) * math.prod(geometry.out_spatial) * itemsize
    step = max(1, COLUMN_BUDGET_BYTES // max(per_image, 1))
    return [(s, min(s + step, x_shape[0])) for s in range(0, x_shape[0], step)]


def check_inputs(x, weight, bias):
    x = check_array(OP, "data", x)
    weight = check_array(OP, "weight", weight)
    if bias is not None:
        bias = check_array(OP, "bias", bias, ndim=1)
        if bias.shape[0] != weight.shape[0]:
            fail(OP, f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    check_same_dtype(OP, data=x, weight=weight, bias=bias)
    return x, weight, bias


def check_out_grad(dy, cache: ConvCache):
    dy = check_array(OP, "out_grad", dy)
    expected = (cache.x.shape[0], cache.weight.shape[0]) + cache.geometry.out_spatial
    if dy.shape != expected:
        fail(OP, f"out_grad must have shape {expected}, got {dy.shape}")
    check_same_dtype(OP, data=cache.x, out_grad=dy)
    return dy


def is_pointwise(geometry: ConvGeometry) -> bool:
    """1x1 kernel, stride 1, no pad: each image's x (C, O) already is its column matrix."""
    g = geometry
    return all(k == 1 for k in g.kernel) and all(s == 1 for s in g.stride) and \
        all(p == 0 for p in g.pad)


def conv_forward_with(im2col_fn, x, weight, bias, geometry, add_bias=None, empty=np.empty):
    """The GEMM driver shared by every backend: y_g = W_g @ cols_g per chunk of images, + bias.

    A pointwise convolution multiplies each image's x directly (no columns). `add_bias(y, bias)`
    may replace the broadcast `y += bias` (the same additions, e.g. on several threads); `empty`
    may replace np.empty for the output and temporaries (a backend's buffer pool)."""
    g = geometry
    n_img, num_filter = x.shape[0], weight.shape[0]
    out_size = math.prod(g.out_spatial)
    w_mat = weight.reshape(g.num_group, num_filter // g.num_group, -1)       # (G, F/G, C/G*K)
    y = empty((n_img, num_filter) + g.out_spatial, x.dtype)
    if is_pointwise(g):
        for image in range(n_img):
            gemm.matmul(w_mat, x[image].reshape(g.num_group, -1, out_size),
                      out=y[image].reshape(g.num_group, -1, out_size))
    else:
        for start, stop in image_chunks(x.shape, g, x.dtype.itemsize):
            n = stop - start
            cols = im2col_fn(x[start:stop], g)                               # (G, C/G*K, n*O)
            if n == 1:  # the GEMM writes straight into y: (G, F/G, O) is y[start]'s layout
                gemm.matmul(w_mat, cols, out=y[start].reshape(g.num_group, -1, out_size))
            else:
                out = gemm.matmul(w_mat, cols, out=empty((g.num_group, w_mat.shape[1], n * out_size),
                                                        x.dtype)).reshape(num_filter, n, out_size)
                y[start:stop].reshape(n, num_filter, out_size)[...] = out.transpose(1, 0, 2)
    if bias is not None:
        if add_bias is None:
            y += bias.reshape((1, num_filter) + (1,) * len(g.out_spatial))
        else:
            add_bias(y.reshape(n_img, num_filter, out_size), bias)
    return y


def data_grad_geometry(geometry: ConvGeometry):
    """The geometry under which dx is a forward correlation of dy, or None where there is none.

    For stride 1, dx[c, h] = sum over f, tap u of W[f, c, u] * dy[f, h + pad - u*dilate]; with
    u' = k-1-u that is a cross-correlation of dy, zero-padded by pad' = dilate*(k-1) - pad, with
    the reversed kernel (`flipped_kernel`) and the same dilation; its output size
    out + 2*pad' - dilate*(k-1) is the input size. pad > dilate*(k-1) would need a crop: None."""
    g = geometry
    pad_t = tuple(d * (k - 1) - p for p, d, k in zip(g.pad, g.dilate, g.kernel))
    if any(s != 1 for s in g.stride) or any(p < 0 for p in pad_t):
        return None
    return ConvGeometry(g.kernel, g.stride, g.dilate, pad_t, g.num_group, g.out_spatial,
                        g.in_spatial)


def flipped_kernel(weight, num_group):
    """The data-gradient kernel (C, F/G, *k): W'[g*C/G + c, f] = W[g*F/G + f, c] with every
    spatial axis reversed (per group, filters and channels swap roles)."""
    num_filter, group_channels = weight.shape[:2]
    kernel = weight.shape[2:]
    w = weight.reshape((num_group, num_filter // num_group, group_channels) + kernel)
    w = w.swapaxes(1, 2)[(Ellipsis,) + (slice(None, None, -1),) * len(kernel)]
    return np.ascontiguousarray(w).reshape((num_group * group_channels,
                                            num_filter // num_group) + kernel)


def bias_grad(dy):
    """db = sum of dy over images and positions (numpy's pairwise sum; every backend calls this)."""
    return dy.sum(axis=(0,) + tuple(range(2, dy.ndim)))


def _copy_into(target, source):
    target[...] = source
    return target


def transpose_last2(a):
    """A C-contiguous copy of a (..., R, S) as (..., S, R): an exact copy, element by element."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def conv_backward_with(im2col_fn, col2im_fn, dy, cache: ConvCache, transpose_fn=transpose_last2,
                       empty=np.empty, data_grad=True):
    """dx by col2im(W_g^T @ dy_g); dW_g^T = sum over chunks of cols_g @ dy_g^T; db = sum of dy.

    dW is computed transposed, (C/G*K, F/G) = cols @ dy^T: with the long sum (over images and
    output positions) as the GEMM's inner dimension in this orientation, BLAS runs it several
    times faster than dy @ cols^T. `transpose_fn` turns it into dW's layout (an exact copy; a
    backend may supply a cache-blocked one), `empty` np.empty for dx and temporaries. col2im
    writes each chunk's dx in place. A pointwise convolution uses x and dx as the columns.
    data_grad=False skips dx (returned as None): the dW and db arithmetic is unchanged."""
    x, weight, g = cache.x, cache.weight, cache.geometry
    n_img, num_filter = x.shape[0], weight.shape[0]
    out_size = math.prod(g.out_spatial)
    w_mat = weight.reshape(g.num_group, num_filter // g.num_group, -1)
    dx = empty(x.shape, x.dtype) if data_grad else None
    dw_t = np.zeros((g.num_group, w_mat.shape[2], w_mat.shape[1]), x.dtype)  # (G, C/G*K, F/G)
    if is_pointwise(g):
        for image in range(n_img):
            x_g = x[image].reshape(g.num_group, -1, out_size)
            dy_g = dy[image].reshape(g.num_group, -1, out_size)
            dw_t += gemm.matmul(x_g, dy_g.transpose(0, 2, 1))
            if data_grad:
                gemm.matmul(w_mat.transpose(0, 2, 1), dy_g, out=dx[image].reshape(x_g.shape))
    else:
        for start, stop in image_chunks(x.shape, g, x.dtype.itemsize):
            n = stop - start
            cols = im2col_fn(x[start:stop], g)
            dy_g = dy[start:stop].reshape(n, num_filter, out_size).transpose(1, 0, 2)
            if not dy_g.flags.c_contiguous:
                dy_g = _copy_into(empty(dy_g.shape, dy_g.dtype), dy_g)
            dy_g = dy_g.reshape(g.num_group, -1, n * out_size)
            dw_t += gemm.matmul(cols, dy_g.transpose(0, 2, 1))
            if not data_grad:
                continue
            # the column gradients overwrite the columns (dW is done with them): one large
            # buffer fewer per chunk; never when the columns are a (read-only) window view
            reusable = cols.flags.writeable and not np.may_share_memory(cols, x)
            dcols = gemm.matmul(w_mat.transpose(0, 2, 1), dy_g, out=cols if reusable else None)
            col2im_fn(dcols, g, n, out=dx[start:stop])
    db = bias_grad(dy) if cache.has_bias else None
    return dx, transpose_fn(dw_t).reshape(weight.shape), db


def conv_forward(x, weight, bias, *, kernel=None, stride=1, dilate=1, pad=0, num_group=1):
    """Convolution forward. x (N, C, *spatial), weight (F, C/G, *kernel), bias (F,) or None.

    Returns (y (N, F, *out), ConvCache); y has x's dtype (float32 or float64, shared by all inputs).
    kernel None takes weight's spatial shape; stride/dilate/pad are ints or one per dimension."""
    x, weight, bias = check_inputs(x, weight, bias)
    geometry = conv_geometry(x.shape, weight.shape, kernel=kernel, stride=stride, dilate=dilate,
                             pad=pad, num_group=num_group)
    y = conv_forward_with(im2col, x, weight, bias, geometry)
    return y, ConvCache(x, weight, bias is not None, geometry)


def conv_backward(dy, cache: ConvCache, *, data_grad=True):
    """Convolution backward: (dx, dweight, dbias) for head gradient dy (N, F, *out); dbias None
    when the forward had no bias; dx None when data_grad is False (the data needs no gradient)."""
    return conv_backward_with(im2col, col2im, check_out_grad(dy, cache), cache,
                              data_grad=bool(data_grad))
