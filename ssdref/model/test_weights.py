"""Calibrated test weights: seeded SSD parameters whose scores are unsaturated and boxes finite.

Not an MXNet operator: a test fixture. Random He-normal weights blow up through SSD300's 15
unnormalized VGG convolutions on 0..255-scale input (logits ~1e3, softmax saturates to 0/1 and the
box decode's exp overflows to inf), so random-weight conformance compares nothing meaningful. Here
every weight starts He-normal (seeded) and is then rescaled, layer by layer in graph order, so that
its output on a seeded synthetic image has a target standard deviation (data-driven, as LSUV):

    body convolutions       std 1.0
    *_cls_pred_conv         std CLS_STD (logits spread ~0.5: softmax neither flat nor one-hot)
    *_loc_pred_conv         std LOC_STD (offsets * variances stay well inside exp's range)

Biases are small seeded values scaled with their weight; L2Normalization scales keep MXNet's 20;
BatchNorm (resnet / inceptionv3) gets gamma 1, beta 0, moving mean 0 and var 1. Each scale is
quantized to 1/16 of an octave (2**(k/16)), so a last-ulp difference in the measured spread (another
BLAS, another backend) does not change a single weight bit. Same arguments, same bits.
"""
from __future__ import annotations

import copy
import math

import numpy as np

__all__ = ["CLS_STD", "LOC_STD", "test_weights"]

BODY_STD = 1.0
CLS_STD = 0.5
LOC_STD = 0.25
_OP = "test_weights"


def _symbol_of(net, data_shape, num_classes):
    """A deploy symbol from a Symbol, a get_config dict, or a config name."""
    from ssdref.autograd.symbol import Symbol
    from ssdref.model import get_config, get_symbol

    if isinstance(net, Symbol):
        if data_shape is None:
            raise ValueError(f"{_OP}: data_shape is required with a Symbol, got None")
        return net, int(data_shape)
    if isinstance(net, str):
        if data_shape is None:
            data_shape = 300 if net == "vgg16_reduced" else 64
        net = get_config(net, data_shape, num_classes=20 if num_classes is None else num_classes)
    if isinstance(net, dict):
        # deepcopy: a build pops from the config's lists (MXNet's num_filters quirk)
        return get_symbol(**copy.deepcopy(net)), int(net["data_shape"] if data_shape is None else data_shape)
    raise TypeError(f"{_OP}: net must be a Symbol, a get_config dict or a network name, got {type(net).__name__}")


def _calibration_image(data_shape, seed):
    """One synthetic-shapes test image, normalized as the network sees it: (1, 3, S, S) float32."""
    from ssdref.data.shapes import make_images, normalize

    return normalize(make_images(1, data_shape, seed=seed, split="test")[0])


def _quantized_scale(target, spread):
    """target / spread rounded to 2**(k/16): robust to ulp-level changes in the measured spread."""
    if not np.isfinite(spread) or spread <= 0:
        return 1.0
    return 2.0 ** (round(16 * math.log2(target / spread)) / 16)


def _target_std(node_name):
    if node_name.endswith("_cls_pred_conv"):
        return CLS_STD
    if node_name.endswith("_loc_pred_conv"):
        return LOC_STD
    return BODY_STD


def test_weights(net="vgg16_reduced", data_shape=None, num_classes=None, *, seed=0, batch=1):
    """Calibrated parameters `(arg_params, aux_params)` (float32 dicts) for an SSD deploy symbol.

    net: a deploy Symbol (give data_shape), a `get_config(...)` dict, or a network name
    ('vgg16_reduced' -> SSD300 with 20 classes; 'tiny' -> 64 px, num_classes default 20).
    The seed draws both the He-normal start and the calibration image.
    """
    symbol, data_shape = _symbol_of(net, data_shape, num_classes)
    shapes = {"data": (batch, 3, data_shape, data_shape)}
    arg_shapes, _, aux_shapes = symbol.infer_shape(**shapes)
    rng = np.random.default_rng([int(seed), 19])
    args = {}
    for name, shape in zip(symbol.list_arguments(), arg_shapes):
        if name == "data":
            continue
        if name.endswith("_weight"):
            fan_in = int(np.prod(shape[1:]))
            args[name] = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        elif name.endswith("_scale"):
            args[name] = np.full(shape, 20.0, np.float32)          # MXNet example's Constant(20)
        elif name.endswith("_gamma"):
            args[name] = np.ones(shape, np.float32)
        elif name.endswith("_beta"):
            args[name] = np.zeros(shape, np.float32)
        else:                                                       # biases
            args[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    aux = {name: (np.ones if name.endswith("var") else np.zeros)(shape, np.float32)
           for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes)}

    data = np.repeat(_calibration_image(data_shape, seed), batch, axis=0)
    values = {}
    for node in symbol._nodes():
        if node.is_variable:
            values[(node, 0)] = data if node.name == "data" else (args.get(node.name, aux.get(node.name)))
            continue
        if node.op.name == "_contrib_MultiBoxDetection":
            continue                                                # the head: nothing to calibrate
        num_args = node.num_args()
        inputs = [values[e] for e in node.inputs[:num_args]]
        states = [values[e] for e in node.inputs[num_args:]]
        outs, _ = node.op.forward(inputs, states, node.params, False)
        if node.op.name in ("Convolution", "FullyConnected"):
            scale = _quantized_scale(_target_std(node.name), float(np.std(outs[0], dtype=np.float64)))
            for entry in node.inputs[1:num_args]:                   # weight, bias
                param = entry[0].name
                args[param] = (args[param] * np.float32(scale)).astype(np.float32)
                values[entry] = args[param]
            inputs = [values[e] for e in node.inputs[:num_args]]
            outs, _ = node.op.forward(inputs, states, node.params, False)
        for j, out in enumerate(outs):
            values[(node, j)] = out
    return args, aux
