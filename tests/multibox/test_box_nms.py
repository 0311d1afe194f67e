"""_contrib_box_nms: MXNet 1.9.1's layout, -1 fill, `>` comparator, stable tie rule, valid and
background filtering, int class ids, topk, formats, the record-routed gradient, and errors.

Every hand case runs on the NumPy specification and the Numba kernel (`backend` fixture)."""
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ssdref as mx
from ssdref.autograd.gradcheck import check_gradients
from ssdref.backend import dispatch
from ssdref.multibox import box_nms as bn
from ssdref.multibox.box_nms import box_nms_backward, box_nms_forward

GLUON = dict(overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0, score_index=1,
             coord_start=2, force_suppress=False)


def nms(data, **kw):
    return dispatch(box_nms_forward)(data, **kw)


def test_mxnet_documented_example(backend):
    x = np.float32([[0, 0.5, 0.1, 0.1, 0.2, 0.2], [1, 0.4, 0.1, 0.1, 0.2, 0.2],
                    [0, 0.3, 0.1, 0.1, 0.14, 0.14], [2, 0.6, 0.5, 0.5, 0.7, 0.8]])
    out, cache = nms(x, overlap_thresh=0.1, coord_start=2, score_index=1, id_index=0,
                     force_suppress=True)
    np.testing.assert_array_equal(out, np.float32([[2, 0.6, 0.5, 0.5, 0.7, 0.8],
                                                   [0, 0.5, 0.1, 0.1, 0.2, 0.2],
                                                   [-1] * 6, [-1] * 6]))
    head = np.float32([[0.1] * 6, [0.2] * 6, [0.3] * 6, [0.4] * 6])
    np.testing.assert_array_equal(box_nms_backward(head, cache),
                                  np.float32([[0.2] * 6, [0] * 6, [0] * 6, [0.1] * 6]))


def test_iou_exactly_at_the_threshold_survives(backend):
    # [0,0,2,1] vs [0,0,1,1]: IoU 0.5 exactly; `>` keeps both at 0.5 and suppresses at 0.49.
    y = np.float32([[0.9, 0, 0, 2, 1], [0.8, 0, 0, 1, 1]])
    assert nms(y, overlap_thresh=0.5, score_index=0, coord_start=1)[1].record.tolist() == [0, 1]
    assert nms(y, overlap_thresh=0.49, score_index=0, coord_start=1)[1].record.tolist() == [0, -1]
    # float64 data compares with float32(threshold): IoU 0.25 exactly vs 0.25 (exact in float32).
    z = np.float64([[0.9, 0, 0, 1, 1], [0.8, 0, 0, 1, 0.25]])
    assert nms(z, overlap_thresh=0.25, score_index=0, coord_start=1)[1].record.tolist() == [0, 1]
    # 0.1 as a float32 is 0.10000000149: a float64 IoU of 0.1000000005 survives it (MXNet too;
    # a float64 threshold of 0.1 would suppress).
    w = np.float64([[0.9, 0, 0, 1, 1], [0.8, 0, 0, 1, 0.1000000005]])
    assert nms(w, overlap_thresh=0.1, score_index=0, coord_start=1)[1].record.tolist() == [0, 1]


def test_equal_scores_keep_the_lower_row_first(backend):
    x = np.float32([[0.5, 0, 0, 1, 1], [0.7, 5, 5, 6, 6], [0.5, 0, 0, 1, 1], [0.5, 2, 2, 3, 3]])
    out, cache = nms(x, score_index=0, coord_start=1)
    assert cache.record.tolist() == [1, 0, 3, -1]      # row 2 is row 0's duplicate: suppressed
    np.testing.assert_array_equal(out[:3], x[[1, 0, 3]])


def test_valid_thresh_background_and_topk_filter_before_nms(backend):
    x = np.float32([[0, 0.9, 0, 0, 1, 1],      # background (id 0) -> dropped
                    [1, 0.01, 2, 2, 3, 3],     # score == valid_thresh -> dropped (needs >)
                    [1, 0.8, 4, 4, 5, 5],
                    [2, 0.7, 6, 6, 7, 7],
                    [2, 0.6, 8, 8, 9, 9]])     # valid, but beyond topk=2
    out, cache = nms(x, valid_thresh=0.01, id_index=0, background_id=0, topk=2)
    assert cache.record.tolist() == [2, 3, -1, -1, -1]
    assert (out[2:] == -1).all()


def test_class_ids_compare_as_truncated_ints(backend):
    same_box = [0, 0, 1, 1]
    x = np.float32([[1.7, 0.9, *same_box], [1.2, 0.8, *same_box], [-0.5, 0.7, *same_box],
                    [0.4, 0.6, *same_box]])
    # 1.7 and 1.2 are class 1: one suppresses the other; -0.5 and 0.4 are both class 0.
    _, cache = nms(x, id_index=0)
    assert cache.record.tolist() == [0, 2, -1, -1]
    assert bn.class_as_int(np.float64([np.nan, 3e9, -2.5, 2.99])).tolist() == [bn.INT_MIN, bn.INT_MIN, -2, 2]


def test_force_suppress_ignores_classes(backend):
    x = np.float32([[0, 0.9, 0, 0, 1, 1], [1, 0.8, 0, 0, 1, 1]])
    assert nms(x, id_index=0)[1].record.tolist() == [0, 1]
    assert nms(x, id_index=0, force_suppress=True)[1].record.tolist() == [0, -1]


def test_batches_are_independent_and_records_are_flat_rows(backend):
    x = np.float32([[[0.2, 0, 0, 1, 1], [0.9, 0, 0, 1, 1]],
                    [[0.3, 0, 0, 1, 1], [0.1, 5, 5, 6, 6]]]).reshape(1, 2, 2, 5)
    out, cache = nms(x, score_index=0, coord_start=1)
    assert out.shape == (1, 2, 2, 5)
    assert cache.record.tolist() == [1, -1, 2, 3]


def test_topk_zero_returns_the_input_and_nothing_valid_returns_all_minus_one(backend):
    x = np.float32([[0.5, 0.1, 0.1, 0.3, 0.3], [0.2, -0.1, 0.2, 0.1, 0.4]])
    out, cache = nms(x, score_index=0, coord_start=1, topk=0, in_format="center")
    np.testing.assert_array_equal(out, x)
    assert cache.record.tolist() == [0, 1]
    out, cache = nms(x, score_index=0, coord_start=1, valid_thresh=0.9, in_format="center")
    assert (out == -1).all() and (cache.record == -1).all()


def test_format_conversion_skips_rows_whose_first_coordinate_is_negative(backend):
    x = np.float32([[0.9, 0.2, 0.2, 0.6, 0.4], [0.8, -0.2, 0.5, 0.2, 0.9]])
    out, _ = nms(x, score_index=0, coord_start=1, out_format="center")
    np.testing.assert_allclose(out[0], [0.9, 0.4, 0.3, 0.4, 0.2], rtol=1e-6)
    np.testing.assert_array_equal(out[1], x[1])       # xmin < 0: MXNet leaves it in corner form
    back, _ = nms(x, score_index=0, coord_start=1, in_format="center", out_format="corner")
    np.testing.assert_allclose(back[0], [0.9, -0.1, 0.0, 0.5, 0.4], rtol=1e-6)


def test_center_input_iou(backend):
    # Centers 0 and 1, width 2, height 1: corners [-1, 1] and [0, 2]: IoU 1/3.
    x = np.float32([[0.9, 0, 0, 2, 1], [0.8, 1, 0, 2, 1]])
    assert nms(x, score_index=0, coord_start=1, in_format="center", overlap_thresh=0.3)[1].record.tolist() == [0, -1]
    assert nms(x, score_index=0, coord_start=1, in_format="center", overlap_thresh=0.34)[1].record.tolist() == [0, 1]


def test_degenerate_boxes_never_suppress_by_nan(backend):
    x = np.float32([[0.9, 0, 0, 0, 0], [0.8, 0, 0, 0, 0], [0.7, 1, 1, 0, 0]])   # 0/0 IoU
    assert nms(x, score_index=0, coord_start=1, overlap_thresh=0.0)[1].record.tolist() == [0, 1, 2]


def test_the_opdef_has_a_hidden_second_output_and_mxnet_defaults():
    net = mx.sym.contrib.box_nms(mx.sym.Variable("data"), **GLUON)
    assert net.list_outputs() == ["box_nms0_output0"]          # MXNet's name: two outputs
    assert json.loads(net.tojson())["node_row_ptr"] == [0, 1, 3]  # the record counts, unlisted
    out = mx.nd.contrib.box_nms(np.float32([[0.5, 0, 0, 1, 1]]), score_index=0, coord_start=1)
    np.testing.assert_array_equal(out, [[0.5, 0, 0, 1, 1]])
    assert mx.nd.contrib.box_non_maximum_suppression is not None


def test_backward_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.uniform(0, 1, (2, 7, 1)), np.sort(rng.uniform(0, 1, (2, 7, 2, 2)),
                                                                 axis=2).reshape(2, 7, 4)], -1)

    def forward(data):
        return box_nms_forward(data, score_index=0, coord_start=1, overlap_thresh=0.3, topk=5)[0]

    def backward(heads, data):
        _, cache = box_nms_forward(data, score_index=0, coord_start=1, overlap_thresh=0.3, topk=5)
        return {"data": box_nms_backward(heads[0], cache)}
    results = check_gradients(forward, backward, {"data": data})
    assert results[0].relative_error <= 1e-6


@pytest.mark.parametrize("shape, kwargs, match", [
    ((4,), {}, "box_nms: data must have at least 2 dimensions"),
    ((2, 4), {}, "box_nms: data must have 5 or more values per box"),
    ((2, 5), dict(id_index=0), "box_nms: data must have 6 or more values per box"),
    ((2, 6), dict(score_index=3), "box_nms: score_index 3 must not fall on the coordinates"),
    ((2, 6), dict(score_index=6), r"box_nms: score_index must be in \[0, 6\)"),
    ((2, 6), dict(coord_start=3), "box_nms: coord_start must leave 4 coordinates"),
    ((2, 6), dict(id_index=1), "box_nms: id_index must differ from score_index"),
    ((2, 6), dict(id_index=4), "box_nms: id_index 4 must not fall on the coordinates"),
    ((2, 6), dict(in_format="xywh"), "box_nms: in_format must be 'corner' or 'center'"),
])
def test_bad_inputs_raise_naming_the_argument(shape, kwargs, match, backend):
    with pytest.raises(ValueError, match=match):
        nms(np.zeros(shape, np.float32), **kwargs)


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="box_nms: data must be float32 or float64"):
        box_nms_forward(np.zeros((2, 6), np.int32))
    with pytest.raises(TypeError, match="box_nms: topk must be an integer"):
        box_nms_forward(np.zeros((2, 6), np.float32), topk=1.5)
    with pytest.raises(TypeError, match="box_nms: force_suppress must be a boolean"):
        box_nms_forward(np.zeros((2, 6), np.float32), force_suppress="yes")


# ------------------------------------------------------------------------ properties (hypothesis)
@st.composite
def gluon_rows(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    n = draw(st.integers(1, 30))
    data = np.empty((2, n, 6), np.float32)
    data[..., 0] = rng.integers(0, 3, (2, n))
    data[..., 1] = rng.integers(0, 6, (2, n)) * 0.2 if draw(st.booleans()) else rng.uniform(0, 1, (2, n))
    lo = rng.integers(0, 6, (2, n, 2)) * 0.2
    data[..., 2:4] = lo
    data[..., 4:6] = lo + rng.integers(1, 4, (2, n, 2)) * 0.2
    return data, draw(st.sampled_from((0.3, 0.45, 0.5, 0.7))), draw(st.booleans())


def _pairwise_iou(boxes):
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=-1)
    return inter / (area[:, None] + area[None, :] - inter)


@given(gluon_rows())
def test_output_is_a_sorted_subset_pairwise_below_threshold_and_idempotent(case):
    data, thresh, force = case
    params = dict(GLUON, overlap_thresh=thresh, force_suppress=force)
    out, cache = box_nms_forward(data, **params)
    for b in range(2):
        kept = cache.record[b * data.shape[1]:(b + 1) * data.shape[1]]
        kept = kept[kept >= 0] - b * data.shape[1]
        rows = out[b, :kept.size]
        np.testing.assert_array_equal(rows, data[b, kept])                  # a subset, whole rows
        assert (out[b, kept.size:] == -1).all()
        assert np.all(np.diff(rows[:, 1]) <= 0)                              # score descending
        iou = _pairwise_iou(rows[:, 2:6].astype(np.float64))
        same = np.ones_like(iou, bool) if force else rows[:, None, 0] == rows[None, :, 0]
        np.fill_diagonal(same, False)
        assert np.all(iou[same] <= thresh + 1e-6)
    again, _ = box_nms_forward(out, **params)
    np.testing.assert_array_equal(again, out)
