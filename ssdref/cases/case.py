"""One op case of the catalogue, and `run_op`: how the golden set and the gradient checks run one.

A `Case` is one op call, the unit every consumer runs: the MXNet operator name, its parameters,
named inputs (arguments) and aux states, train or inference, and one head gradient per visible
output for the backward. The conformance generators draw Cases, the §8 spec cases and the MXNet
recording turn into Cases (`ssdref.backends.mxnet.run_op` runs one on ssdref or on MXNet).
Declared cases that are recipes rather than arrays (a seeded layer configuration, a graph) say
how their inputs are made (`seeded_inputs`), and `run_op` runs one through its registry OpDef
exactly as the graph does.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Case(NamedTuple):
    op: str                    # MXNet operator name (as in JSON)
    params: dict
    inputs: dict               # name -> array, declared order
    aux: dict                  # aux state name -> array
    is_train: bool
    out_grads: list | None     # one head gradient per visible output
    backward: bool = True

    @property
    def dtype(self):
        if not self.inputs:          # _arange: no inputs, its dtype is an argument
            return np.dtype(self.params.get("dtype", "float32"))
        return next(iter(self.inputs.values())).dtype


def _opdef(op):
    from ssdref.autograd import registry
    return registry.get_op(op)


def run_op(op, params, inputs, *, is_train=True, head_grads=None):
    """(outputs dict, gradient dict) of registry op `op` on named `inputs` (args then aux).

    With `head_grads` ({output name: array}) and an op with a backward, the gradients come back
    as `grad_<input>` (zeros where the op passes none), and, in training, the updated aux states
    as `updated_<aux>`."""
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


def seeded_inputs(op, params, shapes, rng, dtype, *, label_classes=3):
    """Seeded inputs for every input of `op`: shapes given or inferred; values kept in-domain.

    Portable draws only (integers, uniform, normal; no exp/log): the golden set stores what this
    gives, so a change here changes golden files (`ssdref golden generate` would show it)."""
    opdef = _opdef(op)
    parsed = opdef.parse_params(params)
    names = opdef.all_inputs(parsed)
    known = [tuple(shapes[n]) if n in shapes else None for n in names]
    known, _ = opdef.infer_shape(known, parsed)
    arrays = {}
    for name, shape in zip(names, known):
        if shape is None:
            raise ValueError(f"{op}: cannot infer the shape of input {name!r} from {shapes}")
        if name == "label":
            low = -1 if parsed.get("use_ignore") else 0
            arrays[name] = rng.integers(low, label_classes, size=shape).astype(dtype)
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
