"""Conformance generators of the dense layers, the softmax family and the losses.

Parameters stay inside what MXNet 1.9.1 accepts on CPU (layers spec §0: no avg-pool 'full' with
pad and count_include_pad=False, pad < kernel); each place MXNet 1.9.1 itself is wrong or refuses
says so where the generator steers around it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ssdref.cases.case import Case
from ssdref.cases.generators.draw import (F32, draw_dtype, draw_seed, draw_shape, head_gradient,
                                          simple_case, values)


# ------------------------------------------------------------------------------- dense layers
def _conv_out(size, k, s, d, p):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def gen_convolution(draw):
    dtype = draw_dtype(draw)
    nd = draw(st.sampled_from((2, 2, 1, 3)))
    groups = draw(st.sampled_from((1, 1, 2)))
    c, f = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dilate = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    max_side = 4 if nd == 3 else 7
    spatial = []
    for k, d, p in zip(kernel, dilate, pad):
        need = max(1, d * (k - 1) + 1 - 2 * p)
        spatial.append(draw(st.integers(need, max(need, max_side))))
    n = draw(st.integers(1, 2))
    no_bias = draw(st.booleans())
    x = values(draw, (n, c, *spatial), dtype)
    inputs = {"data": x, "weight": values(draw, (f, c // groups, *kernel), dtype)}
    if not no_bias:
        inputs["bias"] = values(draw, (f,), dtype)
    params = dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad, num_filter=f,
                  num_group=groups, no_bias=no_bias)
    out = (n, f, *[_conv_out(s, k, st_, d, p) for s, k, st_, d, p in zip(spatial, kernel, stride, dilate, pad)])
    return simple_case(draw, "Convolution", params, inputs, dtype, out)


def gen_convolution_3x3(draw):
    """Convolution in the shapes ssdref's Numba backend runs by Winograd F(2x2, 3x3) (3x3 kernel,
    stride 1, no dilation, 2-D; several 2x2 tiles, odd and even sizes, pad 0-2): gen_convolution
    draws them rarely, so they get their own cases."""
    dtype = draw_dtype(draw)
    groups = draw(st.sampled_from((1, 1, 2)))
    c, f = groups * draw(st.integers(1, 8)), groups * draw(st.integers(1, 8))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(2))
    spatial = tuple(draw(st.integers(max(1, 3 - 2 * p), 13)) for p in pad)
    n = draw(st.integers(1, 2))
    no_bias = draw(st.booleans())
    inputs = {"data": values(draw, (n, c, *spatial), dtype),
              "weight": values(draw, (f, c // groups, 3, 3), dtype)}
    if not no_bias:
        inputs["bias"] = values(draw, (f,), dtype)
    params = dict(kernel=(3, 3), stride=(1, 1), dilate=(1, 1), pad=pad, num_filter=f,
                  num_group=groups, no_bias=no_bias)
    out = (n, f, *[_conv_out(s, 3, 1, 1, p) for s, p in zip(spatial, pad)])
    return simple_case(draw, "Convolution", params, inputs, dtype, out)


def _pool_out(size, k, s, p, convention):
    if convention == "full":
        return -(-(size + 2 * p - k) // s) + 1
    if convention == "same":
        return -(-size // s)
    return (size + 2 * p - k) // s + 1


def gen_pooling(draw):
    dtype = draw_dtype(draw)
    nd = draw(st.sampled_from((2, 2, 1)))
    pool_type = draw(st.sampled_from(("max", "max", "avg", "avg", "sum", "lp")))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    params = {"pool_type": pool_type}
    if draw(st.integers(0, 5)) == 0:
        spatial = tuple(draw(st.integers(1, 5)) for _ in range(nd))
        params.update(global_pool=True, kernel=(1,) * nd)
        out_spatial = (1,) * nd
    else:
        kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        pad = tuple(draw(st.integers(0, k - 1)) for k in kernel)   # oneDNN needs pad < kernel
        convention = draw(st.sampled_from(("valid", "full"))) if pool_type != "lp" else "valid"
        spatial = tuple(draw(st.integers(max(1, k - 2 * p), 7)) for k, p in zip(kernel, pad))
        params.update(kernel=kernel, stride=stride, pad=pad, pooling_convention=convention)
        if pool_type == "avg":
            cip = draw(st.sampled_from((None, True, False)))
            if convention == "full" and any(pad) and cip is False:
                cip = True   # oneDNN's backward cannot do this one (layers spec §0)
            if cip is not None:
                params["count_include_pad"] = cip
        out_spatial = tuple(_pool_out(s, k, st_, p, convention)
                            for s, k, st_, p in zip(spatial, kernel, stride, pad))
    if pool_type == "lp":
        params["p_value"] = draw(st.sampled_from((1, 2, 3)))
        # lp's sqrt/cbrt kink at 0: keep the values off zero and off ties.
        x = values(draw, (n, c, *spatial), dtype, ties=False, away_from_zero=True)
    else:
        x = values(draw, (n, c, *spatial), dtype)
    return simple_case(draw, "Pooling", params, {"data": x}, dtype, (n, c, *out_spatial))


def gen_activation(draw):
    dtype = draw_dtype(draw)
    act = draw(st.sampled_from(("relu", "sigmoid", "tanh", "softrelu", "softsign")))
    x = values(draw, draw_shape(draw), dtype, scale=3.0)
    return simple_case(draw, "Activation", {"act_type": act}, {"data": x}, dtype)


def gen_batchnorm(draw):
    dtype = draw_dtype(draw)
    shape = draw_shape(draw, 2, 4, 1, 4)
    axis = draw(st.sampled_from((1, 1, -1, len(shape) - 1, 0)))
    channels = shape[axis]
    is_train = draw(st.booleans())
    params = dict(eps=draw(st.sampled_from((1e-3, 2e-5, 1e-5))),
                  momentum=draw(st.sampled_from((0.9, 0.5, 0.99))),
                  fix_gamma=draw(st.booleans()), use_global_stats=draw(st.booleans()), axis=axis)
    inputs = {"data": values(draw, shape, dtype, ties=False),
              "gamma": values(draw, (channels,), dtype, ties=False),
              "beta": values(draw, (channels,), dtype, ties=False)}
    aux = {"moving_mean": values(draw, (channels,), dtype, ties=False, scale=0.5),
           "moving_var": values(draw, (channels,), dtype, ties=False, positive=True)}
    return Case("BatchNorm", params, inputs, aux, is_train, [head_gradient(draw, shape, dtype)], is_train)


def gen_l2normalization(draw):
    dtype = draw_dtype(draw)
    mode = draw(st.sampled_from(("instance", "channel", "spatial")))
    shape = draw_shape(draw, 3 if mode != "instance" else 2, 4)
    x = values(draw, shape, dtype)
    if draw(st.booleans()):   # an all-zero group: the norm is sqrt(eps), the gradient g·1e5
        x = x.copy()
        x[(0,) * (len(shape) - 1)] = 0
    params = {"mode": mode, "eps": draw(st.sampled_from((1e-10, 1e-5, 1.0)))}
    return simple_case(draw, "L2Normalization", params, {"data": x}, dtype)


def gen_fully_connected(draw):
    dtype = draw_dtype(draw)
    flatten = draw(st.booleans())
    shape = draw_shape(draw, 2, 4)
    hidden = draw(st.integers(1, 4))
    k = int(np.prod(shape[1:])) if flatten else shape[-1]
    no_bias = draw(st.booleans())
    inputs = {"data": values(draw, shape, dtype), "weight": values(draw, (hidden, k), dtype)}
    if not no_bias:
        inputs["bias"] = values(draw, (hidden,), dtype)
    out = (shape[0], hidden) if flatten else (*shape[:-1], hidden)
    return simple_case(draw, "FullyConnected", dict(num_hidden=hidden, flatten=flatten, no_bias=no_bias),
                   inputs, dtype, out)


def gen_dropout(draw):
    # Only what is deterministic: inference (identity), or p = 0 in training.
    dtype = draw_dtype(draw)
    x = values(draw, draw_shape(draw), dtype)
    is_train = draw(st.booleans())
    p = 0.0 if is_train else draw(st.sampled_from((0.5, 0.25, 0.0, 1.0)))
    params = {"p": p, "mode": "training"}
    case = simple_case(draw, "Dropout", params, {"data": x}, dtype, is_train=is_train)
    return case


# ------------------------------------------------------------------------------- softmax family
def gen_softmax(op):
    def gen(draw):
        dtype = draw_dtype(draw)
        shape = draw_shape(draw)
        params = {"axis": draw(st.integers(-len(shape), len(shape) - 1))}
        temperature = draw(st.sampled_from((None, None, 2.0, 0.5)))
        if temperature is not None:
            params["temperature"] = temperature
        return simple_case(draw, op, params, {"data": values(draw, shape, dtype, scale=2.0)}, dtype)
    return gen


def gen_softmax_activation(draw):
    dtype = F32   # MXNet 1.9.1's SoftmaxActivation fails on float64 (`data type do not match`)
    mode = draw(st.sampled_from(("instance", "channel")))
    shape = draw_shape(draw, 3 if mode == "channel" else 1, 4)
    # MXNet's SoftmaxActivation(instance) backward fails on 1-D input (`index = 1 must be in range
    # [0, 1)`) and is wrong on 3-D and more (nonzero gradient for a constant head gradient; ssdref
    # gives softmax's gradient, as the spec says): backward compared on 2-D instance and channel only.
    return simple_case(draw, "SoftmaxActivation", {"mode": mode}, {"data": values(draw, shape, dtype)}, dtype,
                   backward=mode == "channel" or len(shape) == 2)


def gen_softmax_output(draw):
    dtype = draw_dtype(draw)
    layout = draw(st.sampled_from(("multi_output", "multi_output", "plain", "preserve_shape")))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    if layout == "multi_output":
        shape = (n, c, draw(st.integers(1, 5)))
        label_shape = (n, shape[2])
    elif layout == "plain":
        shape, label_shape = (n, c), (n,)
    else:
        shape = (n, draw(st.integers(1, 3)), c)
        label_shape = shape[:-1]
    rng = np.random.default_rng(draw_seed(draw))
    label = rng.integers(-1, c, size=label_shape).astype(dtype)
    if draw(st.integers(0, 4)) == 0:   # out-of-range and fractional labels (int() truncation)
        label.flat[0] = draw(st.sampled_from((c, c + 2, 1.7, -2.0)))
    params = dict(normalization=draw(st.sampled_from(("null", "batch", "valid"))),
                  use_ignore=draw(st.booleans()),
                  ignore_label=draw(st.sampled_from((-1.0, 0.0))),
                  grad_scale=draw(st.sampled_from((1.0, 2.0, 0.5))))
    if layout != "plain":
        params[layout] = True
    if layout != "multi_output" and c > 1 and draw(st.integers(0, 3)) == 0:
        # Not with multi_output: MXNet 1.9.1 ignores smooth_alpha there, ssdref applies it
        # (reported; pinned by test_softmax_output_multi_output_ignores_smooth_alpha).
        params["smooth_alpha"] = draw(st.sampled_from((0.1, 0.3)))
    if draw(st.integers(0, 5)) == 0:
        params["out_grad"] = True
    inputs = {"data": values(draw, shape, dtype, scale=2.0), "label": label}
    return Case("SoftmaxOutput", params, inputs, {}, True, [head_gradient(draw, shape, dtype)])


# ------------------------------------------------------------------------------- losses
def gen_smooth_l1(draw):
    dtype = draw_dtype(draw)
    sigma = draw(st.sampled_from((1.0, 2.0, 0.5, 3.0)))
    x = values(draw, draw_shape(draw), dtype, scale=2.0)
    return simple_case(draw, "smooth_l1", {"scalar": sigma}, {"data": x}, dtype)


def gen_make_loss(draw):
    dtype = draw_dtype(draw)
    params = dict(normalization=draw(st.sampled_from(("null", "batch", "valid"))),
                  grad_scale=draw(st.sampled_from((1.0, 0.0, 2.0))),
                  valid_thresh=draw(st.sampled_from((0.0, 0.4))))
    # 'batch' on 2-D only: MXNet divides by the rows of FlatTo2D (prod(shape[:-1])), ssdref by
    # shape[0] (reported; pinned by test_make_loss_batch_divides_by_flattened_rows).
    shape = draw_shape(draw, 2, 2) if params["normalization"] == "batch" else draw_shape(draw)
    x = np.abs(values(draw, shape, dtype))   # SSD feeds it non-negative smooth-L1 values
    return simple_case(draw, "MakeLoss", params, {"data": x}, dtype)


def gen_unary(op, **value_kw):
    def gen(draw):
        dtype = draw_dtype(draw)
        return simple_case(draw, op, {}, {"data": values(draw, draw_shape(draw), dtype, **value_kw)}, dtype)
    return gen

