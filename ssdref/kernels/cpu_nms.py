"""Numba kernel for ssdref.multibox.nms.nms: greedy NMS (`>=`, stable score order), bit-identical.

Speed-up that provably changes nothing: without force_suppress, a box can only be suppressed by an
earlier box of the *same* class, and whether that earlier box is still alive depends, in turn, only
on boxes of its own class. So the greedy pass over the whole sorted list equals independent greedy
passes over each class's subsequence (taken in sorted order). The kernel groups the sorted rows by
class with a stable sort and never looks at cross-class pairs. Areas are computed once per box:
the same float product MXNet evaluates inside every IoU, hence the same bits.
"""
import numba
import numpy as np

from ssdref.multibox import nms as spec


@numba.njit(cache=True)
def greedy_nms(boxes, class_ids, threshold, force_suppress, zero):
    """Suppression flags for boxes (n, 4) already in visiting order; class_id < 0 is pre-eliminated.

    Box j is suppressed by an earlier alive box i when (force_suppress or same class) and
    IoU(i, j) >= threshold, with IoU = 0 where union <= 0."""
    n = boxes.shape[0]
    suppressed = np.empty(n, np.bool_)
    area = np.empty(n, boxes.dtype)
    for i in range(n):
        suppressed[i] = class_ids[i] < 0
        area[i] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    if force_suppress:
        groups = np.arange(n)
    else:
        groups = np.argsort(class_ids, kind="mergesort")   # stable: sorted order kept per class
    # Each group's boxes are gathered into contiguous arrays so the O(n_c^2) inner loop is linear.
    left, top, right, bottom = (np.empty(n, boxes.dtype), np.empty(n, boxes.dtype),
                                np.empty(n, boxes.dtype), np.empty(n, boxes.dtype))
    group_area = np.empty(n, boxes.dtype)
    alive = np.empty(n, np.bool_)
    start = 0
    while start < n:
        stop = start + 1
        if force_suppress:
            stop = n
        else:
            while stop < n and class_ids[groups[stop]] == class_ids[groups[start]]:
                stop += 1
        size = stop - start
        for k in range(size):
            i = groups[start + k]
            left[k], top[k], right[k], bottom[k] = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
            group_area[k] = area[i]
            alive[k] = not suppressed[i]
        for a in range(size):
            if not alive[a]:
                continue
            il, it, ir, ib, iarea = left[a], top[a], right[a], bottom[a], group_area[a]
            for b in range(a + 1, size):
                if not alive[b]:
                    continue
                w = min(ir, right[b]) - max(il, left[b])
                h = min(ib, bottom[b]) - max(it, top[b])
                # max(0, w) * max(0, h) is 0 as soon as one side is <= 0 (a zero's sign cannot
                # change the comparison below).
                inter = w * h if w > zero and h > zero else zero
                union = iarea + group_area[b] - inter
                iou = zero if union <= zero else inter / union
                if iou >= threshold:
                    alive[b] = False
        for k in range(size):
            suppressed[groups[start + k]] = not alive[k]
        start = stop
    return suppressed


def nms(boxes, scores, class_ids, iou_threshold, force_suppress=False, topk=-1):
    """Numba twin of nms.nms: indices (int64) of the surviving boxes in visiting order."""
    boxes, scores, class_ids, iou_threshold, force_suppress, topk = spec.check_nms_inputs(
        boxes, scores, class_ids, iou_threshold, force_suppress, topk)
    order = spec.score_order(scores, topk)
    dtype = boxes.dtype.type
    suppressed = greedy_nms(np.ascontiguousarray(boxes[order]), np.ascontiguousarray(class_ids[order]),
                            dtype(iou_threshold), force_suppress, dtype(0))
    return order[~suppressed].astype(np.int64)
