"""`ssdref export-onnx`: the SSD test graph as ONNX (onnx.helper only; no torch.onnx), for ONNX Runtime.

Mirrors: the deploy graph of example/ssd (symbol_builder.get_symbol): body, heads, softmax, and
`_contrib_MultiBoxDetection` (spec §3) rewritten with standard ONNX ops (opset 17):
  * anchors (MultiBoxPrior) are computed by ssdref and stored as constants (A, 4), with their
    centres and sizes; decoding is ONNX arithmetic in MXNet's order ((p*v)*a + centre,
    exp(p*v)*a/2), then Clip to [0, 1] when clip;
  * class = ArgMax over classes 1..C-1 (first index on ties, as MXNet's strict `>` scan), kept when
    score >= threshold (MXNet's comparator, done before NMS with score_threshold 0);
  * nms_topk: TopK over the kept scores of all classes (ties: lower anchor index first), others
    dropped before NMS, as MXNet sorts then cuts;
  * NMS: NonMaxSuppression per class (force_suppress: one class for all), which suppresses on
    IoU > nms_threshold (MXNet: >=); nms_threshold <= 0 or > 1 disables NMS (threshold 1.0).
Outputs: `detections` (K, 7) rows [batch, class_id, score, xmin, ymin, xmax, ymax] ordered by
batch, class, then score (NonMaxSuppression's order), only kept boxes: no suppressed or stale topk
rows (`to_mxnet_rows` pads them back to MXNet's (B, A, 6) layout). `reference_detections` is the
same semantics in NumPy from ssdref's pieces (the 'onnx' preset of MultiBoxDetection).
The model: IR version 8 (the lowest opset 17 allows, so older onnxruntime loads it), an optional
dynamic batch axis, metadata_props (`export_metadata`: class names, mean/std, data shape, network,
{ONNX tensor: MXNet node}). The command is onnx_export_cli.py.
Pooling 'full' uses explicit end pads (max) or Pad + sum + MXNet's divisor (avg), never ceil_mode.
"""
from __future__ import annotations

import numpy as np

OPSET = 17
IR_VERSION = 8          # the lowest IR version opset 17 needs: onnxruntime >= 1.14 loads it
_OP = "export-onnx"
DETECTIONS_FORMAT = ("(K, 7) rows [batch, class_id, score, xmin, ymin, xmax, ymax], coordinates "
                     "normalized to [0, 1], class_id without background; ordered by batch, class, score")


class _Builder:
    """Collects ONNX nodes and initializers with unique names."""

    def __init__(self):
        from onnx import helper
        self.helper = helper
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint):
        self._count += 1
        return f"{hint}__{self._count}"

    def const(self, value, hint="const"):
        from onnx import numpy_helper
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        names = [self.name(hint or op_type) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names


def _scalar_tensor(value):
    from onnx import TensorProto, helper
    return helper.make_tensor("value", TensorProto.FLOAT, [1], [value])


# ------------------------------------------------------------------------------ detection
def add_detection(b: _Builder, cls_prob, loc_pred, anchors, *, batch, num_classes, threshold=0.01,
                  nms_threshold=0.5, nms_topk=-1, force_suppress=False, clip=True,
                  variances=(0.1, 0.1, 0.2, 0.2)):
    """ONNX nodes for MultiBoxDetection; returns the name of the (K, 7) detections tensor."""
    anchors = np.asarray(anchors, np.float32).reshape(-1, 4)
    num_anchors = anchors.shape[0]
    f32 = np.float32
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = (anchors[:, 0] + anchors[:, 2]) * f32(0.5), (anchors[:, 1] + anchors[:, 3]) * f32(0.5)
    # 0 copies loc_pred's batch dimension: the graph works for any batch (dynamic_batch export)
    loc = b.op("Reshape", [loc_pred, b.const(np.array([0, num_anchors, 4], np.int64))], "loc")
    part = [b.op("Gather", [loc, b.const(np.array(k, np.int64))], f"p{k}", axis=2) for k in range(4)]
    var = [b.const(np.array(v, f32), f"var{k}") for k, v in enumerate(variances)]
    ox = b.op("Add", [b.op("Mul", [b.op("Mul", [part[0], var[0]]), b.const(aw, "aw")]), b.const(ax, "ax")])
    oy = b.op("Add", [b.op("Mul", [b.op("Mul", [part[1], var[1]]), b.const(ah, "ah")]), b.const(ay, "ay")])
    half = b.const(np.array(2, f32), "two")
    hw = b.op("Div", [b.op("Mul", [b.op("Exp", [b.op("Mul", [part[2], var[2]])]), b.const(aw, "aw")]), half])
    hh = b.op("Div", [b.op("Mul", [b.op("Exp", [b.op("Mul", [part[3], var[3]])]), b.const(ah, "ah")]), half])
    corners = [b.op("Unsqueeze", [c, b.const(np.array([2], np.int64))])
               for c in (b.op("Sub", [ox, hw]), b.op("Sub", [oy, hh]), b.op("Add", [ox, hw]), b.op("Add", [oy, hh]))]
    boxes = b.op("Concat", corners, "boxes", axis=2)                                   # (B, A, 4)
    if clip:
        boxes = b.op("Clip", [boxes, b.const(np.array(0, f32)), b.const(np.array(1, f32))], "boxes")

    foreground = b.op("Slice", [cls_prob, b.const(np.array([1], np.int64)),
                                b.const(np.array([num_classes], np.int64)), b.const(np.array([1], np.int64))])
    best = b.op("ReduceMax", [foreground], "score", axes=[1], keepdims=0)                # (B, A)
    best_class = b.op("ArgMax", [foreground], "class", axis=1, keepdims=0, select_last_index=0)
    keep = b.op("GreaterOrEqual", [best, b.const(np.array(threshold, f32))])           # MXNet: >=
    minus_one = b.const(np.array(-1, f32))
    if 0 < nms_topk < num_anchors:
        ranked = b.op("Where", [keep, best, minus_one])
        _, top = b.op("TopK", [ranked, b.const(np.array([nms_topk], np.int64))], outputs=2, axis=1,
                      largest=1, sorted=1)
        zeros = b.op("ConstantOfShape", [b.op("Shape", [ranked])], value=_scalar_tensor(0.0))
        ones = b.op("ConstantOfShape", [b.op("Shape", [top])], value=_scalar_tensor(1.0))
        in_top = b.op("ScatterElements", [zeros, top, ones], axis=1)
        keep = b.op("And", [keep, b.op("Greater", [in_top, b.const(np.array(0, f32))])])
    kept_score = b.op("Where", [keep, best, minus_one])                                 # (B, A)
    if force_suppress:
        scores = b.op("Unsqueeze", [kept_score, b.const(np.array([1], np.int64))])      # (B, 1, A)
    else:
        classes = b.const(np.arange(num_classes - 1, dtype=np.int64).reshape(1, -1, 1))
        is_class = b.op("Equal", [b.op("Unsqueeze", [best_class, b.const(np.array([1], np.int64))]), classes])
        scores = b.op("Where", [is_class, b.op("Unsqueeze", [kept_score, b.const(np.array([1], np.int64))]),
                                minus_one])                                              # (B, C-1, A)
    iou = nms_threshold if 0 < nms_threshold <= 1 else 1.0    # MXNet skips NMS outside (0, 1]
    selected = b.op("NonMaxSuppression", [boxes, scores, b.const(np.array([num_anchors], np.int64)),
                                          b.const(np.array([iou], f32)), b.const(np.array([0.0], f32))],
                    "selected", center_point_box=0)                                      # (K, 3)
    batch_anchor = b.op("Gather", [selected, b.const(np.array([0, 2], np.int64))], axis=1)
    score = b.op("GatherND", [kept_score, batch_anchor])
    box = b.op("GatherND", [boxes, batch_anchor])
    if force_suppress:
        class_id = b.op("GatherND", [best_class, batch_anchor])
    else:
        class_id = b.op("Gather", [selected, b.const(np.array(1, np.int64))], axis=1)
    column = b.const(np.array([1], np.int64))
    parts = [b.op("Cast", [b.op("Gather", [selected, b.const(np.array(0, np.int64))], axis=1)], to=1),
             b.op("Cast", [class_id], to=1), score]
    parts = [b.op("Unsqueeze", [p, column]) for p in parts] + [box]
    return b.op("Concat", parts, "detections", axis=1)


def to_mxnet_rows(detections, batch, num_anchors) -> np.ndarray:
    """(K, 7) ONNX detections -> MXNet's (B, A, 6) layout, score-sorted, padded with -1 rows."""
    out = np.full((batch, num_anchors, 6), -1, np.float32)
    detections = np.asarray(detections, np.float32).reshape(-1, 7)
    for image in range(batch):
        rows = detections[detections[:, 0] == image, 1:]
        rows = rows[np.argsort(-rows[:, 1], kind="stable")]
        out[image, :len(rows)] = rows
    return out


def reference_detections(cls_prob, loc_pred, anchor, *, threshold=0.01, nms_threshold=0.5, nms_topk=-1,
                         force_suppress=False, clip=True, variances=(0.1, 0.1, 0.2, 0.2)) -> np.ndarray:
    """MultiBoxDetection under the 'onnx' preset, from ssdref's pieces: MXNet's decode, class pick,
    `>=` score threshold and stable top-k, then greedy NMS suppressing on IoU > nms_threshold (strict)
    and only kept rows, score-sorted and -1 padded (no suppressed or stale rows)."""
    from ssdref.multibox.boxes import clip_boxes, decode, iou_matrix
    from ssdref.multibox.detection import pick_class
    from ssdref.multibox.nms import score_order

    cls_prob = np.asarray(cls_prob)
    batch, num_anchors = cls_prob.shape[0], cls_prob.shape[2]
    loc = np.asarray(loc_pred).reshape(batch, num_anchors, 4)
    anchors = np.asarray(anchor).reshape(-1, 4)
    out = np.full((batch, num_anchors, 6), -1, cls_prob.dtype)
    for image in range(batch):
        class_id, score = pick_class(cls_prob[image], threshold)
        boxes = decode(anchors, loc[image], variances)
        boxes = clip_boxes(boxes) if clip else boxes
        valid = np.flatnonzero(class_id > 0)
        order = valid[score_order(score[valid], nms_topk)]
        if 0 < nms_threshold <= 1:
            alive = np.ones(order.size, bool)
            for i in range(order.size):
                if not alive[i]:
                    continue
                later = np.arange(i + 1, order.size)
                iou = iou_matrix(boxes[order[i:i + 1]], boxes[order[later]], nonpositive_union_zero=True)[0]
                same = np.ones(later.size, bool) if force_suppress else class_id[order[later]] == class_id[order[i]]
                alive[later] &= ~(same & (iou > nms_threshold))
            order = order[alive]
        rows = np.column_stack([class_id[order] - 1, score[order], boxes[order]]).astype(out.dtype)
        out[image, :len(order)] = rows
    return out


def detection_model(anchors, num_classes, *, batch=1, **detection_params):
    """A model with inputs cls_prob (B, C, A), loc_pred (B, 4A) and output detections (K, 7)."""
    from onnx import TensorProto, helper

    num_anchors = np.asarray(anchors).reshape(-1, 4).shape[0]
    b = _Builder()
    det = add_detection(b, "cls_prob", "loc_pred", anchors, batch=batch, num_classes=num_classes,
                        **detection_params)
    b.nodes.append(helper.make_node("Identity", [det], ["detections"]))
    graph = helper.make_graph(
        b.nodes, "multibox_detection",
        [helper.make_tensor_value_info("cls_prob", TensorProto.FLOAT, [batch, num_classes, num_anchors]),
         helper.make_tensor_value_info("loc_pred", TensorProto.FLOAT, [batch, num_anchors * 4])],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT, [None, 7])], b.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


# ------------------------------------------------------------------------------ the SSD graph
def _pool(b, x, p, in_shape):
    from ssdref.layers.pooling import pooling_geometry, window_divisor
    g = pooling_geometry(in_shape, kernel=p["kernel"], pool_type=p["pool_type"], stride=p["stride"],
                         pad=p["pad"], pooling_convention=p["pooling_convention"], global_pool=p["global_pool"],
                         count_include_pad=p["count_include_pad"], p_value=p["p_value"])
    ends = [p_ + max((o - 1) * s + k - (n + 2 * p_), 0)
            for o, s, k, n, p_ in zip(g.out_spatial, g.stride, g.kernel, g.in_spatial, g.pad)]
    if g.pool_type == "max":   # ONNX MaxPool ignores pad cells: the 'full' overhang as extra end pads
        return b.op("MaxPool", [x], kernel_shape=list(g.kernel), strides=list(g.stride),
                    pads=list(g.pad) + ends)
    if g.pool_type not in ("avg", "sum"):
        raise ValueError(f"{_OP}: Pooling {g.pool_type!r} is not exported")
    pads = b.const(np.array([0, 0, *g.pad, 0, 0, *ends], np.int64))
    padded = b.op("Pad", [x, pads])
    window = b.op("Mul", [b.op("AveragePool", [padded], kernel_shape=list(g.kernel), strides=list(g.stride)),
                          b.const(np.array(np.prod(g.kernel), np.float32))])
    if g.pool_type == "sum":
        return window
    return b.op("Div", [window, b.const(np.maximum(window_divisor(g), 1).astype(np.float32))])


_SCALAR = {"_plus_scalar": ("Add", False), "_minus_scalar": ("Sub", False), "_rminus_scalar": ("Sub", True),
           "_mul_scalar": ("Mul", False), "_div_scalar": ("Div", False), "_rdiv_scalar": ("Div", True)}
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}


def export_symbol(symbol, arg_params, aux_params, data_shape, batch=1, *, dynamic_batch=False,
                  class_names=None, mean_pixels=(123.0, 117.0, 104.0), std_pixels=(1.0, 1.0, 1.0),
                  network=None):
    """The ONNX model of a deploy SSD symbol (head MultiBoxDetection) with the given parameters.

    dynamic_batch: the input is ('batch', 3, S, S), any batch runs (`batch` only sizes the shape
    inference). The model carries metadata_props (`export_metadata`) and IR version 8 (opset 17's)."""
    from onnx import TensorProto, helper

    from ssdref.autograd.shape_inference import graph_shapes

    shape = (batch, 3, data_shape, data_shape)
    params = {**arg_params, **aux_params}
    _, shape_of = graph_shapes(symbol, {"data": shape, **{k: v.shape for k, v in params.items()}})
    b = _Builder()
    names = {}
    outputs = []
    for node in symbol._nodes():
        if node.is_variable:
            if node.name == "data":
                names[(node, 0)] = "data"
            elif node.name in params:
                names[(node, 0)] = b.const(np.asarray(params[node.name], np.float32), node.name)
            else:
                raise ValueError(f"{_OP}: parameter {node.name} is missing from the params")
            continue
        op, p = node.op.name, node.params
        ins = [names[e] for e in node.inputs]
        in_shapes = [shape_of[e] for e in node.inputs]
        if op == "Convolution":
            y = b.op("Conv", ins[:2 if p["no_bias"] else 3], node.name, kernel_shape=list(p["kernel"]),
                     strides=list(p["stride"] or (1,) * len(p["kernel"])),
                     pads=list(p["pad"] or (0,) * len(p["kernel"])) * 2,
                     dilations=list(p["dilate"] or (1,) * len(p["kernel"])), group=p["num_group"])
        elif op == "Activation":
            onnx_op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                       "softsign": "Softsign"}[p["act_type"]]
            y = b.op(onnx_op, ins[:1], node.name)
        elif op == "Pooling":
            y = _pool(b, ins[0], p, in_shapes[0])
        elif op == "L2Normalization":
            axes = {"instance": list(range(1, len(in_shapes[0]))), "channel": [1],
                    "spatial": list(range(2, len(in_shapes[0])))}[p["mode"]]
            norm = b.op("Sqrt", [b.op("Add", [b.op("ReduceSumSquare", ins[:1], axes=axes, keepdims=1),
                                                b.const(np.array(p["eps"], np.float32))])])
            y = b.op("Div", [ins[0], norm], node.name)
        elif op in ("BatchNorm",):
            gamma = b.const(np.ones(in_shapes[1], np.float32)) if p["fix_gamma"] else ins[1]
            y = b.op("BatchNormalization", [ins[0], gamma, ins[2], ins[3], ins[4]], node.name, epsilon=p["eps"])
        elif op in ("softmax", "SoftmaxActivation", "SoftmaxOutput"):
            axis = p.get("axis", 1) if op == "softmax" else 1
            y = b.op("Softmax", ins[:1], node.name, axis=axis)
        elif op == "Flatten":
            y = b.op("Flatten", ins, node.name, axis=1)
        elif op == "Reshape":
            target = list(shape_of[(node, 0)])
            if dynamic_batch:
                if target[0] != batch or in_shapes[0][0] != batch:
                    raise ValueError(f"{_OP}: --dynamic-batch needs every Reshape to keep the batch "
                                     f"axis first, got {node.name}: {in_shapes[0]} -> {tuple(target)}")
                target[0] = 0           # ONNX Reshape: 0 copies the input's (batch) dimension
            y = b.op("Reshape", [ins[0], b.const(np.array(target, np.int64))], node.name)
        elif op == "transpose":
            from ssdref.layers.shape import transpose_axes
            y = b.op("Transpose", ins, node.name, perm=list(transpose_axes(len(in_shapes[0]), p["axes"])))
        elif op == "Concat":
            y = b.op("Concat", ins, node.name, axis=p["dim"])
        elif op.startswith("broadcast_") or op.startswith("elemwise_"):
            y = b.op(_BINARY[op.split("_", 1)[1]], ins, node.name)
        elif op in _SCALAR:
            onnx_op, reverse = _SCALAR[op]
            scalar = b.const(np.array(p["scalar"], np.float32))
            y = b.op(onnx_op, [scalar, ins[0]] if reverse else [ins[0], scalar], node.name)
        elif op == "FullyConnected":
            flat = b.op("Flatten", ins[:1], axis=1) if p["flatten"] else ins[0]
            y = b.op("Gemm", [flat, *ins[1:]], node.name, transB=1)
        elif op in ("Dropout", "_copy", "BlockGrad"):
            y = b.op("Identity", ins[:1], node.name)
        elif op == "_contrib_MultiBoxPrior":
            anchors, _ = node.op.forward([np.zeros(in_shapes[0], np.float32)], [], p, False)
            y = b.const(anchors[0].astype(np.float32), node.name)   # (1, n, 4): shapes only, a constant
        elif op == "_contrib_MultiBoxDetection":
            anchors = _constant_anchors(node.inputs[2], symbol, shape_of)
            y = add_detection(b, ins[0], ins[1], anchors, batch=batch, num_classes=in_shapes[0][1],
                              threshold=p["threshold"], nms_threshold=p["nms_threshold"],
                              nms_topk=p["nms_topk"], force_suppress=p["force_suppress"], clip=p["clip"],
                              variances=p["variances"])
            outputs.append(y)
        else:
            raise ValueError(f"{_OP}: operator {op} is not exported")
        names[(node, 0)] = y
    if len(outputs) != 1:
        raise ValueError(f"{_OP}: the symbol must have one MultiBoxDetection node, found {len(outputs)}")
    b.nodes.append(helper.make_node("Identity", [outputs[0]], ["detections"]))
    input_shape = ["batch", *shape[1:]] if dynamic_batch else list(shape)
    graph = helper.make_graph(
        b.nodes, "ssd", [helper.make_tensor_value_info("data", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT, [None, 7])], b.initializers)
    from ssdref import __version__

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ssdref", producer_version=__version__, ir_version=IR_VERSION)
    node_names = {names[(n, 0)]: n.name for n in symbol._nodes() if (n, 0) in names and n.name != "data"}
    num_classes = next(shape_of[n.inputs[0]][1] for n in symbol._nodes()
                       if n.op is not None and n.op.name == "_contrib_MultiBoxDetection") - 1
    helper.set_model_props(model, export_metadata(
        class_names=class_names, num_classes=num_classes, mean_pixels=mean_pixels, std_pixels=std_pixels,
        data_shape=input_shape, network=network, node_names=node_names))
    return model


def export_metadata(*, class_names, num_classes, mean_pixels, std_pixels, data_shape, network,
                    node_names) -> dict:
    """metadata_props of an export (values are strings; JSON for lists and maps):
    class_names (class_id 0, 1, ...; 'class K' when not given), mean_pixels and std_pixels (R, G, B:
    data = (pixels - mean) / std, RGB 0..255, as example/ssd feeds it), data_shape (the input,
    'batch' when dynamic), network, detections_format, mxnet_node_names {ONNX tensor: MXNet node}."""
    import json

    names = list(class_names) if class_names else [f"class {k}" for k in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{_OP}: class_names must name the {num_classes} classes, got {len(names)}: {names}")
    return {"class_names": json.dumps(names), "mean_pixels": json.dumps([float(v) for v in mean_pixels]),
            "std_pixels": json.dumps([float(v) for v in std_pixels]), "data_shape": json.dumps(list(data_shape)),
            "network": str(network or "unknown"), "detections_format": DETECTIONS_FORMAT,
            "mxnet_node_names": json.dumps(node_names, sort_keys=True)}


def _constant_anchors(entry, symbol, shape_of):
    """The anchors feeding MultiBoxDetection, computed by ssdref (they depend on shapes only)."""
    from ssdref.autograd.symbol import Symbol

    anchor_symbol = Symbol([entry])
    executor = anchor_symbol.simple_bind(grad_req="null", data=shape_of[_data_entry(symbol)])
    return executor.forward(is_train=False)[0].reshape(-1, 4)


def _data_entry(symbol):
    return next((n, 0) for n in symbol._nodes() if n.is_variable and n.name == "data")
