"""Time the multibox ops on SSD300/SSD512 sizes (Numba backend by default) and print medians in ms.

Cases (MXNet 1.9.1 figures on this project's 2-core machine, from issue 7, in brackets):
  MultiBoxTarget   SSD300 8732 anchors, batch 8, ~35 gt per image, mining ratio 3   [244 ms]
  MultiBoxTarget   SSD300 8732 anchors, batch 1, 200 gt                             [463 ms]
  MultiBoxDetection SSD300 batch 8, 21 classes, nms_topk 400                       [8.8 ms]
  MultiBoxDetection SSD300 batch 8, 21 classes, nms_topk -1                        [48 ms]
  MultiBoxDetection SSD512 24564 anchors, batch 8, nms_topk -1                     [541 ms]
(issue 7 does not say the batch of the nms_topk -1 figures; both batch 8 and batch 1 are timed.)
Inputs are random but fixed (seed 0): logits ~ N(0, 1), cls_prob their softmax (so every anchor
passes threshold 0.01 and NMS sees every anchor), loc_pred ~ N(0, 0.3^2).

    OMP_NUM_THREADS=2 .venv/bin/python bench/multibox.py [--backend numba|numpy] [--repeat 7]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ssdref.backend import dispatch, use_backend
from ssdref.multibox.detection import multibox_detection
from ssdref.multibox.prior import multibox_prior
from ssdref.multibox.target import multibox_target

SIZES = {
    300: ((38, (.1, .141), (1, 2, .5)), (19, (.2, .272), (1, 2, .5, 3, 1 / 3)),
          (10, (.37, .447), (1, 2, .5, 3, 1 / 3)), (5, (.54, .619), (1, 2, .5, 3, 1 / 3)),
          (3, (.71, .79), (1, 2, .5)), (1, (.88, .961), (1, 2, .5))),
    512: ((64, (.07, .1025), (1, 2, .5)), (32, (.15, .2121), (1, 2, .5, 3, 1 / 3)),
          (16, (.3, .3674), (1, 2, .5, 3, 1 / 3)), (8, (.45, .5196), (1, 2, .5, 3, 1 / 3)),
          (4, (.6, .6708), (1, 2, .5, 3, 1 / 3)), (2, (.75, .8216), (1, 2, .5)),
          (1, (.9, .9721), (1, 2, .5))),
}


def ssd_anchors(network):
    prior = dispatch(multibox_prior)
    return np.concatenate([prior(np.zeros((1, 1, s, s), np.float32), sizes=z, ratios=r)
                           for s, z, r in SIZES[network]], axis=1)


def labels(rng, batch, num_gt, rows=None):
    rows = rows or num_gt
    label = np.full((batch, rows, 6), -1, np.float32)
    for image in range(batch):
        xy = rng.uniform(0, .8, (num_gt, 2))
        wh = rng.uniform(.03, .5, (num_gt, 2))
        label[image, :num_gt, 0] = rng.randint(0, 20, num_gt)
        label[image, :num_gt, 1:3] = xy
        label[image, :num_gt, 3:5] = np.minimum(xy + wh, 1)
        label[image, :num_gt, 5] = 0
    return label


def median_ms(fn, repeat):
    fn()                                                       # compile / warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * float(np.min(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba", choices=("numba", "numpy"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    target = lambda *a, **k: dispatch(multibox_target)(*a, **k)          # noqa: E731
    detect = lambda *a, **k: dispatch(multibox_detection)(*a, **k)       # noqa: E731
    cases = []
    with use_backend(args.backend):
        a300, a512 = ssd_anchors(300), ssd_anchors(512)
        assert a300.shape[1] == 8732 and a512.shape[1] == 24564
        for name, anchors, batch, num_gt, mxnet in (
                ("MultiBoxTarget 8732 anchors, batch 8, 35 gt", a300, 8, 35, 244.0),
                ("MultiBoxTarget 8732 anchors, batch 1, 200 gt", a300, 1, 200, 463.0)):
            label = labels(rng, batch, num_gt, rows=max(num_gt, 56))
            logits = rng.randn(batch, 21, anchors.shape[1]).astype(np.float32)
            run = lambda: target(anchors, label, logits, overlap_threshold=.5,    # noqa: E731
                                 negative_mining_ratio=3, negative_mining_thresh=.5)
            cases.append((name, median_ms(run, args.repeat), mxnet))
        for name, anchors, batch, topk, mxnet in (
                ("MultiBoxDetection 8732 anchors, batch 8, topk 400", a300, 8, 400, 8.8),
                ("MultiBoxDetection 8732 anchors, batch 8, topk -1", a300, 8, -1, 48.0),
                ("MultiBoxDetection 8732 anchors, batch 1, topk -1", a300, 1, -1, 48.0),
                ("MultiBoxDetection 24564 anchors, batch 8, topk -1", a512, 8, -1, 541.0),
                ("MultiBoxDetection 24564 anchors, batch 1, topk -1", a512, 1, -1, 541.0)):
            logits = rng.randn(batch, 21, anchors.shape[1]).astype(np.float32)
            prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            loc = (rng.randn(batch, anchors.shape[1] * 4) * .3).astype(np.float32)
            run = lambda: detect(prob, loc, anchors, nms_threshold=.45,           # noqa: E731
                                 nms_topk=topk)
            cases.append((name, median_ms(run, args.repeat), mxnet))
    print(f"backend {args.backend}, median (min) of {args.repeat} runs, ms; timer resolution "
          f"{time.get_clock_info('perf_counter').resolution * 1e9:.0f} ns")
    print(f"{'case':52s} {'ssdref':>16s} {'MXNet':>8s} {'ratio':>7s}")
    for name, (median, best), mxnet in cases:
        print(f"{name:52s} {median:8.2f} ({best:6.2f}) {mxnet:8.1f} {median / mxnet:7.3f}")


if __name__ == "__main__":
    main()
