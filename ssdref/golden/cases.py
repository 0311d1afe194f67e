"""The golden cases: the case catalogue's cases, each as a recipe for its inputs and a run to its outputs.

The cases are declared in the catalogue (`ssdref.cases`: `spec` for the §8 cases, `multibox` for
the seeded random ones, `layers`, `graphs`); this module gives each its golden name, seed, dtype,
tolerances and manifest fields, in manifest order. A case's `make_inputs(case)` builds its inputs
from the seed (portable: integer draws, uniform and normal draws and IEEE arithmetic only, never
NumPy's CPU-dispatched exp/log), and `run(case, inputs)` computes its outputs from given inputs,
so `verify` recomputes from the *stored* inputs. Op cases run the registry OpDef
(`ssdref.cases.case.run_op`) exactly as the graph does, forward and, where the op has one,
backward: gradients are outputs named `grad_<input>` for the head gradients stored as inputs
`head_grad_<output>` (loss ops ignore theirs, as in MXNet). Spec §8 cases keep the spec's names
(T3, D1, ...); a case whose op must refuse its input stores the inputs and an `error` entry
({type, match}) instead of outputs. The SSD300 case stores the image and the detections: its 26M
parameters are regenerated from `params.init` (`ssd300_arguments()`), and the manifest keeps
their sha256.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ssdref.cases.case import run_op, seeded_inputs
from ssdref.cases.graphs import (SSD300, TINY, parameters_sha256, ssd300_arguments,  # noqa: F401
                                 ssd300_inputs, ssd300_run, tiny_inputs, tiny_run)
from ssdref.cases.layers import GOLDEN, read_by
from ssdref.cases.multibox import PRIOR_NONSQUARE, RANDOM, random_multibox_inputs

EXACT = {"rtol": 0.0, "atol": 0.0}


class GoldenRecipe(NamedTuple):
    """One golden case: a catalogue case with its golden name, seed, dtype and manifest fields."""
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


Case = GoldenRecipe                 # its name before the catalogue (ssdref.golden.Case)


def _layer_inputs(case):
    """Seeded inputs, then one head gradient per output (the forward runs only for their shapes)."""
    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    layer = case.extra["layer"]
    inputs = seeded_inputs(case.op, case.params, layer.shapes, rng, dtype, label_classes=layer.label_classes)
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


def _layer_cases():
    """The catalogue's layer cases (ssdref.cases.layers) in both dtypes, seeded by their index."""
    cases = []
    for index, layer in enumerate(read_by(GOLDEN)):
        for dtype in ("float32", "float64"):
            label_exact = {"label": EXACT} if layer.op == "SoftmaxOutput" else {}
            cases.append(GoldenRecipe(f"{layer.name}_{dtype}", "op", layer.op, layer.params, index,
                                      dtype, _layer_inputs, _layer_run, tolerances=label_exact,
                                      extra={"layer": layer, "is_train": layer.is_train}))
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
    return [GoldenRecipe(c.name, "op", c.op, c.params, 0, dtype, _fixed_inputs(c.inputs), _op_run,
                 tolerances=OP_TOLERANCES[c.op], extra={"error": c.error} if c.error else {})
            for c in SPEC_CASES for dtype in c.dtypes]


def _multibox_cases():
    cases = _spec_cases()
    name, op, params, inputs = PRIOR_NONSQUARE
    cases.insert(2, GoldenRecipe(name, "op", op, params, 0, "float64", _fixed_inputs(inputs), _op_run))
    for dtype in ("float32", "float64"):
        for stem, op, params, seed in RANDOM:
            cases.append(GoldenRecipe(f"{stem}_{dtype}", "op", op, params, seed, dtype,
                                      random_multibox_inputs, _op_run, tolerances=OP_TOLERANCES[op]))
    return cases


# ---------------------------------------------------------------------------------------------
# Graph cases (ssdref.cases.graphs)

def _graph_cases():
    graph_tol = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}
    cases = [GoldenRecipe(f"tiny_ssd_train_step_{dtype}", "graph", "ssd_train_step", TINY, 0, dtype,
                  tiny_inputs, tiny_run,
                  tolerances=dict(graph_tol[dtype], cls_label_output=EXACT,
                                  det_out_output={"comparator": "detections"}),
                  extra={"is_train": True,
                         "description": "get_symbol_train(**get_config('tiny', 32, 3)); Xavier "
                                        "init; forward(is_train=True); backward() with default "
                                        "head gradients; inputs = every argument"})
             for dtype in ("float32", "float64")]
    cases.append(GoldenRecipe("ssd300_vgg16_reduced_detect", "graph", "ssd_detect", SSD300, 2, "float32",
                      ssd300_inputs, ssd300_run,
                      tolerances=dict(graph_tol["float32"], detection={"comparator": "detections"}),
                      extra={"is_train": False, "slow": True,
                             "description": "get_symbol(**get_config('vgg16_reduced', 300, 20)); "
                                            "parameters NOT stored: regenerate them with "
                                            "ssdref.golden.ssd300_arguments()"}))
    return cases


def declared_cases():
    """The one declared list of golden cases, in manifest order."""
    return [*_multibox_cases(), *_layer_cases(), *_graph_cases()]
