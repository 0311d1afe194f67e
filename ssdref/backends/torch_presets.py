"""torchvision's conventions in plain torch, for the preset rows of `ssdref conformance --backend torch`.

  * `nms_torchvision`: IoU `>` suppresses (MXNet's MultiBoxDetection: `>=`), stable score order;
  * `detect_torchvision`: batched per class, sorted output, -1 padding, no stale rows, ssdref's
    float32 decoding;
  * `match_torchvision`: torchvision's Matcher (best gt per anchor above a threshold, low-quality
    matches allowed) over ssdref's IoU matrix.
"""
from __future__ import annotations

import numpy as np
import torch


def nms_torchvision(boxes, scores, iou_threshold) -> torch.Tensor:
    """torchvision.ops.nms semantics in plain torch: indices kept, by score descending; box j is
    suppressed by a kept box i when IoU > iou_threshold (strict, MXNet: >=). Ties in score: stable."""
    boxes, scores = torch.as_tensor(boxes), torch.as_tensor(scores)
    order = torch.argsort(-scores, stable=True)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for pos, i in enumerate(order.tolist()):
        if suppressed[pos]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        lt = torch.maximum(boxes[i, :2], boxes[rest, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        union = areas[i] + areas[rest] - inter
        iou = torch.where(union > 0, inter / union, torch.zeros_like(inter))
        suppressed[pos + 1:] |= iou > iou_threshold
    return torch.as_tensor(keep, dtype=torch.int64)


def detect_torchvision(cls_prob, loc_pred, anchors, *, threshold=0.01, nms_threshold=0.5, nms_topk=-1,
                       clip=True, variances=(0.1, 0.1, 0.2, 0.2)) -> np.ndarray:
    """MultiBoxDetection under torchvision's conventions (batched_nms per class with `>`; scores
    >= threshold kept as MXNet does; top-k over all classes before NMS), as (B, A, 6) rows sorted by
    score with -1 padding and no stale rows. Decoding is ssdref's (the same float32 formula)."""
    from ssdref.multibox.boxes import clip_boxes, decode
    from ssdref.multibox.detection import pick_class
    from ssdref.multibox.nms import score_order

    cls_prob = np.asarray(cls_prob)
    loc_pred = np.asarray(loc_pred).reshape(cls_prob.shape[0], -1, 4)
    anchors = np.asarray(anchors).reshape(-1, 4)
    out = np.full((cls_prob.shape[0], anchors.shape[0], 6), -1, cls_prob.dtype)
    for b in range(cls_prob.shape[0]):
        class_id, score = pick_class(cls_prob[b], threshold)
        boxes = decode(anchors, loc_pred[b], variances)
        boxes = clip_boxes(boxes) if clip else boxes
        valid = np.flatnonzero(class_id > 0)
        valid = valid[score_order(score[valid], nms_topk)]
        keep = []
        for cls in np.unique(class_id[valid]):
            members = valid[class_id[valid] == cls]
            kept = nms_torchvision(torch.from_numpy(boxes[members]), torch.from_numpy(score[members]),
                                   nms_threshold)
            keep += members[kept.numpy()].tolist()
        keep = np.asarray(keep, np.int64)
        keep = keep[np.argsort(-score[keep], kind="stable")]
        rows = np.column_stack([class_id[keep] - 1, score[keep], boxes[keep]]).astype(out.dtype)
        out[b, :len(keep)] = rows
    return out


def match_torchvision(anchors, gt_boxes, iou_threshold=0.5, allow_low_quality_matches=True) -> np.ndarray:
    """torchvision's `det_utils.Matcher` (as its SSD uses it): per anchor the matched gt index or -1.

    Best gt by IoU (first on ties); positive when IoU >= iou_threshold (MXNet: > overlap_threshold);
    low-quality matches: every anchor whose IoU equals some gt's best IoU keeps its own best gt
    (MXNet instead runs a greedy one-to-one bipartite stage first)."""
    from ssdref.multibox.boxes import iou_matrix

    anchors, gt_boxes = np.asarray(anchors).reshape(-1, 4), np.asarray(gt_boxes).reshape(-1, 4)
    if gt_boxes.shape[0] == 0:
        return np.full(anchors.shape[0], -1, np.int64)
    iou = torch.from_numpy(iou_matrix(gt_boxes, anchors))           # (G, A), torchvision's layout
    best_iou, best_gt = iou.max(dim=0)
    matches = torch.where(best_iou >= iou_threshold, best_gt, torch.full_like(best_gt, -1))
    if allow_low_quality_matches:
        best_per_gt = iou.max(dim=1).values
        _, anchor_index = torch.nonzero(iou == best_per_gt[:, None], as_tuple=True)
        matches[anchor_index] = best_gt[anchor_index]
    return matches.numpy().astype(np.int64)
