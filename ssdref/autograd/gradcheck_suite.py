"""The gradient checks run by `ssdref gradcheck` (and the demo's first table), over the case catalogue.

Every op with a backward is checked through its registry OpDef, in float64, against central
differences of the objective its backward differentiates:
- ordinary ops: L = <g, y> for a random head gradient g (the op's backward uses g);
- loss ops with MXNet's custom backward (SoftmaxOutput, MakeLoss), which ignore g: the scalar
  objective whose derivative MXNet emits (spec §4), with the normalizer held at its base value:
  SoftmaxOutput: grad_scale * sum over non-ignored positions of -log p[label] / normalizer;
  MakeLoss:      grad_scale * sum(x) / normalizer;  make_loss: sum(x);
- BlockGrad: the constant 0 (it stops the gradient).
The configurations are the catalogue's layer cases (`ssdref.cases.layers`, those read by
'gradcheck'), seeded by their index, so the table is reproducible bit for bit.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ssdref.autograd import registry
from ssdref.autograd.gradcheck import numerical_gradient_of, relative_error
from ssdref.cases.case import seeded_inputs
from ssdref.cases.layers import GRADCHECK, Layer, read_by

THRESHOLD = 1e-6


class CaseResult(NamedTuple):
    op: str
    config: str
    worst_error: float
    passed: bool
    error: str = ""


# The checked configurations: the catalogue's layer cases read by the gradient checks
# (ssdref.cases.layers, uses 'gradcheck'), each seeded by its index here.
CASES: tuple[Layer, ...] = read_by(GRADCHECK)

# The objective a loss op's backward differentiates (module docstring); every other op: 'head'.
OBJECTIVES = {"SoftmaxOutput": "softmax_output", "MakeLoss": "make_loss", "make_loss": "sum",
              "BlockGrad": "zero"}


def _describe(case: Layer) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in case.params.items())
    shapes = " ".join(f"{k}{list(v)}" for k, v in case.shapes.items())
    return f"{shapes} {shown}".strip()


def _inputs_for(case: Layer, opdef, params, rng):
    """The catalogue's seeded inputs in float64 (`seeded_inputs`); box_nms gets well-formed rows
    [id, score, x0, y0, x1, y1] with distinct scores, so that no suppression sits at a tie."""
    names = opdef.all_inputs(params)
    arrays = seeded_inputs(case.op, case.params, case.shapes, rng, np.float64,
                           label_classes=case.label_classes)
    if case.op == "_contrib_box_nms":
        rows = rng.uniform(0, 1, size=arrays["data"].shape)
        rows[..., 2:4], rows[..., 4:6] = (np.minimum(rows[..., 2:4], rows[..., 4:6]),
                                          np.maximum(rows[..., 2:4], rows[..., 4:6]) + 0.1)
        arrays["data"] = rows
    return names, arrays


def _objective(case: Layer, opdef, params, names, arrays, n_args) -> Callable[[], float]:
    """A scalar function of the arrays (read at call time) whose gradient the backward emits."""
    def run():
        args = [arrays[n] for n in names[:n_args]]
        aux = [arrays[n] for n in names[n_args:]]
        outputs, _ = opdef.forward(args, aux, params, True)
        return outputs

    objective = OBJECTIVES.get(case.op, "head")
    if objective == "softmax_output":
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

    if objective == "zero":          # BlockGrad: the graph sees a constant (stop gradient)
        return (lambda: 0.0), None

    if objective == "sum":           # make_loss: gradient ones, whatever the head gradient
        return (lambda: float(np.sum(run()[0]))), None

    if objective == "make_loss":
        x = arrays["data"]
        norm = {"valid": max(1, int(np.sum(x > params.get("valid_thresh", 0.0)))), "batch": x.shape[0],
                "null": 1}[params["normalization"]]
        return (lambda: float(params.get("grad_scale", 1.0)) * float(np.sum(run()[0])) / norm), None

    outputs = run()
    rng = np.random.default_rng(1)
    heads = [rng.standard_normal(o.shape) for o in outputs]
    return (lambda: float(sum(np.sum(o * g) for o, g in zip(run(), heads)))), heads


def run_case(case: Layer, seed: int = 0) -> CaseResult:
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
