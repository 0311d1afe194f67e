"""OpDefs of the dense nn ops: Convolution, Pooling, Activation, BatchNorm, L2Normalization, Dropout.

Each wraps the layer pair of `ssdref.layers.<module>` (through `ssdref.backend.dispatch` for the hot
ones); the contract is in `ssdref.autograd.registry`'s docstring. Arguments MXNet accepts but that
change nothing on CPU (workspace, cudnn_tune, cudnn_off, calibration ranges) are parsed and ignored.
Hidden outputs counted in JSON (spec mxnet-graph-formats.md §4.1): BatchNorm 2 (mean, var) unless
output_mean_var shows them, L2Normalization 1 (norm), Dropout 1 (mask), and Pooling 1 (the
workspace) for max pooling only, as MXNet 1.9.1's MKLDNN build counts.
"""
from __future__ import annotations

from ssdref.autograd.registry import REQUIRED, OpDef, Param, register
from ssdref.backend import dispatch
from ssdref.layers import activation, batchnorm, conv, dropout, l2norm, pooling

_LAYOUTS = {3: "NCW", 4: "NCHW", 5: "NCDHW"}


def _check_layout(op, layout, ndim):
    if layout is not None and layout != _LAYOUTS.get(ndim):
        raise ValueError(f"{op}: layout must be None or {_LAYOUTS.get(ndim)!r} on CPU for "
                         f"{ndim}-D data, got {layout!r}")


def _check_provided(op, name, provided, inferred):
    """`provided` refined by `inferred`; a 0 in either is an unknown dim (a Gluon `(64, 0, 3, 3)`)."""
    if provided is None or inferred is None:
        return inferred if inferred is not None else provided
    if len(provided) != len(inferred) or any(a and b and a != b for a, b in zip(provided, inferred)):
        raise ValueError(f"{op}: {name} must have shape {tuple(inferred)} (inferred from data and "
                         f"the op's parameters), got {tuple(provided)} (shape inconsistent)")
    return tuple(b or a for a, b in zip(provided, inferred))


# ---------------------------------------------------------------- Convolution
def _conv_args(p):
    return dict(kernel=p["kernel"], stride=p["stride"], dilate=p["dilate"], pad=p["pad"],
                num_group=p["num_group"])


def _check_conv_params(p):
    """The parameters' own ranges, before they size any weight or bias (a negative kernel or
    num_filter was reported as a weight or bias shape problem)."""
    ndim = len(p["kernel"])
    for name, minimum in (("kernel", 1), ("stride", 1), ("dilate", 1), ("pad", 0)):
        conv._spatial_tuple(name, p[name] if p[name] else None, ndim, 1 if minimum else 0, minimum)
    for name in ("num_filter", "num_group"):
        if p[name] < 1:
            raise ValueError(f"Convolution: {name} must be >= 1, got {p[name]}")


def _conv_infer_shape(in_shapes, p):
    in_shapes = list(in_shapes)
    _check_conv_params(p)
    data = in_shapes[0]
    if data is None:  # MXNet deduces nothing, not even the bias, before the data's rank is known
        return in_shapes, [None]
    if not p["no_bias"]:
        in_shapes[2] = _check_provided("Convolution", "bias", in_shapes[2], (p["num_filter"],))
    data = tuple(data)
    if len(data) != len(p["kernel"]) + 2:
        raise ValueError(f"Convolution: data must have {len(p['kernel']) + 2} dimensions "
                         f"(batch, channels, {len(p['kernel'])} spatial) for kernel "
                         f"{tuple(p['kernel'])}, got shape {data}")
    _check_layout("Convolution", p["layout"], len(data))
    group = p["num_group"]
    weight = (p["num_filter"], data[1] // group if group > 0 else 0) + tuple(p["kernel"])
    in_shapes[1] = _check_provided("Convolution", "weight", in_shapes[1], weight)
    geometry = conv.conv_geometry(data, weight, **_conv_args(p))
    return in_shapes, [(data[0], p["num_filter"]) + geometry.out_spatial]


def _conv_forward(inputs, aux, p, is_train):
    # The graph's shape rules on the arrays themselves, so that an imperative call reports a
    # wrong rank, weight or bias the way infer_shape does (naming the input and num_filter).
    if all(hasattr(x, "shape") for x in inputs):
        _conv_infer_shape([tuple(x.shape) for x in inputs], p)
    _check_layout("Convolution", p["layout"], inputs[0].ndim)
    bias = None if p["no_bias"] else inputs[2]
    y, cache = dispatch(conv.conv_forward)(inputs[0], inputs[1], bias, **_conv_args(p))
    return [y], cache


def _conv_backward(out_grads, cache, p, needed=None):
    if out_grads[0] is None:
        return [None] * (2 if p["no_bias"] else 3)
    data_grad = True if needed is None else bool(needed[0])
    dx, dweight, dbias = dispatch(conv.conv_backward)(out_grads[0], cache, data_grad=data_grad)
    return [dx, dweight] if p["no_bias"] else [dx, dweight, dbias]


register(OpDef(
    name="Convolution", aliases=("Convolution",),
    params=(Param("kernel", "shape"), Param("stride", "shape", ()), Param("dilate", "shape", ()),
            Param("pad", "shape", ()), Param("num_filter", "int"), Param("num_group", "int", 1),
            Param("workspace", "int", 1024), Param("no_bias", "bool", False),
            Param("cudnn_tune", "optional_str", None, ("off", "limited_workspace", "fastest")),
            Param("cudnn_off", "bool", False), Param("layout", "optional_str", None)),
    inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
    infer_shape=_conv_infer_shape, forward=_conv_forward, backward=_conv_backward,
    backward_needs_mask=True, doc="Convolution (ssdref.layers.conv)"))


# ---------------------------------------------------------------- Pooling
def _pool_args(p):
    return dict(kernel=p["kernel"], pool_type=p["pool_type"], stride=p["stride"], pad=p["pad"],
                pooling_convention=p["pooling_convention"], global_pool=p["global_pool"],
                count_include_pad=p["count_include_pad"], p_value=p["p_value"])


def _pool_infer_shape(in_shapes, p):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    data = tuple(data)
    _check_layout("Pooling", p["layout"], len(data))
    geometry = pooling.pooling_geometry(data, **_pool_args(p))
    return list(in_shapes), [data[:2] + geometry.out_spatial]


def _pool_forward(inputs, aux, p, is_train):
    _check_layout("Pooling", p["layout"], inputs[0].ndim)
    y, cache = dispatch(pooling.pooling_forward)(inputs[0], **_pool_args(p))
    return [y], cache


def _pool_backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None]
    return [dispatch(pooling.pooling_backward)(out_grads[0], cache)]


register(OpDef(
    name="Pooling", aliases=("Pooling",),
    params=(Param("kernel", "shape", ()), Param("pool_type", "str", "max", pooling.POOL_TYPES),
            Param("global_pool", "bool", False), Param("cudnn_off", "bool", False),
            Param("pooling_convention", "str", "valid", ("valid", "full", "same")),
            Param("stride", "shape", ()), Param("pad", "shape", ()),
            Param("p_value", "optional_int", None), Param("count_include_pad", "optional_bool", None),
            Param("layout", "optional_str", None)),
    inputs=lambda p: ("data",), infer_shape=_pool_infer_shape, forward=_pool_forward,
    backward=_pool_backward, num_hidden_outputs=lambda p: 1 if p["pool_type"] == "max" else 0,
    doc="Pooling (ssdref.layers.pooling)"))


# ---------------------------------------------------------------- Activation
def _same_shape(in_shapes, p):
    return list(in_shapes), [None if in_shapes[0] is None else tuple(in_shapes[0])]


def _act_forward(inputs, aux, p, is_train):
    y, cache = dispatch(activation.activation_forward)(inputs[0], act_type=p["act_type"])
    return [y], cache


def _act_backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None]
    return [dispatch(activation.activation_backward)(out_grads[0], cache)]


register(OpDef(
    name="Activation", aliases=("Activation",),
    params=(Param("act_type", "str", REQUIRED, activation.ACT_TYPES),),
    inputs=lambda p: ("data",), infer_shape=_same_shape, forward=_act_forward, shape_from_output=True,
    backward=_act_backward, doc="Activation (ssdref.layers.activation)"))


# ---------------------------------------------------------------- BatchNorm
def _bn_infer_shape(in_shapes, p):
    in_shapes = list(in_shapes)
    data = in_shapes[0]
    if data is None:  # MXNet deduces nothing (not gamma from beta) before the data's rank is known
        return in_shapes, [None] * (3 if p["output_mean_var"] else 1)
    data = tuple(data)
    axis = p["axis"]
    if not -len(data) <= axis < len(data):
        raise ValueError(f"BatchNorm: axis must be in [{-len(data)}, {len(data)}) "
                         f"(Channel axis out of range), got {axis}")
    channel = (data[axis],)
    in_shapes[1:] = [_check_provided("BatchNorm", n, s, channel)
                     for n, s in zip(("gamma", "beta", "moving_mean", "moving_var"), in_shapes[1:])]
    return in_shapes, [data, channel, channel] if p["output_mean_var"] else [data]


def _bn_forward(inputs, aux, p, is_train):
    (y, mean, invstd), cache = batchnorm.batchnorm_forward(
        inputs[0], inputs[1], inputs[2], aux[0], aux[1], eps=p["eps"], momentum=p["momentum"],
        fix_gamma=p["fix_gamma"], use_global_stats=p["use_global_stats"],
        output_mean_var=p["output_mean_var"], axis=p["axis"], is_train=is_train)
    return ([y, mean, invstd] if p["output_mean_var"] else [y]), cache


def _bn_monitor_hidden(cache, p):
    # MXNet's hidden `var` holds 1 / sqrt(var + eps), as the visible one of output_mean_var does.
    return [] if p["output_mean_var"] else [("mean", cache.mean), ("var", cache.invstd)]


def _bn_backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None, None, None]
    # the executor's backward runs in train mode (MXNet's GraphExecutor), see batchnorm.py
    return list(batchnorm.batchnorm_backward(out_grads[0], cache, train_mode=True))


def _bn_update_aux(cache, aux, p):
    return list(batchnorm.batchnorm_moving_update(cache, aux[0], aux[1], momentum=p["momentum"]))


register(OpDef(
    name="BatchNorm", aliases=("BatchNorm",),
    params=(Param("eps", "float", batchnorm.DEFAULT_EPS), Param("momentum", "float", 0.9),
            Param("fix_gamma", "bool", True), Param("use_global_stats", "bool", False),
            Param("output_mean_var", "bool", False), Param("axis", "int", 1),
            Param("cudnn_off", "bool", False), Param("min_calib_range", "optional_float", None),
            Param("max_calib_range", "optional_float", None)),
    inputs=lambda p: ("data", "gamma", "beta"), aux=lambda p: ("moving_mean", "moving_var"),
    outputs=lambda p: ("output", "mean", "var") if p["output_mean_var"] else ("output",),
    num_hidden_outputs=lambda p: 0 if p["output_mean_var"] else 2,
    infer_shape=_bn_infer_shape, forward=_bn_forward, backward=_bn_backward,
    update_aux=_bn_update_aux, monitor_hidden=_bn_monitor_hidden,
    # MXNet 1.9.1 writes 1.0 into the bound gamma array in a training forward with fix_gamma.
    train_writes=lambda p: {"gamma": 1.0} if p["fix_gamma"] else {},
    doc="BatchNorm (ssdref.layers.batchnorm)"))


# ---------------------------------------------------------------- L2Normalization
def _l2n_infer_shape(in_shapes, p):
    data = in_shapes[0]
    if data is None and p["mode"] == "channel":  # MXNet checks the rank before it could defer
        raise ValueError("L2Normalization: data must have at least 3 dimensions in channel mode, "
                         "got an unknown shape (MXNet raises here even in infer_shape_partial)")
    if data is not None and p["mode"] != "instance" and len(data) < 3:
        raise ValueError(f"L2Normalization: data must have at least 3 dimensions in {p['mode']} "
                         f"mode, got shape {tuple(data)}")
    return _same_shape(in_shapes, p)


def _l2n_monitor_hidden(cache, p):
    """The norm as MXNet shapes it: (N,) instance, (N, 1, *spatial) channel, (N, C) spatial."""
    norm = cache.norm
    if p["mode"] == "instance":
        return [("norm", norm.reshape(norm.shape[0]))]
    if p["mode"] == "spatial":
        return [("norm", norm.reshape(norm.shape[:2]))]
    return [("norm", norm)]


def _l2n_forward(inputs, aux, p, is_train):
    y, cache = dispatch(l2norm.l2norm_forward)(inputs[0], mode=p["mode"], eps=p["eps"])
    return [y], cache


def _l2n_backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None]
    return [dispatch(l2norm.l2norm_backward)(out_grads[0], cache)]


register(OpDef(
    name="L2Normalization", aliases=("L2Normalization",),
    params=(Param("eps", "float", 1e-10), Param("mode", "str", "instance", l2norm.MODES)),
    inputs=lambda p: ("data",), infer_shape=_l2n_infer_shape, forward=_l2n_forward,
    backward=_l2n_backward, num_hidden_outputs=lambda p: 1, monitor_hidden=_l2n_monitor_hidden,
    doc="L2Normalization (ssdref.layers.l2norm)"))


# ---------------------------------------------------------------- Dropout
def _dropout_forward(inputs, aux, p, is_train):
    y, cache = dropout.dropout_forward(inputs[0], p=p["p"], mode=p["mode"], axes=p["axes"],
                                       is_train=is_train)
    return [y], cache


def _dropout_backward(out_grads, cache, p):
    if out_grads[0] is None:
        return [None]
    return [dropout.dropout_backward(out_grads[0], cache)]


register(OpDef(
    name="Dropout", aliases=("Dropout",),
    params=(Param("p", "float", 0.5), Param("mode", "str", "training", dropout.MODES),
            Param("axes", "shape", ()), Param("cudnn_off", "optional_bool", False)),
    inputs=lambda p: ("data",), infer_shape=_same_shape, forward=_dropout_forward,
    backward=_dropout_backward, num_hidden_outputs=lambda p: 1,
    doc="Dropout (ssdref.layers.dropout)"))
