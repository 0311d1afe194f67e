"""Numba kernels for ssdref.multibox.boxes: IoU matrix, encode, decode, clip (bit-identical to NumPy).

Same names and signatures as the NumPy specification (ssdref.backend.dispatch). Arithmetic stays in
the input dtype: constants come in as arrays of that dtype (a Python float literal would promote
float32 to float64 inside Numba), math.exp/math.log on float32 are the C library's expf/logf, and
without fastmath LLVM never fuses a multiply-add. min/max follow NumPy's np.minimum/np.maximum
(`a <= b ? a : b`, `a >= b ? a : b`); the sign of a zero IoU is normalized to +0 in both backends.
"""
import math

import numba
import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.multibox import boxes as spec


@numba.njit(cache=True, inline="always")
def _min(a, b):
    return a if a <= b else b


@numba.njit(cache=True, inline="always")
def _max(a, b):
    return a if a >= b else b


@numba.njit(cache=True, inline="always")
def iou_pair(al, at, ar, ab, bl, bt, br, bb, zero, nonpositive_union_zero):
    """IoU of box a and box b with MXNet's float formula; union == 0 (or <= 0) -> 0."""
    inter = _max(zero, _min(ar, br) - _max(al, bl)) * _max(zero, _min(ab, bb) - _max(at, bt))
    union = (ar - al) * (ab - at) + (br - bl) * (bb - bt) - inter
    if union == zero or (nonpositive_union_zero and union <= zero):
        return zero
    return inter / union + zero


@numba.njit(cache=True)
def _iou_matrix(a, b, zero, nonpositive_union_zero):
    out = np.empty((a.shape[0], b.shape[0]), a.dtype)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = iou_pair(a[i, 0], a[i, 1], a[i, 2], a[i, 3],
                                 b[j, 0], b[j, 1], b[j, 2], b[j, 3], zero, nonpositive_union_zero)
    return out


def iou_matrix(boxes_a, boxes_b, nonpositive_union_zero=False):
    """Numba twin of boxes.iou_matrix."""
    op = "iou_matrix"
    boxes_a = spec.check_boxes(op, "boxes_a", boxes_a)
    boxes_b = spec.check_boxes(op, "boxes_b", boxes_b)
    dtype = check_same_dtype(op, boxes_a=boxes_a, boxes_b=boxes_b)
    return _iou_matrix(np.ascontiguousarray(boxes_a), np.ascontiguousarray(boxes_b),
                       dtype.type(0), bool(nonpositive_union_zero))


@numba.njit(cache=True, inline="always")
def encode_one(anchor, gt, out, half, v0, v1, v2, v3):
    """AssignLocTargets: ((gx-ax)/aw)/v0, ((gy-ay)/ah)/v1, logf(gw/aw)/v2, logf(gh/ah)/v3."""
    aw = anchor[2] - anchor[0]
    ah = anchor[3] - anchor[1]
    ax = (anchor[0] + anchor[2]) * half
    ay = (anchor[1] + anchor[3]) * half
    gw = gt[2] - gt[0]
    gh = gt[3] - gt[1]
    gx = (gt[0] + gt[2]) * half
    gy = (gt[1] + gt[3]) * half
    out[0] = (gx - ax) / aw / v0
    out[1] = (gy - ay) / ah / v1
    out[2] = math.log(gw / aw) / v2
    out[3] = math.log(gh / ah) / v3


@numba.njit(cache=True)
def _encode(anchors, gt_boxes, consts):
    out = np.empty(anchors.shape, anchors.dtype)
    for i in range(anchors.shape[0]):
        encode_one(anchors[i], gt_boxes[i], out[i], consts[0], consts[1], consts[2], consts[3],
                   consts[4])
    return out


def _consts(dtype, variances, first):
    return np.array((first, *variances), dtype)


def encode(anchors, gt_boxes, variances=spec.DEFAULT_VARIANCES):
    """Numba twin of boxes.encode."""
    op = "encode"
    anchors = spec.check_boxes(op, "anchors", anchors)
    gt_boxes = spec.check_boxes(op, "gt_boxes", gt_boxes)
    dtype = check_same_dtype(op, anchors=anchors, gt_boxes=gt_boxes)
    if anchors.shape != gt_boxes.shape:
        fail(op, f"anchors and gt_boxes must have the same shape, got {anchors.shape} and "
                 f"{gt_boxes.shape}")
    consts = _consts(dtype, spec.check_variances(op, variances), 0.5)
    return _encode(np.ascontiguousarray(anchors), np.ascontiguousarray(gt_boxes), consts)


@numba.njit(cache=True, inline="always")
def decode_one(anchor, loc, out, two, v0, v1, v2, v3):
    """TransformLocations without clip: ox = ((p0*v0)*aw)+ax, hw = (expf(p2*v2)*aw)/2, ..."""
    aw = anchor[2] - anchor[0]
    ah = anchor[3] - anchor[1]
    ax = (anchor[0] + anchor[2]) / two
    ay = (anchor[1] + anchor[3]) / two
    ox = loc[0] * v0 * aw + ax
    oy = loc[1] * v1 * ah + ay
    half_w = math.exp(loc[2] * v2) * aw / two
    half_h = math.exp(loc[3] * v3) * ah / two
    out[0] = ox - half_w
    out[1] = oy - half_h
    out[2] = ox + half_w
    out[3] = oy + half_h


@numba.njit(cache=True)
def _decode(anchors, loc, consts):
    out = np.empty(anchors.shape, anchors.dtype)
    for i in range(anchors.shape[0]):
        decode_one(anchors[i], loc[i], out[i], consts[0], consts[1], consts[2], consts[3],
                   consts[4])
    return out


def decode(anchors, loc, variances=spec.DEFAULT_VARIANCES):
    """Numba twin of boxes.decode."""
    op = "decode"
    anchors = spec.check_boxes(op, "anchors", anchors)
    loc = spec.check_boxes(op, "loc", loc)
    dtype = check_same_dtype(op, anchors=anchors, loc=loc)
    if anchors.shape != loc.shape:
        fail(op, f"anchors and loc must have the same shape, got {anchors.shape} and {loc.shape}")
    consts = _consts(dtype, spec.check_variances(op, variances), 2.0)
    return _decode(np.ascontiguousarray(anchors), np.ascontiguousarray(loc), consts)


@numba.njit(cache=True, inline="always")
def clip_unit(x, zero, one):
    """std::max(0, std::min(1, x)) with C++'s comparisons (-0.0 -> +0.0)."""
    upper = x if x < one else one
    return upper if zero < upper else zero


@numba.njit(cache=True)
def _clip_boxes(flat, zero, one):
    out = np.empty_like(flat)
    for i in range(flat.size):
        out[i] = clip_unit(flat[i], zero, one)
    return out


def clip_boxes(boxes):
    """Numba twin of boxes.clip_boxes."""
    boxes = check_array("clip_boxes", "boxes", boxes)
    dtype = boxes.dtype.type
    flat = np.ascontiguousarray(boxes).reshape(-1)
    return _clip_boxes(flat, dtype(0), dtype(1)).reshape(boxes.shape)
