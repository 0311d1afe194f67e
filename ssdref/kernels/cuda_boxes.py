"""numba.cuda kernels for ssdref.multibox.boxes: IoU matrix, encode, decode, clip (same names and signatures).

Mirrors the NumPy specification `ssdref/multibox/boxes.py` (spec §2 IoU and encoding, §3 decoding):
every product and sum is one rounded operation in the specification's order. Products go through
`mul` (`__fmul_rn`) so NVVM cannot fuse them into an FMA; exp/log are glibc's expf/logf algorithm
(`cuda_mathf`), so float32 results are bit-identical to the NumPy specification, in the simulator
and on a GPU. float64: exp/log are libdevice's (within 1 ulp of glibc); everything else bit-identical.
The device functions here are the building blocks of cuda_target and cuda_detection.
"""
import functools

import numpy as np
from numba import cuda

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.kernels import cuda_util as cu
from ssdref.kernels.cuda_mathf import double_bits, float_bits, math_for
from ssdref.multibox import boxes as spec


@functools.lru_cache(maxsize=None)
def device_functions(dtype_name: str):
    """(iou, decode, encode, clip) device functions computing in dtype `dtype_name`."""
    mul, exp, log, ftype = math_for(dtype_name)
    zero, one, two, half = ftype(0), ftype(1), ftype(2), ftype(0.5)
    # clip works on the bit pattern (below); the constants of that test, per width
    if dtype_name == "float32":
        bits, magnitude, inf_bits, one_bits = float_bits, 0x7FFFFFFF, 0x7F800000, 0x3F800000
        sign_set = 0x80000000          # float_bits gives the pattern as a non-negative int64
    else:
        bits, magnitude, inf_bits, one_bits = double_bits, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000, \
            0x3FF0000000000000
        sign_set = 0                   # double_bits gives a signed int64: negative iff the sign is set

    @cuda.jit(device=True)
    def iou(l1, t1, r1, b1, l2, t2, r2, b2, nonpositive_union_zero):
        """IoU of two [l, t, r, b] boxes as boxes.iou_matrix computes it (0 for an empty union)."""
        inter_w = max(zero, min(r1, r2) - max(l1, l2))
        inter_h = max(zero, min(b1, b2) - max(t1, t2))
        inter = mul(inter_w, inter_h)
        union = (mul(r1 - l1, b1 - t1) + mul(r2 - l2, b2 - t2)) - inter
        if nonpositive_union_zero:
            if union <= zero:
                return zero
        elif union == zero:
            return zero
        return inter / union

    @cuda.jit(device=True)
    def decode(l, t, r, b, p0, p1, p2, p3, v0, v1, v2, v3):
        """boxes.decode of one anchor: ((p*v)*a) + centre and expf(p*v)*a/2 half-sizes."""
        aw = r - l
        ah = b - t
        ax = mul(l + r, half)
        ay = mul(t + b, half)
        ox = mul(mul(p0, v0), aw) + ax
        oy = mul(mul(p1, v1), ah) + ay
        half_w = mul(exp(mul(p2, v2)), aw) / two
        half_h = mul(exp(mul(p3, v3)), ah) / two
        return ox - half_w, oy - half_h, ox + half_w, oy + half_h

    @cuda.jit(device=True)
    def encode(al, at, ar, ab, gl, gt, gr, gb, v0, v1, v2, v3):
        """boxes.encode of one (anchor, gt) pair: [((gx-ax)/aw)/v0, ((gy-ay)/ah)/v1, logf(gw/aw)/v2, ...]."""
        aw = ar - al
        ah = ab - at
        ax = mul(al + ar, half)
        ay = mul(at + ab, half)
        gw = gr - gl
        gh = gb - gt
        gx = mul(gl + gr, half)
        gy = mul(gt + gb, half)
        return ((gx - ax) / aw / v0, (gy - ay) / ah / v1, log(gw / aw) / v2, log(gh / ah) / v3)

    @cuda.jit(device=True)
    def clip(x):
        """max(0, min(1, x)) the C++ way (boxes.clip_boxes): NaN -> 1, -0.0 -> +0.0, <= 0 -> +0.0.

        Decided on the bit pattern, not with float comparisons: on a real GPU NVVM turns the
        comparison form `x < 1 ? x : 1` then `0 < m ? m : 0` into one saturating instruction
        (`cvt.sat`), which flushes NaN to 0 where C++ gives 1 (seen on an H200, 2026-12-04)."""
        i = bits(x)
        if (i & magnitude) > inf_bits:             # NaN: std::min(1, NaN) is 1
            return one
        if (sign_set == 0 and i < 0) or (sign_set != 0 and i >= sign_set):
            return zero                            # -0.0, negatives, -inf
        if i >= one_bits:                          # 1 and above, +inf
            return one
        return x

    return iou, decode, encode, clip


@functools.lru_cache(maxsize=None)
def _kernels(dtype_name: str):
    iou, decode, encode, clip = device_functions(dtype_name)

    @cuda.jit
    def iou_kernel(boxes_a, boxes_b, nonpositive_union_zero, out):
        n, m = out.shape
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for t in range(start, n * m, stride):
            i = t // m
            j = t % m
            out[i, j] = iou(boxes_a[i, 0], boxes_a[i, 1], boxes_a[i, 2], boxes_a[i, 3],
                            boxes_b[j, 0], boxes_b[j, 1], boxes_b[j, 2], boxes_b[j, 3],
                            nonpositive_union_zero)

    @cuda.jit
    def decode_kernel(anchors, loc, v0, v1, v2, v3, out):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, out.shape[0], stride):
            x0, y0, x1, y1 = decode(anchors[i, 0], anchors[i, 1], anchors[i, 2], anchors[i, 3],
                                    loc[i, 0], loc[i, 1], loc[i, 2], loc[i, 3], v0, v1, v2, v3)
            out[i, 0] = x0
            out[i, 1] = y0
            out[i, 2] = x1
            out[i, 3] = y1

    @cuda.jit
    def encode_kernel(anchors, gt_boxes, v0, v1, v2, v3, out):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, out.shape[0], stride):
            e0, e1, e2, e3 = encode(anchors[i, 0], anchors[i, 1], anchors[i, 2], anchors[i, 3],
                                    gt_boxes[i, 0], gt_boxes[i, 1], gt_boxes[i, 2], gt_boxes[i, 3],
                                    v0, v1, v2, v3)
            out[i, 0] = e0
            out[i, 1] = e1
            out[i, 2] = e2
            out[i, 3] = e3

    @cuda.jit
    def clip_kernel(flat_in, flat_out):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, flat_in.shape[0], stride):
            flat_out[i] = clip(flat_in[i])

    return iou_kernel, decode_kernel, encode_kernel, clip_kernel


def _pair_inputs(op, name_a, a, name_b, b):
    """Validate two (N, 4) box arrays the way the specification does (device arrays: shapes only)."""
    if cu.is_device(a) or cu.is_device(b):
        a, b = cu.as_device(a), cu.as_device(b)
        for name, x in ((name_a, a), (name_b, b)):
            if x.ndim != 2 or x.shape[1] != 4 or np.dtype(x.dtype) not in (np.float32, np.float64):
                fail(op, f"{name} must be a float32/float64 (N, 4) array, got {x.dtype} {x.shape}")
        if a.dtype != b.dtype:
            fail(op, f"inputs must share one dtype, got {name_a}={a.dtype}, {name_b}={b.dtype}",
                      TypeError)
        return a, b, True
    a = spec.check_boxes(op, name_a, a)
    b = spec.check_boxes(op, name_b, b)
    check_same_dtype(op, **{name_a: a, name_b: b})
    return a, b, False


def iou_matrix(boxes_a, boxes_b, nonpositive_union_zero=False):
    """IoU (N, M) of boxes_a (N, 4) with boxes_b (M, 4); see ssdref.multibox.boxes.iou_matrix."""
    a, b, on_device = _pair_inputs("iou_matrix", "boxes_a", boxes_a, "boxes_b", boxes_b)
    dtype = np.dtype(a.dtype)
    out = cuda.device_array((a.shape[0], b.shape[0]), dtype)
    if out.size:
        kernel = _kernels(dtype.name)[0]
        kernel[cu.grid_1d(out.size)](cu.as_device(a), cu.as_device(b), bool(nonpositive_union_zero), out)
    return out if on_device else out.copy_to_host()


def _rowwise(op, names, first, second, variances, which):
    a, b, on_device = _pair_inputs(op, names[0], first, names[1], second)
    if a.shape != b.shape:
        fail(op, f"{names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}")
    dtype = np.dtype(a.dtype)
    v = [dtype.type(x) for x in spec.check_variances(op, variances)]
    out = cuda.device_array(a.shape, dtype)
    if a.shape[0]:
        kernel = _kernels(dtype.name)[which]
        kernel[cu.grid_1d(a.shape[0])](cu.as_device(a), cu.as_device(b), *v, out)
    return out if on_device else out.copy_to_host()


def encode(anchors, gt_boxes, variances=spec.DEFAULT_VARIANCES):
    """Regression targets (N, 4) of gt_boxes relative to anchors; see ssdref.multibox.boxes.encode."""
    return _rowwise("encode", ("anchors", "gt_boxes"), anchors, gt_boxes, variances, 2)


def decode(anchors, loc, variances=spec.DEFAULT_VARIANCES):
    """Boxes (N, 4) from anchors and loc, without clipping; see ssdref.multibox.boxes.decode."""
    return _rowwise("decode", ("anchors", "loc"), anchors, loc, variances, 1)


def clip_boxes(boxes):
    """Every coordinate clamped to [0, 1] as MultiBoxDetection does; see boxes.clip_boxes."""
    on_device = cu.is_device(boxes)
    if not on_device:
        boxes = check_array("clip_boxes", "boxes", boxes)
    src = cu.as_device(boxes)
    dtype = np.dtype(src.dtype)
    flat_in = src.reshape(src.size) if src.size else src
    out = cuda.device_array(src.size, dtype)
    if src.size:
        _kernels(dtype.name)[3][cu.grid_1d(src.size)](flat_in, out)
    out = out.reshape(src.shape) if src.size else cuda.device_array(src.shape, dtype)
    return out if on_device else out.copy_to_host()
