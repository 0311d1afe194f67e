"""Launch helpers and block-level building blocks shared by the cuda_* kernels (no op of its own).

Determinism rules every cuda_* kernel follows (DESIGN.md "Numbers"):
- no atomics: each output element has exactly one writer; counts and prefix sums are block-level
  integer scans (exact, so any reduction tree gives the same number);
- orderings are total orders (key, then index), so any correct sort or argmax gives the one answer
  the NumPy specification's stable sort / first-maximum gives;
- per-image sequential work (greedy matching, the NMS reduce) runs in one block per image.
Host arrays in -> host arrays out; numba device arrays (or objects with __cuda_array_interface__)
in -> device arrays out (validation then checks shapes and dtypes only: values stay on the GPU).
"""
import numba
import numpy as np
from numba import cuda

from ssdref.kernels.cuda_mathf import SIMULATOR

# Threads per block. The simulator runs every thread as a Python thread, so it gets few of them
# and grid-stride loops do the rest; on a GPU a block-per-image kernel gets a full block.
BLOCK = 32 if SIMULATOR else 256
BLOCK_MAX = 32 if SIMULATOR else 1024          # per-image kernels; shared arrays have this size
MAX_GRID = 1 if SIMULATOR else 65535


def block_jit(fn):
    """`cuda.jit` for a kernel launched with up to BLOCK_MAX threads per block (one block per image).

    A block may use at most 65536 registers, so such a kernel gets at most 65536 // BLOCK_MAX = 64
    per thread; above that the launch fails ("too many resources requested for launch"), and the
    simulator, which takes no `max_registers`, would never show it."""
    if SIMULATOR:
        return cuda.jit(fn)
    return cuda.jit(max_registers=65536 // BLOCK_MAX)(fn)


def is_device(x) -> bool:
    return hasattr(x, "copy_to_host") or (hasattr(x, "__cuda_array_interface__")
                                          and not isinstance(x, np.ndarray))


def as_device(x):
    """A device array for `x` (host arrays are copied; device arrays are used as they are)."""
    if hasattr(x, "copy_to_host"):
        return x
    if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
        return cuda.as_cuda_array(x)
    x = np.ascontiguousarray(x)
    if x.size > 1 and 0 in x.strides:
        # An axis added with None/np.newaxis has stride 0 while the array stays C-contiguous.
        # numba-cuda takes any 0 stride for a broadcast and walks every element in Python to find
        # its core: 80 ms for SSD300's anchors (1, 8732, 4) on an H200, against 0.2 ms for the copy.
        x = x.copy()
    return cuda.to_device(x)


def to_host(x):
    return x.copy_to_host() if hasattr(x, "copy_to_host") else np.asarray(x)


def grid_1d(n: int, block: int = BLOCK) -> tuple:
    """(blocks, threads) for a grid-stride loop over n items."""
    return max(1, min(MAX_GRID, (n + block - 1) // block)), block


def block_threads(n: int) -> int:
    """A power-of-two thread count for a block that works through n items (32 <= t <= BLOCK_MAX)."""
    threads = 32
    while threads < BLOCK_MAX and threads < n:
        threads *= 2
    return threads


def next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


@cuda.jit(device=True)
def _before(keys, present, n, b, ia, ib):
    """Total order of the sort: present items first, then key ascending, then index ascending."""
    pa = ia < n and present[b, ia] != 0
    pb = ib < n and present[b, ib] != 0
    if pa != pb:
        return pa
    if not pa:
        return ia < ib
    ka = keys[b, ia]
    kb = keys[b, ib]
    if ka != kb:
        return ka < kb
    return ia < ib


@cuda.jit(device=True)
def block_sort(keys, present, n, idx, b):
    """Bitonic sort of idx[b, :n_pad] (n_pad a power of two, idx[b, i] = i on entry) by the total
    order of `_before` on keys[b, :n], present[b, :n]. Called by every thread of one block.

    Because keys tie-break on the index, the result is exactly a stable ascending sort."""
    n_pad = idx.shape[1]
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    k = 2
    while k <= n_pad:
        j = k >> 1
        while j > 0:
            for i in range(tid, n_pad, nthreads):
                partner = i ^ j
                if partner > i:
                    ia = idx[b, i]
                    ib = idx[b, partner]
                    if (i & k) == 0:
                        swap = _before(keys, present, n, b, ib, ia)
                    else:
                        swap = _before(keys, present, n, b, ia, ib)
                    if swap:
                        idx[b, i] = ib
                        idx[b, partner] = ia
            cuda.syncthreads()
            j >>= 1
        k <<= 1


@cuda.jit(device=True)
def block_sum_int(value, scratch):
    """Sum of one int64 per thread over the block (power-of-two blockDim); every thread gets it."""
    tid = cuda.threadIdx.x
    scratch[tid] = value
    cuda.syncthreads()
    step = cuda.blockDim.x >> 1
    while step > 0:
        if tid < step:
            scratch[tid] += scratch[tid + step]
        cuda.syncthreads()
        step >>= 1
    total = scratch[0]
    cuda.syncthreads()
    return total


@cuda.jit
def iota_rows(idx):
    """idx[b, i] = i (the identity permutation block_sort starts from)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    n = idx.shape[1]
    for t in range(start, idx.shape[0] * n, stride):
        idx[t // n, t % n] = t % n


def identity_rows(rows: int, n_pad: int):
    idx = cuda.device_array((rows, n_pad), np.int32)
    iota_rows[grid_1d(rows * n_pad)](idx)
    return idx


def scalar(dtype, value):
    """`value` as a NumPy scalar of float dtype `dtype` (kernels compare in the data's dtype)."""
    return np.dtype(dtype).type(value)


int64 = numba.int64
