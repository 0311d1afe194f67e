"""Greedy non-maximum suppression exactly as MultiBoxDetection runs it (MXNet 1.9.1, CPU).

Mirrors: the NMS loop of src/operator/contrib/multibox_detection.cc, spec §3 steps 5-7.
Conventions that bite:
  * Comparator `>=` (nms_comparator='>=', the default): a box whose IoU with a kept, earlier box
    is >= iou_threshold is suppressed (IoU exactly at the threshold suppresses). torchvision, ONNX
    and MXNet's box_nms use `>` (nms_comparator='>'): IoU exactly at the threshold survives.
  * Order: score descending by a stable sort, so equal scores keep the lower index first; only the
    first `topk` of that order take part (topk <= 0 or >= N: all).
  * Per class: only boxes with equal class ids suppress each other, unless force_suppress.
    A box with class id < 0 counts as already eliminated (MXNet skips class_id -1 rows).
  * IoU as in boxes.iou_matrix with union <= 0 -> 0.
float64 inputs run the same algorithm in float64.
"""
import numpy as np

from ssdref.errors import check_array, check_same_dtype, fail
from ssdref.multibox.boxes import check_boxes, iou_formula

OP = "nms"
NMS_COMPARATORS = (">=", ">")


def check_nms_comparator(op, value):
    """The NMS comparator, '>=' (MXNet MultiBoxDetection) or '>' (torchvision, ONNX, box_nms)."""
    if not isinstance(value, str):
        fail(op, f"nms_comparator must be a string, '>=' or '>', got {value!r}", TypeError)
    if value not in NMS_COMPARATORS:
        fail(op, f"nms_comparator must be '>=' or '>', got {value!r}")
    return value


def resolve_nms_comparator(op, nms_comparator=None, preset=None):
    """The comparator in force: `nms_comparator` when given (checked), else the preset's (a name,
    a Preset, or None for MXNet's '>='). The one way every NMS-running op reads a preset, as
    target_conventions is for MultiBoxTarget (ssdref.presets: explicit knobs win)."""
    if nms_comparator is not None:
        return check_nms_comparator(op, nms_comparator)
    from ssdref.presets import get_preset
    try:
        return get_preset(preset).nms_comparator
    except ValueError as exc:
        fail(op, str(exc))


def suppresses(iou, threshold, nms_comparator):
    """Whether IoU values suppress: iou >= threshold, or iou > threshold for nms_comparator '>'."""
    return iou > threshold if nms_comparator == ">" else iou >= threshold


def check_nms_inputs(boxes, scores, class_ids, iou_threshold, force_suppress, topk,
                     nms_comparator=">="):
    """(boxes (N, 4), scores (N,), class_ids (N,), threshold, force_suppress, topk), validated
    (nms_comparator is checked too, not returned)."""
    check_nms_comparator(OP, nms_comparator)
    boxes = check_boxes(OP, "boxes", boxes)
    scores = check_array(OP, "scores", scores, ndim=1)
    check_same_dtype(OP, boxes=boxes, scores=scores)
    class_ids = check_array(OP, "class_ids", class_ids, ndim=1, float_only=False)
    if class_ids.dtype.kind not in "iuf":
        fail(OP, f"class_ids must be numeric, got dtype {class_ids.dtype}", TypeError)
    if not (scores.shape[0] == class_ids.shape[0] == boxes.shape[0]):
        fail(OP, f"boxes, scores and class_ids must describe the same number of boxes, got shapes "
                 f"{boxes.shape}, {scores.shape}, {class_ids.shape}")
    if not np.all(np.isfinite(scores)) or not np.all(np.isfinite(class_ids)):
        fail(OP, "scores and class_ids must be finite, got NaN or inf")
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float, np.number)) \
            or not np.isfinite(iou_threshold):
        fail(OP, f"iou_threshold must be a finite number, got {iou_threshold!r}", TypeError)
    if not isinstance(force_suppress, (bool, np.bool_)):
        fail(OP, f"force_suppress must be a boolean, got {force_suppress!r}", TypeError)
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)):
        fail(OP, f"topk must be an integer, got {topk!r}", TypeError)
    return boxes, scores, class_ids, float(iou_threshold), bool(force_suppress), int(topk)


def score_order(scores, topk):
    """Indices by score descending, stable (ties: lower index first), cut to the first topk > 0."""
    order = np.argsort(-scores, kind="stable")
    if 0 < topk < order.size:
        order = order[:topk]
    return order


def nms(boxes, scores, class_ids, iou_threshold, force_suppress=False, topk=-1,
        nms_comparator=None, preset=None):
    """Indices (int64) of the boxes that survive, in visiting order (score descending, stable).

    boxes (N, 4) [xmin, ymin, xmax, ymax], scores (N,), class_ids (N,). Box j is suppressed by an
    earlier surviving box i when (force_suppress or class_ids equal) and IoU(i, j) >= iou_threshold
    (IoU(i, j) > iou_threshold with nms_comparator='>', or a preset whose comparator is '>':
    caffe, torchvision, onnx; see resolve_nms_comparator).
    """
    nms_comparator = resolve_nms_comparator(OP, nms_comparator, preset)
    boxes, scores, class_ids, iou_threshold, force_suppress, topk = check_nms_inputs(
        boxes, scores, class_ids, iou_threshold, force_suppress, topk, nms_comparator)
    return nms_unchecked(boxes, scores, class_ids, iou_threshold, force_suppress, topk, nms_comparator)


def nms_unchecked(boxes, scores, class_ids, iou_threshold, force_suppress, topk, nms_comparator):
    """nms without the input checks: MultiBoxDetection's decoded boxes may be +-inf (clip=False,
    an overflowing expf), which MXNet runs through the same formula (a NaN IoU suppresses nothing)."""
    order = score_order(scores, topk)                          # step 5 and 6: sort, then top k
    sorted_boxes = boxes[order]
    sorted_ids = class_ids[order]
    threshold = boxes.dtype.type(iou_threshold)
    suppressed = sorted_ids < 0
    # Step 7: greedy in visiting order. Suppression by box i only depends on i still being alive,
    # so every later box j can be tested against i at once.
    for i in range(order.size):
        if suppressed[i]:
            continue
        later = slice(i + 1, order.size)
        iou = iou_formula(sorted_boxes[i:i + 1], sorted_boxes[later], nonpositive_union_zero=True)[0]
        same = np.ones(iou.size, bool) if force_suppress else sorted_ids[later] == sorted_ids[i]
        suppressed[later] |= same & suppresses(iou, threshold, nms_comparator)
    return order[~suppressed].astype(np.int64)
