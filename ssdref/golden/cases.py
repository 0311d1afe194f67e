"""The declared golden cases: one list, each case a recipe for its inputs and a run to its outputs.

A case's `make_inputs(case)` builds its inputs from the seed (portable: integer draws, uniform and
normal draws and IEEE arithmetic only, never NumPy's CPU-dispatched exp/log), and `run(case,
inputs)` computes its outputs from given inputs, so `verify` recomputes from the *stored* inputs.
Op cases run the registry OpDef (`ssdref.autograd.registry`) exactly as the graph does, forward
and, where the op has one, backward: gradients are outputs named `grad_<input>` for the head
gradients stored as inputs `head_grad_<output>` (loss ops ignore theirs, as in MXNet). Spec §8
cases keep the spec's names (T3, D1, ...); a case whose op must refuse its input stores the inputs
and an `error` entry ({type, match}) instead of outputs. The SSD300 case stores the image and the
detections: its 26M parameters are regenerated from `params.init` (`ssd300_arguments()`), and the
manifest keeps their sha256.
"""
from __future__ import annotations

import hashlib
from typing import Callable, NamedTuple

import numpy as np

from ssdref.cases.spec import SSD  # the SSD matching parameters, declared once

EXACT = {"rtol": 0.0, "atol": 0.0}


class Case(NamedTuple):
    """One declared golden case."""
    name: str
    kind: str                       # 'op' | 'graph'
    op: str                         # MXNet operator name, or the graph's name
    params: dict
    seed: int
    dtype: str
    make_inputs: Callable           # (case) -> {name: array}: the recipe, from the seed
    run: Callable                   # (case, inputs) -> {name: array}: the outputs
    tolerances: dict = {}           # consumer tolerances (other backends), per output overrides
    extra: dict = {}                # more manifest fields: is_train, error, description, slow


# ---------------------------------------------------------------------------------------------
# Running one op through its registry OpDef

def _opdef(op):
    from ssdref.autograd import registry
    return registry.get_op(op)


def run_op(op, params, inputs, *, is_train=True, head_grads=None):
    """(outputs dict, gradient dict) of registry op `op` on named `inputs` (args then aux)."""
    opdef = _opdef(op)
    parsed = opdef.parse_params(params)
    arg_names, aux_names = opdef.inputs(parsed), opdef.aux(parsed)
    args = [inputs[n] for n in arg_names]
    aux = [inputs[n].copy() for n in aux_names]
    outputs, cache = opdef.forward(args, aux, parsed, is_train)
    out = dict(zip(opdef.outputs(parsed), outputs))
    grads = {}
    if head_grads is not None and opdef.backward is not None:
        heads = [head_grads.get(n) for n in out]
        for name, grad in zip(arg_names, opdef.backward(heads, cache, parsed)):
            grads[f"grad_{name}"] = (np.zeros_like(inputs[name]) if grad is None
                                     else np.asarray(grad))
        if opdef.update_aux is not None and is_train:
            new_aux = opdef.update_aux(cache, aux, parsed) or []
            grads.update({f"updated_{n}": np.asarray(v) for n, v in zip(aux_names, new_aux)})
    return out, grads


def _random_inputs(op, params, shapes, rng, dtype):
    """Seeded inputs for every input of `op`: shapes given or inferred; values kept in-domain."""
    opdef = _opdef(op)
    parsed = opdef.parse_params(params)
    names = opdef.all_inputs(parsed)
    known = [tuple(shapes[n]) if n in shapes else None for n in names]
    known, _ = opdef.infer_shape(known, parsed)
    arrays = {}
    for name, shape in zip(names, known):
        if name == "label":
            classes = shapes.get("_classes", 3)
            low = -1 if parsed.get("use_ignore") else 0
            arrays[name] = rng.integers(low, classes, size=shape).astype(dtype)
        elif op == "where" and name == "condition":    # zeros and ones: both branches taken
            arrays[name] = rng.integers(0, 2, size=shape).astype(dtype)
        elif name == "moving_var" or (op in ("_power", "broadcast_power") and name == "lhs"):
            arrays[name] = rng.uniform(0.5, 1.5, size=shape).astype(dtype)
        elif name == "rhs" and op in ("elemwise_div", "broadcast_div") or op == "_rdiv_scalar":
            arrays[name] = (rng.uniform(0.5, 2.0, size=shape)
                            * rng.choice([-1.0, 1.0], size=shape)).astype(dtype)
        else:
            arrays[name] = rng.standard_normal(shape).astype(dtype)
    return arrays


def _layer_inputs(case):
    """Seeded inputs, then one head gradient per output (the forward runs only for their shapes)."""
    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    inputs = _random_inputs(case.op, case.params, case.extra["shapes"], rng, dtype)
    outputs, _ = run_op(case.op, case.params, inputs, is_train=case.extra.get("is_train", True))
    inputs.update({f"head_grad_{n}": rng.standard_normal(v.shape).astype(dtype)
                   for n, v in outputs.items()})
    return inputs


def _layer_run(case, inputs):
    is_train = case.extra.get("is_train", True)
    heads = {n[len("head_grad_"):]: v for n, v in inputs.items() if n.startswith("head_grad_")}
    outputs, _ = run_op(case.op, case.params, inputs, is_train=is_train)
    _, grads = run_op(case.op, case.params, inputs, is_train=is_train, head_grads=heads)
    return {**outputs, **grads}


# (op, tag, params, input shapes, is_train): every non-multibox op of the registry at least once.
LAYERS = (
    ("Convolution", "pad1", dict(kernel=(3, 3), pad=(1, 1), num_filter=3), {"data": (2, 2, 5, 5)}, True),
    ("Convolution", "stride2_dilate2_group2", dict(kernel=(3, 3), stride=(2, 2), dilate=(2, 2),
                                                   num_filter=4, num_group=2),
     {"data": (1, 4, 9, 8)}, True),
    ("Convolution", "1x1_nobias", dict(kernel=(1, 1), num_filter=3, no_bias=True), {"data": (2, 3, 4, 4)}, True),
    ("Pooling", "max_valid", dict(kernel=(2, 2), stride=(2, 2), pool_type="max"), {"data": (1, 2, 4, 5)}, True),
    ("Pooling", "max_full", dict(kernel=(2, 2), stride=(2, 2), pool_type="max",
                                 pooling_convention="full"), {"data": (1, 2, 5, 5)}, True),
    ("Pooling", "max_3x3_pad1", dict(kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="max"),
     {"data": (1, 2, 4, 4)}, True),
    ("Pooling", "avg_pad", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg"),
     {"data": (1, 2, 5, 5)}, True),
    ("Pooling", "global_avg", dict(global_pool=True, pool_type="avg", kernel=(1, 1)), {"data": (2, 3, 3, 4)}, True),
    ("Activation", "relu", dict(act_type="relu"), {"data": (2, 3, 4)}, True),
    ("Activation", "sigmoid", dict(act_type="sigmoid"), {"data": (2, 3, 4)}, True),
    ("Activation", "tanh", dict(act_type="tanh"), {"data": (2, 3, 4)}, True),
    ("Activation", "softrelu", dict(act_type="softrelu"), {"data": (2, 3, 4)}, True),
    ("BatchNorm", "train", dict(fix_gamma=False), {"data": (3, 2, 2, 3)}, True),
    ("BatchNorm", "global_stats", dict(fix_gamma=False, use_global_stats=True), {"data": (2, 3, 2)}, False),
    ("L2Normalization", "channel", dict(mode="channel"), {"data": (2, 3, 2, 2)}, True),
    ("L2Normalization", "instance", dict(mode="instance"), {"data": (2, 3, 4)}, True),
    ("Dropout", "inference", dict(p=0.5), {"data": (2, 3)}, False),
    ("Flatten", "", {}, {"data": (2, 3, 2, 2)}, True),
    ("Reshape", "0_m1_3", dict(shape=(0, -1, 3)), {"data": (2, 4, 3)}, True),
    ("transpose", "nhwc", dict(axes=(0, 2, 3, 1)), {"data": (2, 3, 2, 4)}, True),
    ("Concat", "dim1", dict(dim=1, num_args=2), {"arg0": (2, 3, 2), "arg1": (2, 1, 2)}, True),
    ("slice_axis", "", dict(axis=1, begin=1, end=3), {"data": (2, 4, 3)}, True),
    ("expand_dims", "", dict(axis=1), {"data": (2, 3)}, True),
    *((op, "", {}, {"lhs": (2, 3), "rhs": (2, 3)}, True)
      for op in ("elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_power")),
    *((op, "", {}, {"lhs": (2, 1, 4), "rhs": (2, 3, 1)}, True)
      for op in ("broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div", "broadcast_power")),
    *((op, "", dict(scalar=2.5), {"data": (2, 3)}, True)
      for op in ("_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
                 "_rdiv_scalar", "_power_scalar", "_rpower_scalar")),
    ("_copy", "", {}, {"data": (2, 3)}, True),
    ("BlockGrad", "", {}, {"data": (2, 3)}, True),
    ("softmax", "axis1", dict(axis=1), {"data": (2, 4, 3)}, True),
    ("log_softmax", "axis1", dict(axis=1), {"data": (2, 4, 3)}, True),
    ("SoftmaxActivation", "channel", dict(mode="channel"), {"data": (2, 4, 3)}, True),
    ("SoftmaxOutput", "ssd", dict(multi_output=True, use_ignore=True, ignore_label=-1,
                                  normalization="valid"), {"data": (2, 4, 5), "_classes": 4}, True),
    ("SoftmaxOutput", "batch", dict(normalization="batch"), {"data": (4, 5), "_classes": 5}, True),
    ("smooth_l1", "scalar1", dict(scalar=1.0), {"data": (3, 8)}, True),
    ("smooth_l1", "scalar2", dict(scalar=2.0), {"data": (3, 8)}, True),
    ("MakeLoss", "valid", dict(normalization="valid"), {"data": (2, 6)}, True),
    ("make_loss", "", {}, {"data": (2, 6)}, True),
    ("FullyConnected", "flatten", dict(num_hidden=3), {"data": (2, 2, 3)}, True),
    ("FullyConnected", "noflatten_nobias", dict(num_hidden=2, flatten=False, no_bias=True),
     {"data": (2, 3, 4)}, True),
    # GluonCV's SSD inference ops (autograd/ops_gluon.py)
    ("_greater_scalar", "", dict(scalar=0.25), {"data": (2, 3)}, True),
    ("zeros_like", "", {}, {"data": (2, 3)}, True),
    ("ones_like", "", {}, {"data": (2, 3)}, True),
    ("_arange", "repeat2", dict(start=-1.5, stop=2.0, step=0.75, repeat=2), {}, True),
    ("where", "", {}, {"condition": (2, 3), "x": (2, 3), "y": (2, 3)}, True),
    ("slice_like", "axes23", dict(axes=(2, 3)), {"data": (2, 3, 5, 6), "shape_like": (1, 1, 3, 4)}, True),
    ("_contrib_box_decode", "gluoncv", dict(std0=0.1, std1=0.1, std2=0.2, std3=0.2, clip=-1.0,
                                            format="center"),
     {"data": (2, 5, 4), "anchors": (1, 5, 4)}, True),
    ("_contrib_box_decode", "corner_clip", dict(std0=0.5, std1=0.5, std2=1.0, std3=1.0, clip=0.5,
                                                format="corner"),
     {"data": (2, 5, 4), "anchors": (1, 5, 4)}, True),
    ("_contrib_box_nms", "gluoncv", dict(overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0,
                                         score_index=1, coord_start=2, force_suppress=False),
     {"data": (2, 8, 6)}, True),
    ("_contrib_box_nms", "force_center", dict(overlap_thresh=0.3, topk=5, force_suppress=True,
                                              in_format="center", out_format="corner"),
     {"data": (2, 8, 6)}, True),
)


def _layer_cases():
    cases = []
    for index, (op, tag, params, shapes, is_train) in enumerate(LAYERS):
        for dtype in ("float32", "float64"):
            name = "_".join(p for p in (op.strip("_"), tag, dtype) if p)
            label_exact = {"label": EXACT} if "label" in shapes or op == "SoftmaxOutput" else {}
            cases.append(Case(name, "op", op, params, index, dtype, _layer_inputs, _layer_run,
                              tolerances=label_exact,
                              extra={"shapes": shapes, "is_train": is_train}))
    return cases


# ---------------------------------------------------------------------------------------------
# Multibox cases (spec §8 and seeded random ones)

DISCRETE = {"loc_mask": EXACT, "cls_target": EXACT}
DETECTION_TOL = {"output": {"comparator": "detections"}}
OP_TOLERANCES = {"_contrib_MultiBoxPrior": {}, "_contrib_MultiBoxTarget": DISCRETE,
                 "_contrib_MultiBoxDetection": DETECTION_TOL}


def _fixed_inputs(arrays):
    """make_inputs for explicit inputs, converted to the case dtype."""
    def make_inputs(case):
        dtype = np.dtype(case.dtype)
        return {n: np.asarray(v, dtype=dtype) for n, v in arrays.items()}
    return make_inputs


def _op_run(case, inputs):
    """Outputs of the registry op in inference mode; none for a case whose op must refuse."""
    if "error" in case.extra:
        return {}
    outputs, _ = run_op(case.op, case.params, inputs, is_train=False)
    return outputs


def _spec_cases():
    """The §8 cases of the catalogue (ssdref.cases.spec), under their golden names."""
    from ssdref.cases.spec import SPEC_CASES
    return [Case(c.name, "op", c.op, c.params, 0, dtype, _fixed_inputs(c.inputs), _op_run,
                 tolerances=OP_TOLERANCES[c.op], extra={"error": c.error} if c.error else {})
            for c in SPEC_CASES for dtype in c.dtypes]


def _random_multibox_inputs(case):
    """Anchors of a 4x4 and a 2x2 map, 2 images of random boxes; logits for the target, class
    probabilities (integer weights over their sum: no exp, so the same bits on every machine) and
    box offsets for the detection."""
    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    prior = [run_op("_contrib_MultiBoxPrior", dict(sizes=s, ratios=(1, 2, .5)),
                    {"data": np.zeros((1, 1, n, n), dtype)}, is_train=False)[0]["output"]
             for n, s in ((4, (.2, .3)), (2, (.5, .7)))]
    anchor = np.concatenate(prior, axis=1)
    num_anchors, num_classes = anchor.shape[1], 3
    label = np.full((2, 4, 5), -1, dtype)
    for image, count in enumerate((3, 1)):
        corners = np.sort(rng.uniform(0, 1, (count, 2, 2)), axis=1)  # (count, [min, max], [x, y])
        label[image, :count, 0] = rng.integers(0, num_classes, count)
        label[image, :count, 1:5] = corners.reshape(count, 4)              # xmin ymin xmax ymax
    logits = rng.standard_normal((2, num_classes + 1, num_anchors)).astype(dtype)
    if case.op == "_contrib_MultiBoxTarget":
        inputs = {"anchor": anchor, "label": label, "cls_pred": logits}
    else:
        weights = rng.integers(1, 1000, (2, num_classes + 1, num_anchors)).astype(np.float64)
        prob = (weights / weights.sum(axis=1, keepdims=True)).astype(dtype)  # exact sums, one division
        loc = (rng.standard_normal((2, num_anchors * 4)) * 0.5).astype(dtype)
        inputs = {"cls_prob": prob, "loc_pred": loc, "anchor": anchor}
    return inputs


def _multibox_cases():
    cases = _spec_cases()
    cases.insert(2, Case("MultiBoxPrior_nonsquare_float64", "op", "_contrib_MultiBoxPrior",
                         dict(sizes=(.3, .5, .7), ratios=(1, 2, .5, 3)), 0, "float64",
                         _fixed_inputs({"data": np.zeros((1, 1, 3, 5))}), _op_run))
    for dtype in ("float32", "float64"):
        cases.append(Case(f"MultiBoxTarget_random_ssd_{dtype}", "op", "_contrib_MultiBoxTarget", SSD,
                          7, dtype, _random_multibox_inputs, _op_run, tolerances=DISCRETE))
        cases.append(Case(f"MultiBoxDetection_random_{dtype}", "op", "_contrib_MultiBoxDetection",
                          dict(nms_threshold=.45, nms_topk=20), 8, dtype, _random_multibox_inputs, _op_run,
                          tolerances=DETECTION_TOL))
    return cases


# ---------------------------------------------------------------------------------------------
# Graph cases: a whole tiny-SSD training step, and the SSD300 deploy symbol on one image

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


def _tiny_inputs(case):
    """Every argument of the training graph: Xavier-initialised parameters, a uniform image, labels."""
    from ssdref.model import init as initializers

    net, ex = _tiny_executor(case)
    rng = np.random.default_rng(case.seed)
    weights = {k: v for k, v in ex.arg_dict.items() if k not in ("data", "label")}
    initializers.init_params(initializers.Xavier(), weights, {}, net.attr_dict(), rng=rng)
    ex.arg_dict["data"][...] = rng.uniform(0, 1, ex.arg_dict["data"].shape)
    ex.arg_dict["label"][...] = np.asarray(TINY_LABEL)
    return {name: ex.arg_dict[name].copy() for name in net.list_arguments()}


def _tiny_run(case, inputs):
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


def _ssd300_inputs(case):
    """A blocky image (10x10 tiles), pixel values 0..255 minus the example's mean (123, 117, 104)
    and scaled by 1/64 so that the randomly initialised net gives unsaturated scores; tiles of
    integers / 64 are exact in float32 and compress well."""
    rng = np.random.default_rng(case.seed)
    size = case.params["data_shape"]
    tiles = rng.integers(0, 256, (1, 3, size // 10, size // 10)).astype(np.float32)
    tiles = (tiles - np.array([123, 117, 104], np.float32)[None, :, None, None]) / np.float32(64)
    return {"data": np.repeat(np.repeat(tiles, 10, axis=2), 10, axis=3)}


def _ssd300_run(case, inputs):
    net, args = ssd300_arguments(case.params)
    args["data"] = np.array(inputs["data"])
    ex = net.bind(None, args, grad_req="null")
    ex.forward(is_train=False)
    return {"detection": np.asarray(ex.outputs[0]).copy()}


def _graph_cases():
    graph_tol = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}
    cases = [Case(f"tiny_ssd_train_step_{dtype}", "graph", "ssd_train_step", TINY, 0, dtype,
                  _tiny_inputs, _tiny_run,
                  tolerances=dict(graph_tol[dtype], cls_label_output=EXACT,
                                  det_out_output={"comparator": "detections"}),
                  extra={"is_train": True,
                         "description": "get_symbol_train(**get_config('tiny', 32, 3)); Xavier "
                                        "init; forward(is_train=True); backward() with default "
                                        "head gradients; inputs = every argument"})
             for dtype in ("float32", "float64")]
    cases.append(Case("ssd300_vgg16_reduced_detect", "graph", "ssd_detect", SSD300, 2, "float32",
                      _ssd300_inputs, _ssd300_run,
                      tolerances=dict(graph_tol["float32"], detection={"comparator": "detections"}),
                      extra={"is_train": False, "slow": True,
                             "description": "get_symbol(**get_config('vgg16_reduced', 300, 20)); "
                                            "parameters NOT stored: regenerate them with "
                                            "ssdref.golden.ssd300_arguments()"}))
    return cases


def declared_cases():
    """The one declared list of golden cases, in manifest order."""
    return [*_multibox_cases(), *_layer_cases(), *_graph_cases()]
