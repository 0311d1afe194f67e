"""numba.cuda kernel for ssdref.multibox.prior.multibox_prior (same name and signature), spec §1.

Mirrors `_contrib_MultiBoxPrior` as the NumPy specification lays it out: one thread per anchor,
row-major over the map (y outer, x inner, slot innermost), centre (index + offset) * step, box =
centre -/+ the slot's half-sizes (computed on the host exactly as the specification computes them,
`prior.prior_geometry`), clip `a < 0 -> 0, a > 1 -> 1`. Bit-identical to the specification: the
centre is a product that feeds the box's sum, so it goes through `mul` (`__fmul_rn`), which ptxas
never fuses into an FMA (a plain `*` is fused with the `-`/`+` on a GPU, not in the simulator).
"""
import functools

import numpy as np
from numba import cuda

from ssdref.kernels import cuda_util as cu
from ssdref.kernels.cuda_mathf import math_for
from ssdref.multibox import prior as spec


@functools.lru_cache(maxsize=None)
def _prior_kernel(dtype_name: str):
    ftype = np.dtype(dtype_name).type
    mul = math_for(dtype_name)[0]
    zero, one = ftype(0), ftype(1)

    @cuda.jit(device=True)
    def clamp(a):
        """MultiBoxPrior's clip: a < 0 -> 0, a > 1 -> 1, else a (so -0.0 stays -0.0)."""
        if a < zero:
            return zero
        if a > one:
            return one
        return a

    @cuda.jit
    def kernel(half_w, half_h, height, width, step_y, step_x, offset_y, offset_x, clip, out):
        num_slots = half_w.shape[0]
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for t in range(start, height * width * num_slots, stride):
            k = t % num_slots
            col = (t // num_slots) % width
            row = t // (num_slots * width)
            cy = mul(ftype(row) + offset_y, step_y)        # centre = (float(index) + offset) * step
            cx = mul(ftype(col) + offset_x, step_x)
            box0 = cx - half_w[k]
            box1 = cy - half_h[k]
            box2 = cx + half_w[k]
            box3 = cy + half_h[k]
            if clip:
                box0 = clamp(box0)
                box1 = clamp(box1)
                box2 = clamp(box2)
                box3 = clamp(box3)
            out[0, t, 0] = box0
            out[0, t, 1] = box1
            out[0, t, 2] = box2
            out[0, t, 3] = box3

    return kernel


def multibox_prior(data, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                   offsets=(0.5, 0.5), preset=None):
    """Anchors (1, H*W*(S+R-1), 4) for data (B, C, H, W); see ssdref.multibox.prior.multibox_prior."""
    spec.check_prior_layout(preset)
    on_device = cu.is_device(data)
    if on_device:   # only the shape and dtype are read: validate a zero-strided stand-in
        data = np.broadcast_to(np.zeros((), np.dtype(data.dtype)), tuple(data.shape))
    data, sizes, ratios, clip, steps, offsets = spec.check_prior_params(
        data, sizes, ratios, clip, steps, offsets)
    dtype = data.dtype.type
    height, width = data.shape[2], data.shape[3]
    half_w, half_h, step_y, step_x = spec.prior_geometry(data, sizes, ratios, steps)
    out = cuda.device_array((1, height * width * half_w.size, 4), data.dtype)
    _prior_kernel(data.dtype.name)[cu.grid_1d(out.shape[1])](
        cuda.to_device(half_w), cuda.to_device(half_h), height, width, step_y, step_x,
        dtype(offsets[0]), dtype(offsets[1]), clip, out)
    return out if on_device else out.copy_to_host()
