"""Box arithmetic shared by the multibox ops: IoU matrix, center-size encode/decode, clip.

Mirrors: src/operator/contrib/multibox_target-inl.h (IoU through `safe_divide`), multibox_target.cc
(`AssignLocTargets`), multibox_detection.cc (`TransformLocations`, `CalculateOverlap`), tag 1.9.1.
Conventions that bite (spec mxnet-semantics.md §0, §2, §3):
  * Boxes are [xmin, ymin, xmax, ymax]. Every product and sum is a separate float32 operation in
    MXNet's source order (no fused multiply-add); NumPy float32 arithmetic gives exactly that.
  * IoU: inter = max(0, min(r1,r2) - max(l1,l2)) * max(0, min(b1,b2) - max(t1,t2));
    union = (r1-l1)(b1-t1) + (r2-l2)(b2-t2) - inter; matching uses IoU = 0 where union == 0,
    NMS (`nonpositive_union_zero=True`) uses IoU = 0 where union <= 0. Bitwise symmetric; a zero
    IoU is always +0.0.
  * exp/log are the C library's expf/logf (`ssdref.mathf`), never np.exp/np.log on
    float32: those differ by 1 ulp on a sizeable share of inputs.
float64 inputs run the same formulas in float64 (MXNet itself only accepts float32).
"""
import numpy as np

from ssdref.errors import FLOAT32_MAX, check_array, check_same_dtype, fail
from ssdref.mathf import expf, logf

DEFAULT_VARIANCES = (0.1, 0.1, 0.2, 0.2)


def check_boxes(op, name, boxes, *, ndim=2, finite=True):
    """`boxes` as a float ndarray whose last axis holds 4 coordinates, finite unless finite=False
    (the multibox ops take NaN/inf as MXNet does; the helpers here refuse them)."""
    boxes = check_array(op, name, boxes, ndim=ndim)
    if boxes.shape[-1] != 4:
        fail(op, f"{name} must have 4 coordinates [xmin, ymin, xmax, ymax] in its last axis, "
                 f"got shape {boxes.shape}")
    if finite and not np.all(np.isfinite(boxes)):
        fail(op, f"{name} must be finite, got NaN or inf")
    return boxes


def check_variances(op, variances):
    """MXNet's `variances`: exactly 4 numbers (the CHECK_EQ(variances.ndim(), 4))."""
    if isinstance(variances, (str, bytes)):
        fail(op, f"variances must be 4 numbers, got {variances!r}", TypeError)
    try:
        values = tuple(float(v) for v in variances)
    except (TypeError, ValueError, OverflowError):
        fail(op, f"variances must be 4 numbers, got {variances!r}", TypeError)
    if len(values) != 4:
        fail(op, f"variances must be 4 numbers, got {variances!r}")
    if not all(np.isfinite(values)) or any(v == 0 or abs(v) > FLOAT32_MAX for v in values):
        fail(op, f"variances must be 4 nonzero numbers finite in float32, got {variances!r}")
    return values


def iou_matrix(boxes_a, boxes_b, nonpositive_union_zero=False):
    """IoU of every box in boxes_a (N, 4) with every box in boxes_b (M, 4) -> (N, M), input dtype.

    Mirrors the IoU in multibox_target-inl.h (union == 0 -> 0) and, with
    `nonpositive_union_zero=True`, `CalculateOverlap` of multibox_detection.cc (union <= 0 -> 0).
    """
    op = "iou_matrix"
    boxes_a = check_boxes(op, "boxes_a", boxes_a)
    boxes_b = check_boxes(op, "boxes_b", boxes_b)
    check_same_dtype(op, boxes_a=boxes_a, boxes_b=boxes_b)
    return iou_formula(boxes_a, boxes_b, nonpositive_union_zero)


def iou_formula(boxes_a, boxes_b, nonpositive_union_zero=False):
    """iou_matrix without the input checks, for ops that validated their inputs and may hold
    decoded boxes that overflowed to +-inf (MultiBoxDetection with clip=False): the float formula
    runs as MXNet's does, and a NaN IoU (from inf - inf) suppresses nothing, as in MXNet."""
    a = boxes_a[:, None, :]                                    # (N, 1, 4)
    b = boxes_b[None, :, :]                                    # (1, M, 4)
    dtype = boxes_a.dtype
    zero = dtype.type(0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inter_w = np.maximum(zero, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
        inter_h = np.maximum(zero, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
        inter = inter_w * inter_h
        area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
        area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        union = area_a + area_b - inter
        # safe_divide in matching (union == 0 -> 0); NMS guards union <= 0 (degenerate boxes).
        empty = union <= 0 if nonpositive_union_zero else union == 0
        iou = inter / np.where(empty, 1, union).astype(dtype)
    # `+ 0` turns a -0.0 IoU into +0.0: the sign of a zero IoU is never observable in the ops'
    # outputs, and a canonical zero keeps every backend bit-identical.
    return (np.where(empty, zero, iou) + zero).astype(dtype, copy=False)


def _center_size(boxes):
    """(width, height, center x, center y) of [l, t, r, b] boxes; centre = (l + r) * 0.5 as MXNet."""
    half = boxes.dtype.type(0.5)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    return width, height, (boxes[:, 0] + boxes[:, 2]) * half, (boxes[:, 1] + boxes[:, 3]) * half


def encode(anchors, gt_boxes, variances=DEFAULT_VARIANCES):
    """Regression targets of gt_boxes (N, 4) relative to anchors (N, 4), row by row -> (N, 4).

    Mirrors `AssignLocTargets` (multibox_target.cc), evaluated in exactly this order:
    [((gx-ax)/aw)/v0, ((gy-ay)/ah)/v1, logf(gw/aw)/v2, logf(gh/ah)/v3].
    """
    op = "encode"
    anchors = check_boxes(op, "anchors", anchors)
    gt_boxes = check_boxes(op, "gt_boxes", gt_boxes)
    dtype = check_same_dtype(op, anchors=anchors, gt_boxes=gt_boxes)
    if anchors.shape != gt_boxes.shape:
        fail(op, f"anchors and gt_boxes must have the same shape, got {anchors.shape} and "
                 f"{gt_boxes.shape}")
    v0, v1, v2, v3 = (dtype.type(v) for v in check_variances(op, variances))
    aw, ah, ax, ay = _center_size(anchors)
    gw, gh, gx, gy = _center_size(gt_boxes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([(gx - ax) / aw / v0,
                         (gy - ay) / ah / v1,
                         logf(gw / aw) / v2,
                         logf(gh / ah) / v3], axis=1)


def decode(anchors, loc, variances=DEFAULT_VARIANCES):
    """Boxes (N, 4) from anchors (N, 4) and regression outputs loc (N, 4), without clipping.

    Mirrors `TransformLocations` (multibox_detection.cc), in this order:
    ox = ((p0*v0)*aw) + ax, oy = ((p1*v1)*ah) + ay, hw = (expf(p2*v2)*aw)/2, hh = (expf(p3*v3)*ah)/2,
    box = [ox-hw, oy-hh, ox+hw, oy+hh] with ax = (l+r)/2 (the same bits as (l+r)*0.5).
    """
    op = "decode"
    anchors = check_boxes(op, "anchors", anchors)
    loc = check_boxes(op, "loc", loc)
    check_same_dtype(op, anchors=anchors, loc=loc)
    if anchors.shape != loc.shape:
        fail(op, f"anchors and loc must have the same shape, got {anchors.shape} and {loc.shape}")
    return decode_formula(anchors, loc, check_variances(op, variances))


def decode_formula(anchors, loc, variances):
    """decode without the input checks: MultiBoxDetection takes NaN/inf anchors and loc as MXNet
    does, and they run through the same float operations (NaN in, NaN out; overflow to +-inf)."""
    dtype = anchors.dtype
    v0, v1, v2, v3 = (dtype.type(v) for v in variances)
    two = dtype.type(2)
    with np.errstate(over="ignore", invalid="ignore"):    # huge loc overflows to +-inf, as in MXNet
        aw, ah, ax, ay = _center_size(anchors)
        ox = loc[:, 0] * v0 * aw + ax
        oy = loc[:, 1] * v1 * ah + ay
        half_w = expf(loc[:, 2] * v2) * aw / two
        half_h = expf(loc[:, 3] * v3) * ah / two
        return np.stack([ox - half_w, oy - half_h, ox + half_w, oy + half_h], axis=1)


def clip_boxes(boxes):
    """Clamp every coordinate to [0, 1] as MultiBoxDetection does: max(0, min(1, x)).

    C++'s std::min(1, x) is `x < 1 ? x : 1` and std::max(0, m) is `0 < m ? m : 0`, so -0.0 comes
    out as +0.0 (MultiBoxPrior's clip keeps -0.0; see prior.py).
    """
    boxes = check_array("clip_boxes", "boxes", boxes)
    one, zero = boxes.dtype.type(1), boxes.dtype.type(0)
    upper = np.where(boxes < one, boxes, one)
    return np.where(zero < upper, upper, zero).astype(boxes.dtype, copy=False)
