"""Conformance generators of the multibox ops (over ssdref.testing.strategies) and GluonCV's SSD ops."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ssdref.cases.case import Case
from ssdref.cases.generators.draw import F32, draw_dtype, draw_seed, draw_shape, simple_case, values


# ------------------------------------------------------------------------------- multibox
def gen_multibox_prior(draw):
    from ssdref.testing.strategies import OFFSET_CHOICES, RATIO_CHOICES
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    sizes = tuple(draw(st.lists(st.sampled_from((0.1, 0.2, 0.272, 0.37, 0.5, 0.75, 0.88, 1.0, 1.5)),
                                min_size=1, max_size=3)))
    ratios = tuple(draw(st.lists(st.sampled_from(RATIO_CHOICES), min_size=1, max_size=4)))
    params = dict(sizes=sizes, ratios=ratios, clip=draw(st.booleans()))
    if draw(st.booleans()):
        params["steps"] = draw(st.sampled_from(((0.1, 0.1), (8 / 300, 8 / 300), (0.3, 0.2), (-1.0, -1.0))))
    if draw(st.booleans()):
        params["offsets"] = (draw(st.sampled_from(OFFSET_CHOICES)), draw(st.sampled_from(OFFSET_CHOICES)))
    x = np.zeros((n, c, h, w), F32)
    return Case("_contrib_MultiBoxPrior", params, {"data": x}, {}, False, None, backward=False)


def gen_multibox_target(draw):
    from ssdref.testing.strategies import multibox_target_inputs, ssd_configs
    width = draw(st.sampled_from((5, 5, 6)))
    got = draw(multibox_target_inputs(config=ssd_configs(max_layers=3, max_side=4, max_classes=3),
                                      batch=st.integers(1, 3), max_objects=st.integers(1, 5),
                                      width=width, junk_after_padding=draw(st.booleans())))
    params = dict(got.params)
    params["ignore_label"] = draw(st.sampled_from((-1.0, -1.0, -2.0)))
    params["overlap_threshold"] = draw(st.sampled_from((params["overlap_threshold"], 0.99, 0.5)))
    label = _with_zero_area_gt(draw, got.label)
    inputs = {"anchor": got.anchor, "label": label, "cls_pred": got.cls_pred}
    return Case("_contrib_MultiBoxTarget", params, inputs, {}, False, None, backward=False)


def _with_zero_area_gt(draw, label):
    """label with, in a quarter of the cases, one gt in use collapsed to zero width or height (a
    degenerate box: never matched, spec §2 T15); the strategies draw only valid boxes."""
    if draw(st.integers(0, 3)) != 0:
        return label
    label = label.copy()
    in_use = [(b, r) for b in range(label.shape[0]) for r in range(label.shape[1])
              if not (label[b, :r + 1, 0] == -1).any()]
    if in_use:
        b, r = in_use[draw(st.integers(0, len(in_use) - 1))]
        axis = draw(st.sampled_from((1, 2)))                  # xmax = xmin or ymax = ymin
        label[b, r, axis + 2] = label[b, r, axis]
    return label


def gen_multibox_detection(draw):
    from ssdref.testing.strategies import multibox_detection_inputs, ssd_configs
    got = draw(multibox_detection_inputs(config=ssd_configs(max_layers=3, max_side=4, max_classes=3),
                                         batch=st.integers(1, 3)))
    params = dict(got.params)
    params["background_id"] = draw(st.sampled_from((0, 0, 1)))
    if draw(st.integers(0, 3)) == 0:
        params["nms_topk"] = draw(st.sampled_from((2, 5, 0)))
    inputs = {"cls_prob": got.cls_prob, "loc_pred": got.loc_pred, "anchor": got.anchor}
    return Case("_contrib_MultiBoxDetection", params, inputs, {}, False, None, backward=False)


# ------------------------------------------------------------------------------- GluonCV's ops
def gen_greater_scalar(draw):
    dtype = draw_dtype(draw)
    scalar = draw(st.sampled_from((0.0, 0.5, -1.0, 0.1, 1.0)))
    return simple_case(draw, "_greater_scalar", {"scalar": scalar}, {"data": values(draw, draw_shape(draw), dtype)},
                   dtype)


def gen_arange(draw):
    dtype = draw(st.sampled_from(("float32", "float32", "float64")))
    start = draw(st.sampled_from((0.0, -1.5, 2.0, 0.1)))
    step = draw(st.sampled_from((1.0, 0.5, -0.75, 0.1, 3.0)))
    stop = start + step * (draw(st.integers(1, 40)) - draw(st.sampled_from((0.0, 0.5))))
    params = {"start": start, "stop": stop, "step": step, "repeat": draw(st.integers(1, 3)), "dtype": dtype}
    return Case("_arange", params, {}, {}, False, None, backward=False)


def gen_where(draw):
    dtype = draw_dtype(draw)
    shape = draw_shape(draw)
    cond_shape = shape if draw(st.booleans()) else shape[:1]
    inputs = {"condition": values(draw, cond_shape, dtype, ties=True),
              "x": values(draw, shape, dtype), "y": values(draw, shape, dtype)}
    return simple_case(draw, "where", {}, inputs, dtype, out_shape=shape)


def gen_slice_like(draw):
    dtype = draw_dtype(draw)
    shape = draw_shape(draw)
    ndim = len(shape)
    if draw(st.booleans()):
        axes, chosen = (), set(range(ndim))
        like = [draw(st.integers(1, s)) for s in shape]
    else:
        axes = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                                   unique_by=lambda a: a % ndim)))
        chosen = {a % ndim for a in axes}
        like = [draw(st.integers(1, shape[k])) if k in chosen else draw(st.integers(1, 4))
                for k in range(ndim)]
    out = tuple(like[k] if k in chosen else shape[k] for k in range(ndim))
    inputs = {"data": values(draw, shape, dtype), "shape_like": values(draw, tuple(like), dtype)}
    return simple_case(draw, "slice_like", {"axes": axes}, inputs, dtype, out_shape=out)


def gen_box_decode(draw):
    dtype = draw_dtype(draw)
    batch, num = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    fmt = draw(st.sampled_from(("center", "corner")))
    rng = np.random.default_rng(draw_seed(draw))
    anchors = rng.uniform(0.05, 1.0, (1, num, 4))
    if fmt == "corner":
        anchors[..., 2:] += anchors[..., :2]
    std = draw(st.sampled_from(((0.1, 0.1, 0.2, 0.2), (1.0, 1.0, 1.0, 1.0))))
    params = dict(std0=std[0], std1=std[1], std2=std[2], std3=std[3], format=fmt,
                  clip=draw(st.sampled_from((-1.0, 0.5, 4.135166556742356))))
    data = values(draw, (batch, num, 4), dtype, scale=draw(st.sampled_from((1.0, 3.0))))
    return simple_case(draw, "_contrib_box_decode", params, {"data": data, "anchors": anchors.astype(dtype)},
                   dtype)


def gen_box_nms(draw):
    dtype = draw_dtype(draw)
    batch, num = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw_seed(draw))
    data = np.empty((batch, num, 6))
    data[..., 0] = rng.integers(0, 3, (batch, num))
    data[..., 1] = (rng.integers(0, 5, (batch, num)) * 0.25 if draw(st.booleans())
                    else rng.uniform(0, 1, (batch, num)))
    corner = rng.integers(0, 5, (batch, num, 2)) * 0.25
    data[..., 2:4] = corner
    data[..., 4:6] = corner + rng.integers(1, 4, (batch, num, 2)) * 0.25
    params = dict(overlap_thresh=draw(st.sampled_from((0.5, 0.45, 0.3))),
                  valid_thresh=draw(st.sampled_from((0.0, 0.01))),
                  topk=draw(st.sampled_from((-1, 3, 400))), id_index=draw(st.sampled_from((-1, 0))),
                  background_id=draw(st.sampled_from((-1, 0))), force_suppress=draw(st.booleans()),
                  in_format=draw(st.sampled_from(("corner", "center"))),
                  out_format=draw(st.sampled_from(("corner", "center"))))
    return simple_case(draw, "_contrib_box_nms", params, {"data": data.astype(dtype)}, dtype)

