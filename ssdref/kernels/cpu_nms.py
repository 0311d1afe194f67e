"""Numba kernel for ssdref.multibox.nms.nms: greedy NMS (`>=` or `>`, stable score order), bit-identical.

Speed-ups that provably change nothing:
  * Per class: without force_suppress, a box can only be suppressed by an earlier box of the *same*
    class, and whether that earlier box is still alive depends, in turn, only on boxes of its own
    class. So the greedy pass over the whole sorted list equals independent greedy passes over each
    class's subsequence (taken in sorted order): cross-class pairs are never looked at.
  * Compaction: the boxes of a class live in contiguous arrays (one per coordinate) holding only
    the boxes still alive, in visiting order. The first one is kept (nothing earlier and alive
    suppressed it); one branch-free, vectorized pass tests it against the rest, and the survivors
    are packed to the front. Each pair (kept box, box alive at that moment) is tested once, exactly
    the pairs the greedy loop tests; suppressed boxes are never scanned again. Every IoU is MXNet's
    float formula, operation for operation (areas computed once per box: the same float product
    MXNet evaluates in every IoU); no fastmath, so vectorizing changes no bit.
"""
import numba
import numpy as np

from ssdref.multibox import nms as spec


@numba.njit(cache=True, inline="always")
def _suppresses(iou, threshold, strict):
    return iou > threshold if strict else iou >= threshold


@numba.njit(cache=True, error_model="numpy")   # no ZeroDivisionError branch: the loop vectorizes
def greedy_class(boxes, members, threshold, strict, zero, keep):
    """Greedy NMS over boxes[members] (visiting order, all alive); keep[members[k]] = kept or not."""
    size = members.shape[0]
    dtype = boxes.dtype
    left, top, right, bottom = (np.empty(size, dtype), np.empty(size, dtype),
                                np.empty(size, dtype), np.empty(size, dtype))
    area = np.empty(size, dtype)
    index = np.empty(size, np.int64)
    dead = np.empty(size, np.int32)
    for k in range(size):
        i = members[k]
        left[k], top[k], right[k], bottom[k] = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        area[k] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        index[k] = i
    at_threshold = np.int32(not strict)
    count = size
    head = 0
    while head < count:
        keep[index[head]] = True
        il, it, ir, ib, iarea = left[head], top[head], right[head], bottom[head], area[head]
        # The IoU test of the head against every box still alive after it, branch-free over
        # slices (indices provably >= 0, so LLVM vectorizes it). max(0, w) * max(0, h) and
        # union <= 0 -> 0 as in the specification; a zero's sign cannot change a comparison.
        rest = slice(head + 1, count)
        r_left, r_top, r_right, r_bottom = left[rest], top[rest], right[rest], bottom[rest]
        r_area, r_dead = area[rest], dead[rest]
        hits = 0
        for b in range(r_left.shape[0]):
            w = min(ir, r_right[b]) - max(il, r_left[b])
            h = min(ib, r_bottom[b]) - max(it, r_top[b])
            inter = max(w, zero) * max(h, zero)
            union = iarea + r_area[b] - inter
            iou = inter / union if union > zero else zero
            hit = np.int32(iou > threshold) | (np.int32(iou == threshold) & at_threshold)
            r_dead[b] = hit
            hits += hit
        if hits:   # pack the survivors to the front, visiting order kept
            write = head + 1
            for b in range(head + 1, count):
                left[write], top[write], right[write], bottom[write] = left[b], top[b], right[b], bottom[b]
                area[write] = area[b]
                index[write] = index[b]
                write += 1 - dead[b]
            count = write
        head += 1


@numba.njit(cache=True)
def class_groups(class_ids, force_suppress):
    """(members, starts): alive rows (class id >= 0) grouped by class, visiting order kept within a
    group (stable sort); group g is members[starts[g]:starts[g + 1]]. One group if force_suppress."""
    n = class_ids.shape[0]
    alive = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if class_ids[i] >= 0:
            alive[m] = i
            m += 1
    alive = alive[:m]
    if force_suppress:
        members = alive
    else:
        members = alive[np.argsort(class_ids[alive], kind="mergesort")]
    starts = np.empty(m + 1, np.int64)
    groups = 0
    for k in range(m):
        if k == 0 or (not force_suppress and class_ids[members[k]] != class_ids[members[k - 1]]):
            starts[groups] = k
            groups += 1
    starts[groups] = m
    return members, starts[:groups + 1]


@numba.njit(cache=True)
def greedy_nms(boxes, class_ids, threshold, force_suppress, strict, zero):
    """Keep flags for boxes (n, 4) already in visiting order; class_id < 0 is pre-eliminated.

    Box j is suppressed by an earlier kept box i when (force_suppress or same class) and
    IoU(i, j) >= threshold (> threshold when strict), with IoU = 0 where union <= 0."""
    keep = np.zeros(boxes.shape[0], np.bool_)
    members, starts = class_groups(class_ids, force_suppress)
    for g in range(starts.shape[0] - 1):
        greedy_class(boxes, members[starts[g]:starts[g + 1]], threshold, strict, zero, keep)
    return keep


def _class_id_carrier(class_ids):
    """class_ids as int64 (any integer dtype but uint64) or float64 (any float dtype): exact for
    every value, so equality and sign are unchanged; the kernels then compile (and cache) for 2-3
    class-id dtypes instead of one per caller dtype (~2.5 s each on a first call, issue 16)."""
    if class_ids.dtype.kind == "f":
        return np.ascontiguousarray(class_ids, np.float64)
    if class_ids.dtype == np.uint64:
        return np.ascontiguousarray(class_ids)
    return np.ascontiguousarray(class_ids, np.int64)


def nms(boxes, scores, class_ids, iou_threshold, force_suppress=False, topk=-1,
        nms_comparator=None, preset=None):
    """Numba twin of nms.nms: indices (int64) of the surviving boxes in visiting order."""
    nms_comparator = spec.resolve_nms_comparator(spec.OP, nms_comparator, preset)
    boxes, scores, class_ids, iou_threshold, force_suppress, topk = spec.check_nms_inputs(
        boxes, scores, class_ids, iou_threshold, force_suppress, topk, nms_comparator)
    order = spec.score_order(scores, topk)
    dtype = boxes.dtype.type
    keep = greedy_nms(np.ascontiguousarray(boxes[order]), _class_id_carrier(class_ids[order]),
               dtype(iou_threshold), force_suppress, nms_comparator == ">", dtype(0))
    return order[keep].astype(np.int64)
