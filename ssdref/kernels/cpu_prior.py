"""Numba kernel for ssdref.multibox.prior.multibox_prior (bit-identical to the NumPy specification).

The per-slot half sizes and the steps come from the specification's `prior_geometry` (a handful of
scalars); the kernel lays out the H*W*K anchors with the same float operations in the same order.
"""
import numba
import numpy as np

from ssdref.multibox import prior as spec


@numba.njit(cache=True)
def _prior(rows, cols, half_w, half_h, consts, clip):
    offset_y, offset_x, step_y, step_x, zero, one = (consts[0], consts[1], consts[2], consts[3],
                                                     consts[4], consts[5])
    num_slots = half_w.shape[0]
    out = np.empty((rows.shape[0] * cols.shape[0] * num_slots, 4), half_w.dtype)
    count = 0
    for r in range(rows.shape[0]):
        center_y = (rows[r] + offset_y) * step_y
        for c in range(cols.shape[0]):
            center_x = (cols[c] + offset_x) * step_x
            for k in range(num_slots):
                out[count, 0] = center_x - half_w[k]
                out[count, 1] = center_y - half_h[k]
                out[count, 2] = center_x + half_w[k]
                out[count, 3] = center_y + half_h[k]
                if clip:
                    for m in range(4):      # `a < 0 -> 0, a > 1 -> 1`, as mshadow's clip_zero_one
                        if out[count, m] < zero:
                            out[count, m] = zero
                        elif out[count, m] > one:
                            out[count, m] = one
                count += 1
    return out


def multibox_prior(data, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                   offsets=(0.5, 0.5), preset=None):
    """Numba twin of prior.multibox_prior."""
    spec.check_prior_layout(preset)
    data, sizes, ratios, clip, steps, offsets = spec.check_prior_params(
        data, sizes, ratios, clip, steps, offsets)
    half_w, half_h, step_y, step_x = spec.prior_geometry(data, sizes, ratios, steps)
    dtype = data.dtype
    consts = np.array((offsets[0], offsets[1], step_y, step_x, 0, 1), dtype)
    rows = np.arange(data.shape[2]).astype(dtype)
    cols = np.arange(data.shape[3]).astype(dtype)
    return _prior(rows, cols, half_w, half_h, consts, clip).reshape(1, -1, 4)
