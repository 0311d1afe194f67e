"""Small OpDefs registered under `_test_*` names for the graph tests (no collision with real ops).

They follow the registry contract exactly, with math simple enough to check by hand:
`_test_fc` (data, weight, bias -> data @ weight.T + bias), `_test_mul` / `_test_add` (two equal
shapes), `_test_tanh`, `_test_bn` (BatchNorm-like: aux moving_mean/moving_var, a hidden output,
update_aux), `_test_split2` (two visible outputs, one hidden), `_test_cat` (variadic, num_args),
`_test_sumloss` (a loss head ignoring its head gradient).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.autograd import registry
from ssdref.autograd.registry import OpDef, Param


class Saved(NamedTuple):
    inputs: tuple
    output: object = None


def _same(in_shapes, params):
    known = next((s for s in in_shapes if s is not None), None)
    return [known] * len(in_shapes), [known]


def _fc_shape(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    shapes = [data, (params["num_hidden"], data[1])]
    if not params["no_bias"]:
        shapes.append((params["num_hidden"],))
    return shapes, [(data[0], params["num_hidden"])]


def _fc_forward(inputs, aux, params, is_train):
    out = inputs[0] @ inputs[1].T
    if not params["no_bias"]:
        out = out + inputs[2]
    return [out], Saved(tuple(inputs))


def _fc_backward(out_grads, cache, params):
    dy = out_grads[0] if out_grads[0] is not None else np.zeros((cache.inputs[0].shape[0],
                                                                 params["num_hidden"]))
    grads = [dy @ cache.inputs[1], dy.T @ cache.inputs[0]]
    if not params["no_bias"]:
        grads.append(dy.sum(axis=0))
    return grads


def _binary(fn, grads):
    def forward(inputs, aux, params, is_train):
        return [fn(*inputs)], Saved(tuple(inputs))

    def backward(out_grads, cache, params):
        return grads(out_grads[0], *cache.inputs) if out_grads[0] is not None else [None, None]
    return forward, backward


_mul_f, _mul_b = _binary(lambda a, b: a * b, lambda g, a, b: [g * b, g * a])
_add_f, _add_b = _binary(lambda a, b: a + b, lambda g, a, b: [g, g])


def _tanh_forward(inputs, aux, params, is_train):
    y = np.tanh(inputs[0])
    return [y], Saved((), y)


def _tanh_backward(out_grads, cache, params):
    return [None if out_grads[0] is None else out_grads[0] * (1 - cache.output ** 2)]


def _bn_shape(in_shapes, params):
    data = next((s for s in in_shapes[:1] if s is not None), None)
    if data is None:
        return list(in_shapes), [None]
    channel = (data[1],)
    return [data, channel, channel, channel, channel], [data]


def _bn_forward(inputs, aux, params, is_train):
    data, gamma, beta = inputs
    mean = data.mean(axis=0) if is_train else aux[0]
    return [(data - mean) * gamma + beta], Saved((data, gamma, mean))


def _bn_backward(out_grads, cache, params):
    data, gamma, mean = cache.inputs
    g = out_grads[0]
    dgamma = (g * (data - mean)).sum(axis=0)
    return [(g - g.mean(axis=0)) * gamma, dgamma, g.sum(axis=0)]


def _bn_update_aux(cache, aux, params):
    mom = params["momentum"]
    return [aux[0] * mom + cache.inputs[2] * (1 - mom), aux[1]]


def _split_shape(in_shapes, params):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None, None]
    half = data[1] // 2
    return [data], [(data[0], half), (data[0], data[1] - half)]


def _split_forward(inputs, aux, params, is_train):
    x = inputs[0]
    half = x.shape[1] // 2
    return [x[:, :half], x[:, half:]], Saved((x.shape,))


def _split_backward(out_grads, cache, params):
    shape = cache.inputs[0]
    half = shape[1] // 2
    widths = (half, shape[1] - half)
    parts = [g if g is not None else np.zeros((shape[0], w)) for g, w in zip(out_grads, widths)]
    return [np.concatenate(parts, axis=1)]


def _cat_inputs(params):
    return tuple(f"arg{i}" for i in range(params["num_args"]))


def _cat_shape(in_shapes, params):
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None]
    return list(in_shapes), [(in_shapes[0][0], sum(s[1] for s in in_shapes))]


def _cat_forward(inputs, aux, params, is_train):
    return [np.concatenate(inputs, axis=1)], Saved(tuple(x.shape[1] for x in inputs))


def _cat_backward(out_grads, cache, params):
    return list(np.split(out_grads[0], np.cumsum(cache.inputs)[:-1], axis=1))


def _sumloss_forward(inputs, aux, params, is_train):
    return [inputs[0].copy()], Saved((inputs[0].shape, inputs[0].dtype))


def _sumloss_backward(out_grads, cache, params):
    shape, dtype = cache.inputs
    return [np.full(shape, params["grad_scale"], dtype=dtype)]


def _register_all():
    if "_test_fc" in registry._REGISTRY:
        return
    registry.register(OpDef(
        name="_test_fc", aliases=("_test_FC",),
        params=(Param("num_hidden", "int"), Param("no_bias", "bool", False)),
        inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
        infer_shape=_fc_shape, forward=_fc_forward, backward=_fc_backward))
    for name, fwd, bwd in (("_test_mul", _mul_f, _mul_b), ("_test_add", _add_f, _add_b)):
        registry.register(OpDef(name=name, aliases=(name,), params=(),
                                inputs=lambda p: ("lhs", "rhs"), infer_shape=_same,
                                forward=fwd, backward=bwd))
    registry.register(OpDef(name="_test_tanh", aliases=("_test_tanh",), params=(),
                            inputs=lambda p: ("data",), infer_shape=_same,
                            forward=_tanh_forward, backward=_tanh_backward))
    registry.register(OpDef(
        name="_test_bn", aliases=("_test_BN",), params=(Param("momentum", "float", 0.9),),
        inputs=lambda p: ("data", "gamma", "beta"), aux=lambda p: ("moving_mean", "moving_var"),
        num_hidden_outputs=lambda p: 2, infer_shape=_bn_shape, forward=_bn_forward,
        backward=_bn_backward, update_aux=_bn_update_aux))
    registry.register(OpDef(
        name="_test_split2", aliases=("_test_split2",), params=(), inputs=lambda p: ("data",),
        outputs=lambda p: ("first", "second"), num_hidden_outputs=lambda p: 1,
        infer_shape=_split_shape, forward=_split_forward, backward=_split_backward))
    registry.register(OpDef(
        name="_test_cat", aliases=("_test_Cat", "_test_cat"), params=(Param("num_args", "int"),),
        inputs=_cat_inputs, key_var_num_args="num_args", infer_shape=_cat_shape,
        forward=_cat_forward, backward=_cat_backward))
    registry.register(OpDef(
        name="_test_sumloss", aliases=("_test_sumloss",), params=(Param("grad_scale", "float", 1.0),),
        inputs=lambda p: ("data",), infer_shape=_same, forward=_sumloss_forward,
        backward=_sumloss_backward))


_register_all()


# Unregistered stand-ins carrying MXNet's op names, for the JSON writer test before (and
# independently of) the real layers: the writer only reads name, params, inputs and outputs.
def _no_forward(*args):  # pragma: no cover - never run
    raise AssertionError("stand-in op")


STANDIN_CONVOLUTION = OpDef(
    name="Convolution", aliases=(), inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
    params=(Param("kernel", "shape"), Param("num_filter", "int"), Param("pad", "shape", ()),
            Param("stride", "shape", ()), Param("no_bias", "bool", False)),
    infer_shape=_same, forward=_no_forward, backward=None)
STANDIN_ACTIVATION = OpDef(
    name="Activation", aliases=(), inputs=lambda p: ("data",), params=(Param("act_type", "str"),),
    infer_shape=_same, forward=_no_forward, backward=None)
STANDIN_SOFTMAX_OUTPUT = OpDef(
    name="SoftmaxOutput", aliases=(), inputs=lambda p: ("data", "label"),
    params=(Param("grad_scale", "float", 1.0), Param("ignore_label", "float", -1.0),
            Param("multi_output", "bool", False), Param("use_ignore", "bool", False),
            Param("normalization", "str", "null")),
    infer_shape=_same, forward=_no_forward, backward=None)
