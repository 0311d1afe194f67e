"""Numba Winograd F(4x4, 3x3) transforms: same names, signatures and results as ssdref.layers.winograd43.

Bit-identical to the NumPy transforms: `_bt`, `_g`, `_at`, `_a`, `_gt` spell out `_rows_bt`,
`_rows_g`, `_rows_at`, `_rows_a`, `_rows_gt` operation for operation, with the constants rounded to
the data's dtype once (`_constants`, as the spec's `_c`); LLVM does not reassociate or contract
float arithmetic without fastmath, which these kernels do not use. Layout and parallel split as
ssdref.kernels.cpu_winograd (one task per (channel or filter, image) plane; results do not depend
on the thread count). `ssdref.kernels.cpu_conv` decides which layers take F(4x4, 3x3).
"""
from __future__ import annotations

import numba
import numpy as np

from ssdref.kernels import buffers
from ssdref.kernels.cpu_winograd import load_tile_rows
from ssdref.layers import winograd43 as SPEC          # the NumPy transforms, equal bit for bit
from ssdref.layers.winograd43 import POINTS, TILE, tile_counts   # noqa: F401 (the driver reads them)

# indices into the constants array (spec values, rounded to the dtype by `_constants`)
_VALUES = (2, 3, 4, 5, 0.5, 0.25, 0.125, 8, 1 / 6, 1 / 30, 4 / 15, 1 / 15, 32)
TWO, THREE, FOUR, FIVE, HALF, QUARTER, EIGHTH, EIGHT, SIXTH, THIRTIETH, FOUR_15THS, FIFTEENTH, \
    THIRTY_TWO = range(len(_VALUES))


def _constants(dtype):
    return np.array(_VALUES, np.float64).astype(dtype)


@numba.njit(cache=True, inline="always")
def _bt(d0, d1, d2, d3, d4, d5, k):
    return (((d0 + d4) * k[TWO] - d2 * k[FOUR]) + (d1 - d3) * k[THREE],
            ((d4 - d1) * k[TWO] - d2 * k[FIVE]) - d3,
            ((d1 + d4) * k[TWO] - d3 * k[FIVE]) + d2,
            (d4 - d2) * k[TWO] + (d3 - d1),
            (d1 - d3) * k[TWO] + (d4 - d2),
            ((d1 + d5) * k[TWO] - d3 * k[FOUR]) + (d2 - d4) * k[THREE])


@numba.njit(cache=True, inline="always")
def _g(g0, g1, g2, k):
    return (g0 * k[HALF], -(((g0 + g1) + g2) * k[SIXTH]), ((g0 - g1) + g2) * k[SIXTH],
            ((g0 + g1 * k[TWO]) + g2 * k[FOUR]) * k[THIRTIETH],
            ((g1 * k[TWO] - g0 * k[FOUR]) - g2) * k[FOUR_15THS], g2 * k[HALF])


@numba.njit(cache=True, inline="always")
def _at(m0, m1, m2, m3, m4, m5, k):
    p12, m12 = m1 + m2, m1 - m2
    return ((m0 + p12) + (m3 + m4), m12 + (m3 * k[TWO] - m4 * k[HALF]),
            p12 + (m3 * k[FOUR] + m4 * k[QUARTER]), (m12 + (m3 * k[EIGHT] - m4 * k[EIGHTH])) + m5)


@numba.njit(cache=True, inline="always")
def _a(y0, y1, y2, y3, k):
    even, odd = y0 + y2, y1 + y3
    return (y0, even + odd, even - odd, (y0 + y2 * k[FOUR]) + (y1 * k[TWO] + y3 * k[EIGHT]),
            (y0 + y2 * k[QUARTER]) - (y1 * k[HALF] + y3 * k[EIGHTH]), y3)


@numba.njit(cache=True, inline="always")
def _gt(u0, u1, u2, u3, u4, u5, k):
    d21 = (u2 - u1) * k[SIXTH]
    return (u0 * k[HALF] + (d21 + (u3 - u4 * k[THIRTY_TWO]) * k[THIRTIETH]),
            (u3 + u4 * k[EIGHT]) * k[FIFTEENTH] - (u1 + u2) * k[SIXTH],
            (d21 + (u3 * k[TWO] - u4 * k[FOUR]) * k[FIFTEENTH]) + u5 * k[HALF])


@numba.njit(cache=True, parallel=True)
def _weight_transform(g, k, u):
    """g (G, F/G, C/G, 3, 3) -> u (36, G, F/G, C/G): G along rows (per column), then columns.
    Each task fills a (36, C/G) block first and stores it row by row: 36 scattered stores per
    channel ran ~25x slower on 512 x 512 layers (36 write streams a page apart)."""
    groups, filters, channels = g.shape[:3]
    for task in numba.prange(groups * filters):
        grp, f = task // filters, task % filters
        rows = np.empty((6, 3), g.dtype)
        block = np.empty((36, channels), g.dtype)
        for c in range(channels):
            for s in range(3):
                rows[0, s], rows[1, s], rows[2, s], rows[3, s], rows[4, s], rows[5, s] = \
                    _g(g[grp, f, c, 0, s], g[grp, f, c, 1, s], g[grp, f, c, 2, s], k)
            for r in range(6):
                block[6 * r, c], block[6 * r + 1, c], block[6 * r + 2, c], block[6 * r + 3, c], \
                    block[6 * r + 4, c], block[6 * r + 5, c] = _g(rows[r, 0], rows[r, 1], rows[r, 2], k)
        for point in range(36):
            u[point, grp, f, :] = block[point, :]


@numba.njit(cache=True, parallel=True)
def _input_transform(x, ph, pw, th, tw, k, v):
    """Per plane: for every tile row, its 6 input rows (zero-padded) -> B^T along rows once per
    column (adjacent tiles share two columns); then B^T along columns per tile, one output row r
    (six rows of V) at a time: storing all 36 rows of V per tile row ran ~2x slower."""
    n, channels, height, width = x.shape
    tiles, wp = th * tw, 4 * tw + 2
    lo, hi = pw, min(pw + width, wp)          # padded columns [lo, hi) hold x's columns 0 ...
    for task in numba.prange(channels * n):
        c, img = task // n, task % n
        d = np.zeros((6, wp), x.dtype)
        a = np.empty((6, th, wp), x.dtype)     # a[r, i, q]: row r of B^T d, tile row i, column q
        for i in range(th):
            r0 = 4 * i - ph
            for t in range(6):
                if 0 <= r0 + t < height:
                    d[t, lo:hi] = x[img, c, r0 + t, :hi - lo]
                else:
                    d[t, lo:hi] = 0
            for q in range(wp):                 # B^T along rows, per padded column
                a[0, i, q], a[1, i, q], a[2, i, q], a[3, i, q], a[4, i, q], a[5, i, q] = \
                    _bt(d[0, q], d[1, q], d[2, q], d[3, q], d[4, q], d[5, q], k)
        base = img * tiles
        for r in range(6):                      # B^T along columns, per tile
            for i in range(th):
                col0 = base + i * tw
                for j in range(tw):
                    q = 4 * j
                    v[6 * r, c, col0 + j], v[6 * r + 1, c, col0 + j], v[6 * r + 2, c, col0 + j], \
                        v[6 * r + 3, c, col0 + j], v[6 * r + 4, c, col0 + j], \
                        v[6 * r + 5, c, col0 + j] = _bt(a[r, i, q], a[r, i, q + 1], a[r, i, q + 2],
                                                        a[r, i, q + 3], a[r, i, q + 4],
                                                        a[r, i, q + 5], k)


@numba.njit(cache=True, parallel=True)
def _output_transform(m, bias, has_bias, n, th, tw, k, y):
    """Per plane: A^T along rows for all its tiles, six input rows of M at a time (contiguous in
    the tile index; reading all 36 per tile row ran ~2x slower), then per tile row A^T along
    columns into four output rows, cropped at the edges."""
    num_filter = m.shape[1]
    ho, wo = y.shape[2], y.shape[3]
    tiles = th * tw
    for task in numba.prange(num_filter * n):
        f, img = task // n, task % n
        base = img * tiles
        b = np.empty((4, 6, tiles), m.dtype)    # b[a, s, tile]: row a of A^T M, tile column s
        out = np.empty((4, 4 * tw), m.dtype)
        for s in range(6):
            for t in range(tiles):
                b[0, s, t], b[1, s, t], b[2, s, t], b[3, s, t] = \
                    _at(m[s, f, base + t], m[6 + s, f, base + t], m[12 + s, f, base + t],
                        m[18 + s, f, base + t], m[24 + s, f, base + t], m[30 + s, f, base + t], k)
        for i in range(th):
            t0 = i * tw
            for a in range(4):
                for j in range(tw):
                    out[a, 4 * j], out[a, 4 * j + 1], out[a, 4 * j + 2], out[a, 4 * j + 3] = \
                        _at(b[a, 0, t0 + j], b[a, 1, t0 + j], b[a, 2, t0 + j], b[a, 3, t0 + j],
                            b[a, 4, t0 + j], b[a, 5, t0 + j], k)
            if has_bias:
                out += bias[f]
            for a in range(4):
                if 4 * i + a < ho:
                    y[img, f, 4 * i + a, :] = out[a, :wo]


@numba.njit(cache=True, parallel=True)
def _grad_transform(dy, th, tw, k, z):
    """Per plane and tile row: dy's four rows (zero past the edge) -> A along rows per column,
    then A along columns per tile, as the NumPy spec."""
    n, num_filter = dy.shape[:2]
    tiles = th * tw
    for task in numba.prange(num_filter * n):
        f, img = task // n, task % n
        rows = np.zeros((4, 4 * tw), dy.dtype)
        t = np.empty((6, 4 * tw), dy.dtype)
        for i in range(th):
            load_tile_rows(dy, img, f, i, 4, rows)
            for q in range(4 * tw):
                t[0, q], t[1, q], t[2, q], t[3, q], t[4, q], t[5, q] = \
                    _a(rows[0, q], rows[1, q], rows[2, q], rows[3, q], k)
            col0 = img * tiles + i * tw
            for r in range(6):
                for j in range(tw):
                    q = 4 * j
                    z[6 * r, f, col0 + j], z[6 * r + 1, f, col0 + j], z[6 * r + 2, f, col0 + j], \
                        z[6 * r + 3, f, col0 + j], z[6 * r + 4, f, col0 + j], \
                        z[6 * r + 5, f, col0 + j] = _a(t[r, q], t[r, q + 1], t[r, q + 2],
                                                       t[r, q + 3], k)


@numba.njit(cache=True, parallel=True)
def _weight_grad_transform(du, k, dw):
    """du (36, G, F/G, C/G) -> dw (G, F/G, C/G, 3, 3): G^T along rows per column, then columns."""
    groups, filters, channels = du.shape[1:]
    for task in numba.prange(groups * filters):
        grp, f = task // filters, task % filters
        rows = np.empty((3, 6), du.dtype)
        for c in range(channels):
            for s in range(6):
                rows[0, s], rows[1, s], rows[2, s] = \
                    _gt(du[s, grp, f, c], du[6 + s, grp, f, c], du[12 + s, grp, f, c],
                        du[18 + s, grp, f, c], du[24 + s, grp, f, c], du[30 + s, grp, f, c], k)
            for r in range(3):
                dw[grp, f, c, r, 0], dw[grp, f, c, r, 1], dw[grp, f, c, r, 2] = \
                    _gt(rows[r, 0], rows[r, 1], rows[r, 2], rows[r, 3], rows[r, 4], rows[r, 5], k)


def weight_transform(weight, num_group, flip=False):
    """Numba version of ssdref.layers.winograd43.weight_transform (bit-identical); flip=True reads
    the flipped kernel through a strided view instead of copying it."""
    num_filter, group_channels = weight.shape[:2]
    g = np.ascontiguousarray(weight).reshape(num_group, num_filter // num_group, group_channels, 3, 3)
    if flip:
        g = g.swapaxes(1, 2)[..., ::-1, ::-1]
    u = buffers.empty((36,) + g.shape[:3], weight.dtype)
    _weight_transform(g, _constants(weight.dtype), u)
    return u


def input_transform(x, pad, th, tw, v):
    """Numba version of ssdref.layers.winograd43.input_transform (bit-identical)."""
    _input_transform(np.ascontiguousarray(x), int(pad[0]), int(pad[1]), int(th), int(tw),
                     _constants(x.dtype), v)
    return v


def output_transform(m, bias, n, out_spatial, y):
    """Numba version of ssdref.layers.winograd43.output_transform (bit-identical)."""
    th, tw = tile_counts(out_spatial)
    has_bias = bias is not None
    bias_arr = bias if has_bias else np.zeros(1, m.dtype)
    _output_transform(np.ascontiguousarray(m), bias_arr, has_bias, int(n), th, tw,
                      _constants(m.dtype), y)
    return y


def grad_transform(dy, th, tw, z):
    """Numba version of ssdref.layers.winograd43.grad_transform (bit-identical)."""
    _grad_transform(np.ascontiguousarray(dy), int(th), int(tw), _constants(dy.dtype), z)
    return z


def weight_grad_transform(du):
    """Numba version of ssdref.layers.winograd43.weight_grad_transform (bit-identical)."""
    groups, filters, channels = du.shape[1:]
    dw = np.empty((groups, filters, channels, 3, 3), du.dtype)
    _weight_grad_transform(np.ascontiguousarray(du), _constants(du.dtype), dw)
    return dw.reshape(groups * filters, channels, 3, 3)
