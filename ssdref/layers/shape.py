"""Shape ops: Flatten, Reshape, transpose, Concat, slice_axis, expand_dims (forward and backward).

Mirrors: src/operator/tensor/matrix_op-inl.h (Flatten, Reshape, transpose, slice_axis, expand_dims)
and src/operator/nn/concat-inl.h (Concat), MXNet 1.9.1. Spec: mxnet-layers.md §8.

Conventions that bite:
- Reshape's special codes (0 copy, -1 infer, -2 copy the rest, -3 merge two, -4 split one) consume the
  input dims left to right; -1 and every positive value also step over one input dim, so
  (-1, 0) on (2,3,4) is (8,3). reverse=True matches right to left (reverse both, infer, reverse back).
  MXNet 1.9.1 does not check the element count; ssdref raises on a mismatch (spec §8).
- transpose's default axes reverse the dims; negative axes are rejected (as MXNet does).
- slice_axis: negative begin/end count from the end, end=None is the axis size; no clipping.
- All outputs are fresh C-contiguous arrays (never views of the input); gradients flow back exactly.
Shapes in `infer_reshape_shape` may hold None for an unknown dim (partial shape inference).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_int, fail


def _fresh(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True, order="C")


def _check_grad(op: str, dy, shape: tuple, dtype) -> np.ndarray:
    dy = check_array(op, "head gradient", dy)
    if dy.shape != tuple(shape) or dy.dtype != dtype:
        fail(op, f"head gradient must have shape {tuple(shape)} and dtype {np.dtype(dtype)}, "
                 f"got shape {dy.shape}, dtype {dy.dtype}")
    return dy


# ---------------------------------------------------------------------------------------- Flatten
class FlattenCache(NamedTuple):
    in_shape: tuple
    dtype: np.dtype


def flatten_shape(in_shape: tuple) -> tuple:
    """(N, d1, ..., dk) -> (N, d1*...*dk); (N,) -> (N, 1). None dims propagate."""
    if len(in_shape) == 0:
        fail("Flatten", "data must have at least 1 dimension, got shape ()")
    rest = in_shape[1:]
    size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
    return (in_shape[0], size)


def flatten_forward(x) -> tuple[np.ndarray, FlattenCache]:
    """MXNet `Flatten`: x (N, ...) -> (N, prod(rest)), a copy in C order."""
    x = check_array("Flatten", "data", x, min_ndim=1)
    return _fresh(x.reshape(flatten_shape(x.shape))), FlattenCache(x.shape, x.dtype)


def flatten_backward(dy, cache: FlattenCache) -> np.ndarray:
    dy = _check_grad("Flatten", dy, flatten_shape(cache.in_shape), cache.dtype)
    return _fresh(dy.reshape(cache.in_shape))


# ---------------------------------------------------------------------------------------- Reshape
class ReshapeCache(NamedTuple):
    in_shape: tuple
    out_shape: tuple
    dtype: np.dtype


def _known_prod(dims) -> int | None:
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims, dtype=np.int64))


def _reshape_codes(in_dims: list, codes: list) -> list:
    """MXNet's left-to-right interpretation of the special codes; None = unknown dim."""
    op = "Reshape"
    out, src, infer_at = [], 0, None
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            if src >= len(in_dims):
                fail(op, f"shape code 0 at position {i} has no input dim to copy (input has {len(in_dims)} dims)")
            out.append(in_dims[src])
            src += 1
        elif code == -1:
            if infer_at is not None:
                fail(op, f"shape must have at most one -1 (one and only one dim can be inferred), got {tuple(codes)}")
            infer_at = len(out)
            out.append(1)
            src += 1
        elif code == -2:
            out.extend(in_dims[src:])
            src = len(in_dims)
        elif code == -3:
            if src + 1 >= len(in_dims):
                fail(op, f"shape code -3 at position {i} needs two input dims, input has {len(in_dims)} dims")
            d1, d2 = in_dims[src], in_dims[src + 1]
            out.append(None if d1 is None or d2 is None else d1 * d2)
            src += 2
        elif code == -4:
            if i + 2 >= len(codes):
                fail(op, f"shape code -4 at position {i} must be followed by two split dims, got {tuple(codes)}")
            if src >= len(in_dims):
                fail(op, f"shape code -4 at position {i} has no input dim to split")
            d0, d1, d2 = in_dims[src], codes[i + 1], codes[i + 2]
            src += 1
            i += 2
            if d1 == -1 and d2 == -1:
                fail(op, "split dims of -4 cannot both be -1")
            if (d1 != -1 and d1 <= 0) or (d2 != -1 and d2 <= 0):
                fail(op, f"split dims of -4 must be positive or -1, got {d1}, {d2}")
            if d0 is not None:
                d1 = d0 // d2 if d1 == -1 else d1
                d2 = d0 // d1 if d2 == -1 else d2
                if d1 * d2 != d0:
                    fail(op, f"split dims {d1}, {d2} do not divide original dim {d0}")
            out.extend([None if d == -1 else d for d in (d1, d2)])
        elif code > 0:
            out.append(code)
            src += 1
        else:
            fail(op, f"shape values must be positive or one of 0, -1, -2, -3, -4, got {code} in {tuple(codes)}")
        i += 1
    if infer_at is not None:
        total = _known_prod(in_dims)
        others = _known_prod(out[:infer_at] + out[infer_at + 1:])
        if total is None or others is None:
            out[infer_at] = None
        elif others == 0:
            fail(op, f"cannot infer the -1 dim of {tuple(codes)}: the other dims have size 0")
        else:
            out[infer_at] = total // others
    return out


def infer_reshape_shape(in_shape: tuple, shape=(), reverse=False, target_shape=(), keep_highest=False) -> tuple:
    """The output shape of MXNet Reshape for `in_shape` (None entries = unknown dims)."""
    op = "Reshape"
    in_dims = list(in_shape)
    if shape:
        codes = [check_int(op, "shape", c) for c in shape]
        if reverse:
            out = _reshape_codes(in_dims[::-1], codes[::-1])[::-1]
        else:
            out = _reshape_codes(in_dims, codes)
    elif target_shape:
        # Deprecated form: 0 marks the single inferred dim; keep_highest keeps dim 0 of the input.
        out = [check_int(op, "target_shape", c, minimum=0) for c in target_shape]
        start = 1 if keep_highest else 0
        if keep_highest:
            out[0] = in_dims[0]
        zeros = [k for k in range(start, len(out)) if out[k] == 0]
        if len(zeros) > 1:
            fail(op, f"target_shape may have at most one 0 (inferred dim), got {tuple(target_shape)}")
        if zeros:
            total, others = _known_prod(in_dims), _known_prod(out[:zeros[0]] + out[zeros[0] + 1:])
            out[zeros[0]] = None if total is None or others is None else total // max(others, 1)
    else:
        fail(op, "shape must be given (a non-empty tuple), got ()")
    total_in, total_out = _known_prod(in_dims), _known_prod(out)
    if total_in is not None and total_out is not None and total_in != total_out:
        fail(op, f"shape {tuple(shape or target_shape)} gives {tuple(out)} with {total_out} elements, "
                 f"but the input {tuple(in_shape)} has {total_in}")
    return tuple(out)


def reshape_forward(x, *, shape=(), reverse=False, target_shape=(), keep_highest=False
                    ) -> tuple[np.ndarray, ReshapeCache]:
    """MXNet `Reshape(data, shape, reverse)`: row-major reshape with the special codes; a copy."""
    x = check_array("Reshape", "data", x)
    out_shape = infer_reshape_shape(x.shape, shape, reverse, target_shape, keep_highest)
    return _fresh(x.reshape(out_shape)), ReshapeCache(x.shape, out_shape, x.dtype)


def reshape_backward(dy, cache: ReshapeCache) -> np.ndarray:
    dy = _check_grad("Reshape", dy, cache.out_shape, cache.dtype)
    return _fresh(dy.reshape(cache.in_shape))


# -------------------------------------------------------------------------------------- transpose
class TransposeCache(NamedTuple):
    axes: tuple
    out_shape: tuple
    dtype: np.dtype


def transpose_axes(ndim: int, axes=()) -> tuple:
    """Validated permutation: () means reversed order; negative axes are rejected as in MXNet."""
    op = "transpose"
    if not axes:
        return tuple(range(ndim - 1, -1, -1))
    axes = tuple(check_int(op, "axes", a) for a in axes)
    if len(axes) != ndim:
        fail(op, f"axes must have one entry per input dim ({ndim}), got {axes}")
    if sorted(axes) != list(range(ndim)):
        fail(op, f"axes must be a permutation of 0..{ndim - 1} (no negative values), got {axes}")
    return axes


def transpose_forward(x, *, axes=()) -> tuple[np.ndarray, TransposeCache]:
    """MXNet `transpose(data, axes)`: y = x.transpose(axes), a C-contiguous copy."""
    x = check_array("transpose", "data", x)
    axes = transpose_axes(x.ndim, axes)
    y = _fresh(np.transpose(x, axes))
    return y, TransposeCache(axes, y.shape, x.dtype)


def transpose_backward(dy, cache: TransposeCache) -> np.ndarray:
    """dX = dy transposed by the inverse permutation."""
    dy = _check_grad("transpose", dy, cache.out_shape, cache.dtype)
    return _fresh(np.transpose(dy, np.argsort(cache.axes)))


# ----------------------------------------------------------------------------------------- Concat
class ConcatCache(NamedTuple):
    axis: int
    sizes: tuple          # each input's extent along axis
    out_shape: tuple
    dtype: np.dtype


def concat_forward(*xs, dim=1) -> tuple[np.ndarray, ConcatCache]:
    """MXNet `Concat(*data, dim=1)`: inputs with equal dims except `dim` (negative allowed)."""
    op = "Concat"
    if not xs:
        fail(op, "needs at least one input, got none")
    xs = [check_array(op, f"arg{i}", x, min_ndim=1) for i, x in enumerate(xs)]
    dtypes = {x.dtype for x in xs}
    if len(dtypes) > 1:
        fail(op, f"inputs must share one dtype, got {[str(x.dtype) for x in xs]}", TypeError)
    ndim = xs[0].ndim
    dim = check_int(op, "dim", dim)
    if not -ndim <= dim < ndim:
        fail(op, f"dim must be in [{-ndim}, {ndim}), got {dim}")
    axis = dim % ndim
    for i, x in enumerate(xs):
        same = x.ndim == ndim and all(a == b for k, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if k != axis)
        if not same:
            fail(op, f"arg{i} must match arg0's shape {xs[0].shape} except along dim {axis}, got {x.shape}")
    y = np.concatenate(xs, axis=axis)
    return y, ConcatCache(axis, tuple(x.shape[axis] for x in xs), y.shape, y.dtype)


def concat_backward(dy, cache: ConcatCache) -> list[np.ndarray]:
    """The head gradient split back along the axis, one piece per input."""
    dy = _check_grad("Concat", dy, cache.out_shape, cache.dtype)
    bounds = np.cumsum(cache.sizes)[:-1]
    return [_fresh(piece) for piece in np.split(dy, bounds, axis=cache.axis)]


# ------------------------------------------------------------------------------------- slice_axis
class SliceAxisCache(NamedTuple):
    in_shape: tuple
    axis: int
    begin: int
    end: int
    dtype: np.dtype


def slice_axis_range(in_shape: tuple, axis, begin, end) -> tuple[int, int, int]:
    """(axis, begin, end) normalized as MXNet's slice_axis does; raises on an empty or overlong range."""
    op = "slice_axis"
    ndim = len(in_shape)
    axis = check_int(op, "axis", axis)
    if not -ndim <= axis < ndim:
        fail(op, f"axis must be in [{-ndim}, {ndim}), got {axis}")
    axis %= ndim
    size = in_shape[axis]
    begin = check_int(op, "begin", begin)
    begin = begin + size if begin < 0 else begin
    if end is None:
        end = size
    else:
        end = check_int(op, "end", end)
        end = end + size if end < 0 else end
    if begin < 0:
        fail(op, f"begin must be in [{-size}, {size}) for axis size {size}, got {begin - size}")
    if end > size:
        fail(op, f"end must be <= the axis size {size}, got {end}")
    if begin >= end:
        fail(op, f"begin must be less than end, got begin={begin}, end={end}")
    return axis, begin, end


def slice_axis_forward(x, *, axis, begin, end) -> tuple[np.ndarray, SliceAxisCache]:
    """MXNet `slice_axis`: x[..., begin:end, ...] along `axis`, a copy."""
    x = check_array("slice_axis", "data", x, min_ndim=1)
    axis, begin, end = slice_axis_range(x.shape, axis, begin, end)
    index = [slice(None)] * x.ndim
    index[axis] = slice(begin, end)
    return _fresh(x[tuple(index)]), SliceAxisCache(x.shape, axis, begin, end, x.dtype)


def slice_axis_backward(dy, cache: SliceAxisCache) -> np.ndarray:
    """dX = dy inside the slice, 0 elsewhere."""
    out_shape = list(cache.in_shape)
    out_shape[cache.axis] = cache.end - cache.begin
    dy = _check_grad("slice_axis", dy, tuple(out_shape), cache.dtype)
    dx = np.zeros(cache.in_shape, dtype=cache.dtype)
    index = [slice(None)] * len(cache.in_shape)
    index[cache.axis] = slice(cache.begin, cache.end)
    dx[tuple(index)] = dy
    return dx


# ------------------------------------------------------------------------------------ expand_dims
class ExpandDimsCache(NamedTuple):
    in_shape: tuple
    axis: int
    dtype: np.dtype


def expand_dims_axis(ndim: int, axis) -> int:
    """axis in [-ndim-1, ndim]; negative counts from the end of the OUTPUT's dims."""
    axis = check_int("expand_dims", "axis", axis)
    if not -ndim - 1 <= axis <= ndim:
        fail("expand_dims", f"axis must be in [{-ndim - 1}, {ndim}], got {axis}")
    return axis + ndim + 1 if axis < 0 else axis


def expand_dims_forward(x, *, axis) -> tuple[np.ndarray, ExpandDimsCache]:
    """MXNet `expand_dims`: insert a size-1 axis at `axis`, a copy."""
    x = check_array("expand_dims", "data", x)
    axis = expand_dims_axis(x.ndim, axis)
    return _fresh(np.expand_dims(x, axis)), ExpandDimsCache(x.shape, axis, x.dtype)


def expand_dims_backward(dy, cache: ExpandDimsCache) -> np.ndarray:
    out_shape = cache.in_shape[:cache.axis] + (1,) + cache.in_shape[cache.axis:]
    dy = _check_grad("expand_dims", dy, out_shape, cache.dtype)
    return _fresh(dy.reshape(cache.in_shape))

