"""Numba kernel of `ssdref.layers.gemm.portable_matmul`: the same float64 sums in the same order.

Each output element is one float64 accumulator summed in ascending k, exactly as the NumPy
specification; threads split (batch, row block, column block) tiles, never a sum, and the inner
loop over columns vectorizes without reordering anything (no fastmath: no reassociation, no
contraction of a multiply and an add into an FMA). Bit-identical to the specification (tested).
"""
import numba
import numpy as np

ROWS, COLS = 4, 256          # a tile: 4 rows of a share each loaded row segment of b


@numba.njit(parallel=True, cache=True, nogil=True)
def _gemm_f64(a, b, out):
    batch, m, k_size = a.shape
    n = b.shape[2]
    row_blocks = (m + ROWS - 1) // ROWS
    col_blocks = (n + COLS - 1) // COLS
    for tile in numba.prange(batch * row_blocks * col_blocks):
        bi = tile // (row_blocks * col_blocks)
        rest = tile % (row_blocks * col_blocks)
        i0 = (rest // col_blocks) * ROWS
        j0 = (rest % col_blocks) * COLS
        i1 = min(i0 + ROWS, m)
        j1 = min(j0 + COLS, n)
        acc = np.zeros((ROWS, COLS), np.float64)
        for k in range(k_size):
            for i in range(i0, i1):
                a_ik = np.float64(a[bi, i, k])
                for j in range(j0, j1):
                    acc[i - i0, j - j0] += a_ik * np.float64(b[bi, k, j])
        for i in range(i0, i1):
            for j in range(j0, j1):
                out[bi, i, j] = acc[i - i0, j - j0]


def portable_matmul(a, b, out=None):
    """Same contract and bits as `ssdref.layers.gemm.portable_matmul`."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k_size, n = a.shape[-2], a.shape[-1], b.shape[-1]
    a3 = np.ascontiguousarray(np.broadcast_to(a, batch + a.shape[-2:])).reshape(-1, m, k_size)
    b3 = np.ascontiguousarray(np.broadcast_to(b, batch + b.shape[-2:])).reshape(-1, k_size, n)
    result = np.empty((a3.shape[0], m, n), dtype)
    _gemm_f64(a3, b3, result)
    result = result.reshape(batch + (m, n))
    if out is None:
        return result
    out[...] = result
    return out
