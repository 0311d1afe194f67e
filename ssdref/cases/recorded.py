"""The cases recorded on real MXNet 1.9.1 (`python -m ssdref.backends.record_mxnet`), declared once.

`recorded_cases()` gives name -> `Case` (deterministic, from SEED): the spec's §8 cases (from
`ssdref.cases.spec`, named `spec/<label>`), SSD-like MultiBoxTarget / MultiBoxDetection /
MultiBoxPrior configurations, and a few layers forward + backward. Their recorded outputs live in
golden/mxnet-1.9.1/ (tests/test_recorded_mxnet.py replays them); the tiny SSD training step
recorded beside them is `ssdref.backends.mxnet_graph.compare_ssd`'s.
"""
from __future__ import annotations

import numpy as np

from ssdref.cases.case import Case
from ssdref.cases.spec import SSD

SEED = 20240519

def _ssd_like_target(rng, batch=2):
    """SSD-like anchors (two layers of MultiBoxPrior), padded labels, rounded logits (ties)."""
    import ssdref
    anchors = np.concatenate([
        ssdref.nd.contrib.MultiBoxPrior(np.zeros((1, 1, 6, 6), np.float32), sizes=(.2, .272), ratios=(1, 2, .5)),
        ssdref.nd.contrib.MultiBoxPrior(np.zeros((1, 1, 3, 3), np.float32), sizes=(.37, .447),
                                        ratios=(1, 2, .5, 3, 1. / 3))], axis=1)
    num_anchors = anchors.shape[1]
    label = np.full((batch, 4, 5), -1.0, np.float32)
    for b in range(batch - 1):
        for r in range(3):
            x0, y0 = rng.integers(0, 20, 2) / 32
            w, h = rng.integers(4, 12, 2) / 32
            label[b, r] = [rng.integers(0, 3), x0, y0, x0 + w, y0 + h]
    logits = (np.round(rng.standard_normal((batch, 4, num_anchors)) * 2) / 2).astype(np.float32)
    return anchors, label, logits


def _ssd_like_detection(rng, batch=2):
    anchors, _, logits = _ssd_like_target(rng, batch)
    exp = np.exp(logits.astype(np.float64))
    cls_prob = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    loc = (rng.integers(-8, 9, (batch, anchors.shape[1] * 4)) * 0.25).astype(np.float32)
    return cls_prob, loc, anchors


def recorded_cases() -> dict:
    """name -> Case: the fixed set (deterministic)."""
    rng = np.random.default_rng(SEED)
    f32 = np.float32

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(f32)

    cases = {}
    spec = spec_cases()
    cases.update(spec)
    anchors, label, logits = _ssd_like_target(rng)
    for name, params in (("ssd", dict(SSD)),
                         ("no_mining", dict(overlap_threshold=.3)),
                         ("threshold_0.7_variances", dict(overlap_threshold=.7, negative_mining_ratio=1,
                                                         variances=(.2, .2, .5, .5)))):
        cases[f"multibox_target/{name}"] = Case(
            "_contrib_MultiBoxTarget", params, {"anchor": anchors, "label": label, "cls_pred": logits},
            {}, False, None, False)
    cls_prob, loc, anchors = _ssd_like_detection(rng)
    for name, params in (("defaults", {}), ("ssd_eval", dict(nms_threshold=.45, nms_topk=400)),
                         ("force_topk_noclip", dict(force_suppress=True, nms_topk=5, clip=False, threshold=.2))):
        cases[f"multibox_detection/{name}"] = Case(
            "_contrib_MultiBoxDetection", params, {"cls_prob": cls_prob, "loc_pred": loc, "anchor": anchors},
            {}, False, None, False)
    cases["multibox_prior/ssd300_layer0"] = Case(
        "_contrib_MultiBoxPrior", dict(sizes=(.1, .141), ratios=(1, 2, .5), steps=(8 / 300, 8 / 300)),
        {"data": np.zeros((1, 1, 38, 38), f32)}, {}, False, None, False)
    # ---- layers, forward + backward
    x = arr(2, 4, 9, 9)
    cases["layer/conv_dilated_grouped"] = Case(
        "Convolution", dict(kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=4, num_group=2),
        {"data": x, "weight": arr(4, 2, 3, 3), "bias": arr(4)}, {}, True, [arr(2, 4, 9, 9)])
    cases["layer/pool_max_full"] = Case(
        "Pooling", dict(kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full"),
        {"data": x}, {}, True, [arr(2, 4, 5, 5)])
    cases["layer/pool_avg_pad"] = Case(
        "Pooling", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", count_include_pad=False),
        {"data": x}, {}, True, [arr(2, 4, 5, 5)])
    cases["layer/batchnorm_train"] = Case(
        "BatchNorm", dict(fix_gamma=False, eps=2e-5, momentum=.9),
        {"data": x, "gamma": arr(4), "beta": arr(4)},
        {"moving_mean": arr(4), "moving_var": np.abs(arr(4)) + .5}, True, [arr(2, 4, 9, 9)])
    xz = x.copy()
    xz[0, :, 0, 0] = 0   # an all-zero location: gradient g·1e5
    cases["layer/l2norm_channel"] = Case("L2Normalization", dict(mode="channel"), {"data": xz}, {}, True,
                                         [arr(2, 4, 9, 9)])
    cls = arr(2, 4, 30, scale=2)
    cls_label = rng.integers(-1, 4, (2, 30)).astype(f32)
    cases["layer/softmax_output_ssd"] = Case(
        "SoftmaxOutput", dict(multi_output=True, use_ignore=True, ignore_label=-1, normalization="valid"),
        {"data": cls, "label": cls_label}, {}, True, [arr(2, 4, 30)])
    cases["layer/softmax_axis1"] = Case("softmax", dict(axis=1), {"data": cls}, {}, True, [arr(2, 4, 30)])
    resid = (rng.integers(-8, 9, (2, 40)) * .25).astype(f32)
    cases["layer/smooth_l1"] = Case("smooth_l1", dict(scalar=1.0), {"data": resid}, {}, True, [arr(2, 40)])
    cases["layer/make_loss_valid"] = Case("MakeLoss", dict(normalization="valid"), {"data": np.abs(resid)},
                                          {}, True, [arr(2, 40)])
    return cases


def spec_cases() -> dict:
    """The spec's §8 multibox cases (ssdref.cases.spec) as Cases, named `spec/<label>`."""
    from ssdref.cases.spec import SPEC_CASES
    return {f"spec/{c.label}": c.case() for c in SPEC_CASES}
