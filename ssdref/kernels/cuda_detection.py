"""numba.cuda kernels for ssdref.multibox.detection.multibox_detection (same name and signature), spec §3.

The CPU semantics, not MXNet's GPU quirks (whose atomicAdd compaction and unstable sort make the
order nondeterministic):
  2. one thread per anchor: class pick over 1..C-1 (strict `>` from -1, ties -> lowest class),
     background when score < threshold, decode (glibc expf, no FMA: bit-identical), clip;
  3. compaction in anchor order by a per-image block prefix sum (no atomics);
  4. nothing more when valid_count == 0, nms_threshold <= 0 or > 1 (unsorted output);
  5. stable sort by score descending: bitonic sort on (-score, row), a total order;
  6. nms_topk: rows [0, nkeep) get sorted data, rows [nkeep, valid_count) keep the stale pre-sort
     compacted row with class -1;
  7. bitmask NMS (`cuda_nms`), `>=` (`>` with nms_comparator='>'), per class unless force_suppress; suppression sets class -1.
Output equals the NumPy specification bit for bit (float64: decode's exp within 1 ulp).
"""
import functools

import numba
import numpy as np
from numba import cuda

from ssdref.kernels import cuda_util as cu
from ssdref.kernels.cuda_boxes import device_functions
from ssdref.kernels.cuda_nms import sort_rows, suppress
from ssdref.multibox import detection as spec
from ssdref.multibox.nms import resolve_nms_comparator
from ssdref.multibox.boxes import DEFAULT_VARIANCES

BLOCK_MAX = cu.BLOCK_MAX


@functools.lru_cache(maxsize=None)
def _pick_decode_kernel(dtype_name: str):
    _, decode, _, clip_value = device_functions(dtype_name)
    ftype = np.dtype(dtype_name).type
    minus_one = ftype(-1)

    @cuda.jit
    def kernel(cls_prob, loc, anchors, threshold, clip, v0, v1, v2, v3, flag, dec):
        batch, num_classes, num_anchors = cls_prob.shape
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for t in range(start, batch * num_anchors, stride):
            b = t // num_anchors
            a = t % num_anchors
            score = minus_one
            class_id = 0
            for c in range(1, num_classes):          # strict `>`: ties keep the lowest class
                p = cls_prob[b, c, a]
                if p > score:
                    score = p
                    class_id = c
            if class_id > 0 and score < threshold:
                class_id = 0
            x0, y0, x1, y1 = decode(anchors[0, a, 0], anchors[0, a, 1], anchors[0, a, 2],
                                    anchors[0, a, 3], loc[b, 4 * a], loc[b, 4 * a + 1],
                                    loc[b, 4 * a + 2], loc[b, 4 * a + 3], v0, v1, v2, v3)
            if clip:
                x0 = clip_value(x0)
                y0 = clip_value(y0)
                x1 = clip_value(x1)
                y1 = clip_value(y1)
            flag[b, a] = 1 if class_id > 0 else 0
            dec[b, a, 0] = ftype(class_id - 1)
            dec[b, a, 1] = score
            dec[b, a, 2] = x0
            dec[b, a, 3] = y0
            dec[b, a, 4] = x1
            dec[b, a, 5] = y1

    return kernel


@cuda.jit
def _compact_kernel(flag, dec, out, compact, keys, present, valid_count):
    """One block per image: valid rows to the front, in anchor order (block prefix sum)."""
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    num_anchors = flag.shape[1]
    chunk = (num_anchors + nthreads - 1) // nthreads
    begin = tid * chunk
    end = min(begin + chunk, num_anchors)
    offsets = cuda.shared.array(BLOCK_MAX, numba.int64)
    count = 0
    for a in range(begin, end):
        count += flag[b, a]
    offsets[tid] = count
    cuda.syncthreads()
    if tid == 0:
        running = 0
        for t in range(nthreads):
            here = offsets[t]
            offsets[t] = running
            running += here
        valid_count[b] = running
    cuda.syncthreads()
    pos = offsets[tid]
    for a in range(begin, end):
        if flag[b, a] != 0:
            for c in range(6):
                out[b, pos, c] = dec[b, a, c]
                compact[b, pos, c] = dec[b, a, c]
            keys[b, pos] = -dec[b, a, 1]
            present[b, pos] = 1
            pos += 1


@cuda.jit
def _write_sorted_kernel(order, compact, valid_count, topk, out, nkeep):
    """Rows [0, nkeep) <- sorted compacted rows; rows [nkeep, valid_count): class -1, stale payload."""
    batch, num_anchors = compact.shape[0], compact.shape[1]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, batch * num_anchors, stride):
        b = t // num_anchors
        r = t % num_anchors
        valid = valid_count[b]
        keep_rows = topk if 0 < topk < valid else valid
        if r == 0:
            nkeep[b] = keep_rows
        if r < keep_rows:
            src = order[b, r]
            for c in range(6):
                out[b, r, c] = compact[b, src, c]
        elif r < valid:
            out[b, r, 0] = -1


@cuda.jit
def _apply_keep_kernel(nkeep, keep, out):
    batch, rows = keep.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, batch * rows, stride):
        b = t // rows
        r = t % rows
        if r < nkeep[b] and keep[b, r] == 0:
            out[b, r, 0] = -1


def _check_device_inputs(cls_prob, loc_pred, anchor, clip, threshold, background_id,
                         nms_threshold, force_suppress, variances, nms_topk, nms_comparator):
    """Shapes and dtypes of device inputs (values stay on the GPU); parameters as the spec checks."""
    probe = [np.broadcast_to(np.zeros((), np.dtype(x.dtype)), tuple(x.shape))
             for x in (cls_prob, loc_pred, anchor)]
    _, _, _, params = spec.check_detection_inputs(*probe, clip, threshold, background_id,
                                                  nms_threshold, force_suppress, variances, nms_topk,
                                                  nms_comparator)
    return params


def multibox_detection(cls_prob, loc_pred, anchor, clip=True, threshold=0.01, background_id=0,
                       nms_threshold=0.5, force_suppress=False, variances=DEFAULT_VARIANCES,
                       nms_topk=-1, nms_comparator=None, preset=None):
    """Detections (B, A, 6); see ssdref.multibox.detection.multibox_detection."""
    nms_comparator = resolve_nms_comparator(spec.OP, nms_comparator, preset)
    on_device = any(cu.is_device(x) for x in (cls_prob, loc_pred, anchor))
    if on_device:
        cls_prob, loc_pred, anchor = (cu.as_device(x) for x in (cls_prob, loc_pred, anchor))
        params = _check_device_inputs(cls_prob, loc_pred, anchor, clip, threshold, background_id,
                                      nms_threshold, force_suppress, variances, nms_topk,
                                      nms_comparator)
        loc_flat = loc_pred
    else:
        cls_prob, loc3, anchors, params = spec.check_detection_inputs(
            cls_prob, loc_pred, anchor, clip, threshold, background_id, nms_threshold,
            force_suppress, variances, nms_topk, nms_comparator)
        loc_flat = loc3.reshape(loc3.shape[0], -1)
        anchor = anchors[None]
    dtype = np.dtype(cls_prob.dtype)
    ftype = dtype.type
    batch, _, num_anchors = cls_prob.shape
    d_prob, d_loc, d_anchor = (cu.as_device(x) for x in (cls_prob, loc_flat, anchor))

    flag = cuda.device_array((batch, num_anchors), np.int32)
    dec = cuda.device_array((batch, num_anchors, 6), dtype)
    _pick_decode_kernel(dtype.name)[cu.grid_1d(batch * num_anchors)](
        d_prob, d_loc, d_anchor, ftype(params.threshold), params.clip,
        *(ftype(v) for v in params.variances), flag, dec)

    out = cuda.to_device(np.full((batch, num_anchors, 6), -1, dtype))          # step 1
    compact = cuda.device_array((batch, num_anchors, 6), dtype)
    keys = cuda.device_array((batch, num_anchors), dtype)
    present = cuda.to_device(np.zeros((batch, num_anchors), np.int8))
    valid_count = cuda.device_array(batch, np.int64)
    _compact_kernel[batch, cu.block_threads(num_anchors)](
        flag, dec, out, compact, keys, present, valid_count)                   # step 3

    if 0 < params.nms_threshold <= 1:                                          # step 4
        order = sort_rows(keys, present, num_anchors, batch)                   # step 5
        nkeep = cuda.device_array(batch, np.int64)
        _write_sorted_kernel[cu.grid_1d(batch * num_anchors)](
            order, compact, valid_count, params.nms_topk, out, nkeep)          # step 6
        max_rows = params.nms_topk if 0 < params.nms_topk < num_anchors else num_anchors
        keep = suppress(out, nkeep, max_rows, params.force_suppress,
                        ftype(params.nms_threshold), batch, params.nms_comparator == ">")                    # step 7
        _apply_keep_kernel[cu.grid_1d(batch * max_rows)](nkeep, keep, out)
    return out if on_device else out.copy_to_host()
