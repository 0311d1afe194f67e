"""MakeLoss (identity forward, constant custom backward) and BlockGrad (identity forward, zero gradient).

Mirrors: src/operator/make_loss-inl.h (`MakeLoss`), src/operator/tensor/elemwise_unary_op_basic.cc
(`BlockGrad`/`stop_gradient`, and `make_loss`: identity with a gradient of ones), MXNet 1.9.1.
Spec: mxnet-semantics.md §4.3, §8 case M; mxnet-layers.md §9.

MakeLoss backward ignores the head gradient and the position; every element gets
    'null':  grad_scale
    'batch': grad_scale / R        (R = prod(data.shape[:-1]), the rows of MXNet's FlatTo2D view:
                                    1 for 1-D data, 6 for (2, 3, 4); only for 2-D data is it the batch)
    'valid': grad_scale / max(1, count(data > valid_thresh))   (strict >, whole tensor, all images)
evaluated in the data's dtype. grad_scale=0 makes a monitor-only output (SSD's cls_label, det_out).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_choice, check_float, fail

NORMALIZATIONS = ("null", "batch", "valid")


class MakeLossCache(NamedTuple):
    shape: tuple
    dtype: np.dtype
    grad_value: float         # the constant every element of the gradient gets (in `dtype`)


class BlockGradCache(NamedTuple):
    shape: tuple
    dtype: np.dtype


def make_loss_forward(data, *, grad_scale=1.0, valid_thresh=0.0,
                      normalization="null") -> tuple[np.ndarray, MakeLossCache]:
    """data (any shape, float32/float64) -> a copy of data; the gradient constant goes to the cache.

    The constant is fixed at forward time because it depends only on the input values."""
    op = "MakeLoss"
    data = check_array(op, "data", data)
    grad_scale = check_float(op, "grad_scale", grad_scale)
    valid_thresh = check_float(op, "valid_thresh", valid_thresh)
    check_choice(op, "normalization", normalization, NORMALIZATIONS)
    dtype = data.dtype.type
    if normalization == "valid":
        num_valid = int(np.count_nonzero(data > dtype(valid_thresh)))
        grad_value = dtype(grad_scale) / dtype(max(1, num_valid))
    elif normalization == "batch":
        # MXNet 1.9.1 views data as 2-D (FlatTo2D: all leading axes merged, the last kept) and
        # divides by that view's row count, not by shape[0] (spec §4.3's "/ B" holds for 2-D only).
        rows = int(np.prod(data.shape[:-1], dtype=np.int64))
        if data.ndim == 0 or rows == 0:
            fail(op, f"data must have at least 1 dimension and nonzero leading axes for "
                     f"normalization='batch', got shape {data.shape}")
        grad_value = dtype(grad_scale) / dtype(rows)
    else:
        grad_value = dtype(grad_scale)
    return data.copy(), MakeLossCache(data.shape, data.dtype, grad_value)


def make_loss_backward(dout, cache: MakeLossCache) -> np.ndarray:
    """The constant gradient, data's shape and dtype; `dout` (head gradient) is ignored, may be None."""
    return np.full(cache.shape, cache.grad_value, dtype=cache.dtype)


def block_grad_forward(data) -> tuple[np.ndarray, BlockGradCache]:
    """BlockGrad / stop_gradient: a copy of data (any shape, float32/float64)."""
    data = check_array("BlockGrad", "data", data)
    return data.copy(), BlockGradCache(data.shape, data.dtype)


def block_grad_backward(dout, cache: BlockGradCache) -> np.ndarray:
    """Zeros of data's shape, whatever the head gradient."""
    return np.zeros(cache.shape, dtype=cache.dtype)
