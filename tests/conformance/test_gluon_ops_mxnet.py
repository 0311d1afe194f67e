"""GluonCV's SSD inference ops side by side with real MXNet 1.9.1: forward and backward, bit for bit.

box_nms and box_decode draw their cases with hypothesis (layouts, thresholds, topk, formats, tied
scores, IoU exactly at the threshold, fractional class ids, degenerate boxes; large offsets that
overflow exp); the six small ops run fixed cases. Everything goes through both engines' symbolic
executors (`ssdref.backends.mxnet.run_op`), so the gradients are the ones a graph sees. Every case
must be bit-identical: outputs and input gradients (box_nms's record-routed gradient included).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ssdref
from ssdref.backends.conformance_cases import Outcome
from ssdref.backends.mxnet import run_op

# (id_index, score_index, coord_start, min width): GluonCV's layout first, then others MXNet allows.
NMS_LAYOUTS = ((0, 1, 2, 6), (-1, 0, 1, 5), (-1, 1, 2, 6), (2, 0, 3, 7), (5, 4, 0, 6))


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _compare(mx, op, params, inputs, out_grads, *, backward=True):
    """Run on both engines; (Outcome, detail). Both raising counts as agreement (never bit-exact)."""
    def run(engine):
        try:
            return run_op(engine, op, params, inputs, is_train=True, out_grads=out_grads,
                          backward=backward)
        except Exception as exc:   # compared below: both must raise, ssdref with a clear error
            return exc
    theirs, ours = run(mx), run(ssdref)
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        both = isinstance(theirs, Exception) and isinstance(ours, Exception)
        clear = both and isinstance(ours, (ValueError, TypeError))
        detail = "" if clear else f"MXNet: {theirs!r:.300}; ssdref: {ours!r:.300}"
        return Outcome(False, clear, 0.0 if clear else float("inf"), detail, both_raised=both)
    pairs = [(f"output{i}", o, t) for i, (o, t) in enumerate(zip(ours.outputs, theirs.outputs))]
    pairs += [(f"grad:{n}", ours.grads.get(n), g) for n, g in theirs.grads.items()]
    if len(ours.outputs) != len(theirs.outputs):
        return Outcome(False, False, float("inf"), f"{len(ours.outputs)} vs {len(theirs.outputs)} outputs")
    worst, detail = 0.0, ""
    for name, o, t in pairs:
        if not _same_bits(o, t):
            o64, t64 = np.asarray(o, np.float64), np.asarray(t, np.float64)
            err = float(np.nanmax(np.abs(o64 - t64))) if o64.shape == t64.shape else float("inf")
            worst = max(worst, err if np.isfinite(err) else float("inf"))
            detail += f"{name} differs (max abs {err:.3g})\nssdref {o!r}\nmxnet {t!r}\n"
    exact = not detail
    return Outcome(exact, exact, worst, detail)


def _check(mx, tally, op, params, inputs, out_grads, **kw):
    outcome = _compare(mx, op, params, inputs, out_grads, **kw)
    tally(op, outcome)
    shapes = {k: v.shape for k, v in inputs.items()}
    assert outcome.within_tol, f"{op}({params}) {shapes}: {outcome.detail}"
    return outcome


# ---------------------------------------------------------------------------------- box_nms
@st.composite
def box_nms_cases(draw):
    dtype = draw(st.sampled_from((np.float32, np.float32, np.float64)))
    id_index, score_index, coord_start, min_width = draw(st.sampled_from(NMS_LAYOUTS))
    width = min_width + draw(st.integers(0, 1))
    lead = draw(st.sampled_from(((), (1,), (2,), (3,), (2, 2))))
    num = draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    shape = lead + (num, width)
    data = rng.standard_normal(shape)
    # Coordinates on a coarse grid make equal boxes and IoU exactly at round thresholds likely.
    if draw(st.booleans()):
        corners = rng.integers(0, 5, shape[:-1] + (4,)) * 0.25
    else:
        corners = rng.uniform(-0.2, 1.0, shape[:-1] + (4,))
    lo, hi = np.minimum(corners[..., :2], corners[..., 2:]), np.maximum(corners[..., :2], corners[..., 2:])
    boxes = np.concatenate([lo, hi], axis=-1)
    if draw(st.booleans()):   # a few degenerate or inverted boxes
        boxes[..., 2] = np.where(rng.uniform(size=shape[:-1]) < 0.15, boxes[..., 0] - 0.1, boxes[..., 2])
    if draw(st.booleans()):   # NaN and inf coordinates: MXNet's ternaries decide what they do
        bad = rng.uniform(size=boxes.shape) < 0.05
        boxes = np.where(bad, rng.choice([np.nan, np.inf, -np.inf], size=boxes.shape), boxes)
    data[..., coord_start:coord_start + 4] = boxes
    scores = (rng.integers(0, 5, shape[:-1]) * 0.25 if draw(st.booleans())      # ties
              else rng.uniform(-0.1, 1.0, shape[:-1]))
    data[..., score_index] = scores
    if id_index >= 0:
        ids = rng.integers(-1, 3, shape[:-1]).astype(np.float64)
        if draw(st.booleans()):   # fractional ids: MXNet compares static_cast<int> (truncation)
            ids = ids + rng.choice([0.0, 0.3, 0.7], size=ids.shape)
        data[..., id_index] = ids
    params = dict(overlap_thresh=draw(st.sampled_from((0.5, 0.45, 0.3, 0.0, 0.25, 1.0, 0.7))),
                  valid_thresh=draw(st.sampled_from((0.0, 0.01, 0.5, -1.0))),
                  topk=draw(st.sampled_from((-1, -1, 400, 3, 1, 0))),
                  coord_start=coord_start, score_index=score_index, id_index=id_index,
                  background_id=draw(st.sampled_from((-1, 0, 1))),
                  force_suppress=draw(st.booleans()),
                  in_format=draw(st.sampled_from(("corner", "corner", "center"))),
                  out_format=draw(st.sampled_from(("corner", "corner", "center"))))
    head = rng.standard_normal(shape).astype(dtype)
    return params, {"data": data.astype(dtype)}, [head]


@pytest.mark.conformance
def test_box_nms_is_bit_exact_with_mxnet(mx, tally):
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(box_nms_cases())
    def run(case):
        params, inputs, heads = case
        _check(mx, tally, "_contrib_box_nms", params, inputs, heads)
    run()


@pytest.mark.conformance
def test_box_nms_gluoncv_call_on_many_boxes_is_bit_exact(mx, tally):
    """GluonCV's own arguments on an SSD-sized input: 2 images x 6132 rows [id, score, box]."""
    rng = np.random.default_rng(20)
    data = np.empty((2, 6132, 6), np.float32)
    data[..., 0] = rng.integers(0, 20, (2, 6132))
    data[..., 1] = rng.uniform(0, 1, (2, 6132)) ** 4
    corners = rng.uniform(0, 1, (2, 6132, 2, 2))
    data[..., 2:4] = corners.min(axis=2)
    data[..., 4:6] = corners.min(axis=2) + rng.uniform(0.01, 0.3, (2, 6132, 2))
    params = dict(overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0, score_index=1,
                  coord_start=2, force_suppress=False)
    outcome = _check(mx, tally, "_contrib_box_nms", params, {"data": data},
                     [rng.standard_normal(data.shape).astype(np.float32)])
    assert outcome.bit_exact


# ------------------------------------------------------------------------------- box_decode
@st.composite
def box_decode_cases(draw):
    dtype = draw(st.sampled_from((np.float32, np.float32, np.float64)))
    batch, num = draw(st.integers(1, 3)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    scale = draw(st.sampled_from((0.5, 1.0, 3.0, 40.0)))       # 40: exp overflows to inf
    data = rng.standard_normal((batch, num, 4)) * scale
    fmt = draw(st.sampled_from(("center", "corner")))
    if fmt == "center":
        anchors = np.concatenate([rng.uniform(0, 1, (1, num, 2)), rng.uniform(0.01, 1, (1, num, 2))], -1)
    else:
        lo = rng.uniform(0, 1, (1, num, 2))
        anchors = np.concatenate([lo, lo + rng.uniform(-0.05, 0.5, (1, num, 2))], -1)
    if draw(st.booleans()):
        anchors = anchors.reshape((1, 1, num, 4))      # MXNet reads any (..., 4) of N*4 values
    stds = draw(st.sampled_from(((0.1, 0.1, 0.2, 0.2), (1.0, 1.0, 1.0, 1.0), (0.3, 0.7, 0.15, 1.9))))
    params = dict(std0=stds[0], std1=stds[1], std2=stds[2], std3=stds[3], format=fmt,
                  clip=draw(st.sampled_from((-1.0, 0.0, 0.5, 4.135166556742356))))
    inputs = {"data": data.astype(dtype), "anchors": anchors.astype(dtype)}
    return params, inputs, [rng.standard_normal((batch, num, 4)).astype(dtype)]


@pytest.mark.conformance
def test_box_decode_is_bit_exact_with_mxnet(mx, tally):
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(box_decode_cases())
    def run(case):
        params, inputs, heads = case
        _check(mx, tally, "_contrib_box_decode", params, inputs, heads)
    run()


@pytest.mark.conformance
def test_box_decode_exp_on_70k_values_is_bit_exact(mx, tally):
    """The issue's measurement: 70k offsets, GluonCV's std; exp must be MXNet's (C double exp)."""
    rng = np.random.default_rng(70000)
    data = (rng.standard_normal((1, 17500, 4)) * 2).astype(np.float32)
    anchors = np.abs(rng.standard_normal((1, 17500, 4))).astype(np.float32) + 0.1
    params = dict(std0=0.1, std1=0.1, std2=0.2, std3=0.2, clip=-1.0, format="center")
    outcome = _check(mx, tally, "_contrib_box_decode", params, {"data": data, "anchors": anchors},
                     [np.ones_like(data)])
    assert outcome.bit_exact


# ---------------------------------------------------------------------- the six small ops
def _grid(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(-4, 5, shape) * 0.25).astype(dtype)   # zeros and ties on purpose


SMALL_CASES = [
    ("_greater_scalar", dict(scalar=0.25), lambda d: {"data": _grid((3, 4), d, 1)}, True),
    ("_greater_scalar", dict(scalar=0.1), lambda d: {"data": _grid((2, 3, 4), d, 2) + d(0.1)}, True),
    ("_greater_scalar", dict(scalar=-1.0), lambda d: {"data": _grid((5,), d, 3)}, True),
    ("zeros_like", {}, lambda d: {"data": _grid((2, 3), d, 4)}, True),
    ("ones_like", {}, lambda d: {"data": _grid((2, 1, 3), d, 5)}, True),
    ("_arange", dict(start=0, stop=10), lambda d: {}, False),
    ("_arange", dict(start=-1.5, stop=2.0, step=0.75, repeat=2), lambda d: {}, False),
    ("_arange", dict(start=5, stop=1, step=-0.3, dtype="float64"), lambda d: {}, False),
    ("_arange", dict(start=0.1, stop=3000.7, step=0.1), lambda d: {}, False),
    ("_arange", dict(start=0, stop=7, repeat=3, dtype="int32"), lambda d: {}, False),
    ("_arange", dict(start=5), lambda d: {}, False),                # no stop: range(0, start)
    ("_arange", dict(start=4.5, stop=None, step=0.5), lambda d: {}, False),
    ("_arange", dict(start=0, stop=3, infer_range=True), lambda d: {}, False),
    ("where", {}, lambda d: {"condition": _grid((3, 4), d, 6), "x": _grid((3, 4), d, 7),
                             "y": _grid((3, 4), d, 8)}, True),
    ("where", {}, lambda d: {"condition": np.float32([0, 1, 0]), "x": _grid((3, 2, 2), d, 9),
                             "y": _grid((3, 2, 2), d, 10)}, True),
    ("slice_like", dict(axes=(2, 3)), lambda d: {"data": _grid((1, 6, 5, 7), d, 11),
                                                 "shape_like": _grid((2, 2, 3, 4), d, 12)}, True),
    ("slice_like", {}, lambda d: {"data": _grid((4, 5), d, 13), "shape_like": _grid((2, 5), d, 14)}, True),
    ("slice_like", dict(axes=(-1, 0)), lambda d: {"data": _grid((4, 5, 3), d, 15),
                                                  "shape_like": _grid((1, 9, 2), d, 16)}, True),
]


@pytest.mark.conformance
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, params, make, backward", SMALL_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SMALL_CASES)])
def test_small_gluon_op_is_bit_exact_with_mxnet(mx, tally, op, params, make, backward, dtype):
    inputs = make(dtype)
    if op == "where" and inputs["condition"].ndim == 1:
        inputs["condition"] = inputs["condition"].astype(dtype)
    out_shape = None
    if not backward:
        heads = None
    else:
        probe = run_op(mx, op, params, inputs, is_train=True, backward=False)
        out_shape = probe.outputs[0].shape
        heads = [_grid(out_shape, dtype, 99) + dtype(0.125)]
    outcome = _check(mx, tally, op, params, inputs, heads, backward=backward)
    assert outcome.bit_exact


@pytest.mark.conformance
def test_gluon_ops_refuse_what_mxnet_refuses(mx, tally):
    bad = [
        ("_contrib_box_nms", dict(coord_start=3), {"data": np.zeros((2, 4, 6), np.float32)}),
        ("_contrib_box_nms", dict(id_index=0, score_index=0), {"data": np.zeros((2, 4, 6), np.float32)}),
        ("_contrib_box_nms", dict(id_index=0), {"data": np.zeros((2, 4, 5), np.float32)}),
        ("_contrib_box_decode", {}, {"data": np.zeros((2, 4, 3), np.float32),
                                     "anchors": np.zeros((1, 4, 4), np.float32)}),
        ("slice_like", dict(axes=(1,)), {"data": np.zeros((2, 3), np.float32),
                                         "shape_like": np.zeros((2, 4), np.float32)}),
    ]
    for op, params, inputs in bad:
        outcome = _compare(mx, op, params, inputs, None, backward=False)
        tally(op, outcome)
        assert outcome.both_raised and outcome.within_tol, (op, params, outcome.detail)
