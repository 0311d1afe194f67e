"""Golden outputs: one declared list of cases -> `golden/*.npz` + `golden/manifest.json`.

Format (schema_version 1; read by `ssdref.testing.goldens`, described in docs/golden-format.md):
every case is one deterministic `.npz` (fixed zip timestamps, declared array order) holding its
inputs and outputs by name; the manifest records op or graph, parameters, seed, dtype, array names,
tolerances, file and sha256. Conventions:
  * op cases run the registry OpDef (`ssdref.autograd.registry`) exactly as the graph does, forward
    and, where the op has one, backward: gradients are outputs named `grad_<input>` for the head
    gradients stored as inputs `head_grad_<output>` (loss ops ignore theirs, as in MXNet);
  * spec §8 cases keep the spec's names (T3, D1, ...); a case whose op must refuse its input stores
    the inputs and an `error` entry ({type, match}) instead of outputs;
  * the SSD300 case stores the image and outputs only: its 26M parameters are regenerated from
    `params.init` (ssdref's seeded Xavier), see `ssd300_arguments()`;
  * sub-folders (e.g. `golden/mxnet-1.9.1/`, MXNet-recorded) are separate sets with their own
    manifest: `verify(golden/)` ignores them, `verify(golden/mxnet-1.9.1)` checks their hashes.
`generate(out)` is byte-identical across runs on one machine (same NumPy/zlib); `verify(dir)`
checks hashes, files and recomputes every case; `diff(a, b)` compares two golden folders.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from ssdref.testing.goldens import SCHEMA_VERSION

MANIFEST = "manifest.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # the earliest zip timestamp: no wall clock in the bytes
EXACT = {"rtol": 0.0, "atol": 0.0}


class GoldenMismatchError(AssertionError):
    """verify() found differences; the message lists every one."""


class Case(NamedTuple):
    """One declared golden case. `make(case)` -> (inputs, outputs) dicts of arrays, in order."""
    name: str
    kind: str                       # 'op' | 'graph'
    op: str                         # MXNet operator name, or the graph's name
    params: dict
    seed: int
    dtype: str
    make: Callable
    tolerances: dict = {}
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
        elif name == "moving_var" or (op in ("_power", "broadcast_power") and name == "lhs"):
            arrays[name] = rng.uniform(0.5, 1.5, size=shape).astype(dtype)
        elif name == "rhs" and op in ("elemwise_div", "broadcast_div") or op == "_rdiv_scalar":
            arrays[name] = (rng.uniform(0.5, 2.0, size=shape)
                            * rng.choice([-1.0, 1.0], size=shape)).astype(dtype)
        else:
            arrays[name] = rng.standard_normal(shape).astype(dtype)
    return arrays


def _layer_make(case):
    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    inputs = _random_inputs(case.op, case.params, case.extra["shapes"], rng, dtype)
    is_train = case.extra.get("is_train", True)
    outputs, _ = run_op(case.op, case.params, inputs, is_train=is_train)
    heads = {f"head_grad_{n}": rng.standard_normal(v.shape).astype(dtype) for n, v in outputs.items()}
    inputs.update(heads)
    _, grads = run_op(case.op, case.params, inputs, is_train=is_train,
                      head_grads={n[len("head_grad_"):]: v for n, v in heads.items()})
    outputs.update(grads)
    return inputs, outputs


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
)


def _layer_cases():
    cases = []
    for index, (op, tag, params, shapes, is_train) in enumerate(LAYERS):
        for dtype in ("float32", "float64"):
            name = "_".join(p for p in (op.strip("_"), tag, dtype) if p)
            label_exact = {"label": EXACT} if "label" in shapes or op == "SoftmaxOutput" else {}
            cases.append(Case(name, "op", op, params, index, dtype, _layer_make,
                              tolerances=label_exact,
                              extra={"shapes": shapes, "is_train": is_train}))
    return cases


# ---------------------------------------------------------------------------------------------
# Multibox cases (spec §8 and seeded random ones)

F = np.float32
A6 = [[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6], [0, 0, 1, 1]]
LOGITS6 = np.random.RandomState(0).randn(1, 3, 6)           # the spec's T3-T5, T10-T11 logits
PAD = [-1, -1, -1, -1, -1]
SSD = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5,
           minimum_negative_samples=0, variances=(.1, .1, .2, .2))
DISCRETE = {"loc_mask": EXACT, "cls_target": EXACT}


def _fixed_make(arrays):
    """A make() for explicit inputs (converted to the case dtype), outputs from the registry op."""
    def make(case):
        dtype = np.dtype(case.dtype)
        inputs = {n: np.asarray(v, dtype=dtype) for n, v in arrays(case).items()}
        if "error" in case.extra:
            return inputs, {}
        outputs, _ = run_op(case.op, case.params, inputs, is_train=False)
        return inputs, outputs
    return make


def _target(name, anchors, label, params, logits=None, error=None, dtype="float32"):
    anchors = np.asarray(anchors, F)[None]
    label = np.asarray(label, F)
    label = label[None] if label.ndim == 2 else label
    if logits is None:
        logits = np.zeros((label.shape[0], 2, anchors.shape[1]), F)
    extra = {"error": error} if error else {}
    return Case(name, "op", "_contrib_MultiBoxTarget", params, 0, dtype,
                _fixed_make(lambda c: {"anchor": anchors, "label": label, "cls_pred": logits}),
                tolerances=DISCRETE, extra=extra)


def _prior(name, shape, params, dtype="float32"):
    return Case(name, "op", "_contrib_MultiBoxPrior", params, 0, dtype,
                _fixed_make(lambda c: {"data": np.zeros(shape)}))


D1_PROB = [[[.1, .2, .3, .1, .98], [.6, .5, .2, .45, .01], [.3, .3, .5, .45, .01]]]
D1_ANCHORS = [[[0, 0, .5, .5], [.05, 0, .55, .5], [.5, .5, 1, 1], [.5, .5, 1.1, 1.1], [.2, .2, .4, .4]]]
D3_ANCHORS = [[[0, 0, .1, .1], [.2, .2, .3, .3], [.4, .4, .5, .5], [.6, .6, .7, .7], [-.1, .9, .2, 1.3]]]
D3_PROB = [[1 - np.array([.1, .2, .9, .3, .8]), [.1, .2, .9, .3, .8]]]
DETECTION_TOL = {"output": {"comparator": "detections"}}


def _detection(name, prob, loc, anchors, params, dtype="float32"):
    return Case(name, "op", "_contrib_MultiBoxDetection", params, 0, dtype,
                _fixed_make(lambda c: {"cls_prob": prob, "loc_pred": loc, "anchor": anchors}),
                tolerances=DETECTION_TOL)


def _random_multibox_make(case):
    """Anchors of a 4x4 and a 2x2 map, 2 images of random boxes, logits; target and detection."""
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
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = (prob / prob.sum(axis=1, keepdims=True)).astype(dtype)
        loc = (rng.standard_normal((2, num_anchors * 4)) * 0.5).astype(dtype)
        inputs = {"cls_prob": prob, "loc_pred": loc, "anchor": anchor}
    outputs, _ = run_op(case.op, case.params, inputs, is_train=False)
    return inputs, outputs


def _multibox_cases():
    cases = [
        _prior("MultiBoxPrior_T1", (1, 1, 2, 3), dict(sizes=(.5, .25), ratios=(1, 2, .5))),
        _prior("MultiBoxPrior_T2", (1, 1, 2, 2), dict(sizes=(.6,), ratios=(1, 3), steps=(.3, .2),
                                                      offsets=(.2, .7), clip=True)),
        _prior("MultiBoxPrior_nonsquare_float64", (1, 1, 3, 5),
               dict(sizes=(.3, .5, .7), ratios=(1, 2, .5, 3)), dtype="float64"),
        _target("MultiBoxTarget_T3", A6, [[1, .05, .05, .5, .55], PAD], {}),
        _target("MultiBoxTarget_T4", A6, [[1, .05, .05, .5, .55], PAD], SSD, LOGITS6),
        _target("MultiBoxTarget_T5", A6, [[0, .5, .5, 1, 1], PAD, [1, 0, 0, .5, .5]], SSD, LOGITS6),
        _target("MultiBoxTarget_T6_bad_padding", A6, [[1, .05, .05, .5, .55], [-1, 0, 0, .5, .5]], {},
                error={"type": "ValueError", "match": "coordinates must all be -1"}),
        _target("MultiBoxTarget_T6_padding_first", A6[:2], [PAD, [0, 0, 0, .5, .5]], {}),
        _target("MultiBoxTarget_T7_no_gt", A6, [PAD, PAD], SSD, LOGITS6),
        _target("MultiBoxTarget_min_neg_ignored", A6, [[0, .5, .5, 1, 1], PAD],
                dict(SSD, negative_mining_ratio=1, minimum_negative_samples=3), LOGITS6),
        _target("MultiBoxTarget_T9b_too_few_candidates",
                [[0, 0, 1, 1], [0, 0, .6, .6], [0, 0, .65, .65], [.8, .8, 1, 1]], [[0, 0, 0, 1, 1]],
                dict(SSD, negative_mining_thresh=.3),
                error={"type": "ValueError", "match": "hard-negative candidates"}),
        _target("MultiBoxTarget_T10", A6, [[0, 0, 0, .5, .5], [1, .5, 0, 1, .5], [0, 0, .5, .5, 1]],
                dict(SSD, negative_mining_ratio=.5), LOGITS6),
        _target("MultiBoxTarget_T11", [[0, 0, .2, .2], [.8, .8, 1, 1], [0, .8, .2, 1]],
                [[0, .4, .4, .6, .6], [1, .75, .75, 1, 1]], SSD, LOGITS6[:, :, :3]),
        _target("MultiBoxTarget_T11_overlap0", A6, [[1, .05, .05, .5, .55], PAD],
                dict(SSD, overlap_threshold=0.0), LOGITS6),
        _target("MultiBoxTarget_T13", [[0, 0, .5, .5], [0, 0, .5, .5], [.5, .5, 1, 1]],
                [[0, 0, 0, .4, .4], [1, 0, 0, .4, .4]], dict(overlap_threshold=.99)),
        _target("MultiBoxTarget_T16_outside", [[-.2, -.2, .3, .3], [.7, .7, 1.2, 1.2]],
                [[0, -.1, -.1, .3, .3]], {}),
        _target("MultiBoxTarget_T17_iou_half", [[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]],
                [[0, 0, 0, 1, 1]], dict(SSD, negative_mining_ratio=1)),
        _target("MultiBoxTarget_T17b_abort", [[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]],
                [[0, 0, 0, 1, 1]], SSD, error={"type": "ValueError", "match": "hard-negative"}),
        _detection("MultiBoxDetection_D1", D1_PROB, np.zeros((1, 20)), D1_ANCHORS, {}),
        _detection("MultiBoxDetection_D2_force_suppress", D1_PROB, np.zeros((1, 20)), D1_ANCHORS,
                   dict(force_suppress=True)),
        _detection("MultiBoxDetection_D3b_topk_stale", D3_PROB, np.zeros((1, 20)), D3_ANCHORS,
                   dict(nms_topk=2)),
        _detection("MultiBoxDetection_D3b_noclip", D3_PROB, np.zeros((1, 20)), D3_ANCHORS,
                   dict(nms_topk=2, clip=False)),
        _detection("MultiBoxDetection_D4_nms0", D1_PROB, np.zeros((1, 20)), D1_ANCHORS,
                   dict(nms_threshold=0.0)),
        _detection("MultiBoxDetection_D5_threshold", D1_PROB, np.zeros((1, 20)), D1_ANCHORS,
                   dict(threshold=.55)),
        _detection("MultiBoxDetection_D6_background_id", D1_PROB, np.zeros((1, 20)), D1_ANCHORS,
                   dict(background_id=2)),
        _detection("MultiBoxDetection_D8_decode", [[[.1], [.9]]], [[1, -1, .5, -.5]],
                   [[[.2, .2, .4, .4]]], dict(clip=False)),
        _detection("MultiBoxDetection_D11_nms_at_threshold", [[[.1, .2], [.9, .8]]], np.zeros((1, 8)),
                   [[[0, 0, 1, 1], [0, 0, .5, 1]]], {}),
    ]
    for dtype in ("float32", "float64"):
        cases.append(Case(f"MultiBoxTarget_random_ssd_{dtype}", "op", "_contrib_MultiBoxTarget", SSD,
                          7, dtype, _random_multibox_make, tolerances=DISCRETE))
        cases.append(Case(f"MultiBoxDetection_random_{dtype}", "op", "_contrib_MultiBoxDetection",
                          dict(nms_threshold=.45, nms_topk=20), 8, dtype, _random_multibox_make,
                          tolerances=DETECTION_TOL))
    return cases


# ---------------------------------------------------------------------------------------------
# Graph cases: a whole tiny-SSD training step, and the SSD300 deploy symbol on one image

TINY = dict(network="tiny", data_shape=32, num_classes=3, batch=2)
TINY_LABEL = [[[0, .1, .1, .5, .6], [2, .4, .3, .9, .8], PAD, PAD],
              [[1, .2, .2, .7, .7], PAD, PAD, PAD]]
SSD300 = dict(network="vgg16_reduced", data_shape=300, num_classes=20,
              init={"initializer": "Xavier", "rnd_type": "gaussian", "factor_type": "out",
                    "magnitude": 2, "seed": 1, "order": "sorted(arg_params)",
                    "rng": "numpy.random.default_rng(seed)"})


def _tiny_make(case):
    from ssdref.model import get_config, get_symbol_train
    from ssdref.model import init as initializers

    p = case.params
    dtype = np.dtype(case.dtype)
    net = get_symbol_train(**get_config(p["network"], p["data_shape"], p["num_classes"]))
    size = p["data_shape"]
    ex = net.simple_bind(grad_req="write", data=(p["batch"], 3, size, size),
                         label=(p["batch"], 4, 5), type_dict={"data": dtype, "label": dtype})
    rng = np.random.default_rng(case.seed)
    weights = {k: v for k, v in ex.arg_dict.items() if k not in ("data", "label")}
    initializers.init_params(initializers.Xavier(), weights, {}, net.attr_dict(), rng=rng)
    ex.arg_dict["data"][...] = rng.uniform(0, 1, ex.arg_dict["data"].shape)
    ex.arg_dict["label"][...] = np.asarray(TINY_LABEL)
    inputs = {name: ex.arg_dict[name].copy() for name in net.list_arguments()}
    ex.forward(is_train=True)
    ex.backward()
    outputs = {name: np.asarray(o).copy() for name, o in zip(net.list_outputs(), ex.outputs)}
    outputs.update({f"grad_{name}": np.asarray(g).copy() for name, g in ex.grad_dict.items()
                    if g is not None and name != "label"})
    return inputs, outputs


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


def _ssd300_make(case):
    net, args = ssd300_arguments(case.params)
    rng = np.random.default_rng(case.seed)
    size = case.params["data_shape"]
    # A blocky image (10x10 tiles), pixel values 0..255 minus the example's mean (123, 117, 104)
    # and scaled by 1/64 so that the randomly initialised net gives unsaturated scores; tiles of
    # integers / 64 are exact in float32 and compress well.
    tiles = rng.integers(0, 256, (1, 3, size // 10, size // 10)).astype(np.float32)
    tiles = (tiles - np.array([123, 117, 104], np.float32)[None, :, None, None]) / np.float32(64)
    data = np.repeat(np.repeat(tiles, 10, axis=2), 10, axis=3)
    args["data"] = data
    ex = net.bind(None, args, grad_req="null")
    ex.forward(is_train=False)
    return {"data": data}, {"detection": np.asarray(ex.outputs[0]).copy()}


def _graph_cases():
    graph_tol = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}
    cases = [Case(f"tiny_ssd_train_step_{dtype}", "graph", "ssd_train_step", TINY, 0, dtype,
                  _tiny_make, tolerances=dict(graph_tol[dtype], cls_label_output=EXACT,
                                              det_out_output={"comparator": "detections"}),
                  extra={"is_train": True,
                         "description": "get_symbol_train(**get_config('tiny', 32, 3)); Xavier "
                                        "init; forward(is_train=True); backward() with default "
                                        "head gradients; inputs = every argument"})
             for dtype in ("float32", "float64")]
    cases.append(Case("ssd300_vgg16_reduced_detect", "graph", "ssd_detect", SSD300, 2, "float32",
                      _ssd300_make, tolerances=dict(graph_tol["float32"],
                                                    detection={"comparator": "detections"}),
                      extra={"is_train": False, "slow": True,
                             "description": "get_symbol(**get_config('vgg16_reduced', 300, 20)); "
                                            "parameters NOT stored: regenerate them with "
                                            "ssdref.golden.ssd300_arguments()"}))
    return cases


def declared_cases():
    """The one declared list of golden cases, in manifest order."""
    return [*_multibox_cases(), *_layer_cases(), *_graph_cases()]


# ---------------------------------------------------------------------------------------------
# Writing: deterministic npz and manifest

def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def npz_bytes(arrays: dict) -> bytes:
    """An .npz (np.load-able) of `arrays` in the given order, with fixed timestamps: byte-stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            body = io.BytesIO()
            np.lib.format.write_array(body, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                       # fixed, whatever the host OS
            info.external_attr = 0o644 << 16
            archive.writestr(info, body.getvalue(), compresslevel=6)
    return buffer.getvalue()


def _stored_arrays(inputs, outputs):
    """The npz keys: the plain name, or inputs/x and outputs/x where a name is both."""
    shared = set(inputs) & set(outputs)
    arrays = {(f"inputs/{n}" if n in shared else n): v for n, v in inputs.items()}
    arrays.update({(f"outputs/{n}" if n in shared else n): v for n, v in outputs.items()})
    return arrays


def _manifest_entry(case, inputs, outputs, file, digest):
    entry = {"name": case.name, "kind": case.kind, "op": case.op, "params": _jsonable(case.params),
             "seed": case.seed, "dtype": case.dtype, "inputs": list(inputs),
             "outputs": list(outputs), "tolerances": _jsonable(_tolerances(case)),
             "file": file, "sha256": digest}
    for key in ("is_train", "error", "description"):
        if key in case.extra:
            entry[key] = _jsonable(case.extra[key])
    return entry


def _tolerances(case):
    from ssdref.testing.compare import tolerance_for
    return {**tolerance_for(np.dtype(case.dtype)), **case.tolerances}


def _select(names):
    cases = declared_cases()
    if names is None:
        return cases
    known = {c.name: c for c in cases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"golden: cases must be declared cases, got unknown {unknown}")
    return [known[n] for n in names]


def _compute(case):
    """case.make(case) under the specification's Convolution (im2col) whatever the backend: a
    golden is an oracle, so it never takes the Numba backend's Winograd path (equal to im2col only
    up to rounding; ssdref.kernels.cpu_winograd)."""
    from ssdref.kernels import cpu_winograd
    with cpu_winograd.disabled():
        return case.make(case)


def _build(case):
    """(inputs, outputs, npz bytes) of one case, computed now."""
    inputs, outputs = _compute(case)
    return inputs, outputs, npz_bytes(_stored_arrays(inputs, outputs))


def manifest_header():
    import ssdref
    from ssdref.backend import get_backend
    return {"schema_version": SCHEMA_VERSION, "ssdref_version": ssdref.__version__,
            "numpy_version": np.__version__, "backend": get_backend()}


def generate(out_dir="golden", cases=None, *, progress=None) -> list:
    """Write every declared case (or the named `cases`) and the manifest; returns changed files.

    Stale top-level .npz files of no case are removed (and reported); sub-folders are left alone."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = _select(cases)
    entries, changed = [], []
    for index, case in enumerate(selected):
        if progress:
            progress(index, len(selected), case.name)
        inputs, outputs, blob = _build(case)
        file = f"{case.name}.npz"
        path = out / file
        if not path.is_file() or path.read_bytes() != blob:
            changed.append(file)
            path.write_bytes(blob)
        entries.append(_manifest_entry(case, inputs, outputs, file,
                                       hashlib.sha256(blob).hexdigest()))
    for stale in sorted(set(p.name for p in out.glob("*.npz")) - {e["file"] for e in entries}):
        (out / stale).unlink()
        changed.append(f"{stale} (removed)")
    text = json.dumps({**manifest_header(), "cases": entries}, indent=1) + "\n"
    if not (out / MANIFEST).is_file() or (out / MANIFEST).read_text(encoding="utf-8") != text:
        (out / MANIFEST).write_text(text, encoding="utf-8")
        changed.append(MANIFEST)
    return changed


# ---------------------------------------------------------------------------------------------
# Verifying and diffing

def _load_arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _tol_for(tolerances, name, dtype):
    from ssdref.testing.compare import tolerance_for
    tol = {**tolerance_for(np.dtype(dtype)),
           **{k: tolerances[k] for k in ("rtol", "atol") if k in tolerances}}
    own = tolerances.get(name)
    if isinstance(own, dict):
        tol.update({k: own[k] for k in ("rtol", "atol") if k in own})
        tol["comparator"] = own.get("comparator")
    return tol


def compare_array(name, expected, actual, tol) -> str | None:
    """None if `actual` matches `expected` under `tol`, else a one-line description."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape or expected.dtype != actual.dtype:
        return (f"{name}: shape/dtype {actual.shape} {actual.dtype}, expected {expected.shape} "
                f"{expected.dtype}")
    if tol.get("comparator") == "detections":
        from ssdref.testing.compare import assert_detections_equal
        try:
            assert_detections_equal(actual, expected)
        except AssertionError as exc:
            return f"{name}: " + "\n      ".join(str(exc).splitlines())
        return None
    if np.array_equal(expected, actual, equal_nan=True):
        return None
    close = np.isclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)
    if close.all():
        return None
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    where = np.unravel_index(int(np.nanargmax(np.where(close, 0, diff))), diff.shape)
    return (f"{name}: {int((~close).sum())} of {close.size} values differ, max |diff| "
            f"{float(np.nanmax(diff)):.3g} at {tuple(int(i) for i in where)} (expected "
            f"{expected[where]!r}, got {actual[where]!r}; rtol={tol['rtol']:g}, atol={tol['atol']:g})")


def _check_error(case):
    """The declared error must still be raised: None if so, else a description."""
    import re
    inputs, _ = case.make(case)
    try:
        run_op(case.op, case.params, inputs, is_train=False)
    except Exception as exc:  # any exception type is compared below
        if type(exc).__name__ != case.extra["error"]["type"] or \
                not re.search(case.extra["error"]["match"], str(exc)):
            return f"raised {type(exc).__name__}: {exc}, expected {case.extra['error']}"
        return None
    return f"did not raise, expected {case.extra['error']}"


def _files_problems(root, manifest):
    problems = []
    listed = {c["file"] for c in manifest["cases"]}
    present = {p.name for p in root.iterdir() if p.is_file() and p.name != MANIFEST}
    problems += [f"missing file: {f} (listed in {MANIFEST})" for f in sorted(listed - present)]
    problems += [f"extra file: {f} (not in {MANIFEST})" for f in sorted(present - listed)]
    for case in manifest["cases"]:
        path = root / case["file"]
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != case["sha256"]:
                problems.append(f"sha256 mismatch: {case['file']} is {digest[:16]}..., manifest "
                                f"says {case['sha256'][:16]}... (the file changed)")
    return problems


def verify(golden_dir=None, *, recompute=True, skip_slow=False, only=None, progress=None) -> dict:
    """Check a golden folder; raises GoldenMismatchError listing every difference.

    Hashes, missing and extra files always; with `recompute`, every declared case is computed
    again and compared (inputs and outputs) under the manifest's tolerances. A folder that is not
    ssdref's own set (a sub-folder such as mxnet-1.9.1/ with its own manifest) gets the file and
    hash checks only. `only`: recompute just these case names; `skip_slow`: not the SSD300 one.
    Returns {'cases', 'recomputed', 'skipped'} on success."""
    from ssdref.testing.goldens import default_root, read_manifest
    root = Path(golden_dir) if golden_dir is not None else default_root()
    manifest = read_manifest(root)
    problems = _files_problems(root, manifest)
    declared = {c.name: c for c in declared_cases()}
    stored = {c["name"]: c for c in manifest["cases"]}
    own_set = bool(set(stored) & set(declared))
    recomputed, skipped = 0, []
    if own_set:
        problems += [f"case {n!r} is declared but missing from {MANIFEST}"
                     for n in declared if n not in stored]
        problems += [f"case {n!r} is in {MANIFEST} but not declared in ssdref.golden"
                     for n in stored if n not in declared]
    if own_set and recompute:
        todo = [declared[n] for n in stored if n in declared]
        for index, case in enumerate(todo):
            if progress:
                progress(index, len(todo), case.name)
            if (skip_slow and case.extra.get("slow")) or (only is not None and case.name not in only):
                skipped.append(case.name)
                continue
            problems += [f"case {case.name!r}: {p}" for p in _verify_case(root, case, stored[case.name])]
            recomputed += 1
    if problems:
        raise GoldenMismatchError(f"golden verify: {root} differs in {len(problems)} place(s):\n  "
                                  + "\n  ".join(problems))
    return {"cases": len(stored), "recomputed": recomputed, "skipped": skipped}


def _verify_case(root, case, entry):
    problems = []
    expected_entry = {k: v for k, v in _manifest_entry(case, [], [], entry["file"], "").items()
                      if k not in ("inputs", "outputs", "sha256")}
    for key, value in expected_entry.items():
        if entry.get(key) != value:
            problems.append(f"manifest field {key!r} is {entry.get(key)!r}, declared {value!r}")
    if "error" in case.extra:
        message = _check_error(case)
        if message:
            problems.append(message)
    path = root / entry["file"]
    if not path.is_file():
        return problems
    stored = _load_arrays(path)
    inputs, outputs = _compute(case)
    fresh = _stored_arrays(inputs, outputs)
    if list(inputs) != entry["inputs"] or list(outputs) != entry["outputs"]:
        problems.append(f"array names changed: inputs {list(inputs)} outputs {list(outputs)}, "
                        f"manifest has {entry['inputs']} / {entry['outputs']}")
    for key in sorted(set(stored) ^ set(fresh)):
        problems.append(f"array {key!r} {'only in the file' if key in stored else 'missing'}")
    for key in (k for k in fresh if k in stored):
        name = key.split("/", 1)[-1]
        tol = _tol_for(entry.get("tolerances", {}), name, entry["dtype"])
        if key.startswith("inputs/") or (key in inputs and key not in outputs):
            tol = {**EXACT, "comparator": None}          # inputs are a recipe: exactly reproduced
        message = compare_array(key, stored[key], fresh[key], tol)
        if message:
            problems.append(message)
    return problems


def diff(dir_a, dir_b) -> list:
    """Differences between two golden folders, one line each (empty list: identical content)."""
    from ssdref.testing.goldens import read_manifest
    a, b = Path(dir_a), Path(dir_b)
    cases_a = {c["name"]: c for c in read_manifest(a)["cases"]}
    cases_b = {c["name"]: c for c in read_manifest(b)["cases"]}
    lines = [f"only in {a}: {n}" for n in cases_a if n not in cases_b]
    lines += [f"only in {b}: {n}" for n in cases_b if n not in cases_a]
    for name in (n for n in cases_a if n in cases_b):
        ca, cb = cases_a[name], cases_b[name]
        for key in sorted((set(ca) | set(cb)) - {"sha256", "file"}):
            if ca.get(key) != cb.get(key):
                lines.append(f"{name}: {key} {ca.get(key)!r} -> {cb.get(key)!r}")
        if ca["sha256"] == cb["sha256"]:
            continue
        try:
            arrays_a, arrays_b = _load_arrays(a / ca["file"]), _load_arrays(b / cb["file"])
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            lines.append(f"{name}: cannot read ({exc})")
            continue
        for key in sorted(set(arrays_a) ^ set(arrays_b)):
            lines.append(f"{name}: array {key} only in {a if key in arrays_a else b}")
        for key in (k for k in arrays_a if k in arrays_b):
            message = compare_array(key, arrays_a[key], arrays_b[key], {**EXACT, "comparator": None})
            if message:
                lines.append(f"{name}: {message}")
    return lines


# ---------------------------------------------------------------------------------------------
# Command line: ssdref golden generate [--out DIR] | verify [DIR] | diff A B

def _progress(index, total, name):
    import sys
    if not sys.stderr.isatty():
        return
    sys.stderr.write(f"\r[{index + 1}/{total}] {name[:60]:<60}")
    sys.stderr.flush()
    if index + 1 == total:
        sys.stderr.write("\n")


def _cmd(args) -> int:
    if args.golden_command == "generate":
        changed = generate(args.out, progress=_progress)
        print(f"golden: {len(changed)} file(s) changed in {args.out}"
              + "".join(f"\n  {f}" for f in changed) + ("\n(review with `git diff` / `ssdref golden diff`)" if changed else ""))
        return 0
    if args.golden_command == "verify":
        try:
            report = verify(args.dir, skip_slow=args.quick, recompute=not args.hashes_only,
                            progress=_progress)
        except (GoldenMismatchError, FileNotFoundError, ValueError) as exc:
            print(exc)
            return 1
        print(f"golden verify: {args.dir or 'golden'} OK ({report['cases']} cases, {report['recomputed']} "
              f"recomputed, hashes checked" + (f", skipped {report['skipped']}" if report["skipped"] else "") + ")")
        return 0
    lines = diff(args.a, args.b)
    print("\n".join(lines) if lines else f"golden diff: {args.a} and {args.b} hold the same cases")
    return 1 if lines else 0


def add_cli(subparsers):
    """Register `ssdref golden generate|verify|diff`."""
    parser = subparsers.add_parser("golden", help="generate, verify or diff the golden outputs")
    sub = parser.add_subparsers(dest="golden_command", required=True)
    p = sub.add_parser("generate", help="regenerate every declared case (byte-identical)")
    p.add_argument("--out", default="golden")
    p.set_defaults(func=_cmd)
    p = sub.add_parser("verify", help="check hashes, files, and recompute every case")
    p.add_argument("dir", nargs="?", default=None, help="default: the checkout's golden/")
    p.add_argument("--quick", action="store_true", help="skip the slow SSD300 case")
    p.add_argument("--hashes-only", action="store_true", help="check files and hashes, no recompute")
    p.set_defaults(func=_cmd)
    p = sub.add_parser("diff", help="compare two golden folders")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=_cmd)
