"""Winograd F(2x2, 3x3): a 3x3, stride-1, undilated convolution with 16 products per 2x2 output tile.

Mirrors: the same Convolution (src/operator/nn/convolution-inl.h, spec mxnet-layers.md §2); oneDNN
has the same algorithm (`convolution_winograd`). Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks" (2016): per 4x4 input tile d and 3x3 kernel g, the 2x2 output is

    Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A,    summed over input channels inside the brackets,

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

so the channel sum becomes 16 GEMMs, U[k] (F, C) @ V[k] (C, tiles), with 2.25x fewer multiplies than
im2col's one GEMM. The results equal the im2col convolution up to float rounding (every multiplier
is 0, ±1 or ±1/2, so the transforms only reorder additions); they are not bit-identical to it.

Conventions that bite:
- Every addition is written out in a fixed order (`_rows` / `_fold` below): the Numba kernels
  (`ssdref.kernels.cpu_conv`) do the same operations in the same order, so the two backends'
  Winograd results are bit-identical to each other.
- Tiles cover the output in 2x2 blocks from (0, 0); a tile reads the 4x4 input window starting at
  (2i - pad_h, 2j - pad_w); cells outside the input are zeros, outputs past the edge are dropped.
- Layouts: U (16, G, F/G, C/G); V (16, G, C/G, n*T), M (16, G, F/G, n*T) with T = th*tw tiles per
  image, column (image, tile row, tile column) in row-major order, k = 4*row + column of the tile.
- The data gradient of a stride-1 convolution is itself a stride-1 correlation of dy with the
  flipped kernel (`ssdref.layers.conv.data_grad_geometry`), so backward reuses the same driver.
- The weight gradient is the adjoint of the forward in U: dU[k] = sum over tiles of
  Z[k] (F, tiles) @ V[k]^T with Z = A dY A^T of each 2x2 tile of dy (zeros past the output edge),
  then dW = G^T dU G: again 16 GEMMs, with the long sum over tiles inside them.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from ssdref.layers import conv as _conv
from ssdref.layers.conv import ConvGeometry, data_grad_geometry, is_pointwise

POINTS = 16       # transformed values per tile (4 x 4); ssdref.layers.winograd43 has 36
TILE = 2          # outputs per tile side


def applies(geometry: ConvGeometry) -> bool:
    """F(2x2, 3x3) covers 2-D convolutions with a 3x3 kernel, stride 1 and dilation 1."""
    g = geometry
    return len(g.kernel) == 2 and g.kernel == (3, 3) and g.stride == (1, 1) and \
        g.dilate == (1, 1) and not is_pointwise(g)


def tile_counts(out_spatial):
    """(th, tw): 2x2 output tiles per image, the last row / column of tiles possibly partial."""
    return (out_spatial[0] + 1) // 2, (out_spatial[1] + 1) // 2


def _rows_bt(d0, d1, d2, d3):
    """B^T applied along one axis: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _rows_g(g0, g1, g2):
    """G applied along one axis: (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2)."""
    half = g0.dtype.type(0.5)
    return g0, ((g0 + g1) + g2) * half, ((g0 - g1) + g2) * half, g2


def _rows_at(m0, m1, m2, m3):
    """A^T applied along one axis: (m0 + m1 + m2, m1 - m2 - m3)."""
    return (m0 + m1) + m2, (m1 - m2) - m3


def _rows_a(y0, y1):
    """A along one axis (A = (A^T)^T, 4 x 2): (y0, y0 + y1, y0 - y1, -y1)."""
    return y0, y0 + y1, y0 - y1, -y1


def _rows_gt(u0, u1, u2, u3):
    """G^T along one axis (3 x 4): (u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3)."""
    half = u0.dtype.type(0.5)
    return u0 + (u1 + u2) * half, (u1 - u2) * half, (u1 + u2) * half + u3


# The tile layout, shared with F(4x4, 3x3) (ssdref.layers.winograd43): `tile` outputs per tile
# side read an alpha x alpha input window (alpha = tile + 2), and each module passes its own row
# transforms (`_rows_*`: alpha values in, alpha out, every addition in a fixed order). Tile position
# k = alpha*row + column; tile (img, i, j) is column img*th*tw + i*tw + j of V, M and Z.

def tiled_weight_transform(rows_g, tile, weight, num_group, flip=False):
    """U = G g G^T for every (filter, channel) of weight (F, C/G, 3, 3): (alpha^2, G, F/G, C/G).

    flip=True transforms the data-gradient kernel `ssdref.layers.conv.flipped_kernel(weight)`
    instead, (alpha^2, G, C/G, F/G), without materialising it."""
    alpha = tile + 2
    num_filter, group_channels = weight.shape[:2]
    g = weight.reshape(num_group, num_filter // num_group, group_channels, 3, 3)
    if flip:
        g = g.swapaxes(1, 2)[..., ::-1, ::-1]
    rows = rows_g(g[..., 0, :], g[..., 1, :], g[..., 2, :])           # alpha x (..., 3)
    u = [rows_g(r[..., 0], r[..., 1], r[..., 2]) for r in rows]        # u[row][col]: (...)
    return np.ascontiguousarray(np.stack([u[r][s] for r in range(alpha) for s in range(alpha)]))


def tiled_input_transform(rows_bt, tile, x, pad, th, tw, v):
    """V[alpha*r+s, c, (img, i, j)] = (B^T d B)[r, s] of the alpha x alpha window d at
    (tile*i - pad_h, tile*j - pad_w). x (n, C, H, W); v (alpha^2, C, n*th*tw) is written in place
    (zeros stand in for cells outside x)."""
    n, channels, height, width = x.shape
    ph, pw = pad
    alpha = tile + 2
    # zero-padded so that every tile's window lies inside: padded cell (r, s) is x[r - ph, s - pw]
    padded = np.zeros((n, channels, tile * th + 2, tile * tw + 2), x.dtype)
    r_lo, r_hi = ph, min(ph + height, tile * th + 2)
    s_lo, s_hi = pw, min(pw + width, tile * tw + 2)
    padded[:, :, r_lo:r_hi, s_lo:s_hi] = x[:, :, :r_hi - r_lo, :s_hi - s_lo]
    d = [[padded[:, :, r:r + tile * th:tile, s:s + tile * tw:tile] for s in range(alpha)]
         for r in range(alpha)]
    a = [rows_bt(*(d[r][s] for r in range(alpha))) for s in range(alpha)]     # a[col][row]
    for r in range(alpha):
        vr = rows_bt(*(a[s][r] for s in range(alpha)))
        for s in range(alpha):                                         # (n, C, th, tw) -> (C, n*T)
            v[alpha * r + s] = vr[s].transpose(1, 0, 2, 3).reshape(channels, -1)
    return v


def tiled_output_transform(rows_at, tile, m, bias, n, out_spatial, y):
    """y[img, f, tile*i + a, tile*j + b] = (A^T M A)[a, b] (+ bias[f]) of tile (img, i, j); tiles
    past the output edge are cropped. m (alpha^2, F, n*th*tw); y (n, F, Ho, Wo) is written in
    place."""
    ho, wo = out_spatial
    alpha = tile + 2
    th, tw = (ho + tile - 1) // tile, (wo + tile - 1) // tile
    num_filter = m.shape[1]
    mk = [m[k].reshape(num_filter, n, th, tw).transpose(1, 0, 2, 3) for k in range(alpha * alpha)]
    b = [rows_at(*(mk[alpha * r + s] for r in range(alpha))) for s in range(alpha)]   # b[col][a]
    for a in range(tile):
        ya = rows_at(*(b[s][a] for s in range(alpha)))
        for s in range(tile):
            block = ya[s] if bias is None else ya[s] + bias.reshape(1, -1, 1, 1)
            y[:, :, a::tile, s::tile] = block[:, :, :(ho - a + tile - 1) // tile,
                                              :(wo - s + tile - 1) // tile]
    return y


def tiled_grad_transform(rows_a, tile, dy, th, tw, z):
    """Z[alpha*r+s, f, (img, i, j)] = (A dY A^T)[r, s] of dy's tile x tile block (i, j), zeros past
    the edge. dy (n, F, Ho, Wo); z (alpha^2, F, n*th*tw) is written in place."""
    n, num_filter, ho, wo = dy.shape
    alpha = tile + 2
    padded = np.zeros((n, num_filter, tile * th, tile * tw), dy.dtype)
    padded[:, :, :ho, :wo] = dy
    y = [[padded[:, :, a::tile, b::tile] for b in range(tile)] for a in range(tile)]
    t = [rows_a(*(y[a][b] for a in range(tile))) for b in range(tile)]     # t[col][row]
    for r in range(alpha):
        zr = rows_a(*(t[b][r] for b in range(tile)))
        for s in range(alpha):
            z[alpha * r + s] = zr[s].transpose(1, 0, 2, 3).reshape(num_filter, -1)
    return z


def tiled_weight_grad_transform(rows_gt, tile, du):
    """dW = G^T dU G for every (filter, channel): du (alpha^2, G, F/G, C/G) -> (F, C/G, 3, 3)."""
    alpha = tile + 2
    groups, filters, channels = du.shape[1:]
    rows = [rows_gt(*(du[alpha * r + s] for r in range(alpha))) for s in range(alpha)]  # [col][row]
    dw = np.empty((groups, filters, channels, 3, 3), du.dtype)
    for r in range(3):
        wr = rows_gt(*(rows[s][r] for s in range(alpha)))
        for s in range(3):
            dw[..., r, s] = wr[s]
    return dw.reshape(groups * filters, channels, 3, 3)


def weight_transform(weight, num_group, flip=False):
    """U = G g G^T for every (filter, channel) of weight (F, C/G, 3, 3): (16, G, F/G, C/G);
    flip=True: of `ssdref.layers.conv.flipped_kernel(weight)`, (16, G, C/G, F/G)."""
    return tiled_weight_transform(_rows_g, TILE, weight, num_group, flip)


def input_transform(x, pad, th, tw, v):
    """V[4r+s, c, (img, i, j)] = (B^T d B)[r, s] of the 4x4 tile d at (2i - pad_h, 2j - pad_w).

    x (n, C, H, W); v (16, C, n*th*tw) is written in place (zeros stand in for cells outside x)."""
    return tiled_input_transform(_rows_bt, TILE, x, pad, th, tw, v)


def output_transform(m, bias, n, out_spatial, y):
    """y[img, f, 2i + a, 2j + b] = (A^T M A)[a, b] (+ bias[f]) of tile (img, i, j); tiles past the
    output edge are cropped. m (16, F, n*th*tw); y (n, F, Ho, Wo) is written in place."""
    return tiled_output_transform(_rows_at, TILE, m, bias, n, out_spatial, y)


def grad_transform(dy, th, tw, z):
    """Z[4r+s, f, (img, i, j)] = (A dY A^T)[r, s] of dy's 2x2 tile (i, j), zeros past the edge.

    dy (n, F, Ho, Wo); z (16, F, n*th*tw) is written in place."""
    return tiled_grad_transform(_rows_a, TILE, dy, th, tw, z)


def weight_grad_transform(du):
    """dW = G^T dU G for every (filter, channel): du (16, G, F/G, C/G) -> (F, C/G, 3, 3)."""
    return tiled_weight_grad_transform(_rows_gt, TILE, du)


def image_chunks(n_img, channels, num_filter, out_spatial, itemsize, transforms=None):
    """[(start, stop)] image ranges whose V and M fit COLUMN_BUDGET_BYTES (at least one image);
    `transforms` (default this module, F(2x2, 3x3)) gives the tile size and points per tile."""
    transforms = transforms or sys.modules[__name__]
    per_image = transforms.POINTS * (channels + num_filter) * \
        math.prod(transforms.tile_counts(out_spatial)) * itemsize
    step = max(1, _conv.COLUMN_BUDGET_BYTES // max(per_image, 1))   # read at call time: tests shrink it
    return [(s, min(s + step, n_img)) for s in range(0, n_img, step)]


def winograd_forward_with(transforms, x, weight, bias, geometry, empty=np.empty, flip=False):
    """The driver shared by every backend: U = weight_transform, then per chunk of images
    V = input_transform, M = U @ V (one batched GEMM over the 16 tile positions and the groups),
    y = output_transform(M) + bias. `transforms` is a module (or namespace) with the three
    functions, `tile_counts` and POINTS (this module: F(2x2, 3x3); ssdref.layers.winograd43:
    F(4x4, 3x3); their Numba kernels); `empty` may replace np.empty for y and the temporaries (a backend's buffer pool).
    flip=True correlates with flipped_kernel(weight): dx = winograd_forward_with(transforms, dy,
    weight, None, data_grad_geometry(geometry), flip=True)."""
    g = geometry
    n_img, channels = x.shape[:2]
    groups = g.num_group
    points = transforms.POINTS
    th, tw = transforms.tile_counts(g.out_spatial)
    u = transforms.weight_transform(weight, groups, flip)                 # (points, G, F/G, C/G)
    num_filter = groups * u.shape[2]
    y = empty((n_img, num_filter) + g.out_spatial, x.dtype)
    for start, stop in image_chunks(n_img, channels, num_filter, g.out_spatial, x.dtype.itemsize,
                                    transforms):
        n = stop - start
        v = transforms.input_transform(x[start:stop], g.pad, th, tw,
                                       empty((points, channels, n * th * tw), x.dtype))
        m = np.matmul(u, v.reshape(points, groups, channels // groups, -1),
                      out=empty((points, groups, num_filter // groups, n * th * tw), x.dtype))
        transforms.output_transform(m.reshape(points, num_filter, -1), bias, n, g.out_spatial,
                                    y[start:stop])
    return y


def winograd_weight_grad_with(transforms, x, dy, geometry, empty=np.empty):
    """dW of a convolution where `applies` holds: per chunk of images V = input_transform(x),
    Z = grad_transform(dy), dU += Z @ V^T (16 x G GEMMs summing over the chunk's tiles); then
    dW = weight_grad_transform(dU). `transforms` and `empty` as in winograd_forward_with."""
    g = geometry
    n_img, channels = x.shape[:2]
    num_filter, groups = dy.shape[1], g.num_group
    points = transforms.POINTS
    th, tw = transforms.tile_counts(g.out_spatial)
    du = None
    for start, stop in image_chunks(n_img, channels, num_filter, g.out_spatial, x.dtype.itemsize,
                                    transforms):
        n = stop - start
        v = transforms.input_transform(x[start:stop], g.pad, th, tw,
                                       empty((points, channels, n * th * tw), x.dtype))
        z = transforms.grad_transform(dy[start:stop], th, tw,
                                      empty((points, num_filter, n * th * tw), x.dtype))
        v = v.reshape(points, groups, channels // groups, -1)
        z = z.reshape(points, groups, num_filter // groups, -1)
        part = np.matmul(z, v.transpose(0, 1, 3, 2))                   # (points, G, F/G, C/G)
        if du is None:
            du = part
        else:
            du += part
    return transforms.weight_grad_transform(du)


def winograd_forward(x, weight, bias, geometry):
    """Convolution forward by F(2x2, 3x3) for a geometry where `applies` holds (NumPy)."""
    return winograd_forward_with(sys.modules[__name__], x, weight, bias, geometry)


def winograd_weight_grad(x, dy, geometry):
    """Convolution dW by F(2x2, 3x3) for a geometry where `applies` holds (NumPy)."""
    return winograd_weight_grad_with(sys.modules[__name__], x, dy, geometry)


def winograd_data_grad(dy, weight, geometry):
    """Convolution dx by F(2x2, 3x3): dy correlated with the flipped kernel under
    `data_grad_geometry(geometry)` (which exists where pad <= 2), for a geometry where `applies`."""
    return winograd_forward_with(sys.modules[__name__], dy, weight, None,
                                 data_grad_geometry(geometry), flip=True)
