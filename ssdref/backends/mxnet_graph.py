"""Whole SSD on real MXNet 1.9.1 and on ssdref, side by side (train step and deploy symbol).

The same builder code (`ssdref.model.get_symbol_train` / `get_symbol` with `mx=`) builds the
graph on both engines; the inputs are the case catalogue's (`ssdref.cases.graphs`: `random_label`,
`random_parameters` in the `PARAMS_MXNET` setting, the tiny network at `COMPARISON`'s size). The
parameters are drawn once, written with `ssdref.io.save_params` and read back by MXNet's own
`mx.nd.load` (so they reach both engines by name); one training forward + backward runs on each,
and every output and every parameter gradient is measured as
max|ssdref - mxnet| / max|mxnet|. cls_label (MultiBoxTarget's cls_target) must be identical.
"""
from __future__ import annotations

import os
import tempfile
from typing import NamedTuple

import numpy as np

from ssdref.cases.graphs import COMPARISON, PARAMS_MXNET, random_parameters
from ssdref.cases.graphs import random_label as make_label

# Small data shapes keep the comparison quick; vgg16_reduced runs at its real 300.
DATA_SHAPE = {"tiny": COMPARISON["data_shape"], "vgg16_reduced": 300}


def make_params(rng, arg_shapes, aux_shapes, skip=("data", "label")):
    """The catalogue's `random_parameters` in the MXNet comparison's setting (`PARAMS_MXNET`):
    He-scaled weights, biases N(0, 0.05²), the L2 scale at its constant 20; moving stats 0/1."""
    return random_parameters(rng, arg_shapes, aux_shapes, skip=skip, **PARAMS_MXNET)


class Measurement(NamedTuple):
    name: str               # 'output:cls_prob_output', 'grad:conv1_1_weight', ...
    error: float            # scaled error; 0 = bit-identical
    exact_required: bool    # discrete (cls_target-derived): must be 0
    is_grad: bool


class GraphComparison(NamedTuple):
    measurements: list
    note: str
    outputs: dict           # name -> (ssdref array, mxnet array), for recording
    grads: dict             # name -> (ssdref array, mxnet array)
    args: dict              # the inputs both ran with (parameters, data, label)
    aux: dict


def build(engine, network, data_shape, num_classes, train=True):
    """The SSD train (or deploy) symbol of `network` built on `engine` (mxnet or ssdref)."""
    from ssdref.model.config import get_symbol, get_symbol_train
    with engine.name.NameManager():
        if train:
            return get_symbol_train(network, data_shape, num_classes=num_classes, mx=engine)
        return get_symbol(network, data_shape, num_classes=num_classes, mx=engine)


def _through_params_file(mx, args, aux):
    """Write with ssdref.io.save_params, read with mx.nd.load: parameters travel by name."""
    from ssdref.io import save_params
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ssd-0000.params")
        save_params(path, args, aux)
        loaded = mx.nd.load(path)
    arg_back = {k[4:]: v.asnumpy() for k, v in loaded.items() if k.startswith("arg:")}
    aux_back = {k[4:]: v.asnumpy() for k, v in loaded.items() if k.startswith("aux:")}
    return arg_back, aux_back


def scaled_error(ours, theirs) -> float:
    from ssdref.backends.measure import scaled_error as measure
    return measure(ours, theirs)


rel_error = scaled_error


def compare_ssd(mx, network="tiny", batch=2, seed=0, num_classes=3, data_shape=None) -> GraphComparison:
    """One training step of the SSD on both engines, compared output by output, gradient by gradient."""
    import ssdref
    from ssdref.backends.mxnet import run_graph

    size = data_shape or DATA_SHAPE[network]
    net_mx = build(mx, network, size, num_classes)
    net_ref = build(ssdref, network, size, num_classes)
    notes = []
    for what in ("list_arguments", "list_outputs", "list_auxiliary_states"):
        if getattr(net_mx, what)() != getattr(net_ref, what)():
            notes.append(f"{what} differ")
    rng = np.random.default_rng(seed)
    label = make_label(rng, batch, num_classes=num_classes)
    shapes = {"data": (batch, 3, size, size), "label": label.shape}
    arg_shapes, _, aux_shapes = net_mx.infer_shape(**shapes)
    arg_shapes = dict(zip(net_mx.list_arguments(), arg_shapes))
    aux_shapes = dict(zip(net_mx.list_auxiliary_states(), aux_shapes))
    args, aux = make_params(rng, arg_shapes, aux_shapes)
    args, aux = _through_params_file(mx, args, aux)
    args["data"] = rng.standard_normal(shapes["data"]).astype(np.float32)
    args["label"] = label

    theirs = run_graph(mx, net_mx, args, aux, is_train=True)
    ours = run_graph(ssdref, net_ref, args, aux, is_train=True)
    measurements, outputs, grads = [], {}, {}
    for name, o, t in zip(net_mx.list_outputs(), ours.outputs, theirs.outputs):
        exact = name == "cls_label_output"
        measurements.append(Measurement(f"output:{name}", rel_error(o, t), exact, False))
        outputs[name] = (o, t)
    for name in net_mx.list_arguments():
        if name in ("data", "label"):
            continue
        measurements.append(Measurement(f"grad:{name}", rel_error(ours.grads[name], theirs.grads[name]),
                                        False, True))
        grads[name] = (ours.grads[name], theirs.grads[name])
    # The deploy symbol with the same parameters (softmax + MultiBoxDetection).
    test_mx = build(mx, network, size, num_classes, train=False)
    test_ref = build(ssdref, network, size, num_classes, train=False)
    test_args = {k: v for k, v in args.items() if k != "label"}
    det_t = run_graph(mx, test_mx, test_args, aux, backward=False).outputs[0]
    det_o = run_graph(ssdref, test_ref, test_args, aux, backward=False).outputs[0]
    measurements.append(Measurement("output:deploy_detection", rel_error(det_o, det_t), False, False))
    outputs["deploy_detection"] = (det_o, det_t)
    return GraphComparison(measurements, "; ".join(notes), outputs, grads, args, aux)


def float64_referee(result, network="tiny", num_classes=3, data_shape=None) -> dict:
    """For each gradient: (error of ssdref float32, error of MXNet float32), both measured against
    ssdref's float64 run of the same graph on the same inputs (the oracle). Used where the two float32
    engines differ by more than the bar: it shows which of them the float32 rounding moved."""
    import ssdref
    from ssdref.backends.mxnet import run_graph
    size = data_shape or DATA_SHAPE[network]
    net = build(ssdref, network, size, num_classes)
    args64 = {k: v.astype(np.float64) for k, v in result.args.items()}
    aux64 = {k: v.astype(np.float64) for k, v in result.aux.items()}
    truth = run_graph(ssdref, net, args64, aux64, is_train=True)
    return {name: (scaled_error(ours.astype(np.float64), truth.grads[name]),
                   scaled_error(theirs.astype(np.float64), truth.grads[name]))
            for name, (ours, theirs) in result.grads.items()}


def json_round_trip(mx, network="tiny", num_classes=3, data_shape=None) -> list:
    """Problems found loading ssdref's symbol JSON in MXNet and MXNet's in ssdref ([] = none)."""
    import ssdref
    size = data_shape or DATA_SHAPE[network]
    problems = []
    for train in (True, False):
        net_mx = build(mx, network, size, num_classes, train)
        net_ref = build(ssdref, network, size, num_classes, train)
        for src, dst, src_net in (("ssdref", mx, net_ref), ("mxnet", ssdref, net_mx)):
            loaded = dst.sym.load_json(src_net.tojson())
            for what in ("list_arguments", "list_outputs", "list_auxiliary_states"):
                if getattr(loaded, what)() != getattr(net_mx, what)():
                    problems.append(f"{'train' if train else 'deploy'}: {src} JSON loaded in "
                                    f"{dst.__name__}: {what} differ")
            shapes = {"data": (2, 3, size, size)}
            if train:
                shapes["label"] = (2, 4, 5)
            got = loaded.infer_shape(**shapes)
            want = net_mx.infer_shape(**shapes)
            if [list(map(tuple, g)) for g in got] != [list(map(tuple, w)) for w in want]:
                problems.append(f"{'train' if train else 'deploy'}: {src} JSON loaded in "
                                f"{dst.__name__}: infer_shape differs")
    return problems
