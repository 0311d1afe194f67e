"""Which ONNX tensor stands for which MXNet node: matched structurally, from the detection head back."""
from __future__ import annotations

from ssdref.divergence.results import DETECTION_OP, OP, REVERSED_SCALAR, stem


# ------------------------------------------------------------------------- the name mapping
def _detection_tensors(graph) -> dict:
    """{step name: ONNX tensor} of the exported detection head, found by op type."""
    def nodes(op_type):
        return [n for n in graph.node if n.op_type == op_type]

    tensors = {}
    argmax = nodes("ArgMax")
    if len(argmax) != 1 or len(nodes("NonMaxSuppression")) != 1:
        raise ValueError(f"{OP}: the model must have the one ArgMax and NonMaxSuppression of an "
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
    j = 1 - i if op in REVERSED_SCALAR else i
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
    detection = next(n for n in symbol._nodes() if not n.is_variable and n.op.name == DETECTION_OP)
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
    by_name = {n.name: n for n in symbol._nodes() if not n.is_variable and n.op.name != DETECTION_OP}
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
            raise ValueError(f"{OP}: parameter {name} has no initializer {name}__<n> in the model; "
                             f"give --params PREFIX --epoch N")
        (aux if name in aux_names else args)[name] = numpy_helper.to_array(by_stem[name])
    return args, aux
