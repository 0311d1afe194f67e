"""numba.cuda bitmask NMS for ssdref.multibox.nms.nms (same name and signature), spec §3 steps 5-7.

The fast-GPU-NMS scheme, made exactly equal to the specification's sequential greedy loop:
  1. order: stable sort by score descending (bitonic sort on (-score, index): a total order, so
     the one stable answer), cut to the first topk;
  2. mask kernel: for sorted rows i < j, bit j of mask[i] is set when (force_suppress or equal
     class ids) and IoU(i, j) >= iou_threshold (comparator `>=`; `>` with nms_comparator='>';
     IoU with union <= 0 -> 0), one
     64-bit word per (row, block of 64 columns);
  3. reduce: one block per image walks the rows in order; a row not yet removed (and with class
     id >= 0) is kept and ORs its mask row into `removed`. Row i's suppression by a kept earlier
     row is exactly what the greedy loop tests, so the kept set is the greedy kept set.
No atomics: every mask word and every `removed` word has one writer.
"""
import functools

import numba
import numpy as np
from numba import cuda

from ssdref.kernels import cuda_util as cu
from ssdref.kernels.cuda_boxes import device_functions
from ssdref.multibox import nms as spec

WORD = 64


@functools.lru_cache(maxsize=None)
def mask_kernel(dtype_name: str):
    """kernel[(col_blocks, row_blocks, batch), 64](rows, nkeep, force, strict, threshold, mask).

    rows (B, N, 6) sorted detections [class, score, x0, y0, x1, y1]; nkeep (B,) rows taking part;
    mask (B, N, col_blocks) uint64."""
    iou = device_functions(dtype_name)[0]

    @cuda.jit
    def kernel(rows, nkeep, force_suppress, strict, threshold, mask):
        col_block = cuda.blockIdx.x
        row_block = cuda.blockIdx.y
        b = cuda.blockIdx.z
        n = nkeep[b]
        i = row_block * WORD + cuda.threadIdx.x
        if i >= n:
            return
        word = numba.uint64(0)
        if col_block >= row_block:
            for t in range(WORD):
                j = col_block * WORD + t
                if j > i and j < n:
                    if force_suppress or rows[b, j, 0] == rows[b, i, 0]:
                        value = iou(rows[b, i, 2], rows[b, i, 3], rows[b, i, 4], rows[b, i, 5],
                                    rows[b, j, 2], rows[b, j, 3], rows[b, j, 4], rows[b, j, 5], True)
                        if value > threshold or (not strict and value == threshold):
                            word |= numba.uint64(1) << numba.uint64(t)
        mask[b, i, col_block] = word

    return kernel


@cuda.jit
def reduce_kernel(rows, nkeep, mask, removed, keep):
    """One block per image: greedy walk over the mask rows; keep[b, i] = 1 for kept rows."""
    b = cuda.blockIdx.x
    n = nkeep[b]
    words = mask.shape[2]
    tid = cuda.threadIdx.x
    for w in range(tid, words, cuda.blockDim.x):
        removed[b, w] = numba.uint64(0)
    cuda.syncthreads()
    for i in range(n):
        # Every thread reads the same bit: mask rows only set bits j > i, so concurrent ORs
        # of this iteration cannot change bit i.
        word = removed[b, i // WORD]
        alive = (word >> numba.uint64(i % WORD)) & numba.uint64(1) == numba.uint64(0)
        alive = alive and rows[b, i, 0] >= 0
        if tid == 0:
            keep[b, i] = 1 if alive else 0
        if alive:
            for w in range(i // WORD + tid, words, cuda.blockDim.x):
                removed[b, w] = removed[b, w] | mask[b, i, w]
            cuda.syncthreads()


def suppress(rows, nkeep, max_rows, force_suppress, threshold, batch, strict=False):
    """keep (B, max_rows) int8 on the device for sorted rows (B, >= max_rows, 6) on the device."""
    dtype_name = np.dtype(rows.dtype).name
    words = max(1, (max_rows + WORD - 1) // WORD)
    mask = cuda.device_array((batch, max(max_rows, 1), words), np.uint64)
    removed = cuda.device_array((batch, words), np.uint64)
    keep = cuda.device_array((batch, max(max_rows, 1)), np.int8)
    if max_rows:
        mask_kernel(dtype_name)[(words, words, batch), WORD](rows, nkeep, force_suppress, strict, threshold,
                                                             mask)
        reduce_kernel[batch, cu.block_threads(words)](rows, nkeep, mask, removed, keep)
    return keep


@cuda.jit
def _gather_kernel(order, boxes, scores, class_ids, rows):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for r in range(start, rows.shape[1], stride):
        src = order[0, r]
        rows[0, r, 0] = class_ids[src]
        rows[0, r, 1] = scores[src]
        for c in range(4):
            rows[0, r, 2 + c] = boxes[src, c]


@cuda.jit
def _negate_kernel(scores, keys, present):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, scores.shape[0], stride):
        keys[0, i] = -scores[i]
        present[0, i] = 1


@cuda.jit
def _sort_kernel(keys, present, n, idx):
    cu.block_sort(keys, present, n, idx, cuda.blockIdx.x)


def sort_rows(keys, present, n, batch):
    """Per-row stable ascending order (B, n_pad) int32 of keys (B, n) on the device."""
    n_pad = cu.next_pow2(max(n, 2))
    idx = cu.identity_rows(batch, n_pad)
    _sort_kernel[batch, cu.block_threads(n_pad // 2)](keys, present, n, idx)
    return idx


def nms(boxes, scores, class_ids, iou_threshold, force_suppress=False, topk=-1,
        nms_comparator=None, preset=None):
    """Indices (int64, host) of the surviving boxes in visiting order; see ssdref.multibox.nms.nms."""
    nms_comparator = spec.resolve_nms_comparator(spec.OP, nms_comparator, preset)
    if cu.is_device(boxes) or cu.is_device(scores) or cu.is_device(class_ids):
        boxes, scores, class_ids = (cu.as_device(x) for x in (boxes, scores, class_ids))
        threshold, force_suppress, topk = float(iou_threshold), bool(force_suppress), int(topk)
    else:
        boxes, scores, class_ids, threshold, force_suppress, topk = spec.check_nms_inputs(
            boxes, scores, class_ids, iou_threshold, force_suppress, topk, nms_comparator)
    dtype = np.dtype(boxes.dtype)
    count = boxes.shape[0]
    if count == 0:
        return np.zeros(0, np.int64)
    nkeep = topk if 0 < topk < count else count
    d_boxes, d_scores = cu.as_device(boxes), cu.as_device(scores)
    d_ids = cu.as_device(np.asarray(class_ids, dtype) if not cu.is_device(class_ids) else class_ids)
    keys = cuda.device_array((1, count), dtype)
    present = cuda.device_array((1, count), np.int8)
    _negate_kernel[cu.grid_1d(count)](d_scores, keys, present)
    order = sort_rows(keys, present, count, 1)
    rows = cuda.device_array((1, nkeep, 6), dtype)
    _gather_kernel[cu.grid_1d(nkeep)](order, d_boxes, d_scores, d_ids, rows)
    keep = suppress(rows, cuda.to_device(np.array([nkeep], np.int64)), nkeep, force_suppress,
                    dtype.type(threshold), 1, nms_comparator == ">")
    kept = keep.copy_to_host()[0, :nkeep].astype(bool)
    return order.copy_to_host()[0, :nkeep][kept].astype(np.int64)
