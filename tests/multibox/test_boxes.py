"""Box arithmetic: IoU formula and its zero-union rules, encode/decode, clip; both backends."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdref.backend import dispatch
from ssdref.multibox.boxes import clip_boxes, decode, encode, iou_matrix

F = np.float32


def boxes_strategy(max_boxes=6, lo=-0.5, hi=1.5):
    coord = st.floats(lo, hi, width=32)
    box = st.tuples(coord, coord, coord, coord).map(
        lambda c: (min(c[0], c[2]), min(c[1], c[3]), max(c[0], c[2]), max(c[1], c[3])))
    return st.lists(box, min_size=1, max_size=max_boxes).map(lambda b: np.array(b, F))


def test_iou_hand_computed(backend):
    iou = dispatch(iou_matrix)(F([[0, 0, 1, 1]]), F([[0, 0, .5, 1], [.5, .5, 1.5, 1.5],
                                                    [2, 2, 3, 3]]))
    assert iou.tolist() == [[0.5, F(.25) / F(1.75), 0.0]]


def test_zero_union_gives_zero_and_nms_variant_also_catches_negative_union(backend):
    point = F([[.3, .3, .3, .3]])
    assert dispatch(iou_matrix)(point, point).tolist() == [[0.0]]
    # A negative union needs an inverted box, and then the intersection is 0: both rules give +0.
    inverted = F([[.5, .2, .2, .3]])                      # area -0.03, union with b is -0.02
    for rule in (False, True):
        iou = dispatch(iou_matrix)(inverted, F([[.2, .2, .3, .3]]), nonpositive_union_zero=rule)
        assert iou.tolist() == [[0.0]] and not np.signbit(iou).any()


@given(a=boxes_strategy(), b=boxes_strategy())
def test_iou_is_symmetric_and_in_unit_interval(a, b):
    forward = iou_matrix(a, b)
    assert np.array_equal(forward, iou_matrix(b, a).T)
    assert forward.min() >= 0 and forward.max() <= 1
    assert np.array_equal(forward.view(np.uint32), dispatch(iou_matrix, "numba")(a, b)
                          .view(np.uint32))


@given(anchors=boxes_strategy(lo=0, hi=1), gts=boxes_strategy(lo=0, hi=1))
def test_encode_then_decode_round_trips(anchors, gts):
    n = min(len(anchors), len(gts))
    anchors, gts = anchors[:n], gts[:n]
    keep = ((anchors[:, 2] - anchors[:, 0]) > .01) & ((anchors[:, 3] - anchors[:, 1]) > .01) \
        & ((gts[:, 2] - gts[:, 0]) > .01) & ((gts[:, 3] - gts[:, 1]) > .01)
    anchors, gts = anchors[keep], gts[keep]
    if not len(anchors):
        return
    loc = encode(anchors, gts)
    assert np.array_equal(loc, dispatch(encode, "numba")(anchors, gts))
    np.testing.assert_allclose(decode(anchors, loc), gts, atol=2e-6)
    double = decode(anchors.astype(np.float64), encode(anchors.astype(np.float64),
                                                       gts.astype(np.float64)))
    np.testing.assert_allclose(double, gts, atol=1e-12)


def test_decode_d8_and_encode_t3_values(backend, printed):
    out = dispatch(decode)(F([[.2, .2, .4, .4]]), F([[1, -1, .5, -.5]]))
    printed(out[0], [0.2094829, 0.1895162, 0.4305171, 0.3704838])
    loc = dispatch(encode)(F([[0, 0, .5, .5]]), F([[.05, .05, .5, .55]]))
    printed(loc[0], [0.5000001, 1.0000002, -0.5268027, 0])


def test_clip_clamps_and_turns_negative_zero_into_zero(backend):
    out = dispatch(clip_boxes)(F([[-.5, -0.0, .5, 1.5]]))
    assert out.tolist() == [[0, 0, .5, 1]]
    assert not np.signbit(out).any()


@pytest.mark.parametrize("fn, args, error, match", [
    (iou_matrix, (F([[0, 0, 1]]), F([[0, 0, 1, 1]])), ValueError, "4 coordinates"),
    (iou_matrix, (F([[0, 0, 1, 1]]), np.zeros((1, 4))), TypeError, "share one dtype"),
    (encode, (F([[0, 0, 1, 1]]), F([[0, 0, 1, 1]] * 2)), ValueError, "same shape"),
    (decode, (F([[0, 0, 1, 1]]), F([[0, 0, np.inf, 1]])), ValueError, "finite"),
    (decode, (F([[0, 0, 1, 1]]), F([[0, 0, 1, 1]]), (.1, .2)), ValueError, "variances"),
])
def test_bad_inputs_raise_clear_errors(backend, fn, args, error, match):
    with pytest.raises(error, match=match):
        dispatch(fn)(*args)
