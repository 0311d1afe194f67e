"""A node replayed alone by the runtime on ssdref's inputs, and whether a near tie upstream explains
a discrete difference."""
from __future__ import annotations

import numpy as np

from ssdref.divergence.results import OP, NearTie, Replay
from ssdref.divergence.runtime import run_model, tensor_error, value_infos


# ------------------------------------------------------------------------- replay and ties
def replay_model(model, tensor: str, known: dict, infos: dict | None = None):
    """The nodes that compute `tensor` from tensors in `known` (fed as inputs) and initializers."""
    from onnx import helper

    graph = model.graph
    infos = value_infos(model) if infos is None else infos
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {t.name: t for t in graph.initializer}
    needed, inputs, stack = set(), [], [tensor]
    target = producer[tensor]
    while stack:
        node = producer[stack.pop()]
        if id(node) in needed:
            continue
        needed.add(id(node))
        for source in node.input:
            if not source or source in initializers or source in inputs:
                continue
            if source in known:
                inputs.append(source)
            elif source in producer:
                stack.append(source)
            else:
                raise ValueError(f"{OP}: replay of {tensor}: no value for the graph input {source}")
    nodes = [n for n in graph.node if id(n) in needed]
    used = {s for n in nodes for s in n.input}
    sub = helper.make_graph(
        nodes, "replay",
        [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.asarray(known[name]).dtype),
                                       list(np.shape(known[name]))) for name in inputs],
        [infos[out] if out in infos else helper.make_tensor_value_info(out, 1, None)
         for out in target.output if out],
        [initializers[n] for n in sorted(used) if n in initializers])
    replay = helper.make_model(sub, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return replay, {name: np.asarray(known[name]) for name in inputs}


def replay_node(model, result, reference, runtime, rtol, infos) -> Replay:
    known = {t: v for t, v in reference.items() if t != result.tensor}
    sub, feeds = replay_model(model, result.tensor, known, infos)
    got = run_model(sub, feeds, runtime)[result.tensor]
    _, error = tensor_error(got, reference[result.tensor])
    tolerance = 0.0 if result.kind == "discrete" else rtol
    matches = error <= tolerance
    if result.kind == "discrete":
        verdict = ("upstream rounding: on ssdref's inputs the op gives ssdref's output" if matches else
                   "this op differs: on ssdref's own inputs it gives another output")
    else:
        verdict = ("the op agrees on ssdref's inputs: the error grew from upstream differences"
                   if matches else "this op differs: on ssdref's own inputs its output is beyond tolerance")
    return Replay(result.node, result.op, error, tolerance, matches, verdict)


def find_near_tie(model, result, reference, actual) -> NearTie:
    """Whether the candidates swapped by a discrete op are closer in ssdref than the upstream error."""
    node = next(n for n in model.graph.node if result.tensor in n.output)
    source = node.input[0] if node.input else ""
    if source not in reference or source not in actual:
        return NearTie(None, f"{node.op_type}: ssdref has no value of its input {source}")
    ref_in, run_in = np.asarray(reference[source], np.float64), np.asarray(actual[source], np.float64)
    if ref_in.shape != run_in.shape:
        return NearTie(None, f"{node.op_type}: its input {source} has another shape in the runtime")
    upstream = np.abs(run_in - ref_in)
    ref_out, run_out = reference[result.tensor], np.asarray(actual[result.tensor])
    pairs = []                   # (gap in ssdref, upstream error on the two candidates)
    if node.op_type == "ArgMax" and ref_out.shape == run_out.shape:
        for b, a in zip(*np.nonzero(ref_out != run_out)):
            c_ref, c_run = ref_out[b, a], run_out[b, a]
            pairs.append((abs(ref_in[b, c_ref, a] - ref_in[b, c_run, a]), upstream[b, c_ref, a] + upstream[b, c_run, a]))
    elif node.op_type == "TopK" and result.tensor == node.output[1] and ref_out.shape == run_out.shape:
        for b, k in zip(*np.nonzero(ref_out != run_out)):
            a_ref, a_run = ref_out[b, k], run_out[b, k]
            pairs.append((abs(ref_in[b, a_ref] - ref_in[b, a_run]), upstream[b, a_ref] + upstream[b, a_run]))
    elif node.op_type in ("GreaterOrEqual", "Greater", "Less", "LessOrEqual") and len(node.input) > 1:
        from onnx import numpy_helper
        consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        if node.input[1] in consts and ref_out.shape == run_out.shape:
            threshold = np.asarray(consts[node.input[1]], np.float64)
            for index in zip(*np.nonzero(ref_out != run_out)):
                pairs.append((float(np.abs(ref_in[index] - threshold).max()), upstream[index]))
    if not pairs:
        return NearTie(None, f"{node.op_type}: not an op whose ties are measured here (the replay decides)")
    explained = all(gap <= err and err > 0 for gap, err in pairs)
    gap, err = max(pairs, key=lambda p: p[0] - p[1])
    return NearTie(explained, f"{len(pairs)} flipped candidate(s) in {node.op_type}; worst: gap in ssdref "
                              f"{gap:.3g} vs runtime's upstream error {err:.3g} on its input {source}"
                              + (" (near tie)" if explained else " (not a near tie)"))
