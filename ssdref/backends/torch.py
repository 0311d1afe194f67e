"""PyTorch (CPU) backend: an ssdref/MXNet symbol graph run node by node with torch ops, torch autograd.

What a careful PyTorch port of MXNet's SSD looks like, built from the same symbol (ssdref's model
builder, or a loaded MXNet `-symbol.json`) and the same parameters, so `ssdref conformance --backend
torch` can say where it differs. Each MXNet op maps to torch ops in `TORCH_OPS`; gradients come from
torch autograd, never from ssdref's hand-written backward. Conventions that bite:
  * Pooling 'full' (MXNet: out = ceil((H + 2p - k)/s) + 1, no clipping of the last window) is NOT
    torch's `ceil_mode=True` (which drops a last window starting in the right padding): the input
    is padded explicitly (lowest finite value for max, zeros for avg) and pooled with no padding.
    avg divides by MXNet's count (count_include_pad counts the symmetric pad, never the 'full'
    overhang), given as a constant. `native_pooling` is what a naive port writes, for the report.
  * BatchNorm: biased batch variance, moving statistics updated after a training backward with
    MXNet's momentum (moving = m*moving + (1-m)*stat; torch's F.batch_norm keeps the UNBIASED
    variance and uses 1-m), fix_gamma treats gamma as 1 (gradient 0).
  * Loss heads carry MXNet's own gradients as surrogate scalars that torch differentiates:
    SoftmaxOutput = sum of cross-entropy (logsumexp - x[k]) over counted positions times
    grad_scale/normalizer (so d/dx = (p - onehot)*scale); MakeLoss = sum(x) * constant
    (grad_scale / max(1, #(x > valid_thresh)) for 'valid'); their outputs are detached, since MXNet's
    loss heads ignore the gradient arriving from above.
  * MultiBoxPrior/Target/Detection have no gradient: they run through ssdref's NumPy/Numba
    implementation on detached values and enter the graph as constants.
  * `nms_torchvision` / `detect_torchvision` / `match_torchvision` (in `torch_presets`,
    re-exported here): torchvision's NMS and matching conventions in plain torch, for the preset rows.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ssdref.autograd.registry import get_op
from ssdref.backends.torch_presets import (detect_torchvision, match_torchvision,  # noqa: F401
                                           nms_torchvision)

TORCH_OPS: dict = {}
LOSS_OPS = ("SoftmaxOutput", "MakeLoss", "make_loss")


def _op(*names):
    def register(fn):
        for name in names:
            TORCH_OPS[name] = fn
        return fn
    return register


class _Context(NamedTuple):
    is_train: bool
    losses: list        # surrogate scalars whose gradient is MXNet's loss-head gradient
    aux_updates: dict   # aux variable name -> new value (BatchNorm moving stats)


def _tuple(value, ndim, default):
    value = tuple(value) if value else ()
    return value if len(value) == ndim else (value * ndim if len(value) == 1 else (default,) * ndim)


# ------------------------------------------------------------------------------------ dense layers
@_op("Convolution")
def _convolution(node, inputs, aux, p, ctx):
    x, weight = inputs[0], inputs[1]
    bias = None if p["no_bias"] else inputs[2]
    nd = x.dim() - 2
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return [conv(x, weight, bias, stride=_tuple(p["stride"], nd, 1), padding=_tuple(p["pad"], nd, 0),
                 dilation=_tuple(p["dilate"], nd, 1), groups=p["num_group"])]


@_op("FullyConnected")
def _fully_connected(node, inputs, aux, p, ctx):
    x = inputs[0].reshape(inputs[0].shape[0], -1) if p["flatten"] else inputs[0]
    return [F.linear(x, inputs[1], None if p["no_bias"] else inputs[2])]


def pooling(x, *, kernel, pool_type="max", stride=(), pad=(), pooling_convention="valid",
            global_pool=False, count_include_pad=None):
    """MXNet Pooling in torch: explicit padding for the 'full' overhang, MXNet's avg divisor."""
    from ssdref.layers.pooling import pooling_geometry, window_divisor

    g = pooling_geometry(tuple(x.shape), kernel=kernel, pool_type=pool_type, stride=stride, pad=pad,
                         pooling_convention=pooling_convention, global_pool=global_pool,
                         count_include_pad=count_include_pad, p_value=None)
    nd = x.dim() - 2
    extra = [(o - 1) * s + k - (size + 2 * p) for o, s, k, size, p
             in zip(g.out_spatial, g.stride, g.kernel, g.in_spatial, g.pad)]
    widths = []
    for p_, e in reversed(list(zip(g.pad, extra))):   # F.pad lists the last axis first
        widths += [p_, p_ + max(e, 0)]
    if pool_type == "max":
        padded = F.pad(x, widths, value=torch.finfo(x.dtype).min)  # pad never wins (MXNet's start)
        return (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](padded, g.kernel, g.stride)
    if pool_type not in ("avg", "sum"):
        raise ValueError(f"Pooling: pool_type {pool_type!r} is not supported by the torch backend")
    padded = F.pad(x, widths, value=0.0)
    window_sum = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1](padded, g.kernel, g.stride) * math.prod(g.kernel)
    if pool_type == "sum":
        return window_sum
    divisor = torch.as_tensor(window_divisor(g), dtype=x.dtype)
    return torch.where(divisor > 0, window_sum / divisor.clamp(min=1), torch.zeros_like(window_sum))


def native_pooling(x, *, kernel, pool_type="max", stride=(), pad=(), pooling_convention="valid",
                   count_include_pad=None):
    """What a direct PyTorch port writes: ceil_mode for 'full', torch's own count_include_pad rule."""
    nd = x.dim() - 2
    kwargs = dict(kernel_size=tuple(kernel), stride=_tuple(stride, nd, 1), padding=_tuple(pad, nd, 0),
                  ceil_mode=pooling_convention == "full")
    if pool_type == "max":
        return (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](x, **kwargs)
    cip = True if count_include_pad is None else bool(count_include_pad)
    return (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1](x, count_include_pad=cip, **kwargs)


@_op("Pooling")
def _pooling(node, inputs, aux, p, ctx):
    return [pooling(inputs[0], kernel=p["kernel"], pool_type=p["pool_type"], stride=p["stride"],
                    pad=p["pad"], pooling_convention=p["pooling_convention"],
                    global_pool=p["global_pool"], count_include_pad=p["count_include_pad"])]


_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                "softrelu": lambda x: F.softplus(x, beta=1.0, threshold=20.0),  # MXNet: linear above 20
                "softsign": F.softsign}


@_op("Activation")
def _activation(node, inputs, aux, p, ctx):
    return [_ACTIVATIONS[p["act_type"]](inputs[0])]


@_op("L2Normalization")
def _l2_normalization(node, inputs, aux, p, ctx):
    x = inputs[0]
    dims = {"instance": tuple(range(1, x.dim())), "channel": (1,), "spatial": tuple(range(2, x.dim()))}[p["mode"]]
    norm = torch.sqrt(p["eps"] + (x * x).sum(dim=dims, keepdim=True))   # eps inside the sqrt (spec §5)
    return [x / norm]


@_op("BatchNorm")
def _batch_norm(node, inputs, aux, p, ctx):
    x, gamma, beta = inputs
    moving_mean, moving_var = aux
    axis = p["axis"] % x.dim()
    shape = [1] * x.dim()
    shape[axis] = x.shape[axis]
    reduce = tuple(d for d in range(x.dim()) if d != axis)
    if ctx.is_train and not p["use_global_stats"]:
        mean = x.mean(dim=reduce)
        var = ((x - mean.reshape(shape)) ** 2).mean(dim=reduce)          # biased, as MXNet
        m = p["momentum"]
        names = [src.name for src, _ in node.inputs[3:]]
        ctx.aux_updates[names[0]] = moving_mean * m + mean.detach() * (1 - m)
        ctx.aux_updates[names[1]] = moving_var * m + var.detach() * (1 - m)
    else:
        mean, var = moving_mean, moving_var
    invstd = 1.0 / torch.sqrt(var + p["eps"])
    scale = torch.ones_like(gamma) if p["fix_gamma"] else gamma
    y = (x - mean.reshape(shape)) * invstd.reshape(shape) * scale.reshape(shape) + beta.reshape(shape)
    return [y, mean, invstd] if p["output_mean_var"] else [y]


@_op("Dropout")
def _dropout(node, inputs, aux, p, ctx):
    if p["p"] == 0 or (p["mode"] == "training" and not ctx.is_train):
        return [inputs[0]]
    raise ValueError("Dropout: an active dropout mask is random; the torch backend runs it only as "
                     "identity (inference or p=0)")


# ------------------------------------------------------------------------------- softmax and losses
@_op("softmax")
def _softmax(node, inputs, aux, p, ctx):
    x = inputs[0] if p["temperature"] in (None, 1.0) else inputs[0] / p["temperature"]
    return [torch.softmax(x, dim=p["axis"])]


@_op("log_softmax")
def _log_softmax(node, inputs, aux, p, ctx):
    x = inputs[0] if p["temperature"] in (None, 1.0) else inputs[0] / p["temperature"]
    return [torch.log_softmax(x, dim=p["axis"])]


@_op("SoftmaxActivation")
def _softmax_activation(node, inputs, aux, p, ctx):
    x = inputs[0]
    if p["mode"] == "channel":
        return [torch.softmax(x, dim=1)]
    return [torch.softmax(x.reshape(x.shape[0], -1), dim=1).reshape(x.shape)]


@_op("SoftmaxOutput")
def _softmax_output(node, inputs, aux, p, ctx):
    data, label = inputs
    if p["smooth_alpha"] != 0 or p["out_grad"] or tuple(label.shape) == tuple(data.shape):
        raise ValueError("SoftmaxOutput: smooth_alpha, out_grad and probability labels are not "
                         "supported by the torch backend")
    if p["multi_output"]:
        logits = data.reshape(data.shape[0], data.shape[1], -1)            # (N, C, S)
        class_axis, spatial = 1, logits.shape[2]
        normalizer = {"null": spatial, "batch": spatial * data.shape[0]}
    else:
        logits = data.reshape(-1, data.shape[-1]) if p["preserve_shape"] else data.reshape(data.shape[0], -1)
        class_axis, spatial = 1, 1
        normalizer = {"null": 1, "batch": logits.shape[0]}
    prob = torch.softmax(logits, dim=class_axis)
    k = label.detach().reshape(logits.shape[0], -1).trunc().long()        # int(label): truncation
    if p["multi_output"]:
        k = k.reshape(logits.shape[0], logits.shape[2])
    else:
        k = k.reshape(-1)
    ignored = k == int(p["ignore_label"])
    if p["normalization"] == "valid":
        scale = p["grad_scale"] / max(1, int((~ignored).sum()))           # the whole batch
    else:
        scale = p["grad_scale"] / normalizer[p["normalization"]]
    counted = ~ignored if p["use_ignore"] else torch.ones_like(ignored)
    in_range = (k >= 0) & (k < logits.shape[class_axis])
    picked = torch.gather(logits, class_axis, k.clamp(0, logits.shape[class_axis] - 1).unsqueeze(class_axis))
    picked = picked.squeeze(class_axis) * in_range      # labels outside [0, C) subtract nothing
    cross_entropy = torch.logsumexp(logits, dim=class_axis) - picked
    ctx.losses.append((cross_entropy * counted).sum() * scale)
    return [prob.reshape(data.shape).detach()]


@_op("smooth_l1")
def _smooth_l1(node, inputs, aux, p, ctx):
    x, sigma2 = inputs[0], p["scalar"] ** 2
    t = 1.0 / sigma2
    return [torch.where(x.abs() > t, x.abs() - 0.5 * t, 0.5 * sigma2 * x * x)]


@_op("MakeLoss", "make_loss")
def _make_loss(node, inputs, aux, p, ctx):
    x = inputs[0]
    if node.op.name == "make_loss":
        value = 1.0
    elif p["normalization"] == "valid":
        value = p["grad_scale"] / max(1, int((x.detach() > p["valid_thresh"]).sum()))
    elif p["normalization"] == "batch":
        value = p["grad_scale"] / x.shape[0]
    else:
        value = p["grad_scale"]
    if value != 0:
        ctx.losses.append(x.sum() * value)
    return [x.detach()]


@_op("BlockGrad")
def _block_grad(node, inputs, aux, p, ctx):
    return [inputs[0].detach()]


# ------------------------------------------------------------------------------------ shape ops
@_op("Flatten")
def _flatten(node, inputs, aux, p, ctx):
    return [inputs[0].reshape(inputs[0].shape[0], -1)]


@_op("Reshape")
def _reshape(node, inputs, aux, p, ctx):
    from ssdref.layers.shape import infer_reshape_shape
    shape = infer_reshape_shape(tuple(inputs[0].shape), shape=p["shape"], reverse=p["reverse"],
                                target_shape=p["target_shape"], keep_highest=p["keep_highest"])
    return [inputs[0].reshape(shape)]


@_op("transpose")
def _transpose(node, inputs, aux, p, ctx):
    from ssdref.layers.shape import transpose_axes
    return [inputs[0].permute(transpose_axes(inputs[0].dim(), p["axes"]))]


@_op("Concat")
def _concat(node, inputs, aux, p, ctx):
    return [torch.cat(inputs, dim=p["dim"])]


@_op("slice_axis")
def _slice_axis(node, inputs, aux, p, ctx):
    x = inputs[0]
    index = [slice(None)] * x.dim()
    index[p["axis"]] = slice(p["begin"], p["end"])
    return [x[tuple(index)]]


@_op("expand_dims")
def _expand_dims(node, inputs, aux, p, ctx):
    return [inputs[0].unsqueeze(p["axis"])]


@_op("_copy")
def _copy(node, inputs, aux, p, ctx):
    return [inputs[0].clone()]


_BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "power": torch.pow}
for _name, _fn in _BINARY.items():
    for _op_name in ({"add": "elemwise_add", "sub": "elemwise_sub", "mul": "elemwise_mul",
                      "div": "elemwise_div", "power": "_power"}[_name], f"broadcast_{_name}"):
        TORCH_OPS[_op_name] = (lambda fn: lambda node, inputs, aux, p, ctx: [fn(inputs[0], inputs[1])])(_fn)

_SCALAR = {"plus": lambda x, s: x + s, "minus": lambda x, s: x - s, "rminus": lambda x, s: s - x,
           "mul": lambda x, s: x * s, "div": lambda x, s: x / s, "rdiv": lambda x, s: s / x,
           "power": lambda x, s: x ** s, "rpower": lambda x, s: s ** x}
for _name, _fn in _SCALAR.items():
    TORCH_OPS[f"_{_name}_scalar"] = (lambda fn: lambda node, inputs, aux, p, ctx: [fn(inputs[0], p["scalar"])])(_fn)


# ---------------------------------------------------------------- multibox: ssdref's, as constants
@_op("_contrib_MultiBoxPrior", "_contrib_MultiBoxTarget", "_contrib_MultiBoxDetection")
def _multibox(node, inputs, aux, p, ctx):
    arrays = [t.detach().cpu().numpy() for t in inputs]
    outputs, _ = node.op.forward(arrays, [], p, ctx.is_train)
    return [torch.from_numpy(np.ascontiguousarray(o)) for o in outputs]


# ------------------------------------------------------------------------------------ the graph
class TorchRun(NamedTuple):
    """One torch run of a graph, as NumPy arrays (the shape of ssdref.backends.mxnet.RunResult)."""
    outputs: list          # visible outputs in list_outputs() order
    grads: dict            # argument name -> gradient (empty without backward)
    aux: dict              # aux state name -> value after the run


def run_graph(symbol, args: dict, aux: dict | None = None, *, is_train=False, backward=False,
              out_grads=None, grad_names=None, dtype=None) -> TorchRun:
    """Run `symbol` in torch on NumPy args/aux; with backward, gradients of `grad_names` (default:
    every argument) from the loss heads' surrogates plus sum(out * out_grad) for the other heads
    (head gradient ones when not given, as ssdref's executor)."""
    aux = dict(aux or {})
    missing = [n for n in symbol.list_arguments() if n not in args]
    if missing:
        raise ValueError(f"torch backend: arguments {missing} are missing")
    grad_names = set(symbol.list_arguments() if grad_names is None else grad_names)
    tensors = {}
    for name, value in list(args.items()) + list(aux.items()):
        t = torch.tensor(np.asarray(value, dtype=dtype) if dtype else np.asarray(value))
        t.requires_grad_(backward and name in grad_names and t.is_floating_point())
        tensors[name] = t
    ctx = _Context(bool(is_train), [], {})
    values = {}
    with torch.set_grad_enabled(backward):
        for node in symbol._nodes():
            if node.is_variable:
                values[(node, 0)] = tensors[node.name]
                continue
            fn = TORCH_OPS.get(node.op.name)
            if fn is None:
                raise ValueError(f"torch backend: operator {node.op.name} is not supported")
            num_args = node.num_args()
            ins = [values[e] for e in node.inputs[:num_args]]
            auxs = [values[e] for e in node.inputs[num_args:]]
            for j, out in enumerate(fn(node, ins, auxs, node.params, ctx)):
                values[(node, j)] = out
        outputs = [values[e] for e in symbol._outputs]
        grads = {}
        if backward:
            heads = list(out_grads) if isinstance(out_grads, (list, tuple)) else [out_grads] * len(outputs)
            total = sum(ctx.losses, torch.zeros((), dtype=outputs[0].dtype))
            for (node, _), out, head in zip(symbol._outputs, outputs, heads):
                if node.op is not None and node.op.name in LOSS_OPS:
                    continue                                 # MXNet's loss heads ignore head gradients
                if out.requires_grad:
                    g = torch.ones_like(out) if head is None else torch.as_tensor(np.asarray(head), dtype=out.dtype)
                    total = total + (out * g).sum()
            if total.requires_grad:
                total.backward()
            for name in grad_names:
                t = tensors[name]
                grads[name] = (t.grad if t.grad is not None else torch.zeros_like(t)).numpy().copy()
    new_aux = {k: tensors[k].detach().numpy().copy() for k in aux}
    if backward and is_train:                            # MXNet updates moving stats in backward
        new_aux.update({k: v.numpy().copy() for k, v in ctx.aux_updates.items()})
    return TorchRun([o.detach().numpy().copy() for o in outputs], grads, new_aux)


def supported_ops() -> list:
    """Every MXNet operator name the torch backend runs."""
    return sorted(name for name in TORCH_OPS if get_op(name) is not None)

