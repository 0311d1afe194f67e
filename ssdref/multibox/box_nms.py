"""GluonCV's box_nms: per-batch greedy NMS over rows [id, score, x1, y1, x2, y2, ...], -1 filled.

Mirrors: src/operator/contrib/bounding_box-inl.h (BoxNMSParam, BoxNMSShape, BoxNMSForward,
BoxNMSBackward) and bounding_box-common.h (nms_impl, Intersect), MXNet 1.9.1 CPU.
Conventions that bite:
  * Comparator `>`: a box is suppressed when IoU(kept, box) > overlap_thresh (exactly at the
    threshold survives), unlike MultiBoxDetection's `>=`.
  * Order: score descending by a stable sort (std::stable_sort with `>`), so equal scores keep
    the lower row first. Only the first `topk` rows of each batch's order take part (topk < 0: all);
    rows after them never reach the output.
  * Valid rows: score > valid_thresh (NaN never valid), and class id != background_id when
    id_index >= 0. valid_thresh and overlap_thresh are float32 parameters: float64 data compares
    with float32(0.01), not 0.01. No valid row in the whole batch: everything is -1.
  * Class ids compare as C ints (static_cast<int>: truncation toward zero, so 1.7 and 1.2 are one
    class; NaN and out-of-range ids become INT_MIN). Classes matter only when id_index >= 0 and
    not force_suppress.
  * IoU = inter / (area_ref + area_box - inter), in the data's dtype; a side's overlap is
    `right - left` kept only when > 0; an area with a negative side is 0. 0/0 = NaN suppresses
    nothing; x/0 = inf suppresses.
  * topk == 0 returns the input unchanged (record 0, 1, 2, ...), before any format conversion.
  * Output: kept rows (whole rows, every column) packed to the front of their batch in visiting
    order, the rest -1. When in_format != out_format the coordinates of *every* output row are
    converted, except rows whose first coordinate is < 0 (MXNet's guard against the -1 fill also
    skips real boxes with xmin < 0 / center x < 0).
Backward: the head gradient of output row k goes back to the input row it was copied from (MXNet's
`record`); suppressed, invalid and cut rows get 0.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_float, check_int, fail

OP = "box_nms"
FORMATS = ("corner", "center")
INT_MIN = np.iinfo(np.int32).min


class BoxNMSCache(NamedTuple):
    record: np.ndarray       # (B*N,) int64: input row (flat, batch included) of output row k, -1: none
    in_shape: tuple
    dtype: np.dtype


class BoxNMSConfig(NamedTuple):
    """The validated parameters, with thresholds already cast as MXNet casts them."""
    overlap_thresh: np.floating     # float32(overlap_thresh) in the data's dtype
    valid_thresh: np.floating       # float32(valid_thresh) in the data's dtype
    background_id: np.floating      # DType(background_id)
    topk: int
    coord_start: int
    score_index: int
    id_index: int
    force_suppress: bool
    in_center: bool
    out_center: bool


def check_box_nms_inputs(data, overlap_thresh, valid_thresh, topk, coord_start, score_index,
                         id_index, background_id, force_suppress, in_format, out_format):
    """(data as (B, N, W), BoxNMSConfig), with MXNet's BoxNMSShape checks as ValueErrors."""
    data = check_array(OP, "data", data, min_ndim=2)
    width = data.shape[-1]
    overlap_thresh = check_float(OP, "overlap_thresh", overlap_thresh)
    valid_thresh = check_float(OP, "valid_thresh", valid_thresh)
    topk = check_int(OP, "topk", topk)
    coord_start = check_int(OP, "coord_start", coord_start)
    score_index = check_int(OP, "score_index", score_index)
    id_index = check_int(OP, "id_index", id_index)
    background_id = check_int(OP, "background_id", background_id)
    if not isinstance(force_suppress, (bool, np.bool_)):
        fail(OP, f"force_suppress must be a boolean, got {force_suppress!r}", TypeError)
    for name, value in (("in_format", in_format), ("out_format", out_format)):
        if value not in FORMATS:
            fail(OP, f"{name} must be 'corner' or 'center', got {value!r}")
    expected = 6 if id_index >= 0 else 5
    if width < expected:
        fail(OP, f"data must have {expected} or more values per box (score and 4 coordinates"
                 f"{', class id' if id_index >= 0 else ''}), got shape {data.shape}")
    coord_end = coord_start + 3
    if not 0 <= score_index < width:
        fail(OP, f"score_index must be in [0, {width}), got {score_index}")
    if coord_start <= score_index <= coord_end:
        fail(OP, f"score_index {score_index} must not fall on the coordinates "
                 f"[{coord_start}, {coord_end}]")
    if coord_start < 0 or coord_end >= width:
        fail(OP, f"coord_start must leave 4 coordinates inside a row of {width}, got {coord_start}")
    if id_index >= 0:
        if id_index >= width:
            fail(OP, f"id_index must be in [0, {width}) or negative, got {id_index}")
        if coord_start <= id_index <= coord_end:
            fail(OP, f"id_index {id_index} must not fall on the coordinates "
                     f"[{coord_start}, {coord_end}]")
        if id_index == score_index:
            fail(OP, f"id_index must differ from score_index, got both {id_index}")
    num_elem = data.shape[-2]
    data3 = data.reshape(-1, num_elem, width)
    d = data.dtype.type
    config = BoxNMSConfig(d(np.float32(overlap_thresh)), d(np.float32(valid_thresh)),
                          d(background_id), topk, coord_start, score_index, id_index,
                          bool(force_suppress), in_format == "center", out_format == "center")
    return data3, config


def class_as_int(ids):
    """static_cast<int> of float class ids on x86: truncation; NaN or out of int32 range -> INT_MIN."""
    ids = np.asarray(ids, np.float64)
    inside = np.isfinite(ids) & (ids > -2.0 ** 31 - 1) & (ids < 2.0 ** 31)
    return np.where(inside, np.trunc(np.where(inside, ids, 0.0)), INT_MIN).astype(np.int64)


def _side_overlap(a_lo, a_hi, b_lo, b_hi, center):
    """MXNet's Intersect along one axis (a: the reference box, b: the others), zero unless > 0."""
    if center:  # (lo, hi) hold (center, size); a typed 2: NumPy 1.x makes float32 scalar / 2 a float64
        two = b_hi.dtype.type(2)
        a_half, b_half = a_hi / two, b_hi / two
        a_lo, a_hi, b_lo, b_hi = a_lo - a_half, a_lo + a_half, b_lo - b_half, b_lo + b_half
        left = np.where(b_lo > a_lo, b_lo, a_lo)
        right = np.where(b_hi < a_hi, b_hi, a_hi)
    else:
        left = np.where(a_lo > b_lo, a_lo, b_lo)
        right = np.where(a_hi < b_hi, a_hi, b_hi)
    width = right - left
    return np.where(width > 0, width, width.dtype.type(0))


def box_area(boxes, center):
    """MXNet's BoxArea: width * height, 0 when a side is negative (NaN sides give NaN)."""
    if center:
        width, height = boxes[:, 2], boxes[:, 3]
    else:
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.where((width < 0) | (height < 0), boxes.dtype.type(0), width * height)


def greedy_keep(boxes, class_ids, threshold, use_classes, center):
    """Kept flags over candidates already in visiting order: greedy, IoU > threshold suppresses."""
    count = boxes.shape[0]
    alive = np.ones(count, bool)
    areas = box_area(boxes, center)
    for ref in range(count):
        if not alive[ref]:
            continue
        later = slice(ref + 1, count)
        a, b = boxes[ref], boxes[later]
        inter = (_side_overlap(a[0], a[2], b[:, 0], b[:, 2], center)
                 * _side_overlap(a[1], a[3], b[:, 1], b[:, 3], center))
        iou = inter / (areas[ref] + areas[later] - inter)
        same = class_ids[later] == class_ids[ref] if use_classes else True
        alive[later] &= ~(same & (iou > threshold))
    return alive


def convert_format(out, coord_start, to_center):
    """corner <-> center on every row of out (B, N, W) in place, skipping rows whose first
    coordinate is < 0 (MXNet's corner_to_center / center_to_corner)."""
    c = out[..., coord_start:coord_start + 4]
    rows = ~(c[..., 0] < 0)
    first, second, third, fourth = (c[..., k][rows] for k in range(4))
    two = out.dtype.type(2)
    if to_center:
        c[rows] = np.stack([(first + third) / two, (second + fourth) / two,
                            third - first, fourth - second], axis=-1)
    else:
        half_w, half_h = third / two, fourth / two
        c[rows] = np.stack([first - half_w, second - half_h, first + half_w, second + half_h], axis=-1)


def box_nms_forward(data, *, overlap_thresh=0.5, valid_thresh=0.0, topk=-1, coord_start=2,
                    score_index=1, id_index=-1, background_id=-1, force_suppress=False,
                    in_format="corner", out_format="corner"):
    """NMS over data (..., N, W): output of data's shape (kept rows first, -1 rows after) and a
    cache holding MXNet's record (which input row each output row came from)."""
    data3, cfg = check_box_nms_inputs(data, overlap_thresh, valid_thresh, topk, coord_start,
                                      score_index, id_index, background_id, force_suppress,
                                      in_format, out_format)
    num_batch, num_elem, width = data3.shape
    dtype = data3.dtype
    topk_eff = num_elem if cfg.topk < 0 else min(num_elem, cfg.topk)
    if topk_eff < 1:            # topk == 0: MXNet returns the input as it is
        record = np.arange(num_batch * num_elem, dtype=np.int64)
        return np.array(data, copy=True), BoxNMSCache(record, data.shape, dtype)
    # Step 1: valid rows of the whole batch.
    scores = data3[..., cfg.score_index]
    valid = scores > cfg.valid_thresh
    use_classes = cfg.id_index >= 0
    if use_classes:
        valid &= data3[..., cfg.id_index] != cfg.background_id
    out = np.full(data3.shape, -1, dtype)
    record = np.full(num_batch * num_elem, -1, np.int64)
    if not valid.any():         # MXNet's early return: all -1, no format conversion either
        return out.reshape(data.shape), BoxNMSCache(record, data.shape, dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # IEEE, as in MXNet
        _nms_each_batch(data3, valid, scores, cfg, topk_eff, out, record)
        if cfg.in_center != cfg.out_center:   # step 5
            convert_format(out, cfg.coord_start, cfg.out_center)
    return out.reshape(data.shape), BoxNMSCache(record, data.shape, dtype)


def _nms_each_batch(data3, valid, scores, cfg, topk_eff, out, record):
    """Steps 2-4 for every batch: order, greedy suppression, packed output and record."""
    num_elem = data3.shape[1]
    use_classes = cfg.id_index >= 0
    for b in range(data3.shape[0]):
        # Step 2: valid rows by score descending, stable (ties: lower row first), first topk.
        rows = np.flatnonzero(valid[b])
        order = rows[np.argsort(-scores[b, rows], kind="stable")][:topk_eff]
        # Step 3: greedy suppression among them.
        boxes = data3[b, order, cfg.coord_start:cfg.coord_start + 4]
        ids = class_as_int(data3[b, order, cfg.id_index]) if use_classes else None
        keep = greedy_keep(boxes, ids, cfg.overlap_thresh, use_classes and not cfg.force_suppress,
                           cfg.in_center)
        # Step 4: kept rows, whole, to the front; record their flat input row.
        kept = order[keep]
        out[b, :kept.size] = data3[b, kept]
        record[b * num_elem:b * num_elem + kept.size] = b * num_elem + kept


def box_nms_backward(dout, cache: BoxNMSCache):
    """ddata: output row k's head gradient written to input row record[k]; zeros elsewhere."""
    width = cache.in_shape[-1]
    dout = np.asarray(dout).reshape(-1, width)
    ddata = np.zeros((cache.record.size, width), cache.dtype)
    rows = cache.record >= 0
    ddata[cache.record[rows]] = dout[rows]
    return ddata.reshape(cache.in_shape)
