"""`ssdref divergence MODEL.onnx`: the first node where another runtime departs from ssdref, and why.

Not an MXNet operator: the oracle's tool for a port. It takes an ONNX model written by
`ssdref export-onnx` (onnx_export.py), exposes every node output as a graph output, runs it in a
runtime (ONNX Runtime or TVM), runs the same network in ssdref, and compares tensor by tensor in
graph order:
  * float tensors: error = max|runtime - ssdref| / max|ssdref| against `rtol` (default 1e-4);
  * discrete tensors (indices, masks, classes: int and bool): exact, error = elements that differ.
It reports the first float tensor beyond its tolerance, the first discrete tensor that differs and
whether an upstream near-tie explains it (the two candidates' ssdref values are closer than the
runtime's upstream error on them), and a replay: that node alone, run by the runtime on ssdref's
inputs. A replay equal to ssdref says the rounding came from upstream; a replay that differs says
this op differs. Exit status 0: no divergence (discrete flips that replay as upstream rounding and
what follows from them are reported, not counted); 1: a divergence; 2: a usage error.

Names: the export calls each ONNX tensor `<hint>__<n>`, the hint being the MXNet node's name for
the node's main output and parameters (`conv1_1__4`, `conv1_1_weight__3`), an ONNX op type for the
pieces of decomposed ops and for Pooling (`MaxPool__6`). Automatic names (`transpose3`) depend on
what the exporting process built before, so tensors are matched to MXNet nodes structurally
(`map_tensors`), from the detection head back to `data`; parameters by name. The detection head is
decomposed; its steps are found by op type (ArgMax = class, TopK, NonMaxSuppression, ...) and
ssdref computes each step itself from its cls_prob and loc_preds with the 'onnx' preset's semantics.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from typing import NamedTuple

import numpy as np

RUNTIMES = ("onnxruntime", "tvm")
DEFAULT_RTOL = 1e-4
_OP = "divergence"
_STEM = re.compile(r"__\d+$")
_DETECTION_OP = "_contrib_MultiBoxDetection"
_REVERSED_SCALAR = ("_rminus_scalar", "_rdiv_scalar")


def stem(tensor_name: str) -> str:
    """The hint an export tensor was named after: `conv1_1__4` -> `conv1_1`."""
    return _STEM.sub("", tensor_name)


class NodeResult(NamedTuple):
    """One compared tensor, in graph order."""
    index: int            # position of its ONNX node in the graph
    tensor: str           # the ONNX tensor name
    node: str             # the MXNet node (or `detection:<step>`) it stands for
    op: str               # the ONNX op type
    kind: str             # 'float' or 'discrete'
    error: float          # float: max|diff| / max|ssdref|; discrete: differing elements (inf: shapes)
    tolerance: float      # float: rtol; discrete: 0
    downstream_of: str    # '' or the discrete difference it follows from

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance


class Replay(NamedTuple):
    """A node run alone by the runtime on ssdref's inputs, compared with ssdref's output."""
    node: str
    op: str
    error: float
    tolerance: float
    matches: bool
    verdict: str


class NearTie(NamedTuple):
    explained: bool | None     # None: the op is not one whose ties can be measured
    detail: str


class DivergenceReport(NamedTuple):
    runtime: str
    results: list
    first_float: NodeResult | None
    first_discrete: NodeResult | None
    near_tie: NearTie | None
    replay_float: Replay | None
    replay_discrete: Replay | None
    notes: list

    @property
    def exit_code(self) -> int:
        if self.first_float is not None:
            return 1
        if self.first_discrete is not None and not (self.replay_discrete and self.replay_discrete.matches):
            return 1
        return 0

    def format(self, show_all=False) -> str:
        return format_report(self, show_all)


# ------------------------------------------------------------------------- ssdref's side
def detection_steps(cls_prob, loc_pred, anchors, *, threshold=0.01, nms_threshold=0.5, nms_topk=-1,
                    force_suppress=False, clip=True, variances=(0.1, 0.1, 0.2, 0.2)) -> dict:
    """ssdref's value of every step of the exported MultiBoxDetection (the 'onnx' preset), by name.

    cls_prob (B, C, A), loc_pred (B, 4A), anchors (A, 4). Steps: loc (B, A, 4), boxes (B, A, 4),
    foreground (B, C-1, A), score (B, A), class (B, A) int64 (first maximum), keep_threshold
    (score >= threshold), with 0 < nms_topk < A: ranked, topk_values, topk_indices (stable: ties
    lower anchor first), in_top, in_top_mask, keep; then kept_score, class_scores (B, C-1 or 1, A),
    selected (K, 3) [batch, class, anchor] (greedy NMS, IoU > threshold suppresses), detections (K, 7).
    """
    from ssdref.multibox.boxes import clip_boxes, decode, iou_matrix

    f32 = np.float32
    batch, num_classes, num_anchors = cls_prob.shape
    loc = loc_pred.reshape(batch, num_anchors, 4)
    boxes = np.stack([decode(anchors, loc[b], variances) for b in range(batch)])
    if clip:
        boxes = np.stack([clip_boxes(b) for b in boxes])
    foreground = cls_prob[:, 1:]
    score = foreground.max(axis=1)
    best_class = np.argmax(foreground, axis=1).astype(np.int64)
    keep = score >= f32(threshold)
    steps = dict(loc=loc, boxes=boxes, foreground=foreground, score=score, **{"class": best_class},
                 keep_threshold=keep)
    if 0 < nms_topk < num_anchors:
        ranked = np.where(keep, score, f32(-1))
        top = np.argsort(-ranked, axis=1, kind="stable")[:, :nms_topk]
        in_top = np.zeros((batch, num_anchors), f32)
        np.put_along_axis(in_top, top, f32(1), axis=1)
        keep = keep & (in_top > 0)
        steps.update(ranked=ranked, topk_values=np.take_along_axis(ranked, top, 1),
                     topk_indices=top.astype(np.int64), in_top=in_top, in_top_mask=in_top > 0, keep=keep)
    kept_score = np.where(keep, score, f32(-1))
    if force_suppress:
        class_scores = kept_score[:, None, :]
    else:
        is_class = best_class[:, None, :] == np.arange(num_classes - 1)[None, :, None]
        class_scores = np.where(is_class, kept_score[:, None, :], f32(-1))
    iou_threshold = nms_threshold if 0 < nms_threshold <= 1 else 1.0
    selected = []
    for b in range(batch):
        for c in range(class_scores.shape[1]):
            scores = class_scores[b, c]
            candidates = np.flatnonzero(scores > 0)        # NonMaxSuppression score_threshold 0: >
            order = candidates[np.argsort(-scores[candidates], kind="stable")]
            alive = np.ones(order.size, bool)
            for i in range(order.size):
                if alive[i]:
                    selected.append((b, c, order[i]))
                    iou = iou_matrix(boxes[b, order[i:i + 1]], boxes[b, order[i + 1:]],
                                     nonpositive_union_zero=True)[0]
                    alive[i + 1:] &= ~(iou > iou_threshold)
    selected = np.array(selected, np.int64).reshape(-1, 3)
    b, a = selected[:, 0], selected[:, 2]
    class_id = best_class[b, a] if force_suppress else selected[:, 1]
    detections = np.column_stack([b.astype(f32), class_id.astype(f32), kept_score[b, a], boxes[b, a]])
    steps.update(kept_score=kept_score, class_scores=class_scores, selected=selected,
                 detections=detections.astype(f32).reshape(-1, 7))
    return steps


def ssdref_node_values(symbol, arg_params, aux_params, data) -> tuple[dict, dict]:
    """({MXNet node: output 0} of every op node except the detection, {step: value} of the detection)."""
    params = {**arg_params, **aux_params}
    values, outputs, detection = {}, {}, None
    for node in symbol._nodes():
        if node.is_variable:
            if node.name != "data" and node.name not in params:
                raise ValueError(f"{_OP}: parameter {node.name} is missing")
            values[(node, 0)] = data if node.name == "data" else np.asarray(params[node.name], np.float32)
            continue
        if node.op.name == _DETECTION_OP:
            detection = node
            continue
        num_args = node.num_args()
        outs, _ = node.op.forward([values[e] for e in node.inputs[:num_args]],
                                  [values[e] for e in node.inputs[num_args:]], node.params, False)
        for j, out in enumerate(outs):
            values[(node, j)] = out
        outputs[node] = outs[0]
    if detection is None:
        raise ValueError(f"{_OP}: the symbol has no {_DETECTION_OP} node")
    cls_prob, loc_pred, anchors = (values[e] for e in detection.inputs[:3])
    p = detection.params
    steps = detection_steps(cls_prob, loc_pred, anchors.reshape(-1, 4), threshold=p["threshold"],
                            nms_threshold=p["nms_threshold"], nms_topk=p["nms_topk"],
                            force_suppress=p["force_suppress"], clip=p["clip"], variances=p["variances"])
    return outputs, steps


# ------------------------------------------------------------------------- the name mapping
def _detection_tensors(graph) -> dict:
    """{step name: ONNX tensor} of the exported detection head, found by op type."""
    def nodes(op_type):
        return [n for n in graph.node if n.op_type == op_type]

    tensors = {}
    argmax = nodes("ArgMax")
    if len(argmax) != 1 or len(nodes("NonMaxSuppression")) != 1:
        raise ValueError(f"{_OP}: the model must have the one ArgMax and NonMaxSuppression of an "
                         f"ssdref export's detection head, got {len(argmax)} and "
                         f"{len(nodes('NonMaxSuppression'))}")
    tensors["class"], tensors["foreground"] = argmax[0].output[0], argmax[0].input[0]
    score = next(n.output[0] for n in nodes("ReduceMax") if stem(n.output[0]) == "score")
    tensors["score"] = score
    tensors["keep_threshold"] = nodes("GreaterOrEqual")[0].output[0]
    loc = [n.output[0] for n in nodes("Reshape") if stem(n.output[0]) == "loc"]
    if loc:
        tensors["loc"] = loc[-1]
    for topk in nodes("TopK"):
        tensors.update(ranked=topk.input[0], topk_values=topk.output[0], topk_indices=topk.output[1])
        tensors["in_top"] = nodes("ScatterElements")[0].output[0]
        tensors["in_top_mask"] = next(n.output[0] for n in nodes("Greater") if n.input[0] == tensors["in_top"])
        tensors["keep"] = nodes("And")[0].output[0]
    tensors["kept_score"] = [n.output[0] for n in nodes("Where") if n.input[1] == score][-1]
    nms = nodes("NonMaxSuppression")[0]
    tensors.update(boxes=nms.input[0], class_scores=nms.input[1], selected=nms.output[0])
    final = next((n for n in graph.node if "detections" in n.output), None)
    if final is not None:
        tensors["detections"] = final.input[0]
    return tensors


def _data_input(consumer, onnx_node, i, producer):
    """The ONNX tensor that is input i of MXNet node `consumer`, exported as `onnx_node` (its output)."""
    op = consumer.op.name
    if op == "Pooling":             # MaxPool(x), or Div/Mul(AveragePool(Pad(x))): follow to x
        while onnx_node is not None and onnx_node.op_type not in ("MaxPool", "Pad"):
            onnx_node = producer.get(onnx_node.input[0])
        return onnx_node.input[0] if onnx_node is not None and i == 0 else None
    if op == "FullyConnected" and i == 0 and consumer.params.get("flatten", True):
        flat = producer.get(onnx_node.input[0])
        return flat.input[0] if flat is not None and flat.op_type == "Flatten" else None
    if op == "BatchNorm" and i == 1 and consumer.params.get("fix_gamma"):
        return None                 # gamma was replaced by a constant of ones
    j = 1 - i if op in _REVERSED_SCALAR else i
    return onnx_node.input[j] if j < len(onnx_node.input) else None


def map_tensors(model, symbol) -> dict:
    """{ONNX tensor: MXNet op node or detection step name} for an ssdref export of `symbol`.

    Structural, so it does not depend on automatic names (`transpose3`) matching between the
    process that exported and this one: from the detection head's inputs (cls_prob = the input of
    the class Slice, loc_preds = the input of the `loc` Reshape), each mapped MXNet node's data
    inputs are the inputs of its ONNX node, walked back to `data`. MXNet nodes the walk cannot
    reach (the anchors' Flatten/Concat, whose values the export keeps as a constant) are matched
    by name, `<node name>__<n>`, when the walk found the export's names equal to the symbol's.
    """
    graph = model.graph
    steps = _detection_tensors(graph)
    producer = {out: node for node in graph.node for out in node.output}
    detection = next(n for n in symbol._nodes() if not n.is_variable and n.op.name == _DETECTION_OP)
    tensor_of = {}
    loc_reshape = producer.get(steps.get("loc", ""))
    stack = [(detection.inputs[0][0], producer[steps["foreground"]].input[0])]
    if loc_reshape is not None:
        stack.append((detection.inputs[1][0], loc_reshape.input[0]))
    while stack:
        node, tensor = stack.pop()
        if node.is_variable or node in tensor_of or tensor not in producer:
            continue
        tensor_of[node] = tensor
        for i, (source, _) in enumerate(node.inputs[:node.num_args()]):
            if not source.is_variable and source.op.name != "_contrib_MultiBoxPrior":
                found = _data_input(node, producer[tensor], i, producer)
                if found is not None:
                    stack.append((source, found))
    claimed = set(tensor_of.values())
    by_name = {n.name: n for n in symbol._nodes() if not n.is_variable and n.op.name != _DETECTION_OP}
    names_agree = all(stem(t) == n.name for n, t in tensor_of.items() if not stem(t)[:1].isupper())
    for onnx_node in graph.node if names_agree else ():     # else automatic names were counted apart
        for out in onnx_node.output:
            node = by_name.get(stem(out))
            if node is not None and node not in tensor_of and out not in claimed:
                tensor_of[node] = out
    mapping = {tensor: node for node, tensor in tensor_of.items()}
    mapping.update({tensor: f"detection:{step}" for step, tensor in steps.items()})
    return mapping


def params_from_initializers(model, symbol) -> tuple[dict, dict]:
    """The symbol's parameters, read back from the export's initializers (`<param>__<n>`)."""
    from onnx import numpy_helper

    by_stem = {stem(t.name): t for t in model.graph.initializer}
    args, aux = {}, {}
    aux_names = set(symbol.list_auxiliary_states())
    for name in symbol.list_arguments() + symbol.list_auxiliary_states():
        if name == "data":
            continue
        if name not in by_stem:
            raise ValueError(f"{_OP}: parameter {name} has no initializer {name}__<n> in the model; "
                             f"give --params PREFIX --epoch N")
        (aux if name in aux_names else args)[name] = numpy_helper.to_array(by_stem[name])
    return args, aux


# ------------------------------------------------------------------------- the runtime's side
def with_all_outputs(model):
    """A copy of the model whose graph outputs are every node output (existing ones first)."""
    import onnx
    from onnx import TensorProto, helper

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    inferred = value_infos(model)
    present = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for out in node.output:
            if out and out not in present:
                exposed.graph.output.append(inferred[out] if out in inferred else
                                            helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
                present.add(out)
    return exposed


def run_model(model, feeds: dict, runtime: str) -> dict:
    """{output name: array} of one run of a ModelProto in `runtime` (a name, or your own callable
    `runtime(model, feeds) -> {output name: array}` for a runtime ssdref does not know)."""
    if callable(runtime):
        return dict(runtime(model, feeds))
    if runtime == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds)))
    if runtime == "tvm":
        from ssdref.backends import tvm
        return tvm.run_onnx(model, feeds)
    raise ValueError(f"{_OP}: runtime must be one of {RUNTIMES}, got {runtime!r}")


def _error(actual, expected) -> tuple[str, float]:
    actual, expected = np.asarray(actual), np.asarray(expected)
    discrete = not np.issubdtype(expected.dtype, np.floating)
    kind = "discrete" if discrete else "float"
    if actual.shape != expected.shape:
        return kind, float("inf")
    if discrete:
        return kind, float(np.count_nonzero(actual.astype(expected.dtype) != expected))
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same = (a == e) | (np.isnan(a) & np.isnan(e))
    if not same.all() and not np.isfinite(np.where(same, 0, a - e)).all():
        return kind, float("inf")
    diff = np.where(same, 0.0, np.abs(a - e))
    finite = np.abs(e[np.isfinite(e)])
    scale = max(float(finite.max()) if finite.size else 0.0, np.finfo(np.float32).tiny)
    return kind, float(diff.max(initial=0.0) / scale)


# ------------------------------------------------------------------------- replay and ties
def value_infos(model) -> dict:
    """{tensor: ValueInfoProto (element type, shape)} of node outputs, from ONNX shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    return {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}


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
                raise ValueError(f"{_OP}: replay of {tensor}: no value for the graph input {source}")
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


def _replay(model, result, reference, runtime, rtol, infos) -> Replay:
    known = {t: v for t, v in reference.items() if t != result.tensor}
    sub, feeds = replay_model(model, result.tensor, known, infos)
    got = run_model(sub, feeds, runtime)[result.tensor]
    _, error = _error(got, reference[result.tensor])
    tolerance = 0.0 if result.kind == "discrete" else rtol
    matches = error <= tolerance
    if result.kind == "discrete":
        verdict = ("upstream rounding: on ssdref's inputs the op gives ssdref's output" if matches else
                   "this op differs: on ssdref's own inputs it gives another output")
    else:
        verdict = ("the op agrees on ssdref's inputs: the error grew from upstream differences"
                   if matches else "this op differs: on ssdref's own inputs its output is beyond tolerance")
    return Replay(result.node, result.op, error, tolerance, matches, verdict)


def _near_tie(model, result, reference, actual) -> NearTie:
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


# ------------------------------------------------------------------------- the whole comparison
def _initializer_values(model) -> dict:
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _data_shape(model) -> tuple:
    entry = next((i for i in model.graph.input if i.name == "data"), None)
    if entry is None:
        raise ValueError(f"{_OP}: the model has no input 'data' (not an ssdref export of an SSD)")
    return tuple(d.dim_value for d in entry.type.tensor_type.shape.dim)


def find_symbol(model, network=None):
    """The deploy symbol whose parameters are the model's initializers (names and shapes)."""
    from ssdref.autograd.naming import NameManager
    from ssdref.model import get_config, get_symbol
    from ssdref.model.config import CONFIG_NAMES

    shape = _data_shape(model)
    consts = _initializer_values(model)
    argmax = [n for n in model.graph.node if n.op_type == "ArgMax"]
    slice_node = next((n for n in model.graph.node if argmax and argmax[0].input[0] in n.output), None)
    if slice_node is None or slice_node.op_type != "Slice" or slice_node.input[2] not in consts:
        raise ValueError(f"{_OP}: no detection head of an ssdref export found (ArgMax over a Slice of cls_prob)")
    num_classes = int(consts[slice_node.input[2]].reshape(-1)[0])
    params = {stem(name): value.shape for name, value in consts.items()}
    config_log = logging.getLogger("ssdref.model.config")
    for name in [network] if network else CONFIG_NAMES:
        disabled, config_log.disabled = config_log.disabled, network is None   # no "untested size" noise
        try:
            with NameManager():     # automatic names counted from 0, as in a fresh `export-onnx`
                symbol = get_symbol(**get_config(name, shape[2], num_classes=num_classes - 1))
            arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
        except (ValueError, NotImplementedError):
            continue
        finally:
            config_log.disabled = disabled
        wanted = dict(zip(symbol.list_arguments(), arg_shapes))
        wanted.update(zip(symbol.list_auxiliary_states(), aux_shapes))
        wanted.pop("data")
        if all(params.get(k) == tuple(v) for k, v in wanted.items()):
            return symbol
    raise ValueError(f"{_OP}: no known network ({network or ', '.join(CONFIG_NAMES)}) at data shape "
                     f"{shape[2]} with {num_classes - 1} classes has this model's parameters; give "
                     f"--params PREFIX --epoch N with the checkpoint's symbol")


def default_input(shape, seed=0) -> np.ndarray:
    """A synthetic-shapes test image, normalized, repeated over the batch: float32 (B, 3, S, S)."""
    from ssdref.data.shapes import make_images, normalize
    image = normalize(make_images(1, shape[2], seed=seed, split="test")[0])
    return np.ascontiguousarray(np.repeat(image, shape[0], axis=0))


def divergence(model, runtime="onnxruntime", *, symbol=None, arg_params=None, aux_params=None, data=None,
               rtol=DEFAULT_RTOL, network=None, seed=0) -> DivergenceReport:
    """Compare every tensor of an ssdref ONNX export run in `runtime` with ssdref, in graph order.

    model: a ModelProto or a path. runtime: 'onnxruntime', 'tvm', or a callable
    `runtime(model, feeds) -> {output name: array}`. symbol / arg_params / aux_params: ssdref's side (default: the
    known network matching the model, with the model's own initializers as parameters). data: the
    input (B, 3, S, S) float32 (default: a seeded synthetic-shapes image).
    """
    import onnx

    if not callable(runtime) and runtime not in RUNTIMES:
        raise ValueError(f"{_OP}: runtime must be one of {RUNTIMES} or a callable, got {runtime!r}")
    if isinstance(model, (str, os.PathLike)):
        try:
            model = onnx.load(os.fspath(model))
        except OSError:
            raise
        except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
            raise ValueError(f"{_OP}: model {os.fspath(model)} is not an ONNX model "
                             f"({type(exc).__name__}: {exc})") from None
    shape = _data_shape(model)
    symbol = find_symbol(model, network) if symbol is None else symbol
    notes = []
    own_args, own_aux = params_from_initializers(model, symbol)
    if arg_params is None:
        arg_params, aux_params = own_args, own_aux
        notes.append("ssdref runs the model's own initializers as its parameters")
    else:
        aux_params = aux_params or {}
        for name, value in {**own_args, **own_aux}.items():
            given = np.asarray({**arg_params, **aux_params}.get(name, value), np.float32)
            _, error = _error(value, given)
            if error > 0:
                notes.append(f"initializer {name} differs from ssdref's parameter: relative error {error:.3g}")
    data = default_input(shape, seed) if data is None else np.ascontiguousarray(data, np.float32)
    if data.shape != shape:
        raise ValueError(f"{_OP}: the input must have the model's shape {shape}, got {data.shape}")

    outputs, steps = ssdref_node_values(symbol, arg_params, aux_params, data)
    reference, labels = {"data": data}, {}
    for tensor, target in map_tensors(model, symbol).items():
        value = steps.get(target.split(":", 1)[1]) if isinstance(target, str) else outputs.get(target)
        if value is not None:
            reference[tensor], labels[tensor] = value, target if isinstance(target, str) else target.name
    actual = run_model(with_all_outputs(model), {"data": data}, runtime)

    results, tainted, first_discrete = [], set(), None
    for index, node in enumerate(model.graph.node):
        upstream = next((t for t in node.input if t in tainted), None)
        for out in node.output:
            if upstream is not None:
                tainted.add(out)
            if out not in labels or out not in actual:
                continue
            kind, error = _error(actual[out], reference[out])
            result = NodeResult(index, out, labels[out], node.op_type, kind, error,
                                0.0 if kind == "discrete" else rtol,
                                labels[first_discrete.tensor] if first_discrete and out in tainted else "")
            results.append(result)
            if kind == "discrete" and not result.ok and first_discrete is None:
                first_discrete = result
                tainted.add(out)
    first_float = next((r for r in results if r.kind == "float" and not r.ok and not r.downstream_of), None)
    infos = value_infos(model)
    replay_float = _replay(model, first_float, reference, runtime, rtol, infos) if first_float else None
    near_tie = replay_discrete = None
    if first_discrete is not None:
        near_tie = _near_tie(model, first_discrete, reference, actual)
        replay_discrete = _replay(model, first_discrete, reference, runtime, rtol, infos)
    skipped = sum(1 for n in model.graph.node for o in n.output if o not in labels)
    notes.append(f"{skipped} tensor(s) inside decomposed ops have no ssdref counterpart (not compared)")
    return DivergenceReport(getattr(runtime, "__name__", runtime), results, first_float, first_discrete, near_tie, replay_float,
                            replay_discrete, notes)


def _describe(result: NodeResult) -> str:
    measure = (f"{result.error:.0f} element(s) differ" if result.kind == "discrete" and np.isfinite(result.error)
               else f"error {result.error:.3g} > tolerance {result.tolerance:.3g}")
    return f"{result.node} ({result.op}, tensor {result.tensor}): {measure}"


def format_report(report: DivergenceReport, show_all=False) -> str:
    from ssdref.report import format_table

    lines = [f"ssdref vs {report.runtime}: {len(report.results)} tensors compared in graph order"]
    if show_all:
        rows = [[r.index, r.node, r.op, r.kind, r.error, r.tolerance,
                 "ok" if r.ok else ("after " + r.downstream_of if r.downstream_of else "DIFFERS")]
                for r in report.results]
        lines.append(format_table(["#", "node", "op", "kind", "error", "tolerance", "result"], rows,
                                  align="rllllrl"))
    worst = max((r for r in report.results if r.kind == "float" and not r.downstream_of),
                key=lambda r: r.error, default=None)
    if worst is not None:
        lines.append(f"worst float error: {worst.error:.3g} at {worst.node} ({worst.op})"
                     + (" (tensors after the first discrete difference left out)" if report.first_discrete else ""))
    if report.first_float is None:
        lines.append("first beyond tolerance: none")
    else:
        lines.append(f"first beyond tolerance: {_describe(report.first_float)}")
        r = report.replay_float
        lines.append(f"  replay of {r.node} alone on ssdref's inputs: error {r.error:.3g}: {r.verdict}")
    if report.first_discrete is None:
        lines.append("first discrete difference: none")
    else:
        lines.append(f"first discrete difference: {_describe(report.first_discrete)}")
        lines.append(f"  near tie: {report.near_tie.detail}")
        r = report.replay_discrete
        lines.append(f"  replay of {r.node} alone on ssdref's inputs: {r.verdict}")
    lines += [f"note: {n}" for n in report.notes]
    lines.append("result: " + ("DIVERGENCE (exit 1)" if report.exit_code else
                               "no divergence (exit 0)" + (" beyond upstream rounding at a tie"
                                                           if report.first_discrete else "")))
    return "\n".join(lines)


# ------------------------------------------------------------------------- the command
def _reexec_in_tvm_venv(argv) -> int | None:
    from ssdref.backends import tvm
    from pathlib import Path

    if tvm.importable() or os.environ.get("SSDREF_DIVERGENCE_REEXEC"):
        return None
    python = Path(__file__).resolve().parents[1] / ".venv-tvm" / "bin" / "python"
    if not python.exists():
        return None
    print(f"{_OP}: tvm is not importable here; re-running under {python}", flush=True)
    return subprocess.call([str(python), "-m", "ssdref.divergence", *argv],
                           env={**os.environ, "SSDREF_DIVERGENCE_REEXEC": "1"})


def _argv_of(args) -> list:
    argv = [args.model, "--runtime", args.runtime, "--rtol", repr(args.rtol), "--seed", str(args.seed)]
    for option, value in (("--params", args.params), ("--epoch", args.epoch), ("--input", args.input),
                          ("--network", args.network)):
        if value not in (None, ""):
            argv += [option, str(value)]
    return argv + (["--all"] if args.all else [])


def _cmd_divergence(args) -> int:
    from ssdref.errors import UsageError

    try:
        if not os.path.isfile(args.model):
            raise UsageError(f"MODEL must be an existing .onnx file, got {args.model!r}")
        if args.rtol <= 0:
            raise UsageError(f"--rtol must be > 0, got {args.rtol}")
        if bool(args.params) != (args.epoch is not None):
            raise UsageError("--params PREFIX and --epoch N go together")
        if args.runtime == "tvm":
            code = _reexec_in_tvm_venv(_argv_of(args))
            if code is not None:
                return code
            from ssdref.backends import tvm
            if not tvm.importable():
                raise UsageError(f"--runtime tvm needs the tvm package (apache-tvm), not importable in "
                                 f"{sys.executable}; `make conformance-tvm` creates .venv-tvm")
        symbol = arg_params = aux_params = data = None
        if args.params:
            from ssdref.io.checkpoint import load_checkpoint
            from ssdref.io.mxnet_params import checkpoint_params_path, load_params
            if os.path.isfile(f"{args.params}-symbol.json"):
                symbol, arg_params, aux_params = load_checkpoint(args.params, args.epoch)
            else:
                arg_params, aux_params = load_params(checkpoint_params_path(args.params, args.epoch))
        if args.input:
            data = np.load(args.input).astype(np.float32)
            data = data[None] if data.ndim == 3 else data
        report = divergence(args.model, args.runtime, symbol=symbol, arg_params=arg_params,
                            aux_params=aux_params, data=data, rtol=args.rtol, network=args.network,
                            seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f"ssdref {_OP}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(report.format(args.all))
    return report.exit_code


def add_cli(subparsers) -> None:
    """Register `ssdref divergence MODEL.onnx --runtime onnxruntime|tvm`."""
    p = subparsers.add_parser("divergence", help="the first node where a runtime's run of an ONNX export "
                                                 "departs from ssdref, with a replay of that node")
    p.add_argument("model", help="an .onnx file written by `ssdref export-onnx`")
    p.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime",
                   help="the runtime to compare with ssdref: onnxruntime, or tvm (.venv-tvm)")
    p.add_argument("--params", default="", help="checkpoint PREFIX: ssdref's parameters (and symbol, "
                                                "when PREFIX-symbol.json exists); default: the model's own")
    p.add_argument("--epoch", type=int, default=None, help="the checkpoint's epoch (with --params)")
    p.add_argument("--input", default="", help=".npy input (B, 3, S, S) or (3, S, S) float32, as fed to "
                                               "the model (default: a seeded synthetic-shapes image)")
    p.add_argument("--network", default=None, help="get_config network name (default: found from the "
                                                   "model's parameters)")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                   help=f"float tolerance, max|diff| / max|ssdref| (default {DEFAULT_RTOL:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the default input image")
    p.add_argument("--all", action="store_true", help="print every compared tensor")
    p.set_defaults(func=_cmd_divergence)


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="ssdref")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["divergence", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
