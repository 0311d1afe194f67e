"""Winograd F(4x4, 3x3): a 3x3, stride-1, undilated convolution with 36 products per 4x4 output tile.

Mirrors: the same Convolution (src/operator/nn/convolution-inl.h, spec mxnet-layers.md §2); oneDNN's
`convolution_winograd` is this algorithm. Lavin & Gray (2016) with the
interpolation points 0, 1, -1, 2, -1/2, ∞ (Barabasz et al., "Error analysis and improving the
accuracy of Winograd convolution", 2020: measured here ~3x closer to the exact result in float32
than the usual 0, ±1, ±2, ∞). Per 6x6 input tile d and 3x3 kernel g the 4x4 output is
Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A, with B^T's rows scaled by 2 (G's by 1/2) to integers:

    B^T = [[2, 3, -4, -3, 2, 0], [0, -2, -5, -1, 2, 0], [0, 2, 1, -5, 2, 0],
           [0, -1, -2, 1, 2, 0], [0, 2, -1, -2, 1, 0], [0, 2, 3, -4, -3, 2]]
    G   = [[1/2, 0, 0], [-1/6, -1/6, -1/6], [1/6, -1/6, 1/6],
           [1/30, 1/15, 2/15], [-16/15, 8/15, -4/15], [0, 0, 1/2]]
    A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -1/2, 0], [0, 1, 1, 4, 1/4, 0],
           [0, 1, -1, 8, -1/8, 1]]

36 GEMMs U[k] (F, C) @ V[k] (C, tiles) over a quarter of F(2x2, 3x3)'s tiles: 2.25 multiplies per
output (F(2x2, 3x3): 4, im2col: 9), and 2.25 transformed values per output to write and read
(F(2x2, 3x3): 4). The price is rounding: 1/6, 1/30 and 4/15 are not exact and the transforms multiply
by up to 8, so float32 results are several times further from the exact convolution than
F(2x2, 3x3)'s (a few 1e-6 of the largest output on VGG-like layers, ~10 float32 ulps; tests bound
it), which is why `ssdref.kernels.cpu_conv` takes it only where it pays (large feature maps).

Everything else is `ssdref.layers.winograd`'s: the same drivers (`winograd_forward_with`,
`winograd_weight_grad_with`, which take the transforms as a module), the same layouts with 36 tile
positions for 16 (k = 6*row + column), tiles of 4x4 outputs reading the 6x6 window at
(4i - pad_h, 4j - pad_w), zeros outside the input, outputs past the edge dropped; dx as the
correlation of dy with the flipped kernel, dW = G^T (sum over tiles of Z V^T) G, Z = A dY A^T.
Every addition is written out in a fixed order (the `_rows_*` functions); the Numba kernels
(`ssdref.kernels.cpu_winograd43`) do the same operations in the same order: bit-identical.
"""
from __future__ import annotations

import sys

import numpy as np

from ssdref.layers import winograd as _winograd
from ssdref.layers.conv import data_grad_geometry

POINTS = 36       # transformed values per tile (6 x 6)
TILE = 4          # outputs per tile side


def tile_counts(out_spatial):
    """(th, tw): 4x4 output tiles per image, the last row / column of tiles possibly partial."""
    return (out_spatial[0] + 3) // 4, (out_spatial[1] + 3) // 4


def _c(like, value):
    """A constant in the operands' dtype (float32 stays float32)."""
    return like.dtype.type(value)


def _rows_bt(d0, d1, d2, d3, d4, d5):
    """B^T along one axis: 6 values in, 6 out."""
    two, three, four, five = _c(d0, 2), _c(d0, 3), _c(d0, 4), _c(d0, 5)
    return (((d0 + d4) * two - d2 * four) + (d1 - d3) * three,
            ((d4 - d1) * two - d2 * five) - d3,
            ((d1 + d4) * two - d3 * five) + d2,
            (d4 - d2) * two + (d3 - d1),
            (d1 - d3) * two + (d4 - d2),
            ((d1 + d5) * two - d3 * four) + (d2 - d4) * three)


def _rows_g(g0, g1, g2):
    """G along one axis: 3 values in, 6 out (1/6, 1/30 and 4/15 rounded to the dtype)."""
    half, two, four = _c(g0, 0.5), _c(g0, 2), _c(g0, 4)
    sixth, thirtieth, four_15ths = _c(g0, 1 / 6), _c(g0, 1 / 30), _c(g0, 4 / 15)
    return (g0 * half, -(((g0 + g1) + g2) * sixth), ((g0 - g1) + g2) * sixth,
            ((g0 + g1 * two) + g2 * four) * thirtieth, ((g1 * two - g0 * four) - g2) * four_15ths,
            g2 * half)


def _rows_at(m0, m1, m2, m3, m4, m5):
    """A^T along one axis: 6 values in, 4 out (powers of two: exact multipliers)."""
    two, four, eight = _c(m0, 2), _c(m0, 4), _c(m0, 8)
    half, quarter, eighth = _c(m0, 0.5), _c(m0, 0.25), _c(m0, 0.125)
    p12, m12 = m1 + m2, m1 - m2
    return ((m0 + p12) + (m3 + m4), m12 + (m3 * two - m4 * half),
            p12 + (m3 * four + m4 * quarter), (m12 + (m3 * eight - m4 * eighth)) + m5)


def _rows_a(y0, y1, y2, y3):
    """A along one axis (6 x 4): 4 values in, 6 out."""
    two, four, eight = _c(y0, 2), _c(y0, 4), _c(y0, 8)
    half, quarter, eighth = _c(y0, 0.5), _c(y0, 0.25), _c(y0, 0.125)
    even, odd = y0 + y2, y1 + y3
    return (y0, even + odd, even - odd, (y0 + y2 * four) + (y1 * two + y3 * eight),
            (y0 + y2 * quarter) - (y1 * half + y3 * eighth), y3)


def _rows_gt(u0, u1, u2, u3, u4, u5):
    """G^T along one axis (3 x 6): 6 values in, 3 out."""
    half, two, four, eight, thirty_two = (_c(u0, 0.5), _c(u0, 2), _c(u0, 4), _c(u0, 8),
                                          _c(u0, 32))
    sixth, thirtieth, fifteenth = _c(u0, 1 / 6), _c(u0, 1 / 30), _c(u0, 1 / 15)
    d21 = (u2 - u1) * sixth
    return (u0 * half + (d21 + (u3 - u4 * thirty_two) * thirtieth),
            (u3 + u4 * eight) * fifteenth - (u1 + u2) * sixth,
            (d21 + (u3 * two - u4 * four) * fifteenth) + u5 * half)


def weight_transform(weight, num_group, flip=False):
    """U = G g G^T for every (filter, channel) of weight (F, C/G, 3, 3): (36, G, F/G, C/G);
    flip=True: of `ssdref.layers.conv.flipped_kernel(weight)`, without materialising it."""
    return _winograd.tiled_weight_transform(_rows_g, TILE, weight, num_group, flip)


def input_transform(x, pad, th, tw, v):
    """V[6r+s, c, (img, i, j)] = (B^T d B)[r, s] of the 6x6 tile d at (4i - pad_h, 4j - pad_w).

    x (n, C, H, W); v (36, C, n*th*tw) is written in place (zeros stand in for cells outside x)."""
    return _winograd.tiled_input_transform(_rows_bt, TILE, x, pad, th, tw, v)


def output_transform(m, bias, n, out_spatial, y):
    """y[img, f, 4i + a, 4j + b] = (A^T M A)[a, b] (+ bias[f]) of tile (img, i, j); tiles past the
    output edge are cropped. m (36, F, n*th*tw); y (n, F, Ho, Wo) is written in place."""
    return _winograd.tiled_output_transform(_rows_at, TILE, m, bias, n, out_spatial, y)


def grad_transform(dy, th, tw, z):
    """Z[6r+s, f, (img, i, j)] = (A dY A^T)[r, s] of dy's 4x4 tile (i, j), zeros past the edge.

    dy (n, F, Ho, Wo); z (36, F, n*th*tw) is written in place."""
    return _winograd.tiled_grad_transform(_rows_a, TILE, dy, th, tw, z)


def weight_grad_transform(du):
    """dW = G^T dU G for every (filter, channel): du (36, G, F/G, C/G) -> (F, C/G, 3, 3)."""
    return _winograd.tiled_weight_grad_transform(_rows_gt, TILE, du)


def winograd_forward(x, weight, bias, geometry):
    """Convolution forward by F(4x4, 3x3) where `ssdref.layers.winograd.applies` holds (NumPy)."""
    return _winograd.winograd_forward_with(sys.modules[__name__], x, weight, bias, geometry)


def winograd_weight_grad(x, dy, geometry):
    """Convolution dW by F(4x4, 3x3) where `ssdref.layers.winograd.applies` holds (NumPy)."""
    return _winograd.winograd_weight_grad_with(sys.modules[__name__], x, dy, geometry)


def winograd_data_grad(dy, weight, geometry):
    """Convolution dx by F(4x4, 3x3): dy correlated with the flipped kernel under
    `data_grad_geometry(geometry)` (pad <= 2)."""
    return _winograd.winograd_forward_with(sys.modules[__name__], dy, weight, None,
                                           data_grad_geometry(geometry), flip=True)
