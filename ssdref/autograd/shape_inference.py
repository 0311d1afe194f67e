"""Shape and dtype inference over a Symbol graph: MXNet's infer_shape / infer_shape_partial / infer_type.

Mirrors: nnvm's InferShape/InferType passes and python/mxnet/symbol/symbol.py (1.9.1), spec
mxnet-graph-formats.md §3. Each op's OpDef.infer_shape deduces what it can from what is known
(weights from data, outputs from inputs); the graph repeats the passes until nothing changes, so
a shape learned late (a weight filled in by its consumer) reaches every node.
Conventions that bite:
- legacy shape semantics (MXNet 1.9.1 without numpy shape semantics): an unknown shape is `()`
  and an unknown dimension is 0, in what the user gives (kwargs, `__shape__`: Gluon declares
  `(64, 0, 3, 3)` and BatchNorm `(0,)`) and in the partial results; inference fills the zeros in,
  a shape with a 0 left over counts as unknown for completeness (infer_shape warns, simple_bind
  raises); Reshape's 0 ("copy this dim") is a parameter, not a shape, and keeps its meaning;
- a Variable's `__shape__` / `__dtype__` attr seeds inference, an explicit kwarg overrides it
  (a kwarg `()` is unknown and leaves the attr in force);
- incomplete `infer_shape` returns (None, None, None) with a UserWarning listing at most 10
  unknown arguments; unknown kwarg names are an error listing every input.
"""
from __future__ import annotations

import warnings

import numpy as np

from ssdref.autograd.graph import DTYPE_FLAGS, aux_variables
from ssdref.autograd.symbol import parse_shape_attr

_FLAG_DTYPES = {flag: dtype for dtype, flag in DTYPE_FLAGS.items()}


def _fmt(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _known(shape) -> bool:
    return shape is not None and len(shape) > 0 and all(d > 0 for d in shape)


def _merge_shape(old, new, where: str):
    """`old` refined with `new` (0 = unknown dim); None when nothing new; ValueError on conflict."""
    if new is None:
        return None
    new = tuple(int(d) for d in new)
    if old is None:
        return new
    if len(old) != len(new) or any(a and b and a != b for a, b in zip(old, new)):
        raise ValueError(f"{where}: expected {_fmt(new)}, got {_fmt(old)}")
    merged = tuple(a or b for a, b in zip(old, new))
    return merged if merged != old else None


def _merge_dtype(old, new, where: str):
    if new is None:
        return None
    new = np.dtype(new)
    if old is None:
        return new
    if old != new:
        raise TypeError(f"{where}: expected {new.name}, got {old.name}")
    return None


def propagate(nodes, seeds: dict, run_op, merge) -> dict:
    """Fixed point over the op nodes: `entry -> value` for every (node, output index) known.

    run_op(node, in_values, out_values) -> (in_values, out_values); merge(old, new, where) -> refined
    or None.
    """
    values = {(node, 0): seeds[node] for node in nodes if node.is_variable and node in seeds}
    ops = [node for node in nodes if not node.is_variable]
    changed = True
    while changed:
        changed = False
        for node in ops:
            in_values = [values.get(entry) for entry in node.inputs]
            out_values = [values.get((node, j)) for j in range(len(node.output_names()))]
            new_in, new_out = run_op(node, list(in_values), out_values)
            updates = [(entry, new, f"Incompatible attr in node {node.name} at {i}-th input")
                       for i, (entry, new) in enumerate(zip(node.inputs, new_in))]
            updates += [((node, j), new, f"Error in operator {node.name}: shape or type inconsistent "
                         f"at output {j}") for j, new in enumerate(new_out)]
            for entry, new, where in updates:
                refined = merge(values.get(entry), new, where)
                if refined is not None:
                    values[entry] = refined
                    changed = True
    return values


def _run_shape(node, in_shapes, out_shapes):
    try:
        if node.op.shape_from_output and out_shapes[0] is not None:
            for i in range(node.num_args()):
                in_shapes[i] = _merge_shape(out_shapes[0], in_shapes[i], f"input {i}") or out_shapes[0]
        new_in, out = node.op.infer_shape(in_shapes, node.params)
    except ValueError as exc:
        raise ValueError(f"Error in operator {node.name}: {exc}") from None
    return new_in, out


def _run_type(node, in_dtypes, out_dtypes):
    try:
        return node.op.run_infer_type(in_dtypes, node.params)
    except TypeError as exc:
        raise TypeError(f"Error in operator {node.name}: {exc}") from None


def graph_shapes(symbol, shapes: dict) -> tuple[list, dict]:
    """(nodes, entry -> shape): `shapes` maps input names to tuples, `__shape__` attrs seed the rest."""
    nodes = symbol._nodes()
    seeds = {}
    for node in nodes:
        if not node.is_variable:
            continue
        given = tuple(int(d) for d in shapes.get(node.name, ()))
        if not given and "__shape__" in node.attrs:  # nnvm reads the attr only for an unknown shape
            given = parse_shape_attr(node.attrs["__shape__"], node.name)
        if given:  # legacy semantics: `()` is an unknown shape, not a scalar
            seeds[node] = given
    try:
        return nodes, propagate(nodes, seeds, _run_shape, _merge_shape)
    except ValueError as exc:
        names = [node.name for node in nodes if node.is_variable]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if not repeated:
            raise
        # MXNet gives the same shape error; the cause is easier to see named.
        raise ValueError(f"{exc} (note: several variables share the name(s) {repeated}, and a "
                         f"shape given by name goes to each of them: argument names must be "
                         f"unique)") from None


def graph_dtypes(symbol, dtypes: dict) -> tuple[list, dict]:
    nodes = symbol._nodes()
    seeds = {}
    for node in nodes:
        if not node.is_variable:
            continue
        if node.name in dtypes:
            seeds[node] = np.dtype(dtypes[node.name])
        elif "__dtype__" in node.attrs:
            seeds[node] = _FLAG_DTYPES[int(node.attrs["__dtype__"])]
    return nodes, propagate(nodes, seeds, _run_type, _merge_dtype)


def _check_kwargs(symbol, args, kwargs, what: str):
    if args:
        raise ValueError(f"{what}: give inputs as keyword arguments (name=value); positional "
                         "arguments are not supported")
    inputs = symbol.list_inputs()
    for key in kwargs:
        if key not in inputs:
            listing = "".join(f"\n\t[{i}]{name}" for i, name in enumerate(inputs))
            raise ValueError(f"{what}Keyword argument name {key} not found.\nCandidate arguments:{listing}")


def _split(symbol, nodes, values):
    """Per-argument, per-output and per-aux values in list_* order."""
    aux = aux_variables(nodes)
    args = [values.get((n, 0)) for n in nodes if n.is_variable and n not in aux]
    auxs = [values.get((n, 0)) for n in nodes if n in aux]
    outs = [values.get(entry) for entry in symbol._outputs]
    return args, outs, auxs


def infer_shape(symbol, args, kwargs, partial: bool):
    """(arg_shapes, out_shapes, aux_shapes); see the module docstring for the unknown rules."""
    _check_kwargs(symbol, args, kwargs, "InferShape")
    for key, value in kwargs.items():
        if not isinstance(value, tuple):
            raise TypeError(f"Arguments need to be shapes (tuple), but '{key}' is {type(value)}.")
    nodes, values = graph_shapes(symbol, kwargs)
    arg_shapes, out_shapes, aux_shapes = _split(symbol, nodes, values)
    if partial:
        return tuple([s if s is not None else () for s in group]
                     for group in (arg_shapes, out_shapes, aux_shapes))
    aux = aux_variables(nodes)
    names = [n.name for n in nodes if n.is_variable and n not in aux] + [n.name for n in nodes if n in aux]
    unknown = [f"{name}: {s if s is not None else ()}"
               for name, s in zip(names, arg_shapes + aux_shapes) if not _known(s)]
    if unknown or not all(_known(s) for s in out_shapes):
        if len(unknown) > 10:
            unknown = unknown[:10] + ["..."]
        warnings.warn("Cannot decide shape for the following arguments (0s in shape means unknown "
                      "dimensions). Consider providing them as input:\n\t" + "\n\t".join(unknown),
                      stacklevel=3)
        return None, None, None
    return arg_shapes, out_shapes, aux_shapes


def infer_type(symbol, args, kwargs):
    """(arg_types, out_types, aux_types) as numpy type classes (`numpy.float32`)."""
    _check_kwargs(symbol, args, kwargs, "InferType")
    nodes, values = graph_dtypes(symbol, kwargs)
    groups = _split(symbol, nodes, values)
    if any(t is None for group in groups for t in group):
        aux = aux_variables(nodes)
        names = [n.name for n in nodes if n.is_variable and n not in aux]
        unknown = [f"{name}: None" for name, t in zip(names, groups[0]) if t is None]
        warnings.warn("Cannot decide type for the following arguments. Consider providing them as "
                      "input:\n\t" + "\n\t".join(unknown[:10] + (["..."] if len(unknown) > 10 else [])),
                      stacklevel=3)
        return None, None, None
    return tuple([t.type for t in group] for group in groups)
