"""OpDefs of the ops GluonCV's SSD inference graphs add: _greater_scalar, zeros_like, ones_like,
_arange, where, slice_like, _contrib_box_decode, _contrib_box_nms.

Mirrors MXNet 1.9.1's registrations (op names as JSON writes them, Python aliases, arguments and
defaults, visible outputs). The math lives in `ssdref.layers.gluon`, `ssdref.multibox.box_decode`
and `ssdref.multibox.box_nms` (box_nms through `ssdref.backend.dispatch`: its Numba kernel).
Gradients as MXNet's: `where`, `slice_like` and `_contrib_box_nms` have a backward; the others
have none (backward=None: the executor passes zeros to their inputs, as MXNet's
MakeZeroGradNodes). `_contrib_box_nms` has MXNet's hidden second output (the record), counted in
JSON's node_row_ptr but never listed; its visible output is named `output0`, as MXNet names it.
"""
from __future__ import annotations

import numpy as np

from ssdref.autograd.ops_shape import merge_shapes, partial_dims, same_shape
from ssdref.autograd.registry import REQUIRED, OpDef, Param, register
from ssdref.backend import dispatch
from ssdref.errors import fail
from ssdref.layers import gluon
from ssdref.multibox import box_decode as bd
from ssdref.multibox import box_nms as bn


def _data_only(params):
    return ("data",)


def _head(out_grads, shape, dtype):
    grad = out_grads[0] if out_grads else None
    return np.zeros(shape, dtype) if grad is None else grad


# ------------------------------------------------------------------------ _greater_scalar
def _greater_scalar_forward(inputs, aux, params, is_train):
    out, _ = gluon.greater_scalar_forward(inputs[0], scalar=params["scalar"])
    return [out], None


register(OpDef(
    name="_greater_scalar", aliases=("_greater_scalar", "_GreaterScalar"),
    # is_int only changes how MXNet casts integer data; ssdref's data is float32/float64.
    params=(Param("scalar", "float", 1.0), Param("is_int", "bool", True)),
    inputs=_data_only, infer_shape=partial_dims(same_shape), forward=_greater_scalar_forward,
    backward=None, shape_from_output=True, doc="_greater_scalar(data, scalar): 1 where data > scalar, else 0; no gradient."))


# -------------------------------------------------------------------- zeros_like / ones_like
def _like_forward(layer):
    def forward(inputs, aux, params, is_train):
        out, _ = layer(inputs[0])
        return [out], None
    return forward


register(OpDef(
    name="zeros_like", aliases=("zeros_like",), params=(), inputs=_data_only,
    infer_shape=partial_dims(same_shape), forward=_like_forward(gluon.zeros_like_forward),
    backward=None, shape_from_output=True, doc="zeros_like(data): zeros of data's shape and dtype; no gradient."))

register(OpDef(
    name="ones_like", aliases=("ones_like",), params=(), inputs=_data_only,
    infer_shape=partial_dims(same_shape), forward=_like_forward(gluon.ones_like_forward),
    backward=None, shape_from_output=True, doc="ones_like(data): ones of data's shape and dtype; no gradient."))


# ---------------------------------------------------------------------------------- _arange
def _arange_check(params):
    # infer_range takes the length from the consumer's shape (MXNet's backward shape inference);
    # with a stop given, MXNet ignores it, as here.
    if params["infer_range"] and params["stop"] is None:
        fail("_arange", "infer_range=True without stop is not supported (give stop), got stop=None")


def _arange_infer_shape(in_shapes, params):
    _arange_check(params)
    length = gluon.arange_length(params["start"], params["stop"], params["step"], params["repeat"])
    return list(in_shapes), [(length,)]


def _arange_infer_type(in_dtypes, params):
    return list(in_dtypes), [np.dtype(params["dtype"])]


def _arange_forward(inputs, aux, params, is_train):
    _arange_check(params)
    out, _ = gluon.arange_forward(start=params["start"], stop=params["stop"], step=params["step"],
                                  repeat=params["repeat"], dtype=params["dtype"])
    return [out], None


register(OpDef(
    name="_arange", aliases=("_arange",),
    params=(Param("start", "float", REQUIRED), Param("stop", "optional_float", None),
            Param("step", "float", 1.0), Param("repeat", "int", 1),
            Param("infer_range", "bool", False), Param("ctx", "str", ""),
            Param("dtype", "str", "float32", gluon.ARANGE_DTYPES)),
    inputs=lambda params: (), infer_shape=_arange_infer_shape, infer_type=_arange_infer_type,
    forward=_arange_forward, backward=None,
    doc="_arange(start, stop, step=1, repeat=1, dtype='float32'): evenly spaced values; no inputs."))


# ------------------------------------------------------------------------------------ where
def _where_infer_shape(in_shapes, params):
    condition, x, y = in_shapes
    value = merge_shapes("where", "y", x, y)
    if condition is not None and value is not None and len(condition) == len(value):
        value = merge_shapes("where", "condition", value, condition)
        condition = value
    elif condition is not None and value is not None and len(condition) == 1:
        if None not in (condition[0], value[0]) and condition[0] != value[0]:
            fail("where", f"condition must be 1-D with x.shape[0]={value[0]} entries or have x's "
                          f"shape, got {tuple(condition)}")
    elif condition is not None and value is not None:
        fail("where", f"condition must have x's shape {tuple(value)} or be 1-D, got {tuple(condition)}")
    return [condition, value, value], [value]


def _where_infer_type(in_dtypes, params):
    condition, x, y = in_dtypes
    if x is not None and y is not None and x != y:
        raise TypeError(f"where: x and y must share one dtype, got x={np.dtype(x).name}, "
                        f"y={np.dtype(y).name}")
    dtype = x if x is not None else y
    return [condition, dtype, dtype], [dtype]


def _where_forward(inputs, aux, params, is_train):
    out, cache = gluon.where_forward(*inputs)
    return [out], cache


def _where_backward(out_grads, cache, params):
    _, dx, dy = gluon.where_backward(_head(out_grads, cache.pick_x.shape, cache.dtype), cache)
    return [None, dx, dy]      # the condition gets no gradient (zeros)


register(OpDef(
    name="where", aliases=("where",), params=(), inputs=lambda params: ("condition", "x", "y"),
    infer_shape=partial_dims(_where_infer_shape), infer_type=_where_infer_type,
    forward=_where_forward, backward=_where_backward,
    doc="where(condition, x, y): x where condition != 0, else y; gradients routed likewise."))


# ------------------------------------------------------------------------------- slice_like
def _slice_like_infer_shape(in_shapes, params):
    data, like = in_shapes
    if data is None or like is None:
        return list(in_shapes), [None]
    return list(in_shapes), [gluon.slice_like_shape(tuple(data), tuple(like), params["axes"])]


def _slice_like_infer_type(in_dtypes, params):
    data, like = in_dtypes
    return [data, like], [data]


def _slice_like_forward(inputs, aux, params, is_train):
    out, cache = gluon.slice_like_forward(inputs[0], inputs[1], axes=params["axes"])
    return [out], cache


def _slice_like_backward(out_grads, cache, params):
    ddata, _ = gluon.slice_like_backward(_head(out_grads, cache.out_shape, cache.dtype), cache)
    return [ddata, None]      # shape_like gets no gradient (zeros)


register(OpDef(
    name="slice_like", aliases=("slice_like",), params=(Param("axes", "shape", ()),),
    inputs=lambda params: ("data", "shape_like"), infer_shape=partial_dims(_slice_like_infer_shape),
    infer_type=_slice_like_infer_type, forward=_slice_like_forward, backward=_slice_like_backward,
    doc="slice_like(data, shape_like, axes=()): data cut to shape_like's sizes on axes."))


# ------------------------------------------------------------------------ _contrib_box_decode
DECODE = "_contrib_box_decode"


def _box_decode_infer_shape(in_shapes, params):
    data, anchors = in_shapes
    if data is None:  # MXNet checks the rank before it could defer, even in infer_shape_partial
        fail(DECODE, "data must have shape (batch, num_boxes, 4), got an unknown shape")
    if len(data) != 3 or data[2] not in (None, 4):
        fail(DECODE, f"data must have shape (batch, num_boxes, 4), got {tuple(data)}")
    if anchors is not None and (len(anchors) < 3 or anchors[-1] not in (None, 4)):
        fail(DECODE, f"anchors must have 3 or more dimensions, 4 values last, got {tuple(anchors)}")
    return list(in_shapes), [tuple(data)]


def _box_decode_forward(inputs, aux, params, is_train):
    std = (params["std0"], params["std1"], params["std2"], params["std3"])
    out, _ = bd.box_decode_forward(inputs[0], inputs[1], std=std, clip=params["clip"],
                                   format=params["format"])
    return [out], None


register(OpDef(
    name=DECODE, aliases=("box_decode",), contrib=True,
    params=(Param("std0", "float", 1.0), Param("std1", "float", 1.0), Param("std2", "float", 1.0),
            Param("std3", "float", 1.0), Param("clip", "float", -1.0),
            Param("format", "str", "center", bd.FORMATS)),
    inputs=lambda params: ("data", "anchors"), infer_shape=partial_dims(_box_decode_infer_shape),
    forward=_box_decode_forward, backward=None,
    doc="box_decode(data, anchors, std0..3, clip, format): offsets -> corner boxes; no gradient."))


# --------------------------------------------------------------------------- _contrib_box_nms
NMS = "_contrib_box_nms"
_NMS_KEYS = ("overlap_thresh", "valid_thresh", "topk", "coord_start", "score_index", "id_index",
             "background_id", "force_suppress", "in_format", "out_format")


def _box_nms_infer_shape(in_shapes, params):
    (data,) = in_shapes
    if data is None:
        return list(in_shapes), [None]
    if len(data) < 2:
        fail(NMS, f"data must have 2 or more dimensions (..., num_boxes, box_width), got {tuple(data)}")
    if data[-1] is not None:   # the column checks of MXNet's BoxNMSShape, on a one-row stand-in
        bn.check_box_nms_inputs(np.zeros((1, data[-1]), np.float32),
                                *(params[k] for k in _NMS_KEYS))
    return list(in_shapes), [tuple(data)]


def _box_nms_forward(inputs, aux, params, is_train):
    out, cache = dispatch(bn.box_nms_forward)(inputs[0], **{k: params[k] for k in _NMS_KEYS})
    return [out], cache


def _box_nms_backward(out_grads, cache, params):
    return [bn.box_nms_backward(_head(out_grads, cache.in_shape, cache.dtype), cache)]


register(OpDef(
    name=NMS, aliases=("box_nms", "box_non_maximum_suppression"), contrib=True,
    params=(Param("overlap_thresh", "float", 0.5), Param("valid_thresh", "float", 0.0),
            Param("topk", "int", -1), Param("coord_start", "int", 2),
            Param("score_index", "int", 1), Param("id_index", "int", -1),
            Param("background_id", "int", -1), Param("force_suppress", "bool", False),
            Param("in_format", "str", "corner", bn.FORMATS),
            Param("out_format", "str", "corner", bn.FORMATS)),
    # Two outputs, one visible: MXNet names the visible one `output0` (nnvm's rule for ops with
    # more than one output and no FListOutputNames): `box_nms0_output0`.
    inputs=_data_only, outputs=lambda params: ("output0",), num_hidden_outputs=lambda params: 1,
    infer_shape=partial_dims(_box_nms_infer_shape), forward=_box_nms_forward,
    backward=_box_nms_backward,
    doc="box_nms(data, overlap_thresh, topk, ...): per-batch NMS, kept rows first, -1 after; "
        "the gradient follows each kept row back to its input row."))
