"""Seeded multibox cases beyond the spec's §8 ones: SSD-like random targets and detections.

`random_multibox_inputs(case)` (`case` giving `op`, `seed`, `dtype`) draws anchors of a 4x4 and
a 2x2 map and two images of random boxes, with portable draws only, so the same bits come out on
every machine. Read by the golden set (`MultiBoxTarget_random_ssd_<dtype>`,
`MultiBoxDetection_random_<dtype>`, declared in RANDOM below, with the non-square prior).
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
