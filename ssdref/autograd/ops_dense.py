"""OpDef of FullyConnected (the classifier tails of the resnet and inceptionv3 bodies)."""
from __future__ import annotations

from ssdref.autograd.registry import OpDef, Param, register
from ssdref.layers import fully_connected as fc


def _infer_shape(in_shapes, p):
    in_shapes = list(in_shapes)
    num_hidden = p["num_hidden"]
    if num_hidden < 1:
        raise ValueError(f"FullyConnected: num_hidden must be >= 1, got {num_hidden}")
    data = in_shapes[0]
    if data is None:  # MXNet deduces nothing, not even the bias, before the data's rank is known
        return in_shapes, [None]
    if not p["no_bias"]:
        in_shapes[2] = _provided("bias", in_shapes[2], (num_hidden,))
    data = tuple(data)
    if len(data) < (2 if p["flatten"] else 1):
        raise ValueError(f"FullyConnected: data must have at least {2 if p['flatten'] else 1} "
                         f"dimensions with flatten={p['flatten']}, got shape {data}")
    if p["flatten"]:
        k = 1
        for d in data[1:]:
            k *= d
        out = (data[0], num_hidden)
    else:
        k, out = data[-1], data[:-1] + (num_hidden,)
    in_shapes[1] = _provided("weight", in_shapes[1], (num_hidden, k))
    return in_shapes, [out]


def _provided(name, provided, inferred):
    """`inferred` checked against `provided`, where a 0 is an unknown dim (a Gluon `(5, 0)`)."""
    if provided is not None and (len(provided) != len(inferred) or
                                 any(a and b and a != b for a, b in zip(provided, inferred))):
        raise ValueError(f"FullyConnected: {name} shape inconsistent, provided {tuple(provided)}, "
                         f"inferred {tuple(inferred)}")
    return tuple(b or (a or 0) for a, b in zip(provided or inferred, inferred))


def _forward(inputs, aux, p, is_train):
    # the parameters against the arrays, as in a graph (an imperative call has no inference pass)
    _infer_shape([getattr(a, "shape", None) for a in inputs], p)
    bias = None if p["no_bias"] else inputs[2]
    y, cache = fc.fully_connected_forward(inputs[0], inputs[1], bias, flatten=p["flatten"])
    return [y], cache


def _backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None] * (2 if p["no_bias"] else 3)
    dx, dweight, dbias = fc.fully_connected_backward(out_grads[0], cache)
    return [dx, dweight] if p["no_bias"] else [dx, dweight, dbias]


register(OpDef(
    name="FullyConnected", aliases=("FullyConnected",),
    params=(Param("num_hidden", "int"), Param("no_bias", "bool", False), Param("flatten", "bool", True)),
    inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
    infer_shape=_infer_shape, forward=_forward, backward=_backward,
    doc="FullyConnected (ssdref.layers.fully_connected)"))
