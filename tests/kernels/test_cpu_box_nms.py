"""The Numba box_nms kernel equals the NumPy specification bit for bit: output, record, gradient.

Drawn inputs cover every layout MXNet allows, both formats, tied scores, grid boxes (IoU exactly at
round thresholds), inverted and zero-area boxes, NaN and inf coordinates, fractional class ids,
and topk cuts."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.backend import dispatch
from ssdref.kernels import cpu_box_nms
from ssdref.multibox import box_nms as spec

LAYOUTS = ((0, 1, 2, 6), (-1, 0, 1, 5), (2, 0, 3, 7), (5, 4, 0, 6))


@st.composite
def nms_inputs(draw):
    dtype = draw(st.sampled_from((np.float32, np.float64)))
    id_index, score_index, coord_start, width = draw(st.sampled_from(LAYOUTS))
    lead = draw(st.sampled_from(((), (1,), (3,), (2, 2))))
    num = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    shape = lead + (num, width)
    data = rng.standard_normal(shape)
    grid = draw(st.booleans())
    corners = rng.integers(-1, 5, shape[:-1] + (4,)) * 0.25 if grid else rng.uniform(-0.2, 1, shape[:-1] + (4,))
    if draw(st.booleans()):                                   # NaN and inf coordinates
        bad = rng.uniform(size=corners.shape) < 0.05
        corners = np.where(bad, rng.choice([np.nan, np.inf, -np.inf], size=corners.shape), corners)
    data[..., coord_start:coord_start + 4] = corners          # unsorted: some boxes are inverted
    if draw(st.booleans()):
        data[..., score_index] = rng.integers(0, 4, shape[:-1]) * 0.25
    if id_index >= 0:
        data[..., id_index] = rng.integers(-1, 3, shape[:-1]) + rng.choice([0, 0.5], shape[:-1])
    params = dict(overlap_thresh=draw(st.sampled_from((0.0, 0.25, 0.45, 0.5, 1.0))),
                  valid_thresh=draw(st.sampled_from((0.0, 0.01, -2.0))),
                  topk=draw(st.sampled_from((-1, 0, 1, 5, 400))), coord_start=coord_start,
                  score_index=score_index, id_index=id_index,
                  background_id=draw(st.sampled_from((-1, 0, 1))), force_suppress=draw(st.booleans()),
                  in_format=draw(st.sampled_from(("corner", "center"))),
                  out_format=draw(st.sampled_from(("corner", "center"))))
    return data.astype(dtype), params


@settings(max_examples=300)
@given(nms_inputs())
def test_kernel_equals_spec_bitwise(case):
    data, params = case
    ours, ours_cache = cpu_box_nms.box_nms_forward(data, **params)
    theirs, their_cache = spec.box_nms_forward(data, **params)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.tobytes() == theirs.tobytes()
    np.testing.assert_array_equal(ours_cache.record, their_cache.record)
    head = np.random.default_rng(1).standard_normal(data.shape).astype(data.dtype)
    assert (spec.box_nms_backward(head, ours_cache).tobytes()
            == spec.box_nms_backward(head, their_cache).tobytes())


def test_dispatch_finds_the_kernel_under_numba_and_the_spec_under_numpy():
    assert dispatch(spec.box_nms_forward, "numba") is cpu_box_nms.box_nms_forward
    assert dispatch(spec.box_nms_forward, "numpy") is spec.box_nms_forward


def test_kernel_on_an_ssd_sized_input_matches_the_spec():
    rng = np.random.default_rng(7)
    data = np.empty((2, 6132, 6), np.float32)
    data[..., 0] = rng.integers(0, 20, (2, 6132))
    data[..., 1] = rng.uniform(0, 1, (2, 6132)) ** 4
    lo = rng.uniform(0, 1, (2, 6132, 2))
    data[..., 2:4], data[..., 4:6] = lo, lo + rng.uniform(0.01, 0.3, (2, 6132, 2))
    params = dict(overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0)
    ours, a = cpu_box_nms.box_nms_forward(data, **params)
    theirs, b = spec.box_nms_forward(data, **params)
    assert ours.tobytes() == theirs.tobytes() and np.array_equal(a.record, b.record)


def test_kernel_leaves_inputs_alone_and_takes_read_only_non_contiguous_views():
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, (3, 10, 12)).astype(np.float32)
    view = base[:, :, ::2]                   # (3, 10, 6), non-contiguous
    view.flags.writeable = False
    before = base.copy()
    ours, _ = cpu_box_nms.box_nms_forward(view, id_index=0, overlap_thresh=0.3)
    theirs, _ = spec.box_nms_forward(np.ascontiguousarray(view), id_index=0, overlap_thresh=0.3)
    assert ours.tobytes() == theirs.tobytes()
    np.testing.assert_array_equal(base, before)


def test_kernel_raises_the_spec_errors():
    with pytest.raises(ValueError, match="box_nms: coord_start must leave 4 coordinates"):
        cpu_box_nms.box_nms_forward(np.zeros((1, 2, 6), np.float32), coord_start=3)
