"""The declared list of gradient checks run by `ssdref gradcheck` (and the demo's first table).

Every op with a backward is checked through its registry OpDef, in float64, against central
differences of the objective its backward differentiates:
- ordinary ops: L = <g, y> for a random head gradient g (the op's backward uses g);
- loss ops with MXNet's custom backward (SoftmaxOutput, MakeLoss), which ignore g: the scalar
  objective whose derivative MXNet emits (spec §4), with the normalizer held at its base value:
  SoftmaxOutput: grad_scale * sum over non-ignored positions of -log p[label] / normalizer;
  MakeLoss:      grad_scale * sum(x) / normalizer;  make_loss: sum(x);
- BlockGrad: the constant 0 (it stops the gradient).
Configurations are fixed (seeded), so the table is reproducible bit for bit.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ssdref.autograd import registry
from ssdref.autograd.gradcheck import numerical_gradient_of, relative_error

THRESHOLD = 1e-6


class Case(NamedTuple):
    op: str
    params: dict
    data_shapes: dict                       # shapes of the data-like inputs; the rest are inferred
    objective: str = "head"                 # 'head', 'softmax_output', 'make_loss', 'sum', 'zero'
    label_classes: int = 0                  # for SoftmaxOutput: labels drawn in [-1, label_classes)


class CaseResult(NamedTuple):
    op: str
    config: str
    worst_error: float
    passed: bool
    error: str = ""


CASES: tuple[Case, ...] = (
    Case("Convolution", dict(kernel=(3, 3), pad=(1, 1), num_filter=3), {"data": (2, 2, 5, 5)}),
    Case("Convolution", dict(kernel=(3, 3), stride=(2, 2), num_filter=2), {"data": (1, 3, 7, 6)}),
    Case("Convolution", dict(kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=2), {"data": (1, 2, 6, 6)}),
    Case("Convolution", dict(kernel=(1, 3), num_filter=4, num_group=2, no_bias=True), {"data": (2, 4, 3, 5)}),
    Case("Convolution", dict(kernel=(1, 1), num_filter=3), {"data": (2, 3, 4, 4)}),
    Case("Pooling", dict(kernel=(2, 2), stride=(2, 2), pool_type="max"), {"data": (1, 2, 4, 5)}),
    Case("Pooling", dict(kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full"), {"data": (1, 2, 5, 5)}),
    Case("Pooling", dict(kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="max"), {"data": (1, 2, 4, 4)}),
    Case("Pooling", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg"), {"data": (1, 2, 5, 5)}),
    Case("Pooling", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", count_include_pad=False,
                         pooling_convention="full"), {"data": (1, 1, 6, 6)}),
    Case("Pooling", dict(kernel=(2, 2), stride=(2, 2), pool_type="sum", pooling_convention="full"), {"data": (1, 2, 5, 5)}),
    Case("Pooling", dict(global_pool=True, pool_type="avg", kernel=(1, 1)), {"data": (2, 3, 3, 4)}),
    Case("Activation", dict(act_type="relu"), {"data": (2, 3, 4)}),
    Case("Activation", dict(act_type="sigmoid"), {"data": (2, 3, 4)}),
    Case("Activation", dict(act_type="tanh"), {"data": (2, 3, 4)}),
    Case("Activation", dict(act_type="softrelu"), {"data": (2, 3, 4)}),
    Case("Activation", dict(act_type="softsign"), {"data": (2, 3, 4)}),
    Case("BatchNorm", dict(fix_gamma=False), {"data": (3, 2, 2, 3)}),
    Case("BatchNorm", dict(fix_gamma=True, eps=1e-5), {"data": (4, 3, 2)}),
    Case("L2Normalization", dict(mode="channel"), {"data": (2, 3, 2, 2)}),
    Case("L2Normalization", dict(mode="instance"), {"data": (2, 3, 4)}),
    Case("L2Normalization", dict(mode="spatial"), {"data": (2, 3, 2, 3)}),
    Case("softmax", dict(axis=1), {"data": (2, 4, 3)}),
    Case("softmax", dict(axis=-1), {"data": (3, 5)}),
    Case("log_softmax", dict(axis=1), {"data": (2, 4, 3)}),
    Case("SoftmaxActivation", dict(mode="channel"), {"data": (2, 4, 3)}),
    Case("SoftmaxActivation", dict(mode="instance"), {"data": (3, 5)}),
    Case("SoftmaxOutput", dict(multi_output=True, use_ignore=True, ignore_label=-1, normalization="valid"),
         {"data": (2, 4, 5)}, objective="softmax_output", label_classes=4),
    Case("SoftmaxOutput", dict(multi_output=True, normalization="null", grad_scale=2.0),
         {"data": (2, 3, 4)}, objective="softmax_output", label_classes=3),
    Case("SoftmaxOutput", dict(normalization="batch"), {"data": (4, 5)}, objective="softmax_output", label_classes=5),
    Case("smooth_l1", dict(scalar=1.0), {"data": (3, 8)}),
    Case("smooth_l1", dict(scalar=2.0), {"data": (3, 8)}),
    Case("MakeLoss", dict(normalization="valid", grad_scale=1.0), {"data": (2, 6)}, objective="make_loss"),
    Case("MakeLoss", dict(normalization="batch", grad_scale=0.5), {"data": (3, 4)}, objective="make_loss"),
    Case("FullyConnected", dict(num_hidden=3), {"data": (2, 2, 3)}),
    Case("FullyConnected", dict(num_hidden=2, flatten=False, no_bias=True), {"data": (2, 3, 4)}),
    Case("Flatten", {}, {"data": (2, 3, 2, 2)}),
    Case("Reshape", dict(shape=(0, -1, 3)), {"data": (2, 4, 3)}),
    Case("transpose", dict(axes=(0, 2, 3, 1)), {"data": (2, 3, 2, 4)}),
    Case("Concat", dict(dim=1, num_args=2), {"arg0": (2, 3, 2), "arg1": (2, 1, 2)}),
    Case("slice_axis", dict(axis=1, begin=1, end=3), {"data": (2, 4, 3)}),
    Case("expand_dims", dict(axis=1), {"data": (2, 3)}),
    Case("elemwise_add", {}, {"lhs": (2, 3), "rhs": (2, 3)}),
    Case("elemwise_sub", {}, {"lhs": (2, 3), "rhs": (2, 3)}),
    Case("elemwise_mul", {}, {"lhs": (2, 3), "rhs": (2, 3)}),
    Case("elemwise_div", {}, {"lhs": (2, 3), "rhs": (2, 3)}),
    Case("broadcast_mul", {}, {"lhs": (1, 3, 1, 1), "rhs": (2, 3, 2, 2)}),
    Case("broadcast_add", {}, {"lhs": (2, 1, 4), "rhs": (2, 3, 1)}),
    Case("_mul_scalar", dict(scalar=2.5), {"data": (2, 3)}),
    Case("_rdiv_scalar", dict(scalar=2.0), {"data": (2, 3)}),
    Case("_power_scalar", dict(scalar=3.0), {"data": (2, 3)}),
    Case("_plus_scalar", dict(scalar=1.5), {"data": (2, 3)}),
    Case("_minus_scalar", dict(scalar=1.5), {"data": (2, 3)}),
    Case("_rminus_scalar", dict(scalar=1.5), {"data": (2, 3)}),
    Case("_div_scalar", dict(scalar=2.0), {"data": (2, 3)}),
    Case("_rpower_scalar", dict(scalar=2.0), {"data": (2, 3)}),
    Case("_power", {}, {"lhs": (2, 3), "rhs": (2, 3)}),
    Case("broadcast_sub", {}, {"lhs": (2, 1, 4), "rhs": (2, 3, 1)}),
    Case("broadcast_div", {}, {"lhs": (2, 3, 1), "rhs": (1, 3, 4)}),
    Case("broadcast_power", {}, {"lhs": (2, 3, 1), "rhs": (1, 3, 4)}),
    Case("_copy", {}, {"data": (2, 3)}),
    # The mask comes from a fixed seed (layers/dropout.py), so the op is a fixed linear map.
    Case("Dropout", dict(p=0.5), {"data": (3, 4)}),
    Case("Dropout", dict(p=0.3, axes=(1,)), {"data": (2, 3, 4)}),
    Case("BlockGrad", {}, {"data": (2, 3)}, objective="zero"),
    Case("make_loss", {}, {"data": (2, 3)}, objective="sum"),
    Case("where", {}, {"condition": (2, 3), "x": (2, 3), "y": (2, 3)}),
    Case("slice_like", dict(axes=(1,)), {"data": (2, 4, 3), "shape_like": (2, 2, 3)}),
    Case("_contrib_box_nms", dict(overlap_thresh=0.5), {"data": (1, 6, 6)}),
)


def _describe(case: Case) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in case.params.items())
    shapes = " ".join(f"{k}{list(v)}" for k, v in case.data_shapes.items())
    return f"{shapes} {shown}".strip()


def _inputs_for(case: Case, opdef, params, rng):
    names = opdef.all_inputs(params)
    shapes = [tuple(case.data_shapes[n]) if n in case.data_shapes else None for n in names]
    shapes, _ = opdef.infer_shape(shapes, params)
    arrays = {}
    for name, shape in zip(names, shapes):
        if shape is None:
            raise ValueError(f"gradcheck suite: cannot infer the shape of {case.op} input {name!r}")
        if name == "label":
            # -1 is the ignore label only where use_ignore is on; elsewhere labels are real classes.
            low = -1 if params.get("use_ignore") else 0
            arrays[name] = rng.integers(low, case.label_classes, size=shape).astype(np.float64)
        elif name == "moving_var":
            arrays[name] = rng.uniform(0.5, 1.5, size=shape)
        elif case.op in ("elemwise_div", "broadcast_div") and name == "rhs" or case.op == "_rdiv_scalar":
            arrays[name] = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        elif case.op == "where" and name == "condition":
            arrays[name] = rng.choice([0.0, 1.0], size=shape)
        elif case.op == "_contrib_box_nms":        # rows [id, score, x0, y0, x1, y1], distinct scores
            rows = rng.uniform(0, 1, size=shape)
            rows[..., 2:4], rows[..., 4:6] = (np.minimum(rows[..., 2:4], rows[..., 4:6]),
                                              np.maximum(rows[..., 2:4], rows[..., 4:6]) + 0.1)
            arrays[name] = rows
        elif case.op in ("_power", "broadcast_power") and name == "lhs":
            arrays[name] = rng.uniform(0.5, 2.0, size=shape)       # real powers need a base > 0
        else:
            arrays[name] = rng.standard_normal(shape)
    return names, arrays


def _objective(case: Case, opdef, params, names, arrays, n_args) -> Callable[[], float]:
    """A scalar function of the arrays (read at call time) whose gradient the backward emits."""
    def run():
        args = [arrays[n] for n in names[:n_args]]
        aux = [arrays[n] for n in names[n_args:]]
        outputs, _ = opdef.forward(args, aux, params, True)
        return outputs

    if case.objective == "softmax_output":
        label = arrays["label"]
        keep = np.ones(label.shape, dtype=bool)
        if params.get("use_ignore"):
            keep = label.astype(np.int64) != int(params["ignore_label"])
        data_shape = arrays["data"].shape
        if params.get("multi_output"):
            norm = {"valid": max(1, int(keep.sum())), "null": int(np.prod(data_shape[2:])),
                    "batch": int(np.prod(data_shape[2:])) * data_shape[0]}[params["normalization"]]
        else:
            norm = {"valid": max(1, int(keep.sum())), "null": 1, "batch": data_shape[0]}[params["normalization"]]

        def objective():
            prob = run()[0]
            if params.get("multi_output"):
                prob = prob.reshape(prob.shape[0], prob.shape[1], -1)
                lab = label.reshape(label.shape[0], -1).astype(np.int64)
                picked = np.take_along_axis(prob, np.clip(lab, 0, None)[:, None, :], axis=1)[:, 0, :]
                mask = keep.reshape(lab.shape)
            else:
                prob = prob.reshape(prob.shape[0], -1)
                lab = label.astype(np.int64)
                picked = prob[np.arange(prob.shape[0]), np.clip(lab, 0, None)]
                mask = keep
            return float(params.get("grad_scale", 1.0)) * float(np.sum(-np.log(picked) * mask)) / norm
        return objective, None

    if case.objective == "zero":          # BlockGrad: the graph sees a constant (stop gradient)
        return (lambda: 0.0), None

    if case.objective == "sum":           # make_loss: gradient ones, whatever the head gradient
        return (lambda: float(np.sum(run()[0]))), None

    if case.objective == "make_loss":
        x = arrays["data"]
        norm = {"valid": max(1, int(np.sum(x > params.get("valid_thresh", 0.0)))), "batch": x.shape[0],
                "null": 1}[params["normalization"]]
        return (lambda: float(params.get("grad_scale", 1.0)) * float(np.sum(run()[0])) / norm), None

    outputs = run()
    rng = np.random.default_rng(1)
    heads = [rng.standard_normal(o.shape) for o in outputs]
    return (lambda: float(sum(np.sum(o * g) for o, g in zip(run(), heads)))), heads


def run_case(case: Case, seed: int = 0) -> CaseResult:
    config = _describe(case)
    try:
        opdef = registry.get_op(case.op)
        params = opdef.parse_params(case.params)
        rng = np.random.default_rng(seed)
        names, arrays = _inputs_for(case, opdef, params, rng)
        n_args = len(opdef.inputs(params))
        objective, heads = _objective(case, opdef, params, names, arrays, n_args)
        args = [arrays[n] for n in names[:n_args]]
        aux = [arrays[n] for n in names[n_args:]]
        outputs, cache = opdef.forward(args, aux, params, True)
        if heads is None:
            heads = [np.ones_like(o) for o in outputs]
        grads = opdef.backward(heads, cache, params)
        worst = 0.0
        for name, grad in zip(names[:n_args], grads):
            if name == "label":
                continue
            x = arrays[name]
            numerical = numerical_gradient_of(objective, x)
            analytic = np.zeros_like(x) if grad is None else np.asarray(grad, dtype=np.float64)
            worst = max(worst, relative_error(analytic, numerical))
        return CaseResult(case.op, config, worst, worst <= THRESHOLD)
    except Exception as exc:  # reported in the table, never hidden
        return CaseResult(case.op, config, float("nan"), False, f"{type(exc).__name__}: {exc}")


def run_all(cases=CASES) -> list[CaseResult]:
    return [run_case(case, seed=i) for i, case in enumerate(cases)]
