"""The graph cases: a whole tiny-SSD training step, and the SSD300 deploy symbol on one image.

Each is a recipe for its inputs from a seed (`*_inputs(case)`, `case` giving `params`, `seed`,
`dtype`) and a run to its outputs (`*_run(case, inputs)`), read by the golden set
(`ssdref.golden`: `tiny_ssd_train_step_<dtype>`, `ssd300_vgg16_reduced_detect`). The SSD300 case
does not store its 26M parameters: `ssd300_arguments()` regenerates them from `SSD300["init"]`,
and the golden manifest keeps their sha256 (`parameters_sha256`).

The conformance reports run the SSD with random parameters from one recipe,
`random_parameters` (He-normal weights, small normal biases, the L2 scales at 20, moving
statistics 0 / 1), in three settings: `PARAMS_MXNET` (`backends/mxnet_graph.py`, with
`random_label` labels), `PARAMS_TORCH` (`backends/torch_conformance.py`, `shapes_train_case`)
and `PARAMS_ONNX` (`backends/onnxruntime_conformance.py`, `shapes_deploy_case`), each on the
tiny network of `COMPARISON`.
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


# ------------------------------------------------------------------ the conformance reports' SSD
COMPARISON = dict(network="tiny", data_shape=64, num_classes=3)
PARAMS_MXNET = dict(bias_scale=0.05, scale_noise=False, dtype=np.float32)
PARAMS_TORCH = dict(bias_scale=0.1, scale_noise=True, dtype=np.float64)
PARAMS_ONNX = dict(bias_scale=0.1, scale_noise=False, dtype=np.float32)


def random_parameters(rng, arg_shapes, aux_shapes=None, *, skip=("data", "label"), bias_scale=0.05,
                      scale_noise=False, dtype=np.float32):
    """({name: array}, {aux name: array}): for each argument in `arg_shapes` order but `skip`,
    He-normal `*_weight` (N(0, 2 / fan_in)), `*_scale` at 20 (plus N(0, 1) with `scale_noise`),
    every other N(0, bias_scale²); aux `*_var` ones, other aux zeros. Drawn in float64, then
    `dtype`. The defaults are `PARAMS_MXNET`."""
    args = {}
    for name, shape in arg_shapes.items():
        if name in skip:
            continue
        if name.endswith("_scale"):
            value = np.full(shape, 20.0) + rng.standard_normal(shape) if scale_noise else np.full(shape, 20.0)
        elif name.endswith("_weight"):
            value = rng.standard_normal(shape) * np.sqrt(2.0 / int(np.prod(shape[1:])))
        else:
            value = rng.standard_normal(shape) * bias_scale
        args[name] = value.astype(dtype)
    aux = {name: (np.ones(shape, dtype) if name.endswith("_var") else np.zeros(shape, dtype))
           for name, shape in (aux_shapes or {}).items()}
    return args, aux


def random_label(rng, batch, num_objects=3, num_classes=3, rows=4):
    """(batch, rows, 5) float32 labels: random boxes, -1 padding; the last image has no object."""
    label = np.full((batch, rows, 5), -1.0, np.float32)
    for b in range(batch):
        count = 0 if (b == batch - 1 and batch > 1) else num_objects
        for r in range(min(count, rows)):
            x0, y0 = rng.uniform(0, 0.6, 2)
            w, h = rng.uniform(0.15, 0.4, 2)
            label[b, r] = [rng.integers(0, num_classes), x0, y0, min(1, x0 + w), min(1, y0 + h)]
    return label


def _shapes_of(symbol, **shapes):
    arg_shapes, _, aux_shapes = symbol.infer_shape(**shapes)
    return (dict(zip(symbol.list_arguments(), arg_shapes)),
            dict(zip(symbol.list_auxiliary_states(), aux_shapes)))


def shapes_train_case(seed, batch=2, num_classes=COMPARISON["num_classes"],
                      data_shape=COMPARISON["data_shape"]):
    """(train symbol, float64 args incl. data and label): `PARAMS_TORCH` parameters from
    default_rng(seed), `batch` synthetic shapes images (split 'val', `seed`) and their labels."""
    from ssdref.data.shapes import make_images, normalize
    from ssdref.model import get_config, get_symbol_train

    symbol = get_symbol_train(**get_config(COMPARISON["network"], data_shape, num_classes=num_classes))
    images, labels = make_images(batch, data_shape, seed=seed, split="val")
    arg_shapes, _ = _shapes_of(symbol, data=(batch, 3, data_shape, data_shape), label=labels.shape)
    args, _ = random_parameters(np.random.default_rng(seed), arg_shapes, **PARAMS_TORCH)
    args["data"] = normalize(images).astype(np.float64)
    args["label"] = labels.astype(np.float64)
    return symbol, args


def shapes_deploy_case(seed, num_classes=COMPARISON["num_classes"], data_shape=COMPARISON["data_shape"]):
    """(deploy symbol, float32 args, aux, data (1, 3, S, S)): `PARAMS_ONNX` parameters from
    default_rng(seed), one synthetic shapes image (split 'test', `seed`)."""
    from ssdref.data.shapes import make_images, normalize
    from ssdref.model import get_config, get_symbol

    symbol = get_symbol(**get_config(COMPARISON["network"], data_shape, num_classes=num_classes))
    arg_shapes, aux_shapes = _shapes_of(symbol, data=(1, 3, data_shape, data_shape))
    args, aux = random_parameters(np.random.default_rng(seed), arg_shapes, aux_shapes, **PARAMS_ONNX)
    data = normalize(make_images(1, data_shape, seed=seed, split="test")[0])
    return symbol, args, aux, data
