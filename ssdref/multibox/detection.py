"""MultiBoxDetection: decoded, thresholded, sorted and NMS-ed detections, MXNet 1.9.1 CPU.

Mirrors: src/operator/contrib/multibox_detection{-inl.h,.cc} (`_contrib_MultiBoxDetection`), spec §3.
Conventions that bite (step numbers are the spec's):
  2. Class = argmax of cls_prob over classes 1..C-1 scanned from -1 with a strict `>` (ties -> the
     lowest class; a NaN score never wins); background when score < threshold (strictly: score ==
     threshold is kept). NaN/inf inputs run as in MXNet (docs/conventions.md): clip maps NaN to 1,
     a NaN IoU suppresses nothing.
     `background_id` is accepted but never used: class 0 is always background.
     Every anchor is decoded (expf) and, with clip, clamped to [0, 1].
  3. Compaction: detections in anchor order at the front; the other rows are all -1.
  4. No detections, nms_threshold <= 0 or nms_threshold > 1: stop, unsorted.
  5. Stable sort by score descending (ties keep anchor order).
  6. nms_topk: only the first nms_topk rows receive sorted data; rows nms_topk..valid_count-1 keep
     the stale *pre-sort* compacted row with class_id -1.
  7. Greedy NMS (nms.py): `>=` (nms_comparator='>' gives torchvision/ONNX's `>`), per class
     unless force_suppress; suppression only sets class -1.
Output rows [class_id (0-based, background removed), score, xmin, ymin, xmax, ymax]; consumers
must filter on class_id >= 0. No gradient. float64 runs the same algorithm in float64.
"""
from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_param_float, check_param_int, check_same_dtype, fail
from ssdref.multibox.boxes import (DEFAULT_VARIANCES, check_boxes, check_variances, clip_boxes,
                                   decode_formula)
from ssdref.multibox.nms import check_nms_comparator, nms_unchecked, resolve_nms_comparator, score_order

OP = "MultiBoxDetection"


class DetectionParams(NamedTuple):
    """Validated MultiBoxDetection arguments."""

    clip: bool
    threshold: float
    background_id: int
    nms_threshold: float
    force_suppress: bool
    variances: tuple
    nms_topk: int
    nms_comparator: str = ">="


def check_detection_inputs(cls_prob, loc_pred, anchor, clip, threshold, background_id,
                           nms_threshold, force_suppress, variances, nms_topk, nms_comparator=">="):
    """(cls_prob (B, C, A), loc_pred (B, A, 4), anchors (A, 4), DetectionParams), validated.

    NaN and inf values are accepted, as MXNet 1.9.1 accepts them (docs/conventions.md, NaN/inf)."""
    cls_prob = check_array(OP, "cls_prob", cls_prob, ndim=3)
    batch, num_classes, num_anchors = cls_prob.shape
    if num_classes == 0 or num_anchors == 0:
        fail(OP, f"cls_prob must have shape (batch, num_classes > 0, num_anchors > 0), "
                 f"got {cls_prob.shape}")
    loc_pred = check_array(OP, "loc_pred", loc_pred, ndim=2)
    if loc_pred.shape != (batch, num_anchors * 4):
        fail(OP, f"loc_pred must have shape (batch={batch}, num_anchors*4={num_anchors * 4}), "
                 f"got {loc_pred.shape}")
    anchor = check_boxes(OP, "anchor", anchor, ndim=3, finite=False)
    if anchor.shape != (1, num_anchors, 4):
        fail(OP, f"anchor must have shape (1, num_anchors={num_anchors}, 4), got {anchor.shape}")
    check_same_dtype(OP, cls_prob=cls_prob, loc_pred=loc_pred, anchor=anchor)
    for name, value in (("clip", clip), ("force_suppress", force_suppress)):
        if not isinstance(value, (bool, np.bool_)):
            fail(OP, f"{name} must be a boolean, got {value!r}", TypeError)
    # MXNet's parameters are C++ floats and ints: values beyond float32 / int32 fail its parser.
    params = DetectionParams(bool(clip), check_param_float(OP, "threshold", threshold),
                             check_param_int(OP, "background_id", background_id),
                             check_param_float(OP, "nms_threshold", nms_threshold),
                             bool(force_suppress), check_variances(OP, variances),
                             check_param_int(OP, "nms_topk", nms_topk),
                             check_nms_comparator(OP, nms_comparator))
    return cls_prob, loc_pred.reshape(batch, num_anchors, 4), anchor[0], params


def pick_class(probs, threshold):
    """Step 2: (class id, score) per anchor from probs (C, A); id 0 means background.

    MXNet scans classes 1..C-1 from score -1 with a strict `>` (first maximum wins), then turns the
    anchor into background when score < threshold. A NaN score never wins (`NaN > s` is false):
    it counts as -inf here, which no scan from -1 takes either."""
    dtype = probs.dtype.type
    num_anchors = probs.shape[1]
    if probs.shape[0] == 1:
        return np.zeros(num_anchors, np.int64), np.full(num_anchors, dtype(-1))
    probs = np.where(np.isnan(probs), dtype(-np.inf), probs)
    best = np.argmax(probs[1:], axis=0)
    score = probs[1:][best, np.arange(num_anchors)]
    found = score > dtype(-1)
    class_id = np.where(found, best + 1, 0)
    score = np.where(found, score, dtype(-1))
    class_id = np.where((class_id > 0) & (score < dtype(threshold)), 0, class_id)
    return class_id, score


def multibox_detection(cls_prob, loc_pred, anchor, clip=True, threshold=0.01, background_id=0,
                       nms_threshold=0.5, force_suppress=False, variances=DEFAULT_VARIANCES,
                       nms_topk=-1, nms_comparator=None, preset=None):
    """Detections (B, A, 6) in the input dtype from cls_prob (B, C, A), loc_pred (B, A*4), anchor
    (1, A, 4). Comparators: background when score < threshold, NMS suppresses IoU >= nms_threshold
    (IoU > nms_threshold with nms_comparator='>' or a preset that says so: nms.resolve_nms_comparator)."""
    nms_comparator = resolve_nms_comparator(OP, nms_comparator, preset)
    cls_prob, loc_pred, anchors, params = check_detection_inputs(
        cls_prob, loc_pred, anchor, clip, threshold, background_id, nms_threshold, force_suppress,
        variances, nms_topk, nms_comparator)
    batch, num_anchors = cls_prob.shape[0], anchors.shape[0]
    dtype = cls_prob.dtype
    out = np.full((batch, num_anchors, 6), -1, dtype)                                 # step 1
    for image in range(batch):
        class_id, score = pick_class(cls_prob[image], params.threshold)               # step 2
        boxes = decode_formula(anchors, loc_pred[image], params.variances)
        if params.clip:
            boxes = clip_boxes(boxes)
        valid = class_id > 0
        rows = np.column_stack([(class_id[valid] - 1).astype(dtype), score[valid], boxes[valid]])
        valid_count = rows.shape[0]
        out[image, :valid_count] = rows                                                # step 3
        if valid_count == 0 or params.nms_threshold <= 0 or params.nms_threshold > 1:  # step 4
            continue
        order = score_order(rows[:, 1], params.nms_topk)                               # steps 5, 6
        nkeep = order.size
        out[image, :nkeep] = rows[order]
        out[image, nkeep:valid_count, 0] = -1           # stale pre-sort rows beyond nms_topk
        # Step 7, on the rows as decoded: with clip=False a box may be +-inf (expf overflow),
        # which MXNet runs through NMS as it is.
        keep = nms_unchecked(rows[:, 2:], rows[:, 1], rows[:, 0], params.nms_threshold,
                             params.force_suppress, params.nms_topk, params.nms_comparator)
        alive = np.zeros(valid_count, bool)
        alive[keep] = True
        out[image, :nkeep, 0] = np.where(alive[order], rows[order, 0], dtype.type(-1))
    return out
