"""The one error measure of every conformance report column: `scaled_error`.

    scaled_error(actual, expected, floor=0) = max|actual - expected| / max(max|expected|, floor)

over the entries finite in `expected`; 0 when the arrays are identical; inf when the shapes, the
dtypes or the NaN/inf pattern differ (a NaN where the reference has a number is never "small").
`expected` is the reference of the comparison: MXNet 1.9.1's array against MXNet (the semantics
of record), ssdref's against another framework (PyTorch, ONNX Runtime, TVM). Dividing by the
reference's largest magnitude, not by max(|actual|, |expected|), keeps a wildly wrong `actual`
from shrinking its own error. The `floor` lets a caller judge an output against the size of what
went into it (`problem_scale`: the inputs and head gradients), so that a sum with cancellation
(a broadcast gradient) or a value near 0 (log_softmax over one element) is not called wrong for
an error that is small against its inputs.
Used by `conformance_cases` (MXNet, op by op), `mxnet_graph` (whole graphs), `torch_conformance`,
`onnxruntime_conformance` and `tvm_conformance`; the recorded-MXNet manifest names it as the
measure of its tolerances. tests/backends/test_measure.py pins the definition.
"""
from __future__ import annotations

import numpy as np


def scaled_error(actual, expected, floor=0.0) -> float:
    """max|actual - expected| / max(max|expected|, floor) over finite entries; 0 when identical;
    inf when the shapes, dtypes or the NaN/inf pattern differ."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return float("inf")
    if actual.size == 0 or np.array_equal(actual, expected, equal_nan=True):
        return 0.0
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(e)
    if not np.array_equal(finite, np.isfinite(a)) or not np.array_equal(a[~finite], e[~finite], equal_nan=True):
        return float("inf")
    scale = max(np.abs(e[finite]).max() if finite.any() else 0.0, floor)
    diff = np.abs(a[finite] - e[finite]).max() if finite.any() else 0.0
    if scale == 0.0:
        return float("inf") if diff > 0 else 0.0
    return float(diff / scale)


def scaled_error_as_float64(actual, expected, floor=0.0) -> float:
    """scaled_error of both arrays in float64: for comparisons whose engines hand back different
    float dtypes for the same value (PyTorch's float64 gradients against ssdref's)."""
    return scaled_error(np.asarray(actual, np.float64), np.asarray(expected, np.float64), floor)


def absolute_error(actual, expected) -> float:
    """max|actual - expected| over the entries finite in both (inf where shapes differ)."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if a.shape != e.shape:
        return float("inf")
    finite = np.isfinite(a) & np.isfinite(e)
    return float(np.abs(a[finite] - e[finite]).max()) if finite.any() else 0.0


def bit_identical(actual, expected) -> bool:
    actual, expected = np.asarray(actual), np.asarray(expected)
    return (actual.shape == expected.shape and actual.dtype == expected.dtype
            and actual.tobytes() == expected.tobytes())


def problem_scale(case) -> float:
    """The largest magnitude among a case's inputs, aux states and head gradients: the `floor` of
    scaled_error for a layer case."""
    arrays = [*case.inputs.values(), *case.aux.values(), *(case.out_grads or [])]
    return float(max((np.abs(a).max() for a in arrays if a.size), default=0.0))
