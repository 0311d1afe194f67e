"""Tolerance- and tie-aware comparators for SSD outputs: detections, MultiBoxTarget targets, plain arrays.

Mirrors the consumer contract of MXNet 1.9.1 `_contrib_MultiBoxDetection` (spec ss. 3): a row is
[class_id, score, xmin, ymin, xmax, ymax]; rows with class_id == -1 are invalid (background,
suppressed by NMS, beyond topk with a stale payload, or padding) and consumers must filter on
class_id >= 0, never on score or position. Detections whose scores tie (within the tolerance) have
no defined order across implementations (GPU merge sort, other frameworks), so they are compared as
interchangeable; within a tie group a row is paired with the row of the same class whose box
overlaps it best. `_contrib_MultiBoxTarget` (spec ss. 2) outputs are compared exactly for the
discrete parts (cls_target, loc_mask) and within tolerance for loc_target where the mask is 1.

Every comparator raises AssertionError with a report a person can act on: per image, the rows that
found no partner, and the score, box and class differences of the pairs it made.
"""
import numpy as np

# Per-dtype tolerances for comparing two implementations of the same computation.
# float32: ssdref is bit-exact with MXNet on CPU, but other backends may use a different expf/logf
# (spec ss. 0: 1 ulp on ~1 in 8 coordinates), FMA contraction or another summation order. Those
# ulp-level differences are amplified by 1/variance (up to 10x) and 1/anchor size in the box
# encoding, so rtol = 1e-5 (~80 ulp) and atol = 1e-5 for values that cancel to near zero (a centre
# offset of one ulp at 1.0, 1.2e-7, divided by aw * 0.1 ~ 0.01).
# float64: the oracle's truth. Summation order across backends costs at most ~1e-13 relative, and
# the tolerance must stay tight enough to catch a float32 computation sneaking into a float64 path
# (errors ~1e-7): 1e-9 sits between the two.
TOLERANCES = {
    np.float32: dict(rtol=1e-5, atol=1e-5),
    np.float64: dict(rtol=1e-9, atol=1e-9),
}

_MAX_REPORTED = 20  # issues listed per image (or per output) before "... and N more"


def tolerance_for(dtype) -> dict:
    """The TOLERANCES entry for a float dtype (float16 and others get float32's, the loosest)."""
    dtype = np.dtype(dtype)
    for key, tol in TOLERANCES.items():
        if np.dtype(key) == dtype:
            return dict(tol)
    return dict(TOLERANCES[np.float32])


def _comparison_dtype(dtype, *arrays):
    """The dtype whose tolerances apply: the given one, else the loosest float dtype of the arrays."""
    if dtype is not None:
        return np.dtype(dtype)
    floats = [a.dtype for a in arrays if np.issubdtype(a.dtype, np.floating)]
    if not floats:
        return np.dtype(np.float64)
    return max(floats, key=lambda d: np.finfo(d).eps)  # largest eps: the loosest tolerance


def assert_allclose_dtype(actual, expected, *, dtype=None, rtol=None, atol=None, err_msg=""):
    """np.testing.assert_allclose with the tolerance of `dtype` (default: the looser of the two arrays').

    Shapes must match exactly (no broadcasting); NaN equals NaN. rtol/atol override the table.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"assert_allclose_dtype: shapes differ: actual {actual.shape}, "
                             f"expected {expected.shape}" + (f"\n{err_msg}" if err_msg else ""))
    dtype = _comparison_dtype(dtype, actual, expected)
    tol = tolerance_for(dtype)
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    header = f"assert_allclose_dtype ({dtype.name}: rtol={tol['rtol']:g}, atol={tol['atol']:g})"
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True,
                               err_msg=f"{header}{': ' + err_msg if err_msg else ''}")


# ---------------------------------------------------------------------------------------------
# Detections
# ---------------------------------------------------------------------------------------------

def _as_detections(name, x):
    """A list of per-image (K, 6) float64 arrays from any accepted layout: (K, 6) one image,
    (B, K, 6), a list of per-image (K_i, 6) arrays, or (K, 7) rows [batch index, class, score,
    box] (a flat list of detections of several images, as torchvision-style ports return)."""
    if isinstance(x, (list, tuple)) and x and all(np.ndim(item) == 2 for item in x):
        images = [np.asarray(item, dtype=np.float64) for item in x]
        for i, item in enumerate(images):
            if item.shape[-1] != 6:
                raise ValueError(f"assert_detections_equal: {name}[{i}] must have shape (K, 6), "
                                 f"got {item.shape}")
        return images
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[-1] == 7:
        batch = x[:, 0]
        if not (np.isfinite(batch).all() and (batch == np.round(batch)).all() and (batch >= 0).all()):
            raise ValueError(f"assert_detections_equal: {name} column 0 of (K, 7) rows must hold "
                             f"batch indices (integers >= 0), got {np.unique(batch)[:5]}")
        count = int(batch.max()) + 1 if len(batch) else 1
        return [x[batch == b, 1:].astype(np.float64) for b in range(count)]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != 6:
        raise ValueError(f"assert_detections_equal: {name} must have shape (B, K, 6), (K, 6), "
                         f"(K, 7) with a batch column, or be a list of (K, 6) arrays, got {np.shape(x)}")
    return list(x.astype(np.float64))


def _iou(box, boxes):
    """IoU of one corner box with each of `boxes` (union <= 0 gives 0, as MultiBoxDetection's NMS)."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    union = ((box[2] - box[0]) * (box[3] - box[1])
             + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _tie_groups(scores, score_tol):
    """Group ids for `scores`: sorted descending, a new group starts where the gap exceeds score_tol.

    Chaining means two scores within score_tol always share a group, so rows whose order depends on
    a tie (or a near-tie across implementations) are never told apart by position.
    """
    order = np.argsort(-scores, kind="stable")
    group = np.empty(len(scores), dtype=np.int64)
    current = 0
    for rank, index in enumerate(order):
        if rank > 0 and not (scores[order[rank - 1]] - scores[index] <= score_tol):
            current += 1
        group[index] = current
    return group


def _pair(exp_rows, act_rows, exp_free, act_free, allowed, iou_match, box_tol, any_overlap=False):
    """Greedy pairing of free rows: same class first, then best IoU, smallest box distance, score.

    any_overlap pairs same-class rows whatever their IoU and distance (the last pass: a box that
    moved, or a degenerate zero-area box whose IoU is 0 with everything, is reported as a box
    difference, not as two unmatched rows)."""
    candidates = []
    for e in np.flatnonzero(exp_free):
        others = np.flatnonzero(act_free & allowed[e])
        if len(others) == 0:
            continue
        ious = _iou(exp_rows[e, 2:], act_rows[others, 2:])
        dists = np.abs(act_rows[others, 2:] - exp_rows[e, 2:]).max(axis=1)
        for a, iou, dist in zip(others, ious, dists):
            same_class = exp_rows[e, 0] == act_rows[a, 0]
            if iou >= iou_match or dist <= box_tol or (any_overlap and same_class):
                key = (exp_rows[e, 0] != act_rows[a, 0], -iou, dist,
                       abs(exp_rows[e, 1] - act_rows[a, 1]), e, a)
                candidates.append((key, e, a))
    pairs = []
    for _, e, a in sorted(candidates):
        if exp_free[e] and act_free[a]:
            exp_free[e] = act_free[a] = False
            pairs.append((e, a))
    return pairs


def _row_text(row):
    return (f"[cls {row[0]:g}, score {row[1]:.6g}, box ({row[2]:.6g}, {row[3]:.6g}, "
            f"{row[4]:.6g}, {row[5]:.6g})]")


def _compare_image(actual, expected, score_tol, box_tol, iou_match, ignore_invalid, check_order):
    """Issue lines for one image (empty when the image's detections agree)."""
    issues = []
    for name, rows in (("actual", actual), ("expected", expected)):
        bad = np.flatnonzero(~np.isfinite(rows).all(axis=1) & ~(rows[:, 0] == -1))
        for r in bad:
            issues.append(f"non-finite {name} row {r}: {_row_text(rows[r])}")
    keep_a = np.isfinite(actual[:, 0]) & (actual[:, 0] >= 0 if ignore_invalid else True)
    keep_e = np.isfinite(expected[:, 0]) & (expected[:, 0] >= 0 if ignore_invalid else True)
    act_index, exp_index = np.flatnonzero(keep_a), np.flatnonzero(keep_e)
    act_rows, exp_rows = actual[act_index], expected[exp_index]

    # Tie groups over the union of both sets, so an actual score within tolerance of an expected
    # one lands in the same group even when the two sets' scores differ slightly.
    groups = _tie_groups(np.concatenate([exp_rows[:, 1], act_rows[:, 1]]), score_tol)
    exp_group, act_group = groups[:len(exp_rows)], groups[len(exp_rows):]
    exp_free = np.ones(len(exp_rows), bool)
    act_free = np.ones(len(act_rows), bool)
    same_group = exp_group[:, None] == act_group[None, :]
    pairs = _pair(exp_rows, act_rows, exp_free, act_free, same_group, iou_match, box_tol)
    # Second pass across groups: the same detection with a score outside the tolerance.
    everywhere = np.ones_like(same_group)
    pairs += _pair(exp_rows, act_rows, exp_free, act_free, everywhere, iou_match, box_tol)
    # Last pass: same class in the same tie group, however far apart the boxes are.
    pairs += _pair(exp_rows, act_rows, exp_free, act_free, same_group, iou_match, box_tol,
                   any_overlap=True)

    for e, a in sorted(pairs):
        er, ar = exp_rows[e], act_rows[a]
        where = f"expected row {exp_index[e]} / actual row {act_index[a]}"
        iou = _iou(er[2:], ar[None, 2:])[0]
        if er[0] != ar[0]:
            issues.append(f"class changed {where}: {er[0]:g} -> {ar[0]:g} "
                          f"(score {er[1]:.6g}, IoU {iou:.4f})")
        if not abs(er[1] - ar[1]) <= score_tol:
            issues.append(f"score differs {where}: {er[1]:.8g} vs {ar[1]:.8g} "
                          f"(|diff| {abs(er[1] - ar[1]):.3g} > {score_tol:g})")
        box_diff = np.abs(er[2:] - ar[2:])
        if not box_diff.max() <= box_tol:
            issues.append(f"box differs {where}: expected {_row_text(er)}\n"
                          f"{'':>16}actual   {_row_text(ar)}  max |diff| {box_diff.max():.3g} "
                          f"> {box_tol:g}, IoU {iou:.4f}")
    for e in np.flatnonzero(exp_free):
        issues.append(f"unmatched expected row {exp_index[e]}: {_row_text(exp_rows[e])}")
    for a in np.flatnonzero(act_free):
        issues.append(f"unmatched actual row {act_index[a]}: {_row_text(act_rows[a])}")
    if check_order and len(act_rows) > 1:
        drops = np.flatnonzero(act_rows[1:, 1] - act_rows[:-1, 1] > score_tol)
        for r in drops:
            issues.append(f"actual rows out of score order: row {act_index[r]} "
                          f"(score {act_rows[r, 1]:.6g}) before row {act_index[r + 1]} "
                          f"(score {act_rows[r + 1, 1]:.6g})")
    summary = f"{len(exp_rows)} expected / {len(act_rows)} actual valid rows"
    return summary, issues


def _flat_rows(x) -> bool:
    return not isinstance(x, (list, tuple)) and np.ndim(x) == 2 and np.shape(x)[-1] == 7


def _dtype_probe(x):
    """A zero-size array of x's dtype (a list of arrays: the first one's)."""
    if isinstance(x, (list, tuple)) and x:
        x = x[0]
    return np.asarray(x)[:0]


def assert_detections_equal(actual, expected, *, score_tol=None, box_tol=None, iou_match=0.5,
                            dtype=None, ignore_invalid=True, check_order=False):
    """Assert two MultiBoxDetection outputs hold the same detections. Each may be (B, K, 6),
    (K, 6) for one image, a list of per-image (K_i, 6) arrays, or (K, 7) rows with the batch index
    first; the two need not share a layout or a row count.

    Rows are [class_id, score, xmin, ymin, xmax, ymax]. With ignore_invalid (default), rows whose
    class_id is -1 (negative) are dropped first, as every MXNet consumer must; the two outputs may
    then have different row counts (another framework's (K, 6) top-K list is fine). The remaining
    rows are compared as sets per image:
      1. scores are grouped into tie groups (sorted, a gap > score_tol starts a new group);
      2. within a tie group, each expected row is paired with an actual row, preferring the same
         class, then the best IoU (at least `iou_match`), then the smallest box distance;
      3. left-over rows are paired the same way across groups (a score that moved), then with
         a row of the same class in the same tie group whatever the overlap (a moved or
         degenerate box: reported as "box differs", not as unmatched rows);
      4. every pair must have equal class, |score diff| <= score_tol and max |box diff| <= box_tol.
    score_tol/box_tol default to the tolerance table's atol for `dtype` (default: the looser of the
    two arrays' dtypes); boxes use atol + rtol since coordinates are O(1). check_order also requires
    the actual valid rows to be sorted by score, descending, up to score_tol.
    Raises AssertionError listing, per image, unmatched rows and score, box and class differences.
    """
    act, exp = _as_detections("actual", actual), _as_detections("expected", expected)
    if len(act) != len(exp):
        if not (_flat_rows(actual) or _flat_rows(expected)):
            raise AssertionError(f"assert_detections_equal: batch sizes differ: actual {len(act)}, "
                                 f"expected {len(exp)}")
        empty = np.zeros((0, 6))         # (K, 7) rows name only the images that have detections
        act += [empty] * (len(exp) - len(act))
        exp += [empty] * (len(act) - len(exp))
    comparison = _comparison_dtype(dtype, *(_dtype_probe(x) for x in (actual, expected)))
    tol = tolerance_for(comparison)
    score_tol = tol["atol"] if score_tol is None else float(score_tol)
    box_tol = tol["atol"] + tol["rtol"] if box_tol is None else float(box_tol)

    report = []
    for b in range(len(exp)):
        summary, issues = _compare_image(act[b], exp[b], score_tol, box_tol, iou_match,
                                         ignore_invalid, check_order)
        if issues:
            report.append(f"image {b} ({summary}):")
            report += [f"  {line}" for line in issues[:_MAX_REPORTED]]
            if len(issues) > _MAX_REPORTED:
                report.append(f"  ... and {len(issues) - _MAX_REPORTED} more")
    if report:
        failing = sum(line.startswith("image ") for line in report)
        header = (f"assert_detections_equal: detections differ in {failing} of {len(exp)} "
                  f"image(s) ({comparison.name}: score_tol={score_tol:g}, box_tol={box_tol:g}, "
                  f"iou_match={iou_match:g}, ignore_invalid={ignore_invalid})")
        raise AssertionError("\n".join([header] + report))


# ---------------------------------------------------------------------------------------------
# MultiBoxTarget
# ---------------------------------------------------------------------------------------------

def _unpack_targets(name, targets):
    if isinstance(targets, dict):
        try:
            targets = (targets["loc_target"], targets["loc_mask"], targets["cls_target"])
        except KeyError as exc:
            raise ValueError(f"assert_targets_equal: {name} must have keys loc_target, loc_mask, "
                             f"cls_target, got {sorted(targets)}") from exc
    if len(targets) != 3:
        raise ValueError(f"assert_targets_equal: {name} must be (loc_target, loc_mask, cls_target), "
                         f"got {len(targets)} arrays")
    loc, mask, cls = (np.asarray(t) for t in targets)
    if cls.ndim == 1:  # one image
        loc, mask, cls = loc[None], mask[None], cls[None]
    batch, num_anchors = cls.shape[:2] if cls.ndim == 2 else (None, None)
    if cls.ndim != 2 or loc.size != batch * num_anchors * 4 or mask.size != loc.size:
        raise ValueError(f"assert_targets_equal: {name} must be loc_target (B, A*4), loc_mask "
                         f"(B, A*4), cls_target (B, A), got shapes {loc.shape}, {mask.shape}, "
                         f"{cls.shape}")
    return (loc.reshape(batch, num_anchors, 4), mask.reshape(batch, num_anchors, 4), cls)


def assert_targets_equal(actual, expected, *, rtol=None, atol=None, dtype=None):
    """Assert two MultiBoxTarget outputs (loc_target, loc_mask, cls_target) agree.

    cls_target and loc_mask must be exactly equal (they are discrete: labels, ignore -1, 0/1 masks);
    loc_target must agree within the tolerance (table entry of `dtype`, or rtol/atol) on the
    entries where the expected mask is 1; elsewhere it is not compared. Accepts tuples/lists or
    dicts with those keys, batched (B, A*4)/(B, A) or one image (A*4,)/(A,).
    Raises AssertionError listing the differing anchors per image.
    """
    act_loc, act_mask, act_cls = _unpack_targets("actual", actual)
    exp_loc, exp_mask, exp_cls = _unpack_targets("expected", expected)
    if act_cls.shape != exp_cls.shape:
        raise AssertionError(f"assert_targets_equal: cls_target shapes differ: actual "
                             f"{act_cls.shape}, expected {exp_cls.shape}")
    comparison = _comparison_dtype(dtype, exp_loc, act_loc)
    tol = tolerance_for(comparison)
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})

    report = []
    for b in range(exp_cls.shape[0]):
        lines = []
        for a in np.flatnonzero(~_equal(act_cls[b], exp_cls[b])):
            lines.append(f"anchor {a}: cls_target expected {exp_cls[b, a]:g}, got {act_cls[b, a]:g}")
        for a in np.flatnonzero(~_equal(act_mask[b], exp_mask[b]).all(axis=1)):
            lines.append(f"anchor {a}: loc_mask expected {_values(exp_mask[b, a])}, "
                         f"got {_values(act_mask[b, a])}")
        masked = exp_mask[b] == 1
        close = np.abs(act_loc[b] - exp_loc[b]) <= tol["atol"] + tol["rtol"] * np.abs(exp_loc[b])
        for a in np.flatnonzero((masked & ~close).any(axis=1)):
            diff = np.abs(act_loc[b, a] - exp_loc[b, a]).max()
            lines.append(f"anchor {a}: loc_target expected {_values(exp_loc[b, a])}, "
                         f"got {_values(act_loc[b, a])}, max |diff| {diff:.3g}")
        if lines:
            report.append(f"image {b}: {len(lines)} difference(s)")
            report += [f"  {line}" for line in lines[:_MAX_REPORTED]]
            if len(lines) > _MAX_REPORTED:
                report.append(f"  ... and {len(lines) - _MAX_REPORTED} more")
    if report:
        header = (f"assert_targets_equal: targets differ ({comparison.name}: loc rtol={tol['rtol']:g}, "
                  f"atol={tol['atol']:g} on masked entries; cls_target and loc_mask exact)")
        raise AssertionError("\n".join([header] + report))


def _values(row):
    return "[" + ", ".join(f"{float(v):.8g}" for v in row) + "]"


def _equal(a, b):
    """Elementwise equality where NaN equals NaN (a NaN target in both is not a difference)."""
    return (a == b) | (np.isnan(a) & np.isnan(b)) if np.issubdtype(np.result_type(a, b), np.floating) \
        else a == b
