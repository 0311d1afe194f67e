"""`np.argsort(values)` (kind='quicksort') exactly as NumPy 1.23 orders ties, for the example's mAP.

Mirrors: numpy/core/src/npysort/quicksort.cpp `aquicksort_` and heapsort.cpp `aheapsort_` (NumPy 1.23.5,
the version MXNet 1.9.1's environment pins). example/ssd's MApMetric sorts detections with
`scores.argsort()[::-1]`: an introsort, not stable. Which of several equal scores comes first changes
which detection takes a ground truth and where a TP sits in the precision/recall curve, so the oracle
reproduces that order instead of calling today's NumPy (NumPy >= 1.25 dispatches argsort to SIMD sorts
whose tie order differs again, even for 16 elements).

The algorithm, for n values and indices `order = 0..n-1`:
  * While a partition has more than 16 elements: median of three (lo, mid, hi, swapped into order),
    pivot parked at hi-1, Hoare scan with strict `<` (so equal keys stop both scans and get swapped),
    pivot restored, the larger side pushed on a stack, the smaller side continued.
    Each push records depth-1; a popped partition whose depth went below 0 is heap-sorted instead.
  * Partitions of <= 16 elements: insertion sort with strict `<`, i.e. stable within the partition.
    So for n <= 16 the result equals a stable argsort, and `[::-1]` puts tied scores in reverse index
    order; for n > 16 ties come out in the order the partitioning leaves them.
  * `<` is NumPy's float order: NaN sorts after every number.
"""
import numpy as np

SMALL_QUICKSORT = 15      # a partition with hi - lo <= 15 (<= 16 elements) is insertion-sorted


def _less(a, b) -> bool:
    # NumPy's FLOAT_LT: a < b, with NaN greater than everything (and equal to NaN).
    return a < b or (b != b and a == a)


def _heapsort(values, order, lo, n):
    """aheapsort_ on order[lo:lo+n] (1-based heap, as NumPy writes it)."""
    def at(i):            # 1-based view into order[lo:]
        return order[lo + i - 1]

    def put(i, v):
        order[lo + i - 1] = v

    for start in range(n >> 1, 0, -1):
        tmp = at(start)
        i, j = start, start << 1
        while j <= n:
            if j < n and _less(values[at(j)], values[at(j + 1)]):
                j += 1
            if _less(values[tmp], values[at(j)]):
                put(i, at(j))
                i, j = j, j + j
            else:
                break
        put(i, tmp)
    while n > 1:
        tmp = at(n)
        put(n, at(1))
        n -= 1
        i, j = 1, 2
        while j <= n:
            if j < n and _less(values[at(j)], values[at(j + 1)]):
                j += 1
            if _less(values[tmp], values[at(j)]):
                put(i, at(j))
                i, j = j, j + j
            else:
                break
        put(i, tmp)


def legacy_argsort(values) -> np.ndarray:
    """Indices that sort `values` (1-D, real) ascending, ties ordered as NumPy 1.23's quicksort orders them."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"legacy_argsort: values must be 1-D, got shape {values.shape}")
    vals = values.tolist()
    n = len(vals)
    order = list(range(n))
    if n < 2:
        return np.array(order, dtype=np.intp)
    stack = []                      # (lo, hi, depth) of partitions still to sort
    lo, hi = 0, n - 1
    depth = 2 * (n.bit_length() - 1)     # npy_get_msb(n) * 2
    while True:
        if depth < 0:
            _heapsort(vals, order, lo, hi - lo + 1)
        else:
            while hi - lo > SMALL_QUICKSORT:
                mid = lo + ((hi - lo) >> 1)
                if _less(vals[order[mid]], vals[order[lo]]):
                    order[mid], order[lo] = order[lo], order[mid]
                if _less(vals[order[hi]], vals[order[mid]]):
                    order[hi], order[mid] = order[mid], order[hi]
                if _less(vals[order[mid]], vals[order[lo]]):
                    order[mid], order[lo] = order[lo], order[mid]
                pivot = vals[order[mid]]
                i, j = lo, hi - 1
                order[mid], order[j] = order[j], order[mid]
                while True:
                    i += 1
                    while _less(vals[order[i]], pivot):
                        i += 1
                    j -= 1
                    while _less(pivot, vals[order[j]]):
                        j -= 1
                    if i >= j:
                        break
                    order[i], order[j] = order[j], order[i]
                order[i], order[hi - 1] = order[hi - 1], order[i]
                depth -= 1
                # Push the larger side, continue with the smaller one.
                if i - lo < hi - i:
                    stack.append((i + 1, hi, depth))
                    hi = i - 1
                else:
                    stack.append((lo, i - 1, depth))
                    lo = i + 1
            for k in range(lo + 1, hi + 1):
                moving = order[k]
                key = vals[moving]
                m = k
                while m > lo and _less(key, vals[order[m - 1]]):
                    order[m] = order[m - 1]
                    m -= 1
                order[m] = moving
        if not stack:
            break
        lo, hi, depth = stack.pop()
    return np.array(order, dtype=np.intp)


def argsort_descending(values) -> np.ndarray:
    """`values.argsort()[::-1]` as the example writes it (NumPy 1.23 tie order, then reversed)."""
    return legacy_argsort(values)[::-1]
