"""The small tensor ops of GluonCV's SSD inference graphs: _greater_scalar, zeros_like, ones_like,
_arange, where, slice_like. Forward/backward pairs over NumPy arrays.

Mirrors (MXNet 1.9.1): src/operator/tensor/elemwise_binary_scalar_op_logic.cc (`_greater_scalar`,
mshadow_op::gt), elemwise_unary_op_basic.cc (`zeros_like`, `ones_like`), init_op.h (`_arange`:
RangeParam, range_fwd), control_flow_op.h (`where`), matrix_op-inl.h (`slice_like`).

Conventions that bite:
- `_greater_scalar`: out = 1 where data > DType(scalar) else 0, in the data's dtype (the scalar is
  cast to the data's dtype first, so 0.1 compares as float32(0.1) on float32 data). NaN > s is
  False -> 0. No gradient (MXNet: MakeZeroGradNodes): backward returns zeros.
- `zeros_like` / `ones_like`: no gradient (zeros), as MXNet's.
- `_arange`: without stop it counts from 0 to start (MXNet's RangeParamParser: `arange(5)`);
  length ceil((stop - start) / step) * repeat computed in float64 (C++ `double`), then
  truncated; value i = DType(start) + DType(i // repeat) * DType(step), all in DType (float32 sums
  in float32). No inputs, so no gradient.
- `where`: out = x where condition != 0 else y (NaN condition counts as != 0, so it picks x);
  condition has x's shape, or is 1-D with x.shape[0] entries (one per row). The condition may be
  of any numeric dtype; x and y share one float dtype. Backward routes g to x where condition != 0
  and to y elsewhere; the condition gets zeros.
- `slice_like`: data[0:shape_like.shape[a]] on each axis a of `axes` (negative counts from data's
  end; empty axes: every axis, then data and shape_like need equal ndim). Only shape_like's shape
  is read. Backward: g scattered into zeros of data's shape; shape_like gets zeros.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_float, check_int, fail

ARANGE_DTYPES = ("float32", "float64", "int32", "int64")


class LikeCache(NamedTuple):
    """What a zero-gradient op needs for its backward: the input's shape and dtype."""
    shape: tuple
    dtype: np.dtype


# ------------------------------------------------------------------------------ _greater_scalar
def greater_scalar_forward(data, *, scalar):
    """(data > DType(scalar)) as 1/0 in data's dtype; data any shape, float32 or float64."""
    op = "_greater_scalar"
    data = check_array(op, "data", data)
    scalar = _as_number(op, scalar)      # NaN allowed, as in MXNet: nothing is greater
    threshold = data.dtype.type(scalar)   # MXNet: DType(alpha) before comparing
    return (data > threshold).astype(data.dtype), LikeCache(data.shape, data.dtype)


def greater_scalar_backward(dout, cache: LikeCache):
    """Zero gradient: a comparison has none (MXNet: MakeZeroGradNodes)."""
    return np.zeros(cache.shape, cache.dtype)


def _as_number(op, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(op, f"scalar must be a number, got {value!r}", TypeError)
    return float(value)


# ------------------------------------------------------------------------- zeros_like / ones_like
def _numeric(op, data):
    """Any numeric array (MXNet's zeros_like/ones_like keep an int32 input's dtype); not object."""
    data = check_array(op, "data", data, float_only=False)
    if data.dtype.kind not in "biuf":
        fail(op, f"data must be a numeric array, got dtype {data.dtype}", TypeError)
    return data


def zeros_like_forward(data):
    """Zeros of data's shape and dtype."""
    data = _numeric("zeros_like", data)
    return np.zeros(data.shape, data.dtype), LikeCache(data.shape, data.dtype)


def ones_like_forward(data):
    """Ones of data's shape and dtype."""
    data = _numeric("ones_like", data)
    return np.ones(data.shape, data.dtype), LikeCache(data.shape, data.dtype)


def like_backward(dout, cache: LikeCache):
    """Zero gradient for zeros_like / ones_like (the output does not depend on the values)."""
    return np.zeros(cache.shape, cache.dtype)


# ------------------------------------------------------------------------------------ _arange
def arange_bounds(start, stop):
    """(start, stop) as MXNet's RangeParamParser leaves them: no stop means range(0, start)."""
    start = check_float("_arange", "start", start, finite=True)
    if stop is None:
        return 0.0, start
    return start, check_float("_arange", "stop", stop, finite=True)


def arange_length(start, stop, step, repeat) -> int:
    """MXNet's RangeShape: ceil((stop - start) / step) * repeat in double, truncated to an int."""
    op = "_arange"
    start, stop = arange_bounds(start, stop)
    step = check_float(op, "step", step, finite=True)
    repeat = check_int(op, "repeat", repeat, minimum=1)
    if step == 0:
        fail(op, "step must not be 0, got 0.0")
    if step > 0 and not start < stop:
        fail(op, f"start must be < stop for step > 0, got (start, stop, step) = ({start}, {stop}, {step})")
    if step < 0 and not start > stop:
        fail(op, f"start must be > stop for step < 0, got (start, stop, step) = ({start}, {stop}, {step})")
    return int(math.ceil((stop - start) / step) * repeat)


def arange_forward(*, start=0.0, stop=None, step=1.0, repeat=1, dtype="float32"):
    """(length,) values DType(start) + DType(i // repeat) * DType(step); no inputs, no cache."""
    if dtype not in ARANGE_DTYPES:
        fail("_arange", f"dtype must be one of {ARANGE_DTYPES}, got {dtype!r}")
    length = arange_length(start, stop, step, repeat)
    start, stop = arange_bounds(start, stop)
    out_dtype = np.dtype(dtype)
    # Integer outputs cast start and step to the integer type first (static_cast<DType>), as MXNet.
    start_d, step_d = out_dtype.type(start), out_dtype.type(step)
    counts = (np.arange(length, dtype=np.int64) // repeat).astype(out_dtype)
    return (start_d + counts * step_d).astype(out_dtype), None


# -------------------------------------------------------------------------------------- where
class WhereCache(NamedTuple):
    pick_x: np.ndarray       # bool, broadcast to x's shape: condition != 0
    condition_shape: tuple
    condition_dtype: np.dtype
    dtype: np.dtype          # x's (and y's, and the output's)


def _where_mask(condition, shape):
    op = "where"
    if condition.shape == shape:
        return condition != 0
    if condition.ndim == 1 and len(shape) >= 1 and condition.shape[0] == shape[0]:
        return np.broadcast_to((condition != 0).reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    fail(op, f"condition must have x's shape {shape} or be 1-D with {shape[0] if shape else '?'} "
             f"entries, got shape {condition.shape}")


def where_forward(condition, x, y):
    """x where condition != 0 else y; x, y same shape and float dtype; output x's shape/dtype."""
    op = "where"
    condition = check_array(op, "condition", condition, float_only=False)
    if condition.dtype.kind not in "biuf":
        fail(op, f"condition must be numeric, got dtype {condition.dtype}", TypeError)
    x = check_array(op, "x", x)
    y = check_array(op, "y", y)
    if x.dtype != y.dtype:
        fail(op, f"x and y must share one dtype, got x={x.dtype}, y={y.dtype}", TypeError)
    if x.shape != y.shape:
        fail(op, f"y must have x's shape {x.shape}, got {y.shape}")
    pick_x = _where_mask(condition, x.shape)
    return np.where(pick_x, x, y), WhereCache(pick_x, condition.shape, condition.dtype, x.dtype)


def where_backward(dout, cache: WhereCache):
    """(dcondition = 0, dx = g where condition != 0, dy = g elsewhere)."""
    zero = dout.dtype.type(0)
    dx = np.where(cache.pick_x, dout, zero)
    dy = np.where(cache.pick_x, zero, dout)
    return np.zeros(cache.condition_shape, cache.condition_dtype), dx, dy


# ---------------------------------------------------------------------------------- slice_like
class SliceLikeCache(NamedTuple):
    in_shape: tuple
    dtype: np.dtype
    out_shape: tuple
    like_shape: tuple
    like_dtype: np.dtype


def slice_like_shape(data_shape, like_shape, axes) -> tuple:
    """The output shape (MXNet's SliceLikeShape); None dims (unknown) pass through."""
    op = "slice_like"
    ndim = len(data_shape)
    if not axes:
        if len(like_shape) != ndim:
            fail(op, f"shape_like must have data's ndim {ndim} when axes is empty (every axis is "
                     f"sliced), got shape {tuple(like_shape)}")
        chosen = range(ndim)
    else:
        chosen = []
        for axis in axes:
            a = axis + ndim if axis < 0 else axis
            if not 0 <= a < ndim:
                fail(op, f"axes entry {axis} is out of range for data with {ndim} dimensions")
            if a >= len(like_shape):
                fail(op, f"axes entry {axis} is out of range for shape_like with {len(like_shape)} "
                         f"dimensions")
            chosen.append(a)
    out = list(data_shape)
    for a in chosen:
        size, limit = like_shape[a], data_shape[a]
        if size is not None and limit is not None and size > limit:
            fail(op, f"shape_like size {size} on axis {a} exceeds data's size {limit}")
        out[a] = size
    return tuple(out)


def slice_like_forward(data, shape_like, *, axes=()):
    """data[:like[a]] on each axis a in axes (all axes when empty); a view-free copy."""
    op = "slice_like"
    data = check_array(op, "data", data)
    shape_like = check_array(op, "shape_like", shape_like, float_only=False)
    axes = tuple(check_int(op, "axes", a) for a in axes)
    out_shape = slice_like_shape(data.shape, shape_like.shape, axes)
    window = tuple(slice(0, n) for n in out_shape)
    cache = SliceLikeCache(data.shape, data.dtype, out_shape, shape_like.shape, shape_like.dtype)
    return np.array(data[window], copy=True), cache


def slice_like_backward(dout, cache: SliceLikeCache):
    """(ddata: g in the kept window, zeros elsewhere; dshape_like: zeros)."""
    ddata = np.zeros(cache.in_shape, cache.dtype)
    ddata[tuple(slice(0, n) for n in cache.out_shape)] = dout
    return ddata, np.zeros(cache.like_shape, cache.like_dtype)
