"""OpDefs for the shape ops and the arithmetic: Flatten, Reshape, transpose, Concat, slice_axis,
expand_dims, elemwise_*, `_power`, broadcast_*, the scalar ops and `_copy`/identity.

Mirrors MXNet 1.9.1's registrations: op names as JSON writes them, the Python aliases (whose
lowercased form is the automatic-name hint: `_Plus` -> `_plus0`, `_PlusScalar` -> `_plusscalar0`,
`_rpower_scalar` keeps its underscores), arguments and defaults. The math lives in
`ssdref.layers.shape` and `ssdref.layers.elementwise`.

infer_shape follows the graph's legacy convention (spec graph-formats §3): a whole unknown shape is
None, an unknown dim inside a shape is 0. `partial_dims` turns those 0s into None for the layer
helpers (`ssdref.layers.shape` works with None dims) and back to 0 on the way out.
"""
from __future__ import annotations

import numpy as np

from ssdref.autograd.registry import REQUIRED, OpDef, Param, register
from ssdref.errors import fail
from ssdref.layers import elementwise as ew
from ssdref.layers import shape as sh


def _data_only(params):
    return ("data",)


def same_shape(in_shapes, params):
    """Unary ops whose output has the input's shape."""
    return list(in_shapes), [in_shapes[0]]


def _lhs_rhs(params):
    return ("lhs", "rhs")


def _head(out_grads, like_shape, dtype):
    """The head gradient; absent means zero."""
    grad = out_grads[0] if out_grads else None
    return np.zeros(like_shape, dtype=dtype) if grad is None else grad


def partial_dims(infer):
    """Wrap an infer_shape written with None for unknown dims so that it speaks 0 = unknown dim."""
    def to_none(shape):
        return None if shape is None else tuple(None if d == 0 else int(d) for d in shape)

    def to_zero(shape):
        return None if shape is None else tuple(0 if d is None else int(d) for d in shape)

    def wrapped(in_shapes, params):
        new_in, out = infer([to_none(s) for s in in_shapes], params)
        return [to_zero(s) for s in new_in], [to_zero(s) for s in out]
    wrapped.__name__ = getattr(infer, "__name__", "infer_shape")
    wrapped.__doc__ = infer.__doc__
    return wrapped


def merge_shapes(op: str, what: str, a, b):
    """Combine two partial descriptions of one shape; a conflict is MXNet's 'Incompatible attr'."""
    if a is None:
        return None if b is None else tuple(b)
    if b is None:
        return tuple(a)
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        fail(op, f"{what}: incompatible shapes, expected {tuple(a)}, got {tuple(b)}")
    return tuple(x if x is not None else y for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------- Flatten
def _flatten_infer(in_shapes, params):
    data = in_shapes[0]
    return list(in_shapes), [None if data is None else sh.flatten_shape(tuple(data))]


def _flatten_forward(inputs, aux, params, is_train):
    y, cache = sh.flatten_forward(inputs[0])
    return [y], cache


def _flatten_backward(out_grads, cache, params):
    return [sh.flatten_backward(_head(out_grads, sh.flatten_shape(cache.in_shape), cache.dtype), cache)]


register(OpDef(
    name="Flatten", aliases=("Flatten", "flatten"), params=(), inputs=_data_only,
    infer_shape=partial_dims(_flatten_infer), forward=_flatten_forward, backward=_flatten_backward,
    doc="Flatten(data): (N, d1, ..., dk) -> (N, d1*...*dk)."))


# ---------------------------------------------------------------------------------------- Reshape
_RESHAPE_PARAMS = (
    Param("shape", "shape", ()),
    Param("reverse", "bool", False),
    Param("target_shape", "shape", ()),
    Param("keep_highest", "bool", False),
)


def _reshape_infer(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        codes = params["shape"]
        # Only a shape made of plain positive sizes is known without the input.
        if codes and all(c > 0 for c in codes):
            return list(in_shapes), [tuple(codes)]
        return list(in_shapes), [None]
    out = sh.infer_reshape_shape(tuple(data), **params)
    return list(in_shapes), [out]


def _reshape_forward(inputs, aux, params, is_train):
    y, cache = sh.reshape_forward(inputs[0], **params)
    return [y], cache


def _reshape_backward(out_grads, cache, params):
    return [sh.reshape_backward(_head(out_grads, cache.out_shape, cache.dtype), cache)]


register(OpDef(
    name="Reshape", aliases=("Reshape", "reshape"), params=_RESHAPE_PARAMS, inputs=_data_only,
    infer_shape=partial_dims(_reshape_infer), forward=_reshape_forward, backward=_reshape_backward,
    doc="Reshape(data, shape, reverse): special codes 0, -1, -2, -3, -4."))


# -------------------------------------------------------------------------------------- transpose
def _transpose_infer(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    axes = sh.transpose_axes(len(data), params["axes"])
    return list(in_shapes), [tuple(data[a] for a in axes)]


def _transpose_forward(inputs, aux, params, is_train):
    y, cache = sh.transpose_forward(inputs[0], axes=params["axes"])
    return [y], cache


def _transpose_backward(out_grads, cache, params):
    return [sh.transpose_backward(_head(out_grads, cache.out_shape, cache.dtype), cache)]


register(OpDef(
    name="transpose", aliases=("transpose",), params=(Param("axes", "shape", ()),), inputs=_data_only,
    infer_shape=partial_dims(_transpose_infer), forward=_transpose_forward, backward=_transpose_backward,
    doc="transpose(data, axes=()): permute dims; () reverses them."))


# ----------------------------------------------------------------------------------------- Concat
def _concat_inputs(params):
    return tuple(f"arg{i}" for i in range(params["num_args"]))


def _concat_infer(in_shapes, params):
    op = "Concat"
    if len(in_shapes) != params["num_args"]:
        fail(op, f"expects {params['num_args']} inputs (num_args), got {len(in_shapes)}")
    known = [s for s in in_shapes if s is not None]
    if not known:
        return list(in_shapes), [None]
    ndim = len(known[0])
    dim = params["dim"]
    if not -ndim <= dim < ndim:
        fail(op, f"dim must be in [{-ndim}, {ndim}), got {dim}")
    axis = dim % ndim
    # Every dim but `axis` is shared by all inputs and the output.
    common = [None] * ndim
    for i, s in enumerate(in_shapes):
        if s is None:
            continue
        if len(s) != ndim:
            fail(op, f"arg{i} must have {ndim} dimensions like the other inputs, got shape {tuple(s)}")
        others = [d if k != axis else None for k, d in enumerate(s)]
        common = list(merge_shapes(op, f"arg{i}", common, others))
    filled = []
    for s in in_shapes:
        if s is None:
            filled.append(None)
        else:
            filled.append(tuple(common[k] if k != axis else s[axis] for k in range(ndim)))
    extents = [None if s is None else s[axis] for s in filled]
    total = None if any(e is None for e in extents) else sum(extents)
    out = tuple(common[k] if k != axis else total for k in range(ndim))
    return filled, [out]


def _concat_forward(inputs, aux, params, is_train):
    if len(inputs) != params["num_args"]:
        fail("Concat", f"expects {params['num_args']} inputs (num_args), got {len(inputs)}")
    y, cache = sh.concat_forward(*inputs, dim=params["dim"])
    return [y], cache


def _concat_backward(out_grads, cache, params):
    return sh.concat_backward(_head(out_grads, cache.out_shape, cache.dtype), cache)


register(OpDef(
    name="Concat", aliases=("Concat", "concat"),
    params=(Param("num_args", "int", REQUIRED), Param("dim", "int", 1)),
    inputs=_concat_inputs, key_var_num_args="num_args", infer_shape=partial_dims(_concat_infer),
    forward=_concat_forward, backward=_concat_backward,
    doc="Concat(*data, num_args, dim=1): join along dim."))


# ------------------------------------------------------------------------------------- slice_axis
def _slice_axis_infer(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    axis = params["axis"]
    if not -len(data) <= axis < len(data):
        fail("slice_axis", f"axis must be in [{-len(data)}, {len(data)}), got {axis}")
    axis %= len(data)
    if data[axis] is None:
        begin, end = params["begin"], params["end"]
        extent = end - begin if end is not None and begin >= 0 and end >= 0 else None
    else:
        _, begin, end = sh.slice_axis_range(tuple(data), axis, params["begin"], params["end"])
        extent = end - begin
    return list(in_shapes), [tuple(extent if k == axis else d for k, d in enumerate(data))]


def _slice_axis_forward(inputs, aux, params, is_train):
    y, cache = sh.slice_axis_forward(inputs[0], **params)
    return [y], cache


def _slice_axis_backward(out_grads, cache, params):
    shape = list(cache.in_shape)
    shape[cache.axis] = cache.end - cache.begin
    return [sh.slice_axis_backward(_head(out_grads, tuple(shape), cache.dtype), cache)]


register(OpDef(
    name="slice_axis", aliases=("slice_axis",),
    params=(Param("axis", "int", REQUIRED), Param("begin", "int", REQUIRED),
            Param("end", "optional_int", REQUIRED)),
    inputs=_data_only, infer_shape=partial_dims(_slice_axis_infer), forward=_slice_axis_forward,
    backward=_slice_axis_backward, doc="slice_axis(data, axis, begin, end): one axis sliced."))


# ------------------------------------------------------------------------------------ expand_dims
def _expand_dims_infer(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    axis = sh.expand_dims_axis(len(data), params["axis"])
    return list(in_shapes), [tuple(data[:axis]) + (1,) + tuple(data[axis:])]


def _expand_dims_forward(inputs, aux, params, is_train):
    y, cache = sh.expand_dims_forward(inputs[0], axis=params["axis"])
    return [y], cache


def _expand_dims_backward(out_grads, cache, params):
    out_shape = cache.in_shape[:cache.axis] + (1,) + cache.in_shape[cache.axis:]
    return [sh.expand_dims_backward(_head(out_grads, out_shape, cache.dtype), cache)]


register(OpDef(
    name="expand_dims", aliases=("expand_dims",), params=(Param("axis", "int", REQUIRED),),
    inputs=_data_only, infer_shape=partial_dims(_expand_dims_infer), forward=_expand_dims_forward,
    backward=_expand_dims_backward, doc="expand_dims(data, axis): insert a size-1 axis."))


# ------------------------------------------------------------------- elemwise_* and _power
def _elemwise_infer(name):
    def infer(in_shapes, params):
        shape = merge_shapes(name, "rhs", in_shapes[0], in_shapes[1])
        return [shape, shape], [shape]
    return infer


def _register_elemwise(name, op, aliases):
    def forward(inputs, aux, params, is_train):
        y, cache = ew.elemwise_binary_forward(inputs[0], inputs[1], op=op)
        return [y], cache

    def backward(out_grads, cache, params):
        return list(ew.elemwise_binary_backward(_head(out_grads, cache.out.shape, cache.out.dtype), cache))

    register(OpDef(name=name, aliases=aliases, params=(), inputs=_lhs_rhs,
                   infer_shape=partial_dims(_elemwise_infer(name)), forward=forward, backward=backward,
                   shape_from_output=True,
                   doc=f"{name}(lhs, rhs): elementwise {op}, equal shapes."))


_register_elemwise("elemwise_add", "add", ("elemwise_add", "_add", "_plus", "_Plus"))
_register_elemwise("elemwise_sub", "sub", ("elemwise_sub", "_sub", "_minus", "_Minus"))
_register_elemwise("elemwise_mul", "mul", ("elemwise_mul", "_mul", "_Mul"))
_register_elemwise("elemwise_div", "div", ("elemwise_div", "_div", "_Div"))
_register_elemwise("_power", "power", ("_power", "_Power"))


# --------------------------------------------------------------------------------- broadcast_*
def _broadcast_result(name, lhs, rhs) -> tuple:
    """The broadcast shape of lhs and rhs, or a ValueError naming both arguments and shapes."""
    try:
        return ew.broadcast_shape(name, tuple(lhs), tuple(rhs))
    except ValueError:
        raise ValueError(f"{name}: lhs and rhs must have broadcast-compatible shapes (each axis, "
                         f"aligned from the right, equal or 1), got lhs {tuple(lhs)} and rhs "
                         f"{tuple(rhs)}") from None


def _broadcast_infer(name):
    def infer(in_shapes, params):
        lhs, rhs = in_shapes
        # MXNet does not infer a missing operand (spec graph-formats §3: the L2 scale needs shape=).
        if lhs is None or rhs is None or None in lhs or None in rhs:
            return list(in_shapes), [None]
        return list(in_shapes), [_broadcast_result(name, lhs, rhs)]
    return infer


def _register_broadcast(op, aliases):
    name = f"broadcast_{op}"

    def forward(inputs, aux, params, is_train):
        if all(hasattr(x, "shape") for x in inputs):
            _broadcast_result(name, inputs[0].shape, inputs[1].shape)
        y, cache = ew.broadcast_binary_forward(inputs[0], inputs[1], op=op)
        return [y], cache

    def backward(out_grads, cache, params):
        return list(ew.broadcast_binary_backward(_head(out_grads, cache.out.shape, cache.out.dtype), cache))

    register(OpDef(name=name, aliases=(name,) + aliases, params=(), inputs=_lhs_rhs,
                   infer_shape=partial_dims(_broadcast_infer(name)), forward=forward, backward=backward,
                   doc=f"{name}(lhs, rhs): {op} with NumPy broadcasting; backward sums stretched axes."))


_register_broadcast("add", ("broadcast_plus",))
_register_broadcast("sub", ("broadcast_minus",))
_register_broadcast("mul", ())
_register_broadcast("div", ())
_register_broadcast("power", ())


# -------------------------------------------------------------------------------- scalar ops
def _register_scalar(op, camel):
    name = f"_{op}_scalar"

    def forward(inputs, aux, params, is_train):
        y, cache = ew.scalar_forward(inputs[0], op=op, scalar=params["scalar"])
        return [y], cache

    def backward(out_grads, cache, params):
        return [ew.scalar_backward(_head(out_grads, cache.out.shape, cache.out.dtype), cache)]

    register(OpDef(name=name, aliases=(name, camel), params=(Param("scalar", "float", 1.0),),
                   inputs=_data_only, infer_shape=partial_dims(same_shape), shape_from_output=True,
                   forward=forward, backward=backward, doc=f"{name}(data, scalar)."))


for _op, _camel in (("plus", "_PlusScalar"), ("minus", "_MinusScalar"), ("rminus", "_RMinusScalar"),
                    ("mul", "_MulScalar"), ("div", "_DivScalar"), ("rdiv", "_RDivScalar"),
                    ("power", "_PowerScalar"), ("rpower", "_RPowerScalar")):
    _register_scalar(_op, _camel)


# ------------------------------------------------------------------------------ _copy / identity
def _copy_forward(inputs, aux, params, is_train):
    y, cache = ew.identity_forward(inputs[0])
    return [y], cache


def _copy_backward(out_grads, cache, params):
    return [ew.identity_backward(_head(out_grads, cache.shape, cache.dtype), cache)]


register(OpDef(
    name="_copy", aliases=("_copy", "identity"), params=(), inputs=_data_only,
    infer_shape=partial_dims(same_shape), shape_from_output=True,
    forward=_copy_forward, backward=_copy_backward, doc="_copy(data) / identity: y = x, dX = g."))
