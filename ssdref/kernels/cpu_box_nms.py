"""Numba kernel for ssdref.multibox.box_nms.box_nms_forward: MXNet's box_nms, bit-identical to the spec.

The same steps as the specification, as scalar loops: valid rows, a stable merge sort by score
descending (numba's mergesort is stable, like std::stable_sort; NaN scores are never valid, so the
keys are ordered), topk, the greedy `>` pass with MXNet's IoU formula operation for operation (areas
once per box, the same float products MXNet evaluates), then the packed output and the record. The
inputs are checked, and the thresholds cast, by the spec's own `check_box_nms_inputs`; the backward
is the spec's (a scatter). No fastmath, no parallel loops: the same bits on every machine.
"""
import numba
import numpy as np

from ssdref.multibox import box_nms as spec
from ssdref.multibox.box_nms import BoxNMSCache


@numba.njit(cache=True, inline="always")
def _overlap(a_lo, a_hi, b_lo, b_hi, center, zero, two):
    """MXNet's Intersect along one axis; a is the reference (kept) box."""
    if center:
        a_half = a_hi / two          # `two` of the dtype: float32 / int would promote to float64
        b_half = b_hi / two
        al = a_lo - a_half
        ar = a_lo + a_half
        bl = b_lo - b_half
        br = b_lo + b_half
        left = bl if bl > al else al
        right = br if br < ar else ar
    else:
        left = a_lo if a_lo > b_lo else b_lo
        right = a_hi if a_hi < b_hi else b_hi
    width = right - left
    return width if width > 0 else zero     # zero of the data's dtype: no float64 promotion


@numba.njit(cache=True, inline="always")
def _area(x1, y1, x2, y2, center, zero):
    if center:
        width, height = x2, y2
    else:
        width, height = x2 - x1, y2 - y1
    if width < 0 or height < 0:
        return zero
    return width * height


@numba.njit(cache=True, error_model="numpy")
def _nms_batches(data3, valid, class_ids, threshold, topk, coord_start, score_index, use_classes,
                 center, zero, two, out, record):
    num_batch, num_elem, width = data3.shape
    for b in range(num_batch):
        rows = np.flatnonzero(valid[b])
        keys = np.empty(rows.size, data3.dtype)
        for k in range(rows.size):
            keys[k] = -data3[b, rows[k], score_index]
        order = rows[np.argsort(keys, kind="mergesort")][:topk]
        count = order.size
        x1 = np.empty(count, data3.dtype)
        y1 = np.empty(count, data3.dtype)
        x2 = np.empty(count, data3.dtype)
        y2 = np.empty(count, data3.dtype)
        area = np.empty(count, data3.dtype)
        ids = np.empty(count, np.int64)
        for k in range(count):
            r = order[k]
            x1[k] = data3[b, r, coord_start]
            y1[k] = data3[b, r, coord_start + 1]
            x2[k] = data3[b, r, coord_start + 2]
            y2[k] = data3[b, r, coord_start + 3]
            area[k] = _area(x1[k], y1[k], x2[k], y2[k], center, zero)
            ids[k] = class_ids[b, r]
        alive = np.ones(count, np.bool_)
        for ref in range(count):
            if not alive[ref]:
                continue
            for pos in range(ref + 1, count):
                if not alive[pos]:
                    continue
                if use_classes and ids[pos] != ids[ref]:
                    continue
                inter = (_overlap(x1[ref], x2[ref], x1[pos], x2[pos], center, zero, two)
                         * _overlap(y1[ref], y2[ref], y1[pos], y2[pos], center, zero, two))
                iou = inter / (area[ref] + area[pos] - inter)
                if iou > threshold:
                    alive[pos] = False
        kept = 0
        for k in range(count):
            if alive[k]:
                for c in range(width):
                    out[b, kept, c] = data3[b, order[k], c]
                record[b * num_elem + kept] = b * num_elem + order[k]
                kept += 1


def box_nms_forward(data, *, overlap_thresh=0.5, valid_thresh=0.0, topk=-1, coord_start=2,
                    score_index=1, id_index=-1, background_id=-1, force_suppress=False,
                    in_format="corner", out_format="corner"):
    """Same as ssdref.multibox.box_nms.box_nms_forward (same arguments, same bits)."""
    data3, cfg = spec.check_box_nms_inputs(data, overlap_thresh, valid_thresh, topk, coord_start,
                                           score_index, id_index, background_id, force_suppress,
                                           in_format, out_format)
    num_batch, num_elem, width = data3.shape
    dtype = data3.dtype
    topk_eff = num_elem if cfg.topk < 0 else min(num_elem, cfg.topk)
    if topk_eff < 1:
        record = np.arange(num_batch * num_elem, dtype=np.int64)
        return np.array(data, copy=True), BoxNMSCache(record, data.shape, dtype)
    valid = data3[..., cfg.score_index] > cfg.valid_thresh
    use_classes = cfg.id_index >= 0
    if use_classes:
        valid &= data3[..., cfg.id_index] != cfg.background_id
        class_ids = spec.class_as_int(data3[..., cfg.id_index])
    else:
        class_ids = np.zeros((num_batch, num_elem), np.int64)
    out = np.full(data3.shape, -1, dtype)
    record = np.full(num_batch * num_elem, -1, np.int64)
    if not valid.any():
        return out.reshape(data.shape), BoxNMSCache(record, data.shape, dtype)
    _nms_batches(np.ascontiguousarray(data3), valid, class_ids, cfg.overlap_thresh, topk_eff,
                 cfg.coord_start, cfg.score_index, use_classes and not cfg.force_suppress,
                 cfg.in_center, dtype.type(0), dtype.type(2), out, record)
    if cfg.in_center != cfg.out_center:
        with np.errstate(invalid="ignore", over="ignore"):    # IEEE arithmetic, as in MXNet
            spec.convert_format(out, cfg.coord_start, cfg.out_center)
    return out.reshape(data.shape), BoxNMSCache(record, data.shape, dtype)
