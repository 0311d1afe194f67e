"""Seeded multibox cases beyond the spec's §8 ones: SSD-like random targets and detections.

`random_multibox_inputs(case)` (`case` giving `op`, `seed`, `dtype`) draws anchors of a 4x4 and
a 2x2 map and two images of random boxes, with portable draws only, so the same bits come out on
every machine. Read by the golden set (`MultiBoxTarget_random_ssd_<dtype>`,
`MultiBoxDetection_random_<dtype>`, declared in RANDOM below, with the non-square prior).

The conformance reports' convention rows read their cases here too: `nms_boundary_inputs` (a pair
of boxes with IoU exactly 0.5, where NMS with MXNet's `>=` and with `>` part: the torch,
ONNX Runtime and TVM reports), `matching_boundary_inputs` (an anchor at IoU exactly 0.5 with its
ground truth: the torch report), and the random draws `random_detection_inputs` and
`random_matching_inputs` of those rows.
"""
from __future__ import annotations

import numpy as np

from ssdref.cases.case import run_op
from ssdref.cases.spec import SSD

def random_multibox_inputs(case):
    """Anchors of a 4x4 and a 2x2 map, 2 images of random boxes; logits for the target, class
    probabilities (integer weights over their sum: no exp, so the same bits on every machine) and
    box offsets for the detection."""
    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    prior = [run_op("_contrib_MultiBoxPrior", dict(sizes=s, ratios=(1, 2, .5)),
                    {"data": np.zeros((1, 1, n, n), dtype)}, is_train=False)[0]["output"]
             for n, s in ((4, (.2, .3)), (2, (.5, .7)))]
    anchor = np.concatenate(prior, axis=1)
    num_anchors, num_classes = anchor.shape[1], 3
    label = np.full((2, 4, 5), -1, dtype)
    for image, count in enumerate((3, 1)):
        corners = np.sort(rng.uniform(0, 1, (count, 2, 2)), axis=1)  # (count, [min, max], [x, y])
        label[image, :count, 0] = rng.integers(0, num_classes, count)
        label[image, :count, 1:5] = corners.reshape(count, 4)              # xmin ymin xmax ymax
    logits = rng.standard_normal((2, num_classes + 1, num_anchors)).astype(dtype)
    if case.op == "_contrib_MultiBoxTarget":
        inputs = {"anchor": anchor, "label": label, "cls_pred": logits}
    else:
        weights = rng.integers(1, 1000, (2, num_classes + 1, num_anchors)).astype(np.float64)
        prob = (weights / weights.sum(axis=1, keepdims=True)).astype(dtype)  # exact sums, one division
        loc = (rng.standard_normal((2, num_anchors * 4)) * 0.5).astype(dtype)
        inputs = {"cls_prob": prob, "loc_pred": loc, "anchor": anchor}
    return inputs


# (name stem, op, params, seed): each in float32 and float64, inputs from random_multibox_inputs.
RANDOM = (("MultiBoxTarget_random_ssd", "_contrib_MultiBoxTarget", SSD, 7),
          ("MultiBoxDetection_random", "_contrib_MultiBoxDetection", dict(nms_threshold=.45, nms_topk=20), 8))
# A prior on a non-square map in float64 (explicit input: one zero feature map).
PRIOR_NONSQUARE = ("MultiBoxPrior_nonsquare_float64", "_contrib_MultiBoxPrior",
                   dict(sizes=(.3, .5, .7), ratios=(1, 2, .5, 3)), {"data": np.zeros((1, 1, 3, 5))})


# ------------------------------------------------------------------ the conformance reports' rows
def nms_boundary_inputs():
    """Two class-1 boxes with IoU exactly 0.5 (exact in float32), a third far away: MXNet's NMS
    (`>=`) suppresses the second, torchvision's and ONNX's (`>`) keep it. (cls_prob (1, 2, 3),
    loc_pred (1, 12) zeros, anchors (3, 4)), float32, fresh arrays."""
    anchors = np.array([[0, 0, 1, 0.5], [0, 0, 1, 0.25], [0.6, 0.6, 0.9, 0.9]], np.float32)
    cls_prob = np.array([[[0.1, 0.2, 0.5], [0.9, 0.8, 0.5]]], np.float32)
    return cls_prob, np.zeros((1, 12), np.float32), anchors


def matching_boundary_inputs():
    """Anchor 1 at IoU exactly 0.5 with the one ground truth: torchvision's Matcher matches it,
    MXNet (`>` after the bipartite stage) does not. (anchors (1, 3, 4), gts (1, 5)), float32."""
    anchors = np.array([[[0, 0, 1, 0.5], [0, 0, 1, 0.25], [0.5, 0.5, 1, 1]]], np.float32)
    return anchors, np.array([[0, 0, 0, 1, 0.5]], np.float32)


def random_anchors(rng, num, *, centre, sizes):
    """(num, 4) float32 corner boxes: centres uniform in [low, low + span) (`centre` = (low, span)),
    width and height drawn from `sizes`."""
    low, span = centre
    centres = rng.random((num, 2)) * span + low
    extent = rng.choice(sizes, (num, 2))
    return np.concatenate([centres - extent / 2, centres + extent / 2], 1).astype(np.float32)


def random_detection_inputs(rng, num_anchors, num_classes, batch, *, centre, sizes, logit_scale=1.0):
    """(cls_prob (batch, num_classes, num_anchors), loc_pred (batch, 4 num_anchors), anchors
    (num_anchors, 4)), float32: random anchors, a softmax of N(0, logit_scale²) logits, offsets
    N(0, 0.25)."""
    anchors = random_anchors(rng, num_anchors, centre=centre, sizes=sizes)
    logits = rng.standard_normal((batch, num_classes, num_anchors)) * logit_scale
    cls_prob = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    loc = (rng.standard_normal((batch, num_anchors * 4)) * 0.5).astype(np.float32)
    return cls_prob, loc, anchors


def random_matching_inputs(rng, num=30):
    """(anchors (1, num, 4), gts (3, 5)), float32: random anchors, three ground truths near the
    first three anchors (class 0-2)."""
    anchors = random_anchors(rng, num, centre=(0.2, 0.6), sizes=(0.1, 0.2, 0.4))[None]
    gts = np.concatenate([rng.integers(0, 3, (3, 1)), anchors[0, :3] + rng.normal(0, 0.03, (3, 4))], 1)
    return anchors, gts.astype(np.float32)
