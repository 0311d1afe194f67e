"""The numbers of one SSD training step on one image, stage by stage (what `ssdref explain` shows).

Runs the seed's training symbol (`get_symbol_train`) forward on one image, then re-traces every stage
with the public multibox functions so that the decisions hidden inside the ops become visible (which
anchor matched which gt and in which stage, which negatives were mined and why), and checks the
re-trace against the graph's own outputs (`TraceMismatch` if they ever differ).
Spec: mxnet-semantics.md §1 (priors), §2 (matching, mining, encoding), §4 (losses and their
normalizers), §3 (decoding, NMS), §7 (MultiBoxMetric).
Conventions that bite, as the ops have them:
  * bipartite stage: the globally best (anchor, gt) pair first, IoU > 1e-6; threshold stage: IoU > 0.5
    strictly; mining candidates: max IoU < 0.5 strictly, ranked by background probability ascending
    (stable), num_negative = int(3 * num_positive) capped at A - num_positive;
  * L_cls is divided by the non-ignored anchors (positives + mined negatives), L_loc by the number of
    strictly positive smooth-L1 elements: two different normalizers;
  * NMS suppresses at IoU >= nms_threshold, per class, over the nms_topk best scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ssdref.eval.multibox_metric import MultiBoxMetric
from ssdref.layers.make_loss import make_loss_forward
from ssdref.layers.smooth_l1 import smooth_l1_forward
from ssdref.layers.softmax_output import softmax_output_backward, softmax_output_forward
from ssdref.multibox.boxes import clip_boxes, decode, iou_matrix
from ssdref.multibox.detection import pick_class
from ssdref.multibox.nms import nms, score_order
from ssdref.multibox.target import (BIPARTITE_MIN_IOU, background_probability, best_gt_per_anchor,
                                    count_valid_gt, multibox_target, negative_count)

# The seed's get_symbol_train settings (symbol_builder.py): MultiBoxTarget and MultiBoxDetection.
SSD_TARGET = dict(overlap_threshold=0.5, ignore_label=-1.0, negative_mining_ratio=3.0,
                  negative_mining_thresh=0.5, minimum_negative_samples=0,
                  variances=(0.1, 0.1, 0.2, 0.2))
DETECTION_THRESHOLD = 0.01          # MultiBoxDetection's default `threshold`


class TraceMismatch(RuntimeError):
    """The step-by-step re-trace disagrees with the graph's outputs (a bug in ssdref)."""


class FeatureLayer(NamedTuple):
    """One source feature map and its anchors: count = height * width * per_location."""

    name: str
    height: int
    width: int
    sizes: tuple
    ratios: tuple
    per_location: int            # len(sizes) + len(ratios) - 1
    count: int
    start: int                   # index of the layer's first anchor in the concatenated list


class Match(NamedTuple):
    """A positive anchor: `bipartite` (the best anchor left for its gt) or `threshold` (IoU > 0.5)."""

    anchor: int
    gt: int
    iou: float
    stage: str


class Candidate(NamedTuple):
    """A hard-negative candidate (not positive, max IoU < negative_mining_thresh), in mining order."""

    rank: int
    anchor: int
    bg_prob: float
    max_iou: float
    picked: bool


class Target(NamedTuple):
    """The encoded regression target of one positive anchor (centre-size form, divided by variances)."""

    anchor: int
    gt: int
    cls_target: int
    anchor_cxcywh: tuple
    gt_cxcywh: tuple
    loc_target: tuple
    loc_pred: tuple


class Detection(NamedTuple):
    """A decoded detection: class id 0-based without background, as MultiBoxDetection writes it."""

    anchor: int
    class_id: int
    score: float
    box: tuple


@dataclass(frozen=True)
class Trace:
    """Every number `explain` reports, for one image (batch of 1)."""

    network: str
    data_shape: int
    num_classes: int
    class_names: tuple
    image: np.ndarray            # uint8 (H, W, 3)
    label: np.ndarray            # float32 (L, 6), padded with -1 rows
    gt: np.ndarray               # float32 (G, 5) [cls, xmin, ymin, xmax, ymax], the valid rows
    layers: tuple                # FeatureLayer per source layer
    anchors: np.ndarray          # (A, 4)
    iou: np.ndarray              # (A, G)
    matches: tuple               # Match per positive: bipartite ones in the order chosen, then threshold
    num_negative: int
    candidates: tuple            # Candidate, all of them, in mining order
    targets: tuple               # Target per positive, by anchor index
    cls_target: np.ndarray       # (A,) -1 ignored, 0 background, k + 1 class k
    loc_target: np.ndarray       # (A, 4)
    loc_mask: np.ndarray         # (A, 4)
    cls_pred: np.ndarray         # (C + 1, A) logits
    cls_prob: np.ndarray         # (C + 1, A)
    loc_pred: np.ndarray         # (A, 4)
    loc_loss_elements: np.ndarray  # (A, 4) smooth_l1(mask * (loc_pred - loc_target)): the loc_loss output
    cls_loss_sum: float          # sum of -log p_target over the non-ignored anchors (float64)
    neg_log_p: np.ndarray        # (N_cls,) -log p_target per non-ignored anchor, in anchor order
    num_cls: int                 # N_cls: non-ignored anchors
    loc_loss_sum: float
    num_loc: int                 # N_loc: smooth-L1 elements > 0
    cls_grad_scale: float        # SoftmaxOutput('valid') gradient factor: 1 / N_cls
    loc_grad_scale: float        # MakeLoss('valid') gradient: 1 / N_loc
    metric_cross_entropy: float  # MultiBoxMetric (monitor only)
    metric_smooth_l1: float
    nms_threshold: float
    nms_topk: int
    before_nms: tuple            # Detection, score descending (stable), at most nms_topk
    after_nms: tuple             # Detection that survive NMS, in output order
    det_out: np.ndarray          # (A, 6) the graph's det_out

    @property
    def positives(self) -> np.ndarray:
        return np.array(sorted(m.anchor for m in self.matches), dtype=np.int64)

    @property
    def negatives(self) -> np.ndarray:
        return np.array([c.anchor for c in self.candidates if c.picked], dtype=np.int64)

    @property
    def num_positive(self) -> int:
        return len(self.matches)

    @property
    def cls_loss(self) -> float:
        return self.cls_loss_sum / max(1, self.num_cls)

    @property
    def loc_loss(self) -> float:
        return self.loc_loss_sum / max(1, self.num_loc)


def _for_layer(values, k):
    """Layer k's entry of a per-layer list; a flat list (ratios=[1]) is shared by every layer, as
    multibox_layer broadcasts it."""
    return values[k] if isinstance(values[0], (list, tuple)) else values


def feature_layers(internals, data_shape, config) -> tuple:
    """FeatureLayer per `<src>_anchors` prior node of the symbol's internals, in anchor order."""
    names = internals.list_outputs()
    _, out_shapes, _ = internals.infer_shape_partial(data=(1, 3, data_shape, data_shape))
    shape_of = dict(zip(names, out_shapes))
    sources = [n[: -len("_anchors_output")] for n in names
               if n.endswith("_anchors_output") and n != "multibox_anchors_output"]
    layers, start = [], 0
    for k, src in enumerate(sources):
        height, width = shape_of[f"{src}_output"][2:]
        sizes, ratios = tuple(_for_layer(config["sizes"], k)), tuple(_for_layer(config["ratios"], k))
        per_location = len(sizes) + len(ratios) - 1
        count = height * width * per_location
        layers.append(FeatureLayer(src, height, width, sizes, ratios, per_location, count, start))
        start += count
    return tuple(layers)


def bipartite_and_threshold(iou, overlap_threshold):
    """Steps 3-4 of MultiBoxTarget, recorded: Match per positive anchor (bipartite first, in order)."""
    dtype = iou.dtype.type
    matches, free = [], iou.copy()
    num_gt = iou.shape[1]
    while len(matches) < num_gt:
        anchor, gt = np.unravel_index(np.argmax(free), free.shape)   # first max: lowest anchor, gt
        if not free[anchor, gt] > dtype(BIPARTITE_MIN_IOU):
            break                                                    # remaining gts overlap nothing
        matches.append(Match(int(anchor), int(gt), float(iou[anchor, gt]), "bipartite"))
        free[anchor, :] = -np.inf
        free[:, gt] = -np.inf
    best_iou, best_gt = best_gt_per_anchor(iou)
    taken = {m.anchor for m in matches}
    if overlap_threshold > 0:
        for anchor in np.flatnonzero(best_iou > dtype(overlap_threshold)):
            if int(anchor) not in taken:
                matches.append(Match(int(anchor), int(best_gt[anchor]), float(best_iou[anchor]),
                                     "threshold"))
    return tuple(matches), best_iou


def mine_negatives(cls_pred, best_iou, positives, num_negative, negative_mining_thresh):
    """Step 5: every candidate (non-positive, max IoU < thresh) ranked by background probability."""
    is_candidate = best_iou < best_iou.dtype.type(negative_mining_thresh)
    is_candidate[positives] = False
    candidates = np.flatnonzero(is_candidate)
    bg_prob = background_probability(cls_pred[:, candidates])
    order = np.argsort(bg_prob, kind="stable")                       # hardest (least background) first
    return tuple(Candidate(rank, int(candidates[i]), float(bg_prob[i]), float(best_iou[candidates[i]]),
                           rank < num_negative) for rank, i in enumerate(order))


def _cxcywh(box):
    left, top, right, bottom = (float(v) for v in box)
    return ((left + right) / 2, (top + bottom) / 2, right - left, bottom - top)


def _detections(indices, class_id, score, boxes):
    return tuple(Detection(int(a), int(class_id[a]) - 1, float(score[a]), tuple(float(v) for v in boxes[a]))
                 for a in indices)


def _check(condition, what):
    if not condition:
        raise TraceMismatch(f"explain: the re-trace disagrees with the graph: {what}")


def trace(*, network, data_shape, num_classes, class_names, image, label, config, internals,
          outputs, nms_threshold=0.5, nms_topk=400) -> Trace:
    """A Trace from the graph outputs of one forward pass (batch of 1).

    outputs: dict with 'cls_prob' (1, C+1, A), 'loc_loss' (1, 4A), 'cls_label' (1, A), 'det_out'
    (1, A, 6), 'loc_pred' (1, 4A), 'cls_pred' (1, C+1, A), 'anchors' (1, A, 4).
    """
    anchors = outputs["anchors"][0]
    num_anchors = anchors.shape[0]
    cls_pred, cls_prob = outputs["cls_pred"][0], outputs["cls_prob"][0]
    loc_pred = outputs["loc_pred"][0].reshape(num_anchors, 4)
    layers = feature_layers(internals, data_shape, config)
    _check(sum(layer.count for layer in layers) == num_anchors, "anchor count per layer")

    # MultiBoxTarget, the op itself, then its stages one by one.
    loc_target, loc_mask, cls_target = multibox_target(
        outputs["anchors"], label[None], outputs["cls_pred"], **SSD_TARGET)
    loc_target, loc_mask, cls_target = (loc_target[0].reshape(-1, 4), loc_mask[0].reshape(-1, 4),
                                        cls_target[0])
    _check(np.array_equal(cls_target, outputs["cls_label"][0]), "cls_target")
    gt = label[: count_valid_gt(label, 0), :5]
    dtype = anchors.dtype
    iou = iou_matrix(anchors, np.ascontiguousarray(gt[:, 1:5])) if len(gt) else np.zeros((num_anchors, 0), dtype)
    matches, best_iou = bipartite_and_threshold(iou, SSD_TARGET["overlap_threshold"]) if len(gt) \
        else ((), np.full(num_anchors, -1, dtype))
    positives = np.array(sorted(m.anchor for m in matches), dtype=np.int64)
    num_negative = negative_count(len(matches), num_anchors, SSD_TARGET["negative_mining_ratio"]) \
        if len(gt) else 0
    candidates = mine_negatives(cls_pred, best_iou, positives, num_negative,
                                SSD_TARGET["negative_mining_thresh"]) if num_negative > 0 else ()
    negatives = np.array([c.anchor for c in candidates if c.picked], dtype=np.int64)
    _check(np.array_equal(np.flatnonzero(cls_target > 0), positives), "positive anchors")
    _check(np.array_equal(np.flatnonzero(cls_target == 0), np.sort(negatives)), "mined negatives")
    by_anchor = {m.anchor: m for m in matches}
    targets = tuple(Target(int(a), by_anchor[a].gt, int(cls_target[a]), _cxcywh(anchors[a]),
                           _cxcywh(gt[by_anchor[a].gt, 1:5]), tuple(float(v) for v in loc_target[a]),
                           tuple(float(v) for v in loc_pred[a])) for a in positives)

    # Losses: the graph reports probabilities and smooth-L1 elements; the normalizers make the loss.
    loc_elements = outputs["loc_loss"][0].reshape(num_anchors, 4)
    recomputed, _ = smooth_l1_forward(loc_mask * (loc_pred - loc_target), scalar=1.0)
    _check(np.allclose(recomputed, loc_elements, rtol=1e-5, atol=1e-6), "loc_loss elements")
    counted = np.flatnonzero(cls_target >= 0)
    # -log p_target from the logits in float64 (log-sum-exp): finite even where the float32
    # probability underflows to 0 (MultiBoxMetric adds 1e-8 instead).
    logits64 = cls_pred[:, counted].astype(np.float64)
    top = logits64.max(axis=0)
    log_total = top + np.log(np.exp(logits64 - top).sum(axis=0))
    neg_log_p = log_total - logits64[cls_target[counted].astype(np.int64), np.arange(len(counted))]
    _, softmax_cache = softmax_output_forward(
        outputs["cls_pred"], outputs["cls_label"], ignore_label=-1.0, use_ignore=True,
        multi_output=True, normalization="valid")
    cls_grad, _ = softmax_output_backward(None, softmax_cache)
    onehot = np.zeros_like(cls_prob)
    onehot[cls_target[counted].astype(np.int64), counted] = 1
    num_cls = len(counted)
    expected_grad = (cls_prob - onehot)[:, counted] / np.float32(max(1, num_cls))
    _check(np.allclose(cls_grad[0][:, counted], expected_grad, rtol=1e-4, atol=1e-7),
           "SoftmaxOutput gradient = (p - onehot) / N_cls")
    _, make_loss_cache = make_loss_forward(outputs["loc_loss"], normalization="valid")
    num_loc = int(np.count_nonzero(loc_elements > 0))
    metric = MultiBoxMetric()
    metric.update(None, [outputs["cls_prob"], outputs["loc_loss"], outputs["cls_label"]])
    _, (metric_cross_entropy, metric_smooth_l1) = metric.get()

    # MultiBoxDetection, stage by stage: pick class, decode + clip, sort + top k, NMS.
    class_id, score = pick_class(cls_prob, DETECTION_THRESHOLD)
    boxes = clip_boxes(decode(anchors, loc_pred, SSD_TARGET["variances"]))
    valid = np.flatnonzero(class_id > 0)
    before = valid[score_order(score[valid], nms_topk)]
    keep = valid[nms(boxes[valid], score[valid], (class_id[valid] - 1).astype(dtype), nms_threshold,
                     False, nms_topk)]
    det_out = outputs["det_out"][0]
    kept_rows = det_out[det_out[:, 0] >= 0]
    expected_rows = np.column_stack([class_id[keep] - 1, score[keep], boxes[keep]]).astype(dtype)
    _check(kept_rows.shape == expected_rows.shape
           and np.allclose(kept_rows, expected_rows, rtol=1e-5, atol=1e-6), "detections after NMS")

    return Trace(
        network=network, data_shape=data_shape, num_classes=num_classes, class_names=tuple(class_names),
        image=image, label=label, gt=gt, layers=layers, anchors=anchors, iou=iou, matches=matches,
        num_negative=num_negative, candidates=candidates, targets=targets, cls_target=cls_target,
        loc_target=loc_target, loc_mask=loc_mask, cls_pred=cls_pred, cls_prob=cls_prob, loc_pred=loc_pred,
        loc_loss_elements=loc_elements, neg_log_p=neg_log_p, cls_loss_sum=float(neg_log_p.sum()), num_cls=num_cls,
        loc_loss_sum=float(loc_elements.astype(np.float64).sum()), num_loc=num_loc,
        cls_grad_scale=1.0 / max(1, num_cls), loc_grad_scale=float(make_loss_cache.grad_value),
        metric_cross_entropy=metric_cross_entropy, metric_smooth_l1=metric_smooth_l1,
        nms_threshold=nms_threshold, nms_topk=nms_topk,
        before_nms=_detections(before, class_id, score, boxes),
        after_nms=_detections(keep, class_id, score, boxes), det_out=det_out)
