"""The graph cases: a whole tiny-SSD training step, and the SSD300 deploy symbol on one image.

Each is a recipe for its inputs from a seed (`*_inputs(case)`, `case` giving `params`, `seed`,
`dtype`) and a run to its outputs (`*_run(case, inputs)`), read by the golden set
(`ssdref.golden`: `tiny_ssd_train_step_<dtype>`, `ssd300_vgg16_reduced_detect`). The SSD300 case
does not store its 26M parameters: `ssd300_arguments()` regenerates them from `SSD300["init"]`,
and the golden manifest keeps their sha256 (`parameters_sha256`).
"""
from __future__ import annotations

import hashlib

import numpy as np

TINY = dict(network="tiny", data_shape=32, num_classes=3, batch=2)
PAD = [-1, -1, -1, -1, -1]
TINY_LABEL = [[[0, .1, .1, .5, .6], [2, .4, .3, .9, .8], PAD, PAD],
              [[1, .2, .2, .7, .7], PAD, PAD, PAD]]
SSD300 = dict(network="vgg16_reduced", data_shape=300, num_classes=20,
              init={"initializer": "Xavier", "rnd_type": "gaussian", "factor_type": "out",
                    "magnitude": 2, "seed": 1, "order": "sorted(arg_params)",
                    "rng": "numpy.random.default_rng(seed)"})


def _tiny_symbol(params):
    from ssdref.model import get_config, get_symbol_train
    return get_symbol_train(**get_config(params["network"], params["data_shape"], params["num_classes"]))


def _tiny_executor(case):
    p, dtype = case.params, np.dtype(case.dtype)
    net = _tiny_symbol(p)
    size = p["data_shape"]
    ex = net.simple_bind(grad_req="write", data=(p["batch"], 3, size, size),
                         label=(p["batch"], 4, 5), type_dict={"data": dtype, "label": dtype})
    return net, ex


def tiny_inputs(case):
    """Every argument of the training graph: Xavier-initialised parameters, a uniform image, labels."""
    from ssdref.model import init as initializers

    net, ex = _tiny_executor(case)
    rng = np.random.default_rng(case.seed)
    weights = {k: v for k, v in ex.arg_dict.items() if k not in ("data", "label")}
    initializers.init_params(initializers.Xavier(), weights, {}, net.attr_dict(), rng=rng)
    ex.arg_dict["data"][...] = rng.uniform(0, 1, ex.arg_dict["data"].shape)
    ex.arg_dict["label"][...] = np.asarray(TINY_LABEL)
    return {name: ex.arg_dict[name].copy() for name in net.list_arguments()}


def tiny_run(case, inputs):
    """forward(is_train=True), backward() with the default head gradients: the four outputs and the
    gradient of every argument but the label."""
    net, ex = _tiny_executor(case)
    for name in net.list_arguments():
        ex.arg_dict[name][...] = inputs[name]
    ex.forward(is_train=True)
    ex.backward()
    outputs = {name: np.asarray(o).copy() for name, o in zip(net.list_outputs(), ex.outputs)}
    outputs.update({f"grad_{name}": np.asarray(g).copy() for name, g in ex.grad_dict.items()
                    if g is not None and name != "label"})
    return outputs


def ssd300_arguments(params=None):
    """(symbol, {name: float32 array}) of the SSD300 golden case: every argument but data."""
    from ssdref.model import get_config, get_symbol
    from ssdref.model import init as initializers

    p = params or SSD300
    init = p["init"]
    net = get_symbol(**get_config(p["network"], p["data_shape"], p["num_classes"]))
    size = p["data_shape"]
    arg_shapes, _, _ = net.infer_shape(data=(1, 3, size, size))
    args = {n: np.zeros(s, np.float32) for n, s in zip(net.list_arguments(), arg_shapes)
            if n != "data"}
    xavier = initializers.Xavier(rnd_type=init["rnd_type"], factor_type=init["factor_type"],
                                 magnitude=init["magnitude"])
    initializers.init_params(xavier, args, {}, net.attr_dict(),
                             rng=np.random.default_rng(init["seed"]))
    return net, args


def parameters_sha256(args) -> str:
    """One sha256 over regenerated parameters: sorted names, each name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(args):
        value = np.ascontiguousarray(args[name])
        digest.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def ssd300_inputs(case):
    """A blocky image (10x10 tiles), pixel values 0..255 minus the example's mean (123, 117, 104)
    and scaled by 1/64 so that the randomly initialised net gives unsaturated scores; tiles of
    integers / 64 are exact in float32 and compress well."""
    rng = np.random.default_rng(case.seed)
    size = case.params["data_shape"]
    tiles = rng.integers(0, 256, (1, 3, size // 10, size // 10)).astype(np.float32)
    tiles = (tiles - np.array([123, 117, 104], np.float32)[None, :, None, None]) / np.float32(64)
    return {"data": np.repeat(np.repeat(tiles, 10, axis=2), 10, axis=3)}


def ssd300_run(case, inputs):
    net, args = ssd300_arguments(case.params)
    args["data"] = np.array(inputs["data"])
    ex = net.bind(None, args, grad_req="null")
    ex.forward(is_train=False)
    return {"detection": np.asarray(ex.outputs[0]).copy()}
