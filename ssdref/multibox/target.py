"""MultiBoxTarget: training targets (loc_target, loc_mask, cls_target) for SSD, MXNet 1.9.1 CPU.

Mirrors: src/operator/contrib/multibox_target{-inl.h,.cc} (`_contrib_MultiBoxTarget`), spec §2.
Conventions that bite (step numbers are the spec's):
  1. The first label row with class == -1 terminates the list; its 4 coordinates must be -1 too,
     else MXNet aborts (ValueError here). Rows after it are never read.
  2. An image with no valid gt is left untouched: every anchor ignored (cls = ignore_label).
  3. Bipartite stage: repeatedly the globally best (anchor, gt) pair among unmatched ones, IoU > 1e-6
     strictly; ties go to the lowest anchor index, then the lowest gt index.
  4. Threshold stage: best gt per remaining anchor over all valid gts (ties: lowest gt), positive
     when IoU > overlap_threshold strictly. Skipped when overlap_threshold <= 0.
  5. Negatives: all non-positives (ratio <= 0), or hard negative mining: int(f32(num_pos) * ratio)
     (x86's int32 truncation: a product >= 2**31 becomes INT32_MIN, so no negatives at all)
     anchors with max IoU < negative_mining_thresh, lowest softmax background probability first
     (expf, sum in class order), stable on ties; too few candidates -> ValueError (MXNet aborts).
     `minimum_negative_samples` is accepted but ignored, as on MXNet's CPU (only its GPU code uses it).
  6. Positives: cls = label class + 1, mask 1, loc = encode(anchor, gt) with logf.
  7. Negatives: cls 0, mask 0, loc 0.
NaN/inf inputs are taken as MXNet takes them (a NaN IoU never wins a strict `>`, a NaN class
passes through to cls_target), except where MXNet's result is undefined: a NaN background
probability that the mining ranking would have to order is a ValueError (docs/conventions.md).
No gradient. float64 inputs run the same algorithm in float64 (MXNet only accepts float32); the
negative count is computed as MXNet does, int(float32(num_positive) * float32(ratio)), for both.
Other frameworks' conventions (`preset=`, or the knobs match_comparator '>=', mining
'cross_entropy', minimum_negative_rule 'honoured'; see ssdref.presets) change steps 4 and 5 only;
the defaults are MXNet's and leave every bit as above.
"""
from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_param_float, check_param_int, check_same_dtype, fail
from ssdref.mathf import expf, logf
from ssdref.multibox.boxes import DEFAULT_VARIANCES, check_boxes, check_variances, encode, iou_formula

OP = "MultiBoxTarget"
BIPARTITE_MIN_IOU = 1e-6


class TargetParams(NamedTuple):
    """Validated MultiBoxTarget arguments (thresholds as Python floats)."""

    overlap_threshold: float
    ignore_label: float
    negative_mining_ratio: float
    negative_mining_thresh: float
    minimum_negative_samples: int
    variances: tuple


def check_target_inputs(anchor, label, cls_pred, overlap_threshold, ignore_label,
                        negative_mining_ratio, negative_mining_thresh, minimum_negative_samples,
                        variances):
    """(anchors (A, 4), label (B, L, W), cls_pred (B, C, A), TargetParams), checked as MXNet does."""
    anchor = check_boxes(OP, "anchor", anchor, ndim=3, finite=False)
    if anchor.shape[0] != 1 or anchor.shape[1] == 0:
        fail(OP, f"anchor must have shape (1, num_anchors > 0, 4) (anchors are shared across the "
                 f"batch), got {anchor.shape}")
    label = check_array(OP, "label", label, ndim=3)
    if label.shape[0] == 0 or label.shape[1] == 0 or label.shape[2] < 5:
        # batch 0: MXNet's shape inference reads a 0 dimension as unknown and cannot run the op
        fail(OP, f"label must have shape (batch > 0, rows > 0, 5 or more columns), got {label.shape}")
    cls_pred = check_array(OP, "cls_pred", cls_pred, ndim=3)
    num_anchors = anchor.shape[1]
    if cls_pred.shape[0] != label.shape[0] or cls_pred.shape[2] != num_anchors \
            or cls_pred.shape[1] == 0:
        fail(OP, f"cls_pred must have shape (batch={label.shape[0]}, num_classes > 0, "
                 f"num_anchors={num_anchors}), got {cls_pred.shape}")
    check_same_dtype(OP, anchor=anchor, label=label, cls_pred=cls_pred)
    params = TargetParams(
        _number("overlap_threshold", overlap_threshold), _number("ignore_label", ignore_label),
        _number("negative_mining_ratio", negative_mining_ratio),
        _number("negative_mining_thresh", negative_mining_thresh),
        _integer("minimum_negative_samples", minimum_negative_samples),
        check_variances(OP, variances))
    return anchor[0], label, cls_pred, params


def _number(name, value):
    return check_param_float(OP, name, value)


def _integer(name, value):
    return check_param_int(OP, name, value)


def count_valid_gt(label_rows, image):
    """Step 1: rows before the first class == -1 row; that row must be [-1, -1, -1, -1, -1].

    NaN/inf in the rows in use are taken as MXNet takes them: a NaN IoU never wins a match."""
    num_valid = label_rows.shape[0]
    for row in range(label_rows.shape[0]):
        if label_rows[row, 0] == -1:
            if not np.all(label_rows[row, 1:5] == -1):
                padding_error(image, row, label_rows[row, :5])
            num_valid = row
            break
    return num_valid


def padding_error(image, row, values):
    fail(OP, f"label row {row} of image {image} has class -1, which terminates the labels, so its "
             f"coordinates must all be -1 (MXNet aborts with \"Check failed: ... == -1.0f\"), "
             f"got {[float(v) for v in values]}")


def mining_threshold_error(thresh):
    fail(OP, f"negative_mining_thresh must be > 0 when negative_mining_ratio > 0 "
             f"(MXNet: CHECK_GT(negative_mining_thresh, 0)), got {thresh}")


def nan_ranking_error(image, num_nan, num_candidates, num_negative):
    fail(OP, f"cls_pred must give a finite background probability to every hard-negative "
             f"candidate when the mining ranking decides (image {image}: {num_candidates} candidates "
             f"for {num_negative} negatives), got {num_nan} NaN (from NaN or inf logits; MXNet's "
             f"std::stable_sort has no defined order for them)")


def too_few_candidates_error(image, num_candidates, num_negative):
    fail(OP, f"image {image} has only {num_candidates} hard-negative candidates (non-positive "
             f"anchors with IoU < negative_mining_thresh) but needs {num_negative} negatives; MXNet "
             f"aborts here (\"Check failed: temp.size() >= num_negative ({num_candidates} vs. "
             f"{num_negative})\")")


INT32_MIN = -2**31


def float_to_int32(value) -> int:
    """C++'s static_cast<int>(float) as x86 computes it (cvttss2si): truncation toward zero, and
    INT32_MIN for NaN or anything outside int32 (the "integer indefinite" value)."""
    value = float(value)
    if not -2.0**31 <= value < 2.0**31:
        return INT32_MIN
    return int(value)


def negative_count(num_positive, num_anchors, ratio, minimum_negative_samples=0):
    """Step 5: int(float32(num_positive) * float32(ratio)), at least minimum_negative_samples (0 on
    MXNet's CPU, which ignores it), capped at num_anchors - num_positive.

    The product is truncated to int32 as MXNet's `static_cast<int>` does on x86: a product of 2**31
    or more (a huge ratio) becomes INT32_MIN, so no negatives are mined at all (MXNet 1.9.1 gives
    cls_target -1 for every non-positive anchor there)."""
    with np.errstate(over="ignore"):
        product = np.float32(num_positive) * np.float32(ratio)
    wanted = max(float_to_int32(product), minimum_negative_samples)
    return min(wanted, num_anchors - num_positive)


class Conventions(NamedTuple):
    """The MultiBoxTarget knobs of a preset (ssdref.presets); MXNet CPU's values by default."""

    match_comparator: str = ">"
    mining: str = "bg_prob"
    minimum_negative_rule: str = "ignored"


MXNET_CONVENTIONS = Conventions()


def target_conventions(preset=None, match_comparator=None, mining=None, minimum_negative_rule=None):
    """Conventions of `preset` (name, Preset or None = mxnet) with explicit knobs winning."""
    from ssdref.presets import get_preset
    chosen = get_preset(preset, match_comparator=match_comparator, mining=mining,
                        minimum_negative_rule=minimum_negative_rule)
    return Conventions(chosen.match_comparator, chosen.mining, chosen.minimum_negative_rule)


def cross_entropy_background(logits):
    """-log softmax(logits)[0] for logits (C, N): log(sum exp(l - max)) - (l0 - max), in dtype."""
    top = logits.max(axis=0)
    total = np.zeros(logits.shape[1], logits.dtype)
    with np.errstate(invalid="ignore"):                # inf logits: inf - inf is NaN, as in MXNet
        for k in range(logits.shape[0]):
            total = total + expf(logits[k] - top)
        return logf(total) - (logits[0] - top)


def background_probability(logits):
    """Softmax probability of class 0 for logits (C, N): max-subtracted expf, summed in class order."""
    top = logits.max(axis=0)
    total = np.zeros(logits.shape[1], logits.dtype)
    with np.errstate(invalid="ignore"):                # inf logits: inf - inf is NaN, as in MXNet
        for k in range(logits.shape[0]):               # sequential, as MXNet's loop
            total = total + expf(logits[k] - top)
        return expf(logits[0] - top) / total


def best_gt_per_anchor(iou):
    """(max IoU, best gt) per anchor: scan from -1 with a strict `>` (ties -> lowest gt; -1, -1
    where no IoU exceeds -1, which only inverted boxes or NaN IoUs can cause: NaN never wins)."""
    iou = np.where(np.isnan(iou), iou.dtype.type(-np.inf), iou)
    best_gt = np.argmax(iou, axis=1)
    best_iou = iou[np.arange(iou.shape[0]), best_gt]
    found = best_iou > -1
    return np.where(found, best_iou, iou.dtype.type(-1)), np.where(found, best_gt, -1)


def multibox_target(anchor, label, cls_pred, overlap_threshold=0.5, ignore_label=-1.0,
                    negative_mining_ratio=-1.0, negative_mining_thresh=0.5,
                    minimum_negative_samples=0, variances=DEFAULT_VARIANCES, match_comparator=None,
                    mining=None, minimum_negative_rule=None, preset=None):
    """(loc_target (B, A*4), loc_mask (B, A*4), cls_target (B, A)) in the input dtype.

    anchor (1, A, 4), label (B, L, W >= 5) rows [cls, xmin, ymin, xmax, ymax, ...], cls_pred (B, C, A)
    logits (only read by hard negative mining). Comparators: bipartite IoU > 1e-6, positive IoU >
    overlap_threshold, candidate IoU < negative_mining_thresh; ties as in the module docstring.
    preset / match_comparator / mining / minimum_negative_rule: see ssdref.presets (MXNet's default).
    """
    conventions = target_conventions(preset, match_comparator, mining, minimum_negative_rule)
    anchors, label, cls_pred, params = check_target_inputs(
        anchor, label, cls_pred, overlap_threshold, ignore_label, negative_mining_ratio,
        negative_mining_thresh, minimum_negative_samples, variances)
    batch, num_anchors = label.shape[0], anchors.shape[0]
    dtype = label.dtype
    loc_target = np.zeros((batch, num_anchors, 4), dtype)
    loc_mask = np.zeros((batch, num_anchors, 4), dtype)
    cls_target = np.full((batch, num_anchors), params.ignore_label, dtype)
    for image in range(batch):
        num_valid_gt = count_valid_gt(label[image], image)                     # step 1
        if num_valid_gt == 0:                                                  # step 2
            continue
        _target_one_image(anchors, label[image, :num_valid_gt], cls_pred[image], params, image,
                          loc_target[image], loc_mask[image], cls_target[image], conventions)
    return loc_target.reshape(batch, -1), loc_mask.reshape(batch, -1), cls_target


def _target_one_image(anchors, gt_rows, logits, params, image, loc_target, loc_mask, cls_target,
                      conventions=MXNET_CONVENTIONS):
    """Steps 3-7 for one image with at least one valid gt; writes into the output rows given."""
    dtype = anchors.dtype.type
    num_anchors, num_gt = anchors.shape[0], gt_rows.shape[0]
    iou = iou_formula(anchors, np.ascontiguousarray(gt_rows[:, 1:5]))       # (A, G), NaN kept
    positive = np.zeros(num_anchors, bool)
    match_iou = np.full(num_anchors, dtype(-1))      # MXNet's max_matches: (-1, -1) = not recorded
    match_gt = np.full(num_anchors, -1)

    # Step 3: greedy bipartite matching. Row-major argmax finds the first maximum, which is MXNet's
    # scan order (anchors outer, gts inner, strict `>`): lowest anchor, then lowest gt, on ties.
    free = np.where(np.isnan(iou), dtype(-np.inf), iou)     # a NaN IoU never wins MXNet's `>`
    gt_done = np.zeros(num_gt, bool)
    while not gt_done.all():
        best_anchor, best_gt = np.unravel_index(np.argmax(free), free.shape)
        best = free[best_anchor, best_gt]
        if not best > dtype(BIPARTITE_MIN_IOU):
            break                       # no pair left with IoU > 1e-6: remaining gts are dropped
        positive[best_anchor], gt_done[best_gt] = True, True
        match_iou[best_anchor], match_gt[best_anchor] = best, best_gt
        free[best_anchor, :] = -np.inf
        free[:, best_gt] = -np.inf

    # Step 4: threshold stage over all valid gts (bipartite ones included).
    best_iou, best_gt = best_gt_per_anchor(iou)
    if params.overlap_threshold > 0:
        rest = ~positive
        match_iou[rest], match_gt[rest] = best_iou[rest], best_gt[rest]
        threshold = dtype(params.overlap_threshold)
        above = best_iou >= threshold if conventions.match_comparator == ">=" else best_iou > threshold
        positive |= rest & above

    # Step 5: negatives.
    negative = np.zeros(num_anchors, bool)
    if params.negative_mining_ratio > 0:
        if not params.negative_mining_thresh > 0:
            mining_threshold_error(params.negative_mining_thresh)
        num_positive = int(positive.sum())
        honoured = conventions.minimum_negative_rule == "honoured"
        num_negative = negative_count(num_positive, num_anchors, params.negative_mining_ratio,
                                      params.minimum_negative_samples if honoured else 0)
        if num_negative > 0:
            # Anchors whose max IoU was never recorded (threshold stage skipped) get it now.
            unrecorded = match_iou < 0
            match_iou = np.where(unrecorded, best_iou, match_iou)
            candidates = np.flatnonzero(~positive & (match_iou < dtype(params.negative_mining_thresh)))
            if conventions.mining == "cross_entropy":
                # Caffe / torchvision: hardest = largest -log p_bg; never more than exist.
                hardness = -cross_entropy_background(logits[:, candidates])
            else:
                if candidates.size < num_negative:
                    too_few_candidates_error(image, candidates.size, num_negative)
                hardness = background_probability(logits[:, candidates])
            num_nan = int(np.isnan(hardness).sum())
            if num_nan and candidates.size > num_negative:
                nan_ranking_error(image, num_nan, candidates.size, num_negative)
            order = np.argsort(hardness, kind="stable")
            negative[candidates[order[:num_negative]]] = True
    else:
        negative = ~positive

    # Steps 6 and 7: targets (negatives keep mask 0 and loc 0).
    cls_target[negative] = 0
    pos = np.flatnonzero(positive)
    matched = gt_rows[match_gt[pos]]
    cls_target[pos] = matched[:, 0] + dtype(1)
    loc_mask[pos] = 1
    loc_target[pos] = encode(anchors[pos], np.ascontiguousarray(matched[:, 1:5]), params.variances)
