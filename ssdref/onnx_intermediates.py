"""`ssdref export-onnx ... --with-intermediates DIR`: per-node test data of an export, from ssdref.

Not an MXNet operator: the oracle's test data for a port, in ONNX's backend-test layout, so an
existing ONNX test runner (`onnx.backend.test.loader.load_model_tests`, or a loop running each
folder in onnxruntime) consumes it. For every node of the exported graph, in graph order:

    DIR/test_<NNNN>_<node>/model.onnx                 that node alone: its data inputs as graph
                                                      inputs, its constants as initializers, its
                                                      outputs as graph outputs
    DIR/test_<NNNN>_<node>/test_data_set_0/input_N.pb    ssdref's value of graph input N
    DIR/test_<NNNN>_<node>/test_data_set_0/output_N.pb   ssdref's value of output N
    DIR/test_<NNNN>_<node>/data.json                  {"rtol", "atol"}: ssdref.testing.compare's
                                                      table entry (the ONNX loader reads it)
    DIR/manifest.json                                 every case: op, tensors, MXNet node (the
                                                      export's mxnet_node_names), value sources,
                                                      ssdref_values {tensor: MXNet node or
                                                      'detection:<step>'}

NNNN is the node's index in the graph; <node> its name, else its first output's (the export's
nodes are unnamed; tensors are `<MXNet node>__<n>`), made filesystem-safe.

Where the values come from (`tensor_values`), per tensor, recorded in the manifest:
  * `ssdref`: the value ssdref computes for the MXNet node or detection step the tensor stands for
    (`ssdref.divergence.ssdref_node_values` and `map_tensors`: every MXNet node's output, and the
    detection steps loc, boxes, foreground, score, class, keep_threshold, ranked, topk_values,
    topk_indices, in_top, in_top_mask, keep, kept_score, class_scores, selected, detections);
  * `input` (`data`) and `initializer` (the export's constants: ssdref's parameters and anchors);
  * `onnx.reference`: tensors inside decomposed ops that have no ssdref counterpart (the box
    decode's pieces, an L2Normalization's ReduceSumSquare, a Pooling's Pad): the node alone run by
    ONNX's reference evaluator on the values above, so every case's inputs trace back to ssdref.

`check_case` runs one folder in a runtime and compares with the tolerance table of
`ssdref.testing.compare` (float: |got - expected| <= atol + rtol |expected|; integer and bool:
exact). The one documented exception (`near_tie`): NonMaxSuppression may keep or drop a box whose
IoU with a kept box is within `NMS_TIE_EPS` of the threshold, where ssdref's and the runtime's
float32 IoU round differently.
"""
from __future__ import annotations

import json
import os
import re
from typing import NamedTuple

import numpy as np

_OP = "export-onnx"
NMS_TIE_EPS = 1e-6          # |IoU - threshold| under which NonMaxSuppression's decision is a near tie
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    """A file-name-safe form of a node or tensor name (runs of other characters become `_`)."""
    return _UNSAFE.sub("_", name).strip("._") or "node"


def case_folder(index: int, node) -> str:
    """The folder of node `index`: `test_<NNNN>_<node name or first output>` (the loader wants test_)."""
    return f"test_{index:04d}_{safe_name(node.name or next((o for o in node.output if o), node.op_type))}"


# ------------------------------------------------------------------------- the values
def _np_dtype(elem_type):
    from onnx import helper
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def _single_node_model(model, node, values, output_types):
    """`node` alone: inputs not in the model's initializers become graph inputs typed from `values`."""
    from onnx import NodeProto, helper

    initializers = {t.name: t for t in model.graph.initializer}
    inputs, inits, seen = [], [], set()
    for name in node.input:
        if not name or name in seen:
            continue
        seen.add(name)
        if name in initializers:
            inits.append(initializers[name])
        else:
            value = np.asarray(values[name])
            inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                                        list(value.shape)))
    outputs = [helper.make_tensor_value_info(out, elem, shape) for out, (elem, shape) in output_types.items()]
    copy = NodeProto()
    copy.CopyFrom(node)
    if not copy.name:
        copy.name = next((o for o in node.output if o), node.op_type)
    graph = helper.make_graph([copy], safe_name(copy.name), inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                             producer_name="ssdref")


def _feeds(sub, values):
    return {i.name: np.asarray(values[i.name]) for i in sub.graph.input}


class TensorValues(NamedTuple):
    values: dict        # {ONNX tensor: ssdref's value (cast to the tensor's ONNX element type)}
    sources: dict       # {ONNX tensor: 'ssdref' | 'input' | 'initializer' | 'onnx.reference'}
    labels: dict        # {ONNX tensor: MXNet node name or 'detection:<step>'} (ssdref's tensors)


def tensor_values(model, symbol, arg_params, aux_params, data) -> TensorValues:
    """ssdref's value of every tensor of an ssdref ONNX export of `symbol`, for the input `data`."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    from ssdref.divergence import map_tensors, ssdref_node_values, value_infos

    infos = value_infos(model)
    data = np.ascontiguousarray(data, np.float32)
    values, sources, labels = {"data": data}, {"data": "input"}, {}
    for t in model.graph.initializer:
        values[t.name], sources[t.name] = numpy_helper.to_array(t), "initializer"
    outputs, steps = ssdref_node_values(symbol, arg_params, aux_params, data)
    for tensor, target in map_tensors(model, symbol).items():
        value = steps.get(target.split(":", 1)[1]) if isinstance(target, str) else outputs.get(target)
        if value is None:
            continue
        value = np.asarray(value)
        if tensor in infos and infos[tensor].type.tensor_type.elem_type:
            value = value.astype(_np_dtype(infos[tensor].type.tensor_type.elem_type), copy=False)
        values[tensor], sources[tensor] = value, "ssdref"
        labels[tensor] = target if isinstance(target, str) else target.name
    for node in model.graph.node:
        missing = [o for o in node.output if o and o not in values]
        if not missing:
            continue
        if node.op_type == "Identity" and node.input[0] in values:    # the same value, the same source
            values[missing[0]], sources[missing[0]] = values[node.input[0]], sources[node.input[0]]
            if node.input[0] in labels:
                labels[missing[0]] = labels[node.input[0]]
            continue
        types = {o: (infos[o].type.tensor_type.elem_type if o in infos else 1, None) for o in node.output if o}
        sub = _single_node_model(model, node, values, types)
        got = ReferenceEvaluator(sub).run(None, _feeds(sub, values))
        for out, value in zip([o for o in node.output if o], got):
            if out in missing:
                values[out], sources[out] = np.asarray(value), "onnx.reference"
    return TensorValues(values, sources, labels)


# ------------------------------------------------------------------------- writing the folders
def write_intermediates(model, symbol, arg_params, aux_params, data, out_dir) -> list:
    """Write the backend-test folders of every node of `model` into out_dir; returns the manifest's
    case list (one dict per node, graph order)."""
    from onnx import helper, numpy_helper

    from ssdref.testing.compare import tolerance_for

    tv = tensor_values(model, symbol, arg_params, aux_params, data)
    props = {p.key: p.value for p in model.metadata_props}
    mxnet_names = json.loads(props.get("mxnet_node_names", "{}"))
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    for index, node in enumerate(model.graph.node):
        outs = [o for o in node.output if o]
        types = {o: (helper.np_dtype_to_tensor_dtype(tv.values[o].dtype), list(tv.values[o].shape)) for o in outs}
        sub = _single_node_model(model, node, tv.values, types)
        folder = case_folder(index, node)
        inputs = [i.name for i in sub.graph.input]
        mxnet = {o: mxnet_names.get(o) or tv.labels.get(o, "") for o in outs}
        helper.set_model_props(sub, {"mxnet_node_names": json.dumps({o: n for o, n in mxnet.items() if n}),
                                     "value_sources": json.dumps({t: tv.sources[t] for t in inputs + outs})})
        data_dir = os.path.join(out_dir, folder, "test_data_set_0")
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(out_dir, folder, "model.onnx"), "wb") as f:
            f.write(sub.SerializeToString())
        for kind, names in (("input", inputs), ("output", outs)):
            for n, name in enumerate(names):
                proto = numpy_helper.from_array(np.ascontiguousarray(tv.values[name]), name)
                with open(os.path.join(data_dir, f"{kind}_{n}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())
        floats = [tv.values[o].dtype for o in outs if np.issubdtype(tv.values[o].dtype, np.floating)]
        tol = tolerance_for(floats[0]) if floats else {"rtol": 0.0, "atol": 0.0}
        with open(os.path.join(out_dir, folder, "data.json"), "w") as f:
            json.dump({"rtol": tol["rtol"], "atol": tol["atol"]}, f)
        cases.append({"folder": folder, "index": index, "op_type": node.op_type, "inputs": inputs,
                      "initializers": [i.name for i in sub.graph.initializer], "outputs": outs,
                      "mxnet_nodes": mxnet, "sources": {t: tv.sources[t] for t in inputs + outs},
                      "ssdref_values": {t: tv.labels[t] for t in inputs + outs if t in tv.labels}})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"model_graph": model.graph.name, "data_shape": list(np.shape(data)),
                   "layout": "ONNX backend test: <case>/model.onnx, <case>/test_data_set_0/{input,output}_N.pb",
                   "cases": cases}, f, indent=1)
    return cases


# ------------------------------------------------------------------------- reading and checking
def read_case(folder) -> tuple:
    """(model, [input arrays], [output arrays]) of one case folder."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(os.path.join(folder, "model.onnx"))
    data_dir = os.path.join(folder, "test_data_set_0")

    def load(kind, count):
        arrays = []
        for n in range(count):
            proto = onnx.TensorProto()
            with open(os.path.join(data_dir, f"{kind}_{n}.pb"), "rb") as f:
                proto.ParseFromString(f.read())
            arrays.append(numpy_helper.to_array(proto))
        return arrays

    return model, load("input", len(model.graph.input)), load("output", len(model.graph.output))


class OutputCheck(NamedTuple):
    case: str
    output: str
    op: str
    kind: str           # 'float' or 'discrete'
    ok: bool
    near_tie: bool      # differs, explained by the documented NonMaxSuppression near tie
    detail: str


def near_tie(model, inputs, expected, got) -> str:
    """'' or why a NonMaxSuppression difference is the documented near tie: every box in one output
    and not the other has IoU within NMS_TIE_EPS of the threshold with a box both kept."""
    node = model.graph.node[0]
    if node.op_type != "NonMaxSuppression":
        return ""
    from onnx import numpy_helper
    feeds = dict(zip([i.name for i in model.graph.input], inputs))
    feeds.update({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    if len(node.input) < 4 or node.input[3] not in feeds:
        return ""
    threshold = float(np.asarray(feeds[node.input[3]]).reshape(-1)[0])
    boxes = np.asarray(feeds[node.input[0]], np.float64)
    ref, run = {tuple(r) for r in np.asarray(expected)}, {tuple(r) for r in np.asarray(got)}
    worst = 0.0
    for b, c, a in ref ^ run:
        kept = [k for bb, cc, k in ref & run if (bb, cc) == (b, c)]
        if not kept:
            return ""
        x = boxes[b, a]
        y = boxes[b, kept]
        w = np.clip(np.minimum(x[2], y[:, 2]) - np.maximum(x[0], y[:, 0]), 0, None)
        h = np.clip(np.minimum(x[3], y[:, 3]) - np.maximum(x[1], y[:, 1]), 0, None)
        inter = w * h
        union = (x[2] - x[0]) * (x[3] - x[1]) + (y[:, 2] - y[:, 0]) * (y[:, 3] - y[:, 1]) - inter
        gap = float(np.min(np.abs(inter / np.where(union > 0, union, 1) - threshold)))
        if gap > NMS_TIE_EPS:
            return ""
        worst = max(worst, gap)
    return f"NonMaxSuppression near tie: IoU within {worst:.2g} of the threshold {threshold:g}"


def check_case(folder, runtime="onnxruntime") -> list:
    """Run one case in `runtime` (a name or a callable, as `ssdref.divergence.run_model` takes) on its
    input_N.pb and compare with its output_N.pb: [OutputCheck] per output."""
    from ssdref.divergence import run_model
    from ssdref.testing.compare import tolerance_for

    model, inputs, expected = read_case(folder)
    got = run_model(model, {i.name: v for i, v in zip(model.graph.input, inputs)}, runtime)
    checks, case, op = [], os.path.basename(os.path.normpath(folder)), model.graph.node[0].op_type
    for info, want in zip(model.graph.output, expected):
        have = np.asarray(got[info.name])
        floating = np.issubdtype(want.dtype, np.floating)
        kind = "float" if floating else "discrete"
        if have.shape != want.shape:
            ok, detail = False, f"shape {have.shape}, expected {want.shape}"
        elif floating:
            tol = tolerance_for(want.dtype)
            a, e = have.astype(np.float64), want.astype(np.float64)
            close = (np.abs(a - e) <= tol["atol"] + tol["rtol"] * np.abs(e)) | (a == e) | (np.isnan(a) & np.isnan(e))
            ok = bool(close.all())
            worst = float(np.max(np.where(close, 0, np.abs(a - e)), initial=0.0))
            detail = f"{int((~close).sum())} element(s) beyond rtol {tol['rtol']:g} atol {tol['atol']:g}" \
                     + (f", worst |diff| {worst:.3g}" if not ok else "")
        else:
            differ = int(np.count_nonzero(have.astype(want.dtype) != want))
            ok, detail = differ == 0, f"{differ} element(s) differ (exact)"
        tie = ""
        if not ok and op == "NonMaxSuppression":
            tie = near_tie(model, inputs, want, have)
        checks.append(OutputCheck(case, info.name, op, kind, ok, bool(tie), tie or detail))
    return checks


def check_all(out_dir, runtime="onnxruntime") -> list:
    """check_case for every case of a --with-intermediates folder, in graph order."""
    with open(os.path.join(out_dir, "manifest.json")) as f:
        cases = json.load(f)["cases"]
    return [c for case in cases for c in check_case(os.path.join(out_dir, case["folder"]), runtime)]
