"""Numba Winograd F(2x2, 3x3) transforms: same names, signatures and results as ssdref.layers.winograd.

Bit-identical to the NumPy transforms: every tile value is computed with the same additions in
the same order (`_bt` / `_at` spell out `_rows_bt` / `_rows_at`); LLVM does not reassociate or
contract float arithmetic without fastmath, which these kernels do not use.
Speed: parallel over (channel, image) planes, each plane owning its V rows / its y plane (results
do not depend on the thread count); interior tiles load their 4x4 window without bounds tests.

Which layers: `chosen` - a 3x3, stride-1, undilated 2-D layer (`ssdref.layers.winograd.applies`)
with at least MIN_CHANNELS input channels and filters per group. The 16 GEMMs' inner dimension is
the channel count (forward C/G, dx F/G), against im2col's C/G*9: measured on the 2-core EPYC,
conv1_1 (3 channels) ran 2.5x slower by Winograd and a 32-channel layer ~10% slower, while 64
channels and up gain 15-45%. The switch is
`ssdref.backend.use_conv_algorithm('auto' | 'f2x2' | 'im2col')` (a contextvar, default from
SSDREF_WINOGRAD: 1 (the default) -> 'auto', Winograd where `chosen` holds; 2 -> 'f2x2', the same
layers by F(2x2, 3x3) only; 0 -> im2col everywhere, bit-identical to the NumPy specification);
portable precision always takes im2col. Under 'auto', `transforms_for` picks this module or
F(4x4, 3x3) (ssdref.kernels.cpu_winograd43) per call.
"""
from __future__ import annotations

import math
import sys

import numba
import numpy as np

from ssdref.backend import (conv_algorithm_from_env, get_conv_algorithm, get_precision,
                            use_conv_algorithm)
from ssdref.layers import winograd as _winograd
from ssdref.layers.winograd import POINTS, TILE, tile_counts   # noqa: F401 (the driver reads them)


def _enabled_from_env() -> bool:
    """SSDREF_WINOGRAD as a bool (validated by ssdref.backend.conv_algorithm_from_env)."""
    return conv_algorithm_from_env() != "im2col"


def __getattr__(name):
    if name == "ENABLED":   # read-only view of the context's choice, for reports (bench/run.py)
        return get_conv_algorithm() != "im2col"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MIN_CHANNELS = 64
SPEC = _winograd          # the NumPy transforms these kernels equal bit for bit

# Precision: F(4x4)'s float32 rounding is ~3e-6 of the largest output against F(2x2)'s few 1e-7
# (tests bound both). In a whole SSD300 training step that shows mostly as *which* near-ties flip:
# ssdref float32 against ssdref float64 (batch 2, the conformance test's draw), seeds 1-4: F(4x4)
# 2.1e-3 ... 3.6e-3 on the VGG gradients, F(2x2) 7.3e-7, 1.5e-6, 2.1e-3, 2.4e-3, im2col 4.5e-3 at
# seed 3 - a ReLU sign or max-pool argmax a few ulps from a tie moves a conv gradient by ~2e-3,
# whatever the algorithm (ssdref.autograd.replay); given the forward's values, the float32 backward
# is within 2.9e-6 (F(4x4)) and 9.6e-7 (F(2x2)) of exact. 'f2x2' (SSDREF_WINOGRAD=2) keeps to F(2x2)
# for a third of the rounding at ~25% more time (body forward+backward).
# Under 'auto', F(4x4) (ssdref.kernels.cpu_winograd43) replaces F(2x2, 3x3) where a call has at
# least max(LARGE_TILE_MIN_TILES, C/G * F/G / WEIGHTS_PER_TILE) 4x4 tiles: its 36 GEMMs are narrower
# (a quarter of the tiles) and its U (36 x C x F) larger. Measured on the 2-core EPYC (AVX-512):
# VGG16 batch 1, 1.3-1.6x faster per layer from 300x300 x 64 channels down to 75x75 x 256 (361
# tiles), 1.5x-3x slower at 38x38 x 512 (100 tiles); batch 8, 38x38: 1.3x faster at 256 -> 512
# channels (800 tiles), 1.1x at 512 -> 512, 1.2x slower at 19x19 x 512 (200 tiles).
LARGE_TILE_MIN_TILES = 256
WEIGHTS_PER_TILE = 256


def chosen(geometry, num_filter, channels) -> bool:
    """Whether the Numba Convolution runs this layer by Winograd (see the module docstring)."""
    groups = geometry.num_group
    return get_conv_algorithm() != "im2col" and get_precision() == "fast" and \
        _winograd.applies(geometry) and \
        min(num_filter, channels) // groups >= MIN_CHANNELS


def transforms_for(geometry, n_img, num_filter, channels):
    """The kernel module that computes a chosen layer: ssdref.kernels.cpu_winograd43 (F(4x4, 3x3))
    when the conv algorithm is 'auto' and the call has many tiles for its channel counts (see
    LARGE_TILE_MIN_TILES), else this module (F(2x2, 3x3)). Both are bit-identical to their NumPy
    module (`SPEC`). For dx pass the data gradient's geometry with filters and channels swapped."""
    from ssdref.kernels import cpu_winograd43
    groups = geometry.num_group
    tiles = n_img * math.prod(cpu_winograd43.tile_counts(geometry.out_spatial))
    weights = (num_filter // groups) * (channels // groups)
    if get_conv_algorithm() == "auto" and \
            tiles >= max(LARGE_TILE_MIN_TILES, weights // WEIGHTS_PER_TILE):
        return cpu_winograd43
    return sys.modules[__name__]


def disabled():
    """Within the block the Numba Convolution runs im2col everywhere, bit-identical to the NumPy
    specification: `ssdref.backend.use_conv_algorithm('im2col')` (context-local, thread-safe)."""
    return use_conv_algorithm("im2col")


@numba.njit(cache=True, inline="always")
def _bt(d0, d1, d2, d3):
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@numba.njit(cache=True, inline="always")
def _at(m0, m1, m2, m3):
    return (m0 + m1) + m2, (m1 - m2) - m3


@numba.njit(cache=True, inline="always")
def _g(g0, g1, g2, half):
    return g0, ((g0 + g1) + g2) * half, ((g0 - g1) + g2) * half, g2


@numba.njit(cache=True, parallel=True)
def _weight_transform(g, u):
    """g (G, F/G, C/G, 3, 3) -> u (16, G, F/G, C/G): G along rows (per column), then columns."""
    groups, filters, channels = g.shape[:3]
    half = np.full(1, 0.5, g.dtype)[0]
    for task in numba.prange(groups * filters):
        grp, f = task // filters, task % filters
        for c in range(channels):
            r00, r10, r20, r30 = _g(g[grp, f, c, 0, 0], g[grp, f, c, 1, 0], g[grp, f, c, 2, 0], half)
            r01, r11, r21, r31 = _g(g[grp, f, c, 0, 1], g[grp, f, c, 1, 1], g[grp, f, c, 2, 1], half)
            r02, r12, r22, r32 = _g(g[grp, f, c, 0, 2], g[grp, f, c, 1, 2], g[grp, f, c, 2, 2], half)
            u[0, grp, f, c], u[1, grp, f, c], u[2, grp, f, c], u[3, grp, f, c] = \
                _g(r00, r01, r02, half)
            u[4, grp, f, c], u[5, grp, f, c], u[6, grp, f, c], u[7, grp, f, c] = \
                _g(r10, r11, r12, half)
            u[8, grp, f, c], u[9, grp, f, c], u[10, grp, f, c], u[11, grp, f, c] = \
                _g(r20, r21, r22, half)
            u[12, grp, f, c], u[13, grp, f, c], u[14, grp, f, c], u[15, grp, f, c] = \
                _g(r30, r31, r32, half)


@numba.njit(cache=True, inline="always")
def _a(y0, y1):
    return y0, y0 + y1, y0 - y1, -y1


@numba.njit(cache=True, inline="always")
def _gt(u0, u1, u2, u3, half):
    return u0 + (u1 + u2) * half, (u1 - u2) * half, (u1 + u2) * half + u3


@numba.njit(cache=True, inline="always")
def load_tile_rows(dy, img, f, i, tile, rows):
    """rows[a, :Wo] = row tile*i + a of dy's plane (img, f), zeros past the last row: the dy rows
    one row of output tiles reads (shared by the F(2x2) and F(4x4) grad transforms)."""
    ho = dy.shape[2]
    wo = dy.shape[3]
    for a in range(tile):
        if tile * i + a < ho:
            rows[a, :wo] = dy[img, f, tile * i + a, :]
        else:
            rows[a, :wo] = 0


@numba.njit(cache=True, parallel=True)
def _grad_transform(dy, th, tw, z):
    """Per plane and tile row: dy's two rows (zero past the edge) -> A along rows per column,
    then A along columns per tile, as the NumPy spec."""
    n, num_filter = dy.shape[:2]
    tiles = th * tw
    for task in numba.prange(num_filter * n):
        f, img = task // n, task % n
        rows = np.zeros((2, 2 * tw), dy.dtype)
        t = np.empty((4, 2 * tw), dy.dtype)
        for i in range(th):
            load_tile_rows(dy, img, f, i, 2, rows)
            for q in range(2 * tw):
                t[0, q], t[1, q], t[2, q], t[3, q] = _a(rows[0, q], rows[1, q])
            col0 = img * tiles + i * tw
            for r in range(4):
                for j in range(tw):
                    z[4 * r, f, col0 + j], z[4 * r + 1, f, col0 + j], \
                        z[4 * r + 2, f, col0 + j], z[4 * r + 3, f, col0 + j] = \
                        _a(t[r, 2 * j], t[r, 2 * j + 1])


@numba.njit(cache=True, parallel=True)
def _weight_grad_transform(du, dw):
    """du (16, G, F/G, C/G) -> dw (G, F/G, C/G, 3, 3): G^T along rows per column, then columns."""
    groups, filters, channels = du.shape[1:]
    half = np.full(1, 0.5, du.dtype)[0]
    for task in numba.prange(groups * filters):
        grp, f = task // filters, task % filters
        for c in range(channels):
            r00, r01, r02 = _gt(du[0, grp, f, c], du[4, grp, f, c], du[8, grp, f, c],
                                du[12, grp, f, c], half)
            r10, r11, r12 = _gt(du[1, grp, f, c], du[5, grp, f, c], du[9, grp, f, c],
                                du[13, grp, f, c], half)
            r20, r21, r22 = _gt(du[2, grp, f, c], du[6, grp, f, c], du[10, grp, f, c],
                                du[14, grp, f, c], half)
            r30, r31, r32 = _gt(du[3, grp, f, c], du[7, grp, f, c], du[11, grp, f, c],
                                du[15, grp, f, c], half)
            dw[grp, f, c, 0, 0], dw[grp, f, c, 0, 1], dw[grp, f, c, 0, 2] = \
                _gt(r00, r10, r20, r30, half)
            dw[grp, f, c, 1, 0], dw[grp, f, c, 1, 1], dw[grp, f, c, 1, 2] = \
                _gt(r01, r11, r21, r31, half)
            dw[grp, f, c, 2, 0], dw[grp, f, c, 2, 1], dw[grp, f, c, 2, 2] = \
                _gt(r02, r12, r22, r32, half)


@numba.njit(cache=True, parallel=True)
def _input_transform(x, ph, pw, th, tw, v):
    """Per plane and tile row: the 4 input rows (zero-padded) -> B^T along rows once per column
    (adjacent tiles share two columns), then B^T along columns per tile; V rows are contiguous
    in the tile index, so each of the 16 stores runs along a plane of V."""
    n, channels, height, width = x.shape
    tiles, wp = th * tw, 2 * tw + 2
    lo, hi = pw, min(pw + width, wp)          # padded columns [lo, hi) hold x's columns 0 ...
    for task in numba.prange(channels * n):
        c, img = task // n, task % n
        d = np.zeros((4, wp), x.dtype)
        a = np.empty((4, wp), x.dtype)
        for i in range(th):
            r0 = 2 * i - ph
            for t in range(4):
                if 0 <= r0 + t < height:
                    d[t, lo:hi] = x[img, c, r0 + t, :hi - lo]
                else:
                    d[t, lo:hi] = 0
            for q in range(wp):                 # B^T along rows, per padded column
                a[0, q], a[1, q], a[2, q], a[3, q] = _bt(d[0, q], d[1, q], d[2, q], d[3, q])
            col0 = img * tiles + i * tw
            for r in range(4):                  # B^T along columns, per tile
                for j in range(tw):
                    q = 2 * j
                    v[4 * r, c, col0 + j] = a[r, q] - a[r, q + 2]
                    v[4 * r + 1, c, col0 + j] = a[r, q + 1] + a[r, q + 2]
                    v[4 * r + 2, c, col0 + j] = a[r, q + 2] - a[r, q + 1]
                    v[4 * r + 3, c, col0 + j] = a[r, q + 1] - a[r, q + 3]


@numba.njit(cache=True, parallel=True)
def _output_transform(m, bias, has_bias, n, th, tw, y):
    """Per plane and tile row: A^T along rows for every tile at once (contiguous in the tile
    index), then A^T along columns into two output rows, cropped at the edges."""
    num_filter = m.shape[1]
    ho, wo = y.shape[2], y.shape[3]
    tiles = th * tw
    for task in numba.prange(num_filter * n):
        f, img = task // n, task % n
        b = np.empty((2, 4, tw), m.dtype)       # b[a, s, j]: row a of A^T M, tile column s
        out = np.empty((2, 2 * tw), m.dtype)
        for i in range(th):
            col0 = img * tiles + i * tw
            for s in range(4):
                for j in range(tw):
                    b[0, s, j], b[1, s, j] = _at(m[s, f, col0 + j], m[4 + s, f, col0 + j],
                                                 m[8 + s, f, col0 + j], m[12 + s, f, col0 + j])
            for a in range(2):
                for j in range(tw):
                    out[a, 2 * j], out[a, 2 * j + 1] = _at(b[a, 0, j], b[a, 1, j], b[a, 2, j],
                                                           b[a, 3, j])
            if has_bias:
                out += bias[f]
            for a in range(2):
                if 2 * i + a < ho:
                    y[img, f, 2 * i + a, :] = out[a, :wo]


def weight_transform(weight, num_group, flip=False):
    """Numba version of ssdref.layers.winograd.weight_transform (bit-identical); flip=True reads
    the flipped kernel through a strided view instead of copying it."""
    num_filter, group_channels = weight.shape[:2]
    g = np.ascontiguousarray(weight).reshape(num_group, num_filter // num_group, group_channels, 3, 3)
    if flip:
        g = g.swapaxes(1, 2)[..., ::-1, ::-1]
    u = np.empty((16,) + g.shape[:3], weight.dtype)
    _weight_transform(g, u)
    return u


def input_transform(x, pad, th, tw, v):
    """Numba version of ssdref.layers.winograd.input_transform (bit-identical)."""
    _input_transform(np.ascontiguousarray(x), int(pad[0]), int(pad[1]), int(th), int(tw), v)
    return v


def output_transform(m, bias, n, out_spatial, y):
    """Numba version of ssdref.layers.winograd.output_transform (bit-identical)."""
    th, tw = (out_spatial[0] + 1) // 2, (out_spatial[1] + 1) // 2
    has_bias = bias is not None
    bias_arr = bias if has_bias else np.zeros(1, m.dtype)
    _output_transform(np.ascontiguousarray(m), bias_arr, has_bias, int(n), th, tw, y)
    return y


def grad_transform(dy, th, tw, z):
    """Numba version of ssdref.layers.winograd.grad_transform (bit-identical)."""
    _grad_transform(np.ascontiguousarray(dy), int(th), int(tw), z)
    return z


def weight_grad_transform(du):
    """Numba version of ssdref.layers.winograd.weight_grad_transform (bit-identical)."""
    groups, filters, channels = du.shape[1:]
    dw = np.empty((groups, filters, channels, 3, 3), du.dtype)
    _weight_grad_transform(np.ascontiguousarray(du), dw)
    return dw.reshape(groups * filters, channels, 3, 3)
