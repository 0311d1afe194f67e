"""The one-op cases of the PyTorch comparison (`ssdref conformance --backend torch`).

Each `OP_CASES` entry draws one configuration from a NumPy generator: `make(rng)` returns
(MXNet op name, params, float64 args, float64 aux). They stay inside what the torch backend
(`ssdref.backends.torch.TORCH_OPS`) runs, which is narrower than the hypothesis generators'
(`ssdref.cases.generators`: no lp pooling, no SoftmaxOutput smooth_alpha or out_grad, no
random Dropout mask), and they need neither hypothesis nor MXNet, so the torch report runs with
the interop extras alone. `pool_params` and `normal` are also what the report's native-pooling
row draws from.
"""
from __future__ import annotations

import numpy as np


def normal(rng, shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def convolution(rng):
    group = int(rng.choice([1, 2]))
    cin, cout = 2 * group, 2 * group
    k = int(rng.integers(1, 4))
    params = dict(kernel=(k, k), num_filter=cout, stride=(int(rng.integers(1, 3)),) * 2,
                  pad=(int(rng.integers(0, 2)),) * 2, dilate=(int(rng.integers(1, 3)),) * 2,
                  num_group=group, no_bias=bool(rng.integers(0, 2)))
    args = {"data": normal(rng, (2, cin, 7, 6)), "weight": normal(rng, (cout, cin // group, k, k))}
    if not params["no_bias"]:
        args["bias"] = normal(rng, (cout,))
    return "Convolution", params, args, {}


def pool_params(rng):
    k = int(rng.integers(1, 4))
    return dict(kernel=(k, k), stride=(int(rng.integers(1, 3)),) * 2, pad=(int(rng.integers(0, k)),) * 2
                if k > 1 else (0, 0), pool_type=str(rng.choice(["max", "avg"])),
                pooling_convention=str(rng.choice(["valid", "full"])),
                count_include_pad=bool(rng.integers(0, 2)))


def pooling(rng):
    return "Pooling", pool_params(rng), {"data": normal(rng, (2, 2, 7, 6))}, {}


def activation(rng):
    act = str(rng.choice(["relu", "sigmoid", "tanh", "softrelu", "softsign"]))
    return "Activation", dict(act_type=act), {"data": normal(rng, (2, 3, 4), 3.0)}, {}


def l2norm(rng):
    mode = str(rng.choice(["instance", "channel", "spatial"]))
    return "L2Normalization", dict(mode=mode), {"data": normal(rng, (2, 3, 4, 3))}, {}


def softmax(rng):
    return "softmax", dict(axis=int(rng.integers(-3, 3))), {"data": normal(rng, (2, 4, 5), 2.0)}, {}


def batchnorm(rng):
    c = 3
    params = dict(fix_gamma=bool(rng.integers(0, 2)), eps=1e-3, momentum=0.9)
    args = {"data": normal(rng, (4, c, 3, 2)), "gamma": 1 + normal(rng, (c,), 0.1), "beta": normal(rng, (c,))}
    aux = {"moving_mean": normal(rng, (c,)), "moving_var": 1 + rng.random(c)}
    return "BatchNorm", params, args, aux


def fully_connected(rng):
    params = dict(num_hidden=3, no_bias=bool(rng.integers(0, 2)))
    args = {"data": normal(rng, (2, 2, 3)), "weight": normal(rng, (3, 6))}
    if not params["no_bias"]:
        args["bias"] = normal(rng, (3,))
    return "FullyConnected", params, args, {}


def transpose(rng):
    return "transpose", dict(axes=tuple(int(a) for a in rng.permutation(3))), {"data": normal(rng, (2, 3, 4))}, {}


def reshape(rng):
    shape = [(0, -1), (-1, 4), (0, 3, -1), (2, -1, 2)][int(rng.integers(0, 4))]
    return "Reshape", dict(shape=shape), {"data": normal(rng, (2, 3, 4))}, {}


def flatten(rng):
    return "Flatten", {}, {"data": normal(rng, (2, 3, 2, 2))}, {}


def concat(rng):
    dim = int(rng.integers(0, 3))
    return "Concat", dict(dim=dim, num_args=2), {"arg0": normal(rng, (2, 3, 4)), "arg1": normal(rng, (2, 3, 4))}, {}


def softmax_output(rng):
    n, c, a = 2, 4, 6
    label = rng.integers(-1, c, (n, a)).astype(np.float64)
    params = dict(multi_output=True, use_ignore=True, ignore_label=-1,
                  normalization=str(rng.choice(["valid", "null", "batch"])), grad_scale=1.0)
    return "SoftmaxOutput", params, {"data": normal(rng, (n, c, a)), "label": label}, {}


def broadcast_mul(rng):
    return "broadcast_mul", {}, {"lhs": normal(rng, (1, 3, 1, 1)), "rhs": normal(rng, (2, 3, 2, 2))}, {}


# One report row each, in this order (the row's generator is seeded by [seed, index]).
OP_CASES = (convolution, pooling, activation, l2norm, softmax, batchnorm, fully_connected,
            transpose, reshape, flatten, concat, softmax_output, broadcast_mul)
