"""OpDefs for the softmax family and the loss heads: softmax, log_softmax, SoftmaxActivation,
SoftmaxOutput, smooth_l1, MakeLoss, make_loss, BlockGrad.

Mirrors MXNet 1.9.1's registrations (names, aliases, arguments and defaults); the math lives in
`ssdref.layers.softmax`, `softmax_output`, `smooth_l1`, `make_loss`. Loss heads (SoftmaxOutput,
MakeLoss, make_loss) ignore the head gradient; BlockGrad passes zero gradient.
Note: `make_loss` is its own operator in MXNet (no arguments, output named `loss`, gradient of
ones), not an alias of `MakeLoss`.
"""
from __future__ import annotations

import numpy as np

from ssdref.autograd.ops_shape import partial_dims, same_shape
from ssdref.autograd.registry import OpDef, Param, register
from ssdref.backend import dispatch
from ssdref.errors import fail
from ssdref.layers import make_loss as ml
from ssdref.layers import smooth_l1 as sl1
from ssdref.layers import softmax as sm
from ssdref.layers import softmax_output as so


def _data_only(params):
    return ("data",)


# ------------------------------------------------------------------------- softmax, log_softmax
_SOFTMAX_PARAMS = (
    Param("axis", "int", -1),
    Param("temperature", "optional_float", None),
    Param("dtype", "optional_str", None),
    Param("use_length", "optional_bool", False),
)


def _check_softmax_options(op, params):
    if params["dtype"] is not None:
        fail(op, "dtype override is not supported by ssdref (output dtype = input dtype), "
                 f"got {params['dtype']!r}")
    if params["use_length"]:
        fail(op, "use_length=True is not supported by ssdref")


def _softmax_infer_shape(op):
    def infer(in_shapes, params):
        _check_softmax_options(op, params)
        data = in_shapes[0]
        if data is not None:
            sm.normalize_axis(op, params["axis"], len(data))
        return list(in_shapes), [data]
    return infer


def _softmax_forward(inputs, aux, params, is_train):
    _check_softmax_options("softmax", params)
    y, cache = dispatch(sm.softmax_forward)(inputs[0], axis=params["axis"], temperature=params["temperature"])
    return [y], cache


def _softmax_backward(out_grads, cache, params):
    return [sm.softmax_backward(_head(out_grads, cache.output), cache)]


def _log_softmax_forward(inputs, aux, params, is_train):
    _check_softmax_options("log_softmax", params)
    y, cache = dispatch(sm.log_softmax_forward)(inputs[0], axis=params["axis"], temperature=params["temperature"])
    return [y], cache


def _log_softmax_backward(out_grads, cache, params):
    return [sm.log_softmax_backward(_head(out_grads, cache.output), cache)]


def _head(out_grads, like):
    """The head gradient of a non-loss op; absent means zero."""
    grad = out_grads[0] if out_grads else None
    return np.zeros_like(like) if grad is None else grad


register(OpDef(
    name="softmax", aliases=("softmax",), params=_SOFTMAX_PARAMS, inputs=_data_only,
    infer_shape=partial_dims(_softmax_infer_shape("softmax")), forward=_softmax_forward,
    backward=_softmax_backward,
    doc="softmax(data, axis=-1, temperature=None): exp(x - max)/sum along axis, bit-exact float32."))

register(OpDef(
    name="log_softmax", aliases=("log_softmax",), params=_SOFTMAX_PARAMS, inputs=_data_only,
    infer_shape=partial_dims(_softmax_infer_shape("log_softmax")), forward=_log_softmax_forward,
    backward=_log_softmax_backward, shape_from_output=True,
    doc="log_softmax(data, axis=-1, temperature=None): (x - max) - log(sum exp(x - max))."))


# ---------------------------------------------------------------------------- SoftmaxActivation
def _softmax_activation_infer_shape(in_shapes, params):
    data = in_shapes[0]
    if data is not None and params["mode"] == "channel" and len(data) < 3:
        fail("SoftmaxActivation", f"data must have at least 3 dimensions when mode='channel', got shape {data}")
    return list(in_shapes), [data]


def _softmax_activation_forward(inputs, aux, params, is_train):
    y, cache = dispatch(sm.softmax_activation_forward)(inputs[0], mode=params["mode"])
    return [y], cache


def _softmax_activation_backward(out_grads, cache, params):
    return [sm.softmax_activation_backward(_head(out_grads, cache.output), cache)]


register(OpDef(
    name="SoftmaxActivation", aliases=("SoftmaxActivation",),
    params=(Param("mode", "str", "instance", choices=("instance", "channel")),),
    inputs=_data_only, infer_shape=partial_dims(_softmax_activation_infer_shape),
    forward=_softmax_activation_forward, backward=_softmax_activation_backward, shape_from_output=True,
    doc="SoftmaxActivation(data, mode): 'instance' softmax over the last axis, 'channel' over axis 1."))


# -------------------------------------------------------------------------------- SoftmaxOutput
def _prod_or_none(dims):
    return None if any(d is None for d in dims) else int(np.prod(dims, dtype=np.int64))


def _softmax_output_infer_shape(in_shapes, params):
    data, label = in_shapes
    if data is None:
        return list(in_shapes), [None]
    if len(data) < 2:
        fail("SoftmaxOutput", f"data must have at least 2 dimensions, got shape {data}")
    multi, preserve = params["multi_output"], params["preserve_shape"]
    if None in data:  # partial: MXNet's inferred label shape, unchecked
        inferred = (data[0], _prod_or_none(data[2:])) if multi else tuple(data[:-1])
        return [data, label if label is not None else inferred], [data]
    allowed = so.label_shapes(tuple(data), multi, preserve)
    if label is None:
        label = allowed[0]
    elif tuple(label) != tuple(data) and tuple(label) not in allowed:
        fail("SoftmaxOutput", f"label must have shape {' or '.join(map(str, allowed))} for data {tuple(data)}, "
                              f"got {tuple(label)}")
    return [data, tuple(label)], [data]


def _softmax_output_forward(inputs, aux, params, is_train):
    prob, cache = dispatch(so.softmax_output_forward)(inputs[0], inputs[1], **params)
    return [prob], cache


def _softmax_output_backward(out_grads, cache, params):
    ddata, dlabel = dispatch(so.softmax_output_backward)(None, cache)
    return [ddata, dlabel]


register(OpDef(
    name="SoftmaxOutput", aliases=("SoftmaxOutput",),
    params=(
        Param("grad_scale", "float", 1.0),
        Param("ignore_label", "float", -1.0),
        Param("multi_output", "bool", False),
        Param("use_ignore", "bool", False),
        Param("preserve_shape", "bool", False),
        Param("normalization", "str", "null", choices=("null", "batch", "valid")),
        Param("out_grad", "bool", False),
        Param("smooth_alpha", "float", 0.0),
    ),
    inputs=lambda params: ("data", "label"), infer_shape=partial_dims(_softmax_output_infer_shape),
    forward=_softmax_output_forward, backward=_softmax_output_backward,
    doc="SoftmaxOutput(data, label, ...): softmax forward; custom (p - onehot)*scale backward."))


# ------------------------------------------------------------------------------------ smooth_l1
def _smooth_l1_forward(inputs, aux, params, is_train):
    y, cache = sl1.smooth_l1_forward(inputs[0], scalar=params["scalar"])
    return [y], cache


def _smooth_l1_backward(out_grads, cache, params):
    return [sl1.smooth_l1_backward(_head(out_grads, cache.x), cache)]


register(OpDef(
    name="smooth_l1", aliases=("smooth_l1",), params=(Param("scalar", "float", 1.0),),
    inputs=_data_only, infer_shape=partial_dims(same_shape), forward=_smooth_l1_forward,
    backward=_smooth_l1_backward, shape_from_output=True,
    doc="smooth_l1(data, scalar=sigma): Huber-like loss with threshold 1/sigma^2."))


# ------------------------------------------------------------------------- MakeLoss, make_loss
def _make_loss_forward(inputs, aux, params, is_train):
    y, cache = ml.make_loss_forward(inputs[0], **params)
    return [y], cache


def _make_loss_backward(out_grads, cache, params):
    return [ml.make_loss_backward(None, cache)]


register(OpDef(
    name="MakeLoss", aliases=("MakeLoss",),
    params=(
        Param("grad_scale", "float", 1.0),
        Param("valid_thresh", "float", 0.0),
        Param("normalization", "str", "null", choices=("null", "batch", "valid")),
    ),
    inputs=_data_only, infer_shape=partial_dims(same_shape), forward=_make_loss_forward,
    backward=_make_loss_backward,
    doc="MakeLoss(data, grad_scale, valid_thresh, normalization): identity; constant custom gradient."))

register(OpDef(
    name="make_loss", aliases=("make_loss",), params=(), inputs=_data_only,
    infer_shape=partial_dims(same_shape), forward=_make_loss_forward, backward=_make_loss_backward,
    outputs=lambda params: ("loss",), shape_from_output=True,
    doc="make_loss(data): identity; gradient of ones (MXNet's deprecated argument-free loss head)."))


# -------------------------------------------------------------------------------------- BlockGrad
def _block_grad_forward(inputs, aux, params, is_train):
    y, cache = ml.block_grad_forward(inputs[0])
    return [y], cache


def _block_grad_backward(out_grads, cache, params):
    return [ml.block_grad_backward(None, cache)]


register(OpDef(
    name="BlockGrad", aliases=("BlockGrad", "stop_gradient"), params=(), inputs=_data_only,
    infer_shape=partial_dims(same_shape), forward=_block_grad_forward, backward=_block_grad_backward,
    shape_from_output=True,
    doc="BlockGrad(data) / stop_gradient: identity forward, zero gradient."))
