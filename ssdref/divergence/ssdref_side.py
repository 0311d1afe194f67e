"""ssdref's side of the comparison: every MXNet node's output, and the detection head step by step."""
from __future__ import annotations

import numpy as np

from ssdref.divergence.results import DETECTION_OP, OP


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
                raise ValueError(f"{OP}: parameter {node.name} is missing")
            values[(node, 0)] = data if node.name == "data" else np.asarray(params[node.name], np.float32)
            continue
        if node.op.name == DETECTION_OP:
            detection = node
            continue
        num_args = node.num_args()
        outs, _ = node.op.forward([values[e] for e in node.inputs[:num_args]],
                                  [values[e] for e in node.inputs[num_args:]], node.params, False)
        for j, out in enumerate(outs):
            values[(node, j)] = out
        outputs[node] = outs[0]
    if detection is None:
        raise ValueError(f"{OP}: the symbol has no {DETECTION_OP} node")
    cls_prob, loc_pred, anchors = (values[e] for e in detection.inputs[:3])
    p = detection.params
    steps = detection_steps(cls_prob, loc_pred, anchors.reshape(-1, 4), threshold=p["threshold"],
                            nms_threshold=p["nms_threshold"], nms_topk=p["nms_topk"],
                            force_suppress=p["force_suppress"], clip=p["clip"], variances=p["variances"])
    return outputs, steps
