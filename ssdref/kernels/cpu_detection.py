"""Numba kernel for ssdref.multibox.detection.multibox_detection (bit-identical to the NumPy spec).

Differences in *how*, never in *what*: only anchors that pass the threshold are decoded (decoding is
per anchor, so skipping discarded ones changes nothing); NMS is cpu_nms's per-class, compacting
greedy loop. Images run in parallel (prange) when there are several: each image writes only its
own rows with sequential code. A single image runs serially (no parallel region: its start-up
costs more than it saves, most of all on a loaded machine). NaN/inf inputs run as in MXNet: a
NaN score loses every strict `>` of the class scan, clip maps NaN to 1, a NaN IoU suppresses
nothing (the same float operations as the NumPy spec).
"""
import numba
import numpy as np

from ssdref.kernels.cpu_boxes import clip_unit, decode_one
from ssdref.kernels.cpu_nms import greedy_nms
from ssdref.kernels.cpu_target import first_k_ascending
from ssdref.multibox import detection as spec
from ssdref.multibox.nms import resolve_nms_comparator


@numba.njit(cache=True)
def _prepare_image(probs, loc, anchors, consts, clip, run_nms, nms_topk, out):
    """Steps 2-6 for one image; `out` (A, 6) arrives filled with -1. Returns the number of rows
    taking part in NMS. NaN/inf inputs run as in MXNet: a NaN score never wins the strict `>`."""
    minus_one, threshold, zero, one, two = consts[0], consts[1], consts[3], consts[4], consts[5]
    v0, v1, v2, v3 = consts[6], consts[7], consts[8], consts[9]
    num_classes, num_anchors = probs.shape
    # Class pick, classes scanned in increasing order from -1 with a strict `>` (class-outer loop
    # for contiguous reads; each anchor still sees its classes in the same order).
    best_score = np.full(num_anchors, minus_one)
    best_class = np.zeros(num_anchors, np.int64)
    for c in range(1, num_classes):
        for a in range(num_anchors):
            p = probs[c, a]
            if p > best_score[a]:
                best_score[a] = p
                best_class[a] = c
    rows = np.empty((num_anchors, 6), out.dtype)
    valid_count = 0
    for a in range(num_anchors):                                        # step 2
        score = best_score[a]
        class_id = best_class[a]
        if class_id > 0 and score < threshold:
            class_id = 0
        if class_id > 0:                                                # step 3
            row = rows[valid_count]
            row[0] = class_id - 1
            row[1] = score
            decode_one(anchors[a], loc[a], row[2:], two, v0, v1, v2, v3)
            if clip:
                for m in range(2, 6):
                    row[m] = clip_unit(row[m], zero, one)
            valid_count += 1
    out[:valid_count] = rows[:valid_count]
    if valid_count == 0 or not run_nms:                                 # step 4
        return 0
    neg_score = np.empty(valid_count, out.dtype)
    for i in range(valid_count):
        neg_score[i] = -rows[i, 1]
    nkeep = valid_count
    if 0 < nms_topk < valid_count:                                      # step 6
        nkeep = nms_topk
    # Step 5: only the first nkeep of the stable sort are needed: select them in O(n), then sort
    # that subset stably (it is in anchor order, so ties still keep anchor order).
    top = first_k_ascending(neg_score, nkeep)
    order = top[np.argsort(neg_score[top], kind="mergesort")]
    for i in range(nkeep):
        out[i] = rows[order[i]]
    for i in range(nkeep, valid_count):
        out[i, 0] = minus_one
    return nkeep


@numba.njit(cache=True, inline="always")
def _apply_keep(out, keep, minus_one):
    for i in range(keep.shape[0]):                                      # step 7: suppressed -> -1
        if not keep[i]:
            out[i, 0] = minus_one


@numba.njit(cache=True, parallel=True)
def _detection_batch(cls_prob, loc_pred, anchors, consts, clip, run_nms, force_suppress, strict,
                     nms_topk, out):
    for image in numba.prange(cls_prob.shape[0]):
        nkeep = _prepare_image(cls_prob[image], loc_pred[image], anchors, consts,
                                              clip, run_nms, nms_topk, out[image])
        if nkeep > 0:
            rows = out[image, :nkeep]
            keep = greedy_nms(rows[:, 2:6], rows[:, 0], consts[2], force_suppress, strict,
                              consts[3])
            _apply_keep(rows, keep, consts[0])


@numba.njit(cache=True)
def _detection_one(probs, loc, anchors, consts, clip, run_nms, force_suppress, strict, nms_topk,
                   out):
    """Steps 2-7 for one image, serially."""
    nkeep = _prepare_image(probs, loc, anchors, consts, clip, run_nms, nms_topk, out)
    if nkeep > 0:
        rows = out[:nkeep]
        keep = greedy_nms(rows[:, 2:6], rows[:, 0], consts[2], force_suppress, strict, consts[3])
        _apply_keep(rows, keep, consts[0])


def multibox_detection(cls_prob, loc_pred, anchor, clip=True, threshold=0.01, background_id=0,
                       nms_threshold=0.5, force_suppress=False, variances=spec.DEFAULT_VARIANCES,
                       nms_topk=-1, nms_comparator=None, preset=None):
    """Numba twin of detection.multibox_detection."""
    nms_comparator = resolve_nms_comparator(spec.OP, nms_comparator, preset)
    cls_prob, loc_pred, anchors, params = spec.check_detection_inputs(
        cls_prob, loc_pred, anchor, clip, threshold, background_id, nms_threshold, force_suppress,
        variances, nms_topk, nms_comparator)
    dtype = cls_prob.dtype
    consts = np.array((-1, params.threshold, params.nms_threshold, 0, 1, 2, *params.variances),
                      dtype)
    run_nms = 0 < params.nms_threshold <= 1
    strict = params.nms_comparator == ">"
    batch = cls_prob.shape[0]
    out = np.full((batch, anchors.shape[0], 6), -1, dtype)
    cls_prob, loc_pred = np.ascontiguousarray(cls_prob), np.ascontiguousarray(loc_pred)
    anchors = np.ascontiguousarray(anchors)
    if batch == 1:
        _detection_one(cls_prob[0], loc_pred[0], anchors, consts, params.clip, run_nms,
                       params.force_suppress, strict, params.nms_topk, out[0])
    else:
        _detection_batch(cls_prob, loc_pred, anchors, consts, params.clip, run_nms,
                         params.force_suppress, strict, params.nms_topk, out)
    return out
