"""A recycling pool for the large output arrays of the Numba CPU kernels (MXNet's storage pool idea).

Why: a fresh large NumPy array costs its page faults on first touch. On this project's machines a
fresh 184 MB array (an SSD300 batch-8 conv1 activation) takes ~70-100 ms more to fill than a reused
one, and a training step allocates dozens of such arrays: convolution and relu outputs, the data
gradients of backward. glibc returns allocations above 32 MB to the OS on free, so every step pays
the faults again. The pool keeps freed blocks and hands them out again.

How: `empty(shape, dtype)` behaves like `np.empty` (C-contiguous, uninitialised). Requests of at
least `MIN_POOLED_BYTES` are served as views of a pooled uint8 block; a block is free again when no
array refers to it any more, which CPython's reference count tells exactly (every NumPy view keeps a
reference to the array owning its memory). A request takes the smallest free block that fits with
at most 25% to spare, or allocates a new one. Free blocks beyond `idle_limit_bytes` are released,
oldest first, so the pool never holds more idle memory than that: `SSDREF_POOL_IDLE_MB` (0 turns
the pool off), by default an eighth of the physical memory and at most 2 GB (`default_idle_mb`).
Measured on the VGG16-reduced SSD300 body at batch 8 (bench/conv_body.py, 2-core EPYC, 23 GB,
F(4x4) Winograd, 2026-12-05): idle limit 256 MB -> 1283 ms forward, 3269 ms forward+backward,
2.81 GB peak RSS; 1 GB -> 905 / 2651 ms, 3.64 GB; 2 GB -> 855 / 2625 ms, 3.62 GB; 4 GB -> 808 /
2669 ms, 3.62 GB. Under 256 MB the batch-8 layers' temporaries (V and M of a 150x150 layer: 100-400
MB each) were released and faulted in again every call, with transparent huge pages' compaction
stalls: conv2_2 took 300-470 ms in the body against 77 ms when called alone. At batch 1 nothing
changes (every array fits under 256 MB). (Before Winograd, a 1 GB limit had bought nothing.)

Results do not depend on the pool: kernels write every element of the arrays they take from it, as
they must for `np.empty`.
"""
from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

MIN_POOLED_BYTES = 1 << 20
SLACK = 1.25


def _refcount_of_a_listed_block() -> int:
    """What sys.getrefcount reports, read as `_is_free` reads it, for a block that only a list
    holds (2 on CPython 3.11: the list and the call's argument). Measured rather than assumed:
    interpreters differ in whether the argument counts."""
    blocks = [np.empty(1, np.uint8)]
    return sys.getrefcount(blocks[0])


_FREE_REFCOUNT = _refcount_of_a_listed_block()


class BufferPool:
    def __init__(self, idle_limit_bytes: int):
        self.idle_limit_bytes = int(idle_limit_bytes)
        self._blocks: list = []        # uint8 arrays, oldest first
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def _is_free(blocks, i) -> bool:
        # a block only the pool's list holds reads _FREE_REFCOUNT here; any view adds one more
        return sys.getrefcount(blocks[i]) <= _FREE_REFCOUNT

    def empty(self, shape, dtype=np.float32) -> np.ndarray:
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < MIN_POOLED_BYTES or self.idle_limit_bytes <= 0:
            return np.empty(shape, dtype)
        with self._lock:
            blocks = self._blocks
            best = -1
            for i in range(len(blocks)):
                size = blocks[i].nbytes
                if nbytes <= size <= nbytes * SLACK and self._is_free(blocks, i) and \
                        (best < 0 or size < blocks[best].nbytes):
                    best = i
            if best >= 0:
                block = blocks.pop(best)
                blocks.append(block)           # most recently used last
                self.hits += 1
            else:
                self._trim(reserve=nbytes)
                block = np.empty(nbytes, np.uint8)
                blocks.append(block)
                self.misses += 1
            return block[:nbytes].view(dtype).reshape(shape)

    def _trim(self, reserve: int = 0):
        """Release free blocks, oldest first, until idle bytes + reserve fit the idle limit."""
        blocks = self._blocks
        free = [i for i in range(len(blocks)) if self._is_free(blocks, i)]
        idle = sum(blocks[i].nbytes for i in free) + reserve
        drop = set()
        for i in free:
            if idle <= self.idle_limit_bytes:
                break
            idle -= blocks[i].nbytes
            drop.add(i)
        if drop:
            self._blocks = [b for i, b in enumerate(blocks) if i not in drop]

    def idle_bytes(self) -> int:
        with self._lock:
            return sum(self._blocks[i].nbytes for i in range(len(self._blocks))
                       if self._is_free(self._blocks, i))

    def held_bytes(self) -> int:
        with self._lock:
            return sum(b.nbytes for b in self._blocks)

    def clear(self):
        """Forget every block (memory still referenced by live arrays stays theirs)."""
        with self._lock:
            self._blocks = []


DEFAULT_IDLE_MB_CAP = 2048


def default_idle_mb() -> float:
    """The idle limit when SSDREF_POOL_IDLE_MB is not set: an eighth of the physical memory, at most
    DEFAULT_IDLE_MB_CAP (256 MB where the platform does not tell its memory size)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 256.0
    return float(min(DEFAULT_IDLE_MB_CAP, physical / 8 / 2**20))


def _idle_limit_from_env() -> int:
    value = os.environ.get("SSDREF_POOL_IDLE_MB") or str(default_idle_mb())
    try:
        megabytes = float(value)
    except ValueError:
        raise ValueError(f"SSDREF_POOL_IDLE_MB must be a number of megabytes, got {value!r}") from None
    if megabytes < 0:
        raise ValueError(f"SSDREF_POOL_IDLE_MB must be >= 0, got {value!r}")
    return int(megabytes * 2**20)


POOL = BufferPool(_idle_limit_from_env())


def empty(shape, dtype=np.float32) -> np.ndarray:
    """Like np.empty(shape, dtype), from the process-wide pool for large arrays."""
    return POOL.empty(shape, dtype)


def empty_like(a) -> np.ndarray:
    return POOL.empty(a.shape, a.dtype)
