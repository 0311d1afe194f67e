"""Numba kernel for ssdref.multibox.target.multibox_target: same results, bit for bit, much faster.

Bipartite stage in O(P log P) instead of MXNet's O(G * A * G) repeated global scans. MXNet picks, G
times, the pair (a, g) with the largest IoU > 1e-6 among pairs whose anchor and gt are both still
free, ties to the lowest anchor then the lowest gt: i.e. the *first* free pair in the total order
(IoU desc, anchor asc, gt asc). Here all P candidate pairs with IoU > 1e-6 are sorted once in that
order (a stable sort by -IoU of pairs listed anchor-major) and walked once, taking a pair when both
ends are free. Claim: the k-th pair taken equals MXNet's k-th pick. Induction: both have taken the
same pairs before, so the free sets agree. Every pair the walk skipped before its current position
has an end that was already taken, and ends never become free again, so it is still ineligible;
hence the next eligible pair at or after the position is the first eligible pair in the whole
order, which is MXNet's pick. MXNet stops when no eligible pair remains (or every gt is matched);
the walk ends at the same point.

Only the G best candidates of each gt (by IoU desc, anchor asc) can ever be taken: when the walk
takes gt g's pair, g was free, so at most G-1 anchors were taken, and every pair of g ranked above
the taken one was skipped for a taken anchor; the taken pair therefore ranks <= G in g's list, and
g's lower-ranked pairs are never reached while g is free. Dropping them changes no decision, and
leaves at most G*G pairs to sort. Hard negatives are picked by selection (the first k of a stable
ascending sort are those below the k-th value plus the earliest ties), which is O(A).

Images are independent and each writes only its own output rows, so they run in parallel
(prange); every value is computed by the same sequential code whatever the thread count.
Errors (MXNet's aborts) are reported per image and raised in image order, as the specification does.
"""
import math

import numba
import numpy as np

from ssdref.kernels.cpu_boxes import _max, _min, encode_one
from ssdref.multibox import target as spec

_OK = -1


@numba.njit(cache=True)
def first_k_ascending(values, k):
    """Positions of the first k elements of a *stable* ascending sort of values (as a set, in
    position order): everything below the k-th smallest value, then ties with it by position."""
    n = values.shape[0]
    if k >= n:
        return np.arange(n)
    kth = np.partition(values.copy(), k - 1)[k - 1]
    below = 0
    for i in range(n):
        if values[i] < kth:
            below += 1
    out = np.empty(k, np.int64)
    m = 0
    ties_left = k - below
    for i in range(n):
        if values[i] < kth:
            out[m] = i
            m += 1
        elif values[i] == kth and ties_left > 0:
            out[m] = i
            m += 1
            ties_left -= 1
    return out


@numba.njit(cache=True)
def first_k_descending(values, k):
    """Positions of the first k elements of a stable descending sort of values (position order)."""
    return first_k_ascending(-values, k)


@numba.njit(cache=True)
def _target_image(anchors, gt_rows, logits, consts, ratio32, mine, use_threshold,
                  loc_target, loc_mask, cls_target, status):
    """Steps 3-7 for one image (see target.py); status <- (num_candidates, num_negative, num_nan)
    on abort (num_nan > 0: NaN background probabilities the ranking would have to order)."""
    zero, min_iou, overlap_thr, neg_thr, half = consts[0], consts[1], consts[2], consts[3], consts[4]
    v0, v1, v2, v3 = consts[5], consts[6], consts[7], consts[8]
    minus_one, one = consts[9], consts[10]
    num_anchors, num_gt = anchors.shape[0], gt_rows.shape[0]

    # One gt column at a time: IoU, the best gt per anchor (gts scanned in increasing order from
    # -1 with a strict >, as MXNet) and gt g's bipartite candidates, of which only the best G can
    # ever be taken (module docstring), so at most G*G pairs are kept.
    best_iou = np.full(num_anchors, minus_one)
    best_gt = np.full(num_anchors, -1, np.int64)
    column_iou = np.empty(num_anchors, anchors.dtype)
    column_anchor = np.empty(num_anchors, np.int64)
    pair_iou = np.empty(num_gt * min(num_gt, num_anchors), anchors.dtype)
    pair_index = np.empty(pair_iou.shape[0], np.int64)
    num_pairs = 0
    # Anchors as columns and their areas computed once (the same product as inside each IoU), so
    # the IoU loop below is branch-free and vectorizes.
    al, at, ar, ab = (anchors[:, 0].copy(), anchors[:, 1].copy(), anchors[:, 2].copy(),
                      anchors[:, 3].copy())
    anchor_area = (ar - al) * (ab - at)
    column = np.empty(num_anchors, anchors.dtype)
    for g in range(num_gt):
        gl, gt, gr, gb = gt_rows[g, 1], gt_rows[g, 2], gt_rows[g, 3], gt_rows[g, 4]
        gt_area = (gr - gl) * (gb - gt)
        for a in range(num_anchors):
            w = _max(zero, _min(ar[a], gr) - _max(al[a], gl))
            h = _max(zero, _min(ab[a], gb) - _max(at[a], gt))
            inter = w * h
            union = anchor_area[a] + gt_area - inter
            safe = union if union != zero else one
            column[a] = (inter / safe if union != zero else zero) + zero
        n = 0
        for a in range(num_anchors):
            value = column[a]
            if value > best_iou[a]:
                best_iou[a] = value
                best_gt[a] = g
            if value > min_iou:
                column_iou[n] = value
                column_anchor[n] = a
                n += 1
        take = first_k_descending(column_iou[:n], num_gt)
        for k in range(take.shape[0]):
            pair_iou[num_pairs] = -column_iou[take[k]]
            pair_index[num_pairs] = column_anchor[take[k]] * num_gt + g
            num_pairs += 1
    # Order (IoU desc, anchor asc, gt asc): by flat index a*G+g first, then stably by -IoU.
    by_index = np.argsort(pair_index[:num_pairs])
    pair_index = pair_index[by_index]
    pair_iou = pair_iou[by_index]

    # Step 3: greedy bipartite matching over the sorted candidates (proof in the module docstring).
    positive = np.zeros(num_anchors, np.bool_)
    match_iou = np.full(num_anchors, minus_one)
    match_gt = np.full(num_anchors, -1, np.int64)
    gt_done = np.zeros(num_gt, np.bool_)
    matched = 0
    for p in np.argsort(pair_iou, kind="mergesort"):
        if matched == num_gt:
            break
        a, g = pair_index[p] // num_gt, pair_index[p] % num_gt
        if positive[a] or gt_done[g]:
            continue
        positive[a] = True
        gt_done[g] = True
        match_iou[a] = -pair_iou[p]
        match_gt[a] = g
        matched += 1

    # Step 4: threshold stage.
    if use_threshold:
        for a in range(num_anchors):
            if not positive[a]:
                match_iou[a] = best_iou[a]
                match_gt[a] = best_gt[a]
                if best_iou[a] > overlap_thr:
                    positive[a] = True
    num_positive = 0
    for a in range(num_anchors):
        if positive[a]:
            num_positive += 1

    # Step 5: negatives.
    negative = np.zeros(num_anchors, np.bool_)
    if mine:
        product = np.float32(num_positive) * ratio32
        # x86 static_cast<int>(float): NaN or outside int32 -> INT32_MIN (spec.float_to_int32)
        if product >= 2147483648.0 or not product >= -2147483648.0:
            num_negative = -2147483648
        else:
            num_negative = int(product)
        num_negative = min(num_negative, num_anchors - num_positive)
        if num_negative > 0:
            num_candidates = 0
            for a in range(num_anchors):
                if match_iou[a] < zero:
                    match_iou[a] = best_iou[a]
                if not positive[a] and match_iou[a] < neg_thr:
                    num_candidates += 1
            if num_candidates < num_negative:
                status[0] = num_candidates
                status[1] = num_negative
                return
            candidates = np.empty(num_candidates, np.int64)
            bg_prob = np.empty(num_candidates, anchors.dtype)
            k = 0
            for a in range(num_anchors):
                if not positive[a] and match_iou[a] < neg_thr:
                    top = logits[0, a]
                    for c in range(1, logits.shape[0]):
                        if logits[c, a] > top:
                            top = logits[c, a]
                    total = zero
                    for c in range(logits.shape[0]):
                        total += math.exp(logits[c, a] - top)
                    candidates[k] = a
                    bg_prob[k] = math.exp(logits[0, a] - top) / total
                    k += 1
            if num_candidates > num_negative:      # the ranking decides: no NaN may take part
                num_nan = 0
                for k in range(num_candidates):
                    if bg_prob[k] != bg_prob[k]:
                        num_nan += 1
                if num_nan > 0:
                    status[0] = num_candidates
                    status[1] = num_negative
                    status[2] = num_nan
                    return
            # The first num_negative of a stable ascending sort, found by selection in O(n).
            hardest = first_k_ascending(bg_prob, num_negative)
            for k in range(num_negative):
                negative[candidates[hardest[k]]] = True
    else:
        for a in range(num_anchors):
            negative[a] = not positive[a]

    # Steps 6 and 7: targets.
    for a in range(num_anchors):
        if positive[a]:
            g = match_gt[a]
            cls_target[a] = gt_rows[g, 0] + one
            for m in range(4):
                loc_mask[a, m] = one
            encode_one(anchors[a], gt_rows[g, 1:5], loc_target[a], half, v0, v1, v2, v3)
        elif negative[a]:
            cls_target[a] = zero


@numba.njit(cache=True, parallel=True)
def _target_batch(anchors, label, num_valid, cls_pred, consts, ratio32, mine, use_threshold,
                  loc_target, loc_mask, cls_target, status):
    for image in numba.prange(label.shape[0]):
        if num_valid[image] > 0:
            _target_image(anchors, label[image, :num_valid[image]], cls_pred[image], consts,
                          ratio32, mine, use_threshold, loc_target[image], loc_mask[image],
                          cls_target[image], status[image])


def multibox_target(anchor, label, cls_pred, overlap_threshold=0.5, ignore_label=-1.0,
                    negative_mining_ratio=-1.0, negative_mining_thresh=0.5,
                    minimum_negative_samples=0, variances=spec.DEFAULT_VARIANCES, match_comparator=None,
                    mining=None, minimum_negative_rule=None, preset=None):
    """Numba twin of target.multibox_target (MXNet's conventions; another preset runs the spec)."""
    conventions = spec.target_conventions(preset, match_comparator, mining, minimum_negative_rule)
    if conventions != spec.MXNET_CONVENTIONS:
        return spec.multibox_target(anchor, label, cls_pred, overlap_threshold, ignore_label,
                                    negative_mining_ratio, negative_mining_thresh,
                                    minimum_negative_samples, variances, *conventions)
    anchors, label, cls_pred, params = spec.check_target_inputs(
        anchor, label, cls_pred, overlap_threshold, ignore_label, negative_mining_ratio,
        negative_mining_thresh, minimum_negative_samples, variances)
    batch, num_anchors = label.shape[0], anchors.shape[0]
    dtype = label.dtype
    mine = params.negative_mining_ratio > 0

    # Step 1 per image, in order; images after the first label error are not computed (the error
    # is raised below unless an earlier image aborts first).
    num_valid = np.zeros(batch, np.int64)
    first_error, label_error = batch, None
    for image in range(batch):
        try:
            num_valid[image] = spec.count_valid_gt(label[image], image)
        except ValueError as exc:
            first_error, label_error = image, exc
            break
        if mine and num_valid[image] > 0 and not params.negative_mining_thresh > 0:
            first_error = image
            break

    consts = np.array((0, spec.BIPARTITE_MIN_IOU, params.overlap_threshold,
                       params.negative_mining_thresh, 0.5, *params.variances, -1, 1), dtype)
    loc_target = np.zeros((batch, num_anchors, 4), dtype)
    loc_mask = np.zeros((batch, num_anchors, 4), dtype)
    cls_target = np.full((batch, num_anchors), params.ignore_label, dtype)
    status = np.full((batch, 3), _OK, np.int64)     # (num_candidates, num_negative, num_nan)
    _target_batch(np.ascontiguousarray(anchors), np.ascontiguousarray(label[:first_error]),
                  num_valid[:first_error], np.ascontiguousarray(cls_pred[:first_error]), consts,
                  np.float32(params.negative_mining_ratio), mine, params.overlap_threshold > 0,
                  loc_target, loc_mask, cls_target, status)
    for image in range(first_error):
        if status[image, 0] != _OK and status[image, 2] > 0:
            spec.nan_ranking_error(image, int(status[image, 2]), int(status[image, 0]),
                                   int(status[image, 1]))
        if status[image, 0] != _OK:
            spec.too_few_candidates_error(image, int(status[image, 0]), int(status[image, 1]))
    if label_error is not None:
        raise label_error
    if first_error < batch:
        spec.mining_threshold_error(params.negative_mining_thresh)
    return loc_target.reshape(batch, -1), loc_mask.reshape(batch, -1), cls_target
