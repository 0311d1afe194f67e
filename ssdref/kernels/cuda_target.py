"""numba.cuda kernels for ssdref.multibox.target.multibox_target (same name and signature), spec §2.

The CPU semantics (MXNet 1.9.1's CPU code; not its GPU code, whose tie order and unstable mining sort
leak thread order into the result), step numbers as the spec's:
  1. per image, one thread finds the terminating -1 row (and flags a bad padding row / NaN);
  3. bipartite stage, one block per image: each round a block argmax of (IoU desc, anchor asc, gt asc)
     over unmatched anchors x unmatched gts (a total order, so the one answer of MXNet's scan), taken
     while IoU > 1e-6;
  4. threshold stage: best gt per anchor (first maximum), positive when IoU > overlap_threshold;
  5. mining: num_negative = int(f32(num_pos) * f32(ratio)) capped; candidates IoU < thresh; background
     probability with glibc expf (bit-exact), summed in class order; the num_negative smallest by
     (probability, anchor) via a bitonic sort on that total order = the specification's stable sort;
  6./7. targets: cls = class + 1, mask 1, encode with glibc logf; negatives cls 0.
Errors (bad padding row, NaN labels, negative_mining_thresh <= 0, too few candidates) are flagged per
image on the device and raised on the host in image order with the specification's messages.
Output equals the NumPy specification bit for bit (float64: encode's log within 1 ulp).
"""
import functools

import numba
import numpy as np
from numba import cuda

from ssdref.kernels import cuda_util as cu
from ssdref.kernels.cuda_boxes import device_functions
from ssdref.kernels.cuda_mathf import math_for, mul32
from ssdref.kernels.cuda_nms import sort_rows
from ssdref.multibox import target as spec
from ssdref.multibox.boxes import DEFAULT_VARIANCES

BLOCK_MAX = cu.BLOCK_MAX
ERR_PADDING, ERR_NAN_RANKING, ERR_TOO_FEW = 1, 2, 3


@cuda.jit
def _count_gt_kernel(label, num_gt, err, err_row):
    """Step 1: rows before the first class == -1 row (which must be all -1); NaN/inf rows taken."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    rows = label.shape[1]
    for b in range(start, label.shape[0], stride):
        count = rows
        err[b] = 0
        for r in range(rows):
            if label[b, r, 0] == -1:
                count = r
                if not (label[b, r, 1] == -1 and label[b, r, 2] == -1 and label[b, r, 3] == -1
                        and label[b, r, 4] == -1):
                    err[b] = ERR_PADDING
                    err_row[b] = r
                break
        num_gt[b] = count


@functools.lru_cache(maxsize=None)
def _match_kernel(dtype_name: str):
    iou = device_functions(dtype_name)[0]
    ftype = np.dtype(dtype_name).type
    minus_one = ftype(-1)

    @cu.block_jit               # up to BLOCK_MAX threads: registers capped so that the launch fits
    def kernel(anchors, label, num_gt, err, overlap_threshold, min_iou, iou_buf, gt_done,
               positive, match_gt, best_iou, num_pos):
        """Steps 3-4 for image blockIdx.x; also best_iou per anchor (mining's max IoU)."""
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        num_anchors = anchors.shape[1]
        n_gt = num_gt[b]
        s_iou = cuda.shared.array(BLOCK_MAX, numba.float64)
        s_anchor = cuda.shared.array(BLOCK_MAX, numba.int64)
        s_gt = cuda.shared.array(BLOCK_MAX, numba.int64)
        counts = cuda.shared.array(BLOCK_MAX, numba.int64)
        if n_gt == 0 or err[b] != 0:
            return                                    # step 2: the image is left untouched
        for t in range(tid, num_anchors * n_gt, nthreads):
            a = t // n_gt
            g = t % n_gt
            iou_buf[b, a, g] = iou(anchors[0, a, 0], anchors[0, a, 1], anchors[0, a, 2],
                                   anchors[0, a, 3], label[b, g, 1], label[b, g, 2],
                                   label[b, g, 3], label[b, g, 4], False)
        for a in range(tid, num_anchors, nthreads):
            positive[b, a] = 0
            match_gt[b, a] = -1
        for g in range(tid, n_gt, nthreads):
            gt_done[b, g] = 0
        cuda.syncthreads()

        # Step 3: greedy bipartite rounds.
        for _ in range(n_gt):
            top = -1.0
            top_anchor = -1
            top_gt = -1
            for a in range(tid, num_anchors, nthreads):   # own anchors ascending, gts ascending
                if positive[b, a] == 0:
                    for g in range(n_gt):
                        if gt_done[b, g] == 0:
                            value = numba.float64(iou_buf[b, a, g])
                            if value > top:
                                top = value
                                top_anchor = a
                                top_gt = g
            s_iou[tid] = top
            s_anchor[tid] = top_anchor
            s_gt[tid] = top_gt
            cuda.syncthreads()
            step = nthreads >> 1
            while step > 0:
                if tid < step:
                    o = tid + step
                    better = s_iou[o] > s_iou[tid] or (
                        s_iou[o] == s_iou[tid] and s_anchor[o] >= 0 and (
                            s_anchor[tid] < 0 or s_anchor[o] < s_anchor[tid] or (
                                s_anchor[o] == s_anchor[tid] and s_gt[o] < s_gt[tid])))
                    if better:
                        s_iou[tid] = s_iou[o]
                        s_anchor[tid] = s_anchor[o]
                        s_gt[tid] = s_gt[o]
                cuda.syncthreads()
                step >>= 1
            found = s_anchor[0] >= 0 and s_iou[0] > numba.float64(min_iou)
            if found and tid == 0:
                positive[b, s_anchor[0]] = 1
                gt_done[b, s_gt[0]] = 1
                match_gt[b, s_anchor[0]] = s_gt[0]
            cuda.syncthreads()
            if not found:
                break

        # Step 4: best gt per anchor over all valid gts (first maximum, from -1, strict `>`).
        local = 0
        for a in range(tid, num_anchors, nthreads):
            top = minus_one
            top_gt = -1
            for g in range(n_gt):
                value = iou_buf[b, a, g]
                if value > top:
                    top = value
                    top_gt = g
            best_iou[b, a] = top
            if positive[b, a] == 0 and overlap_threshold > 0:
                match_gt[b, a] = top_gt
                if top > overlap_threshold:
                    positive[b, a] = 1
            local += positive[b, a]
        total = cu.block_sum_int(local, counts)
        if tid == 0:
            num_pos[b] = total

    return kernel


@functools.lru_cache(maxsize=None)
def _mining_kernel(dtype_name: str):
    _, exp, _, ftype = math_for(dtype_name)
    zero = ftype(0)

    @cu.block_jit               # float64 needs 75 registers uncapped: 1024 threads would not launch
    def kernel(cls_pred, num_gt, err, positive, best_iou, num_pos, ratio32, neg_thresh,
               num_neg, num_cand, num_nan, bg_prob, candidate):
        """Step 5 set-up for image blockIdx.x: num_negative, candidates and their bg probability."""
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        num_classes, num_anchors = cls_pred.shape[1], cls_pred.shape[2]
        counts = cuda.shared.array(BLOCK_MAX, numba.int64)
        active = num_gt[b] > 0 and err[b] == 0
        wanted = 0
        if active:
            npos = num_pos[b]
            product = mul32(numba.float32(npos), ratio32)
            # x86 static_cast<int>(float): NaN or outside int32 -> INT32_MIN (spec.float_to_int32)
            if product >= 2147483648.0 or not product >= -2147483648.0:
                wanted = numba.int64(-2147483648)
            else:
                wanted = numba.int64(product)
            wanted = min(wanted, num_anchors - npos)
        local = 0
        local_nan = 0
        for a in range(tid, num_anchors, cuda.blockDim.x):
            is_cand = active and wanted > 0 and positive[b, a] == 0 and best_iou[b, a] < neg_thresh
            candidate[b, a] = 1 if is_cand else 0
            if is_cand:
                local += 1
                top = cls_pred[b, 0, a]
                for c in range(1, num_classes):
                    top = max(top, cls_pred[b, c, a])
                total = zero
                for c in range(num_classes):          # sequential, in class order
                    total = total + exp(cls_pred[b, c, a] - top)
                prob = exp(cls_pred[b, 0, a] - top) / total
                bg_prob[b, a] = prob
                if prob != prob:
                    # Taken only when every candidate is (else ERR_NAN_RANKING): any key will do,
                    # and a number keeps the sort's order total.
                    bg_prob[b, a] = ftype(np.inf)
                    local_nan += 1
        count = cu.block_sum_int(local, counts)
        nans = cu.block_sum_int(local_nan, counts)
        if tid == 0:
            num_neg[b] = wanted if active else 0
            num_cand[b] = count
            num_nan[b] = nans
            if active and wanted > 0 and count < wanted:
                err[b] = ERR_TOO_FEW
            elif active and wanted > 0 and count > wanted and nans > 0:
                err[b] = ERR_NAN_RANKING

    return kernel


@cuda.jit
def _mark_negatives_kernel(order, num_neg, negative):
    batch, n_pad = order.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, batch * n_pad, stride):
        b = t // n_pad
        r = t % n_pad
        if r < num_neg[b]:
            negative[b, order[b, r]] = 1


@functools.lru_cache(maxsize=None)
def _targets_kernel(dtype_name: str):
    encode = device_functions(dtype_name)[2]
    ftype = np.dtype(dtype_name).type
    one, zero = ftype(1), ftype(0)

    @cuda.jit
    def kernel(anchors, label, num_gt, err, positive, match_gt, negative, mining,
               v0, v1, v2, v3, ignore_label, loc_target, loc_mask, cls_target):
        batch, num_anchors = cls_target.shape
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for t in range(start, batch * num_anchors, stride):
            b = t // num_anchors
            a = t % num_anchors
            cls = ignore_label
            for c in range(4):
                loc_target[b, 4 * a + c] = zero
                loc_mask[b, 4 * a + c] = zero
            if num_gt[b] > 0 and err[b] == 0:
                if positive[b, a] != 0:
                    g = match_gt[b, a]
                    cls = label[b, g, 0] + one
                    e0, e1, e2, e3 = encode(anchors[0, a, 0], anchors[0, a, 1], anchors[0, a, 2],
                                            anchors[0, a, 3], label[b, g, 1], label[b, g, 2],
                                            label[b, g, 3], label[b, g, 4], v0, v1, v2, v3)
                    loc_target[b, 4 * a] = e0
                    loc_target[b, 4 * a + 1] = e1
                    loc_target[b, 4 * a + 2] = e2
                    loc_target[b, 4 * a + 3] = e3
                    for c in range(4):
                        loc_mask[b, 4 * a + c] = one
                elif (negative[b, a] != 0) if mining else True:
                    cls = zero
            cls_target[b, a] = cls

    return kernel


def _host_inputs(anchor, label, cls_pred, *params):
    """Validated inputs: the specification's checks for host arrays, shapes only for device ones."""
    if any(cu.is_device(x) for x in (anchor, label, cls_pred)):
        probe = [np.broadcast_to(np.zeros((), np.dtype(x.dtype)), tuple(x.shape))
                 for x in (anchor, label, cls_pred)]
        checked = spec.check_target_inputs(*probe, *params)[3]
        return cu.as_device(anchor), cu.as_device(label), cu.as_device(cls_pred), checked, True
    anchors, label, cls_pred, checked = spec.check_target_inputs(anchor, label, cls_pred, *params)
    return anchors[None], label, cls_pred, checked, False


def multibox_target(anchor, label, cls_pred, overlap_threshold=0.5, ignore_label=-1.0,
                    negative_mining_ratio=-1.0, negative_mining_thresh=0.5,
                    minimum_negative_samples=0, variances=DEFAULT_VARIANCES, match_comparator=None,
                    mining=None, minimum_negative_rule=None, preset=None):
    """(loc_target (B, A*4), loc_mask (B, A*4), cls_target (B, A)); see target.multibox_target.

    Only MXNet's conventions run on the GPU; another preset runs the NumPy specification."""
    conventions = spec.target_conventions(preset, match_comparator, mining, minimum_negative_rule)
    if conventions != spec.MXNET_CONVENTIONS:
        on_device = any(cu.is_device(x) for x in (anchor, label, cls_pred))
        outputs = spec.multibox_target(
            *(cu.to_host(x) for x in (anchor, label, cls_pred)), overlap_threshold, ignore_label,
            negative_mining_ratio, negative_mining_thresh, minimum_negative_samples, variances,
            *conventions)
        return tuple(cu.as_device(x) for x in outputs) if on_device else outputs
    anchor, label, cls_pred, params, on_device = _host_inputs(
        anchor, label, cls_pred, overlap_threshold, ignore_label, negative_mining_ratio,
        negative_mining_thresh, minimum_negative_samples, variances)
    dtype = np.dtype(label.dtype)
    ftype = dtype.type
    batch, rows = label.shape[0], label.shape[1]
    num_anchors = anchor.shape[1]
    d_anchor, d_label, d_pred = (cu.as_device(x) for x in (anchor, label, cls_pred))

    num_gt = cuda.device_array(batch, np.int64)
    err = cuda.device_array(batch, np.int64)
    err_row = cuda.to_device(np.zeros(batch, np.int64))
    _count_gt_kernel[cu.grid_1d(batch)](d_label, num_gt, err, err_row)           # step 1

    iou_buf = cuda.device_array((batch, num_anchors, rows), dtype)
    gt_done = cuda.device_array((batch, rows), np.int8)
    positive = cuda.device_array((batch, num_anchors), np.int8)
    match_gt = cuda.device_array((batch, num_anchors), np.int32)
    best_iou = cuda.device_array((batch, num_anchors), dtype)
    num_pos = cuda.to_device(np.zeros(batch, np.int64))
    _match_kernel(dtype.name)[batch, cu.block_threads(num_anchors)](              # steps 3-4
        d_anchor, d_label, num_gt, err, ftype(params.overlap_threshold),
        ftype(spec.BIPARTITE_MIN_IOU), iou_buf, gt_done, positive, match_gt, best_iou, num_pos)

    mining = params.negative_mining_ratio > 0
    negative = cuda.to_device(np.zeros((batch, num_anchors), np.int8))
    num_neg = cuda.to_device(np.zeros(batch, np.int64))
    num_cand = cuda.to_device(np.zeros(batch, np.int64))
    num_nan = cuda.to_device(np.zeros(batch, np.int64))
    if mining and params.negative_mining_thresh > 0:                             # step 5
        bg_prob = cuda.device_array((batch, num_anchors), dtype)
        candidate = cuda.device_array((batch, num_anchors), np.int8)
        _mining_kernel(dtype.name)[batch, cu.block_threads(num_anchors)](
            d_pred, num_gt, err, positive, best_iou, num_pos,
            np.float32(params.negative_mining_ratio), ftype(params.negative_mining_thresh),
            num_neg, num_cand, num_nan, bg_prob, candidate)
        order = sort_rows(bg_prob, candidate, num_anchors, batch)
        _mark_negatives_kernel[cu.grid_1d(batch * order.shape[1])](order, num_neg, negative)

    _raise_first_error(err, err_row, num_gt, num_cand, num_neg, num_nan, label, params, mining)

    loc_target = cuda.device_array((batch, num_anchors * 4), dtype)
    loc_mask = cuda.device_array((batch, num_anchors * 4), dtype)
    cls_target = cuda.device_array((batch, num_anchors), dtype)
    _targets_kernel(dtype.name)[cu.grid_1d(batch * num_anchors)](                 # steps 6-7
        d_anchor, d_label, num_gt, err, positive, match_gt, negative, mining,
        *(ftype(v) for v in params.variances), ftype(params.ignore_label),
        loc_target, loc_mask, cls_target)
    outputs = (loc_target, loc_mask, cls_target)
    return outputs if on_device else tuple(x.copy_to_host() for x in outputs)


def _raise_first_error(err, err_row, num_gt, num_cand, num_neg, num_nan, label, params, mining):
    """The specification's error for the first image (in image order) that has one."""
    err = err.copy_to_host()
    num_gt = num_gt.copy_to_host()
    if not err.any() and not (mining and not params.negative_mining_thresh > 0 and num_gt.any()):
        return
    err_row, num_cand, num_neg, num_nan = (x.copy_to_host()
                                           for x in (err_row, num_cand, num_neg, num_nan))
    for image in range(err.shape[0]):
        if err[image] == ERR_PADDING:
            row = int(err_row[image])
            values = cu.to_host(label)[image, row, :5]
            spec.padding_error(image, row, values)
        if num_gt[image] > 0 and mining and not params.negative_mining_thresh > 0:
            spec.mining_threshold_error(params.negative_mining_thresh)
        if err[image] == ERR_TOO_FEW:
            spec.too_few_candidates_error(image, int(num_cand[image]), int(num_neg[image]))
        if err[image] == ERR_NAN_RANKING:
            spec.nan_ranking_error(image, int(num_nan[image]), int(num_cand[image]),
                                   int(num_neg[image]))
