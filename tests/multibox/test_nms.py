"""Greedy NMS as MultiBoxDetection runs it: `>=`, stable score order, per class, topk; both backends."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdref.backend import dispatch
from ssdref.multibox.boxes import iou_matrix
from ssdref.multibox.nms import nms

F = np.float32
TWO = F([[0, 0, 1, 1], [0, 0, .5, 1]])            # IoU exactly 0.5


def run(boxes, scores, class_ids, threshold, force_suppress=False, topk=-1):
    return dispatch(nms)(F(boxes), F(scores), np.asarray(class_ids), threshold, force_suppress,
                         topk).tolist()


def test_d11_iou_equal_to_threshold_suppresses(backend):
    assert run(TWO, [.9, .8], [0, 0], .5) == [0]
    assert run(TWO, [.9, .8], [0, 0], .5000001) == [0, 1]


def test_other_classes_survive_unless_force_suppress(backend):
    assert run(TWO, [.9, .8], [0, 1], .5) == [0, 1]
    assert run(TWO, [.9, .8], [0, 1], .5, force_suppress=True) == [0]


def test_equal_scores_visit_lower_index_first(backend):
    assert run(TWO[::-1], [.8, .8], [2, 2], .5) == [0]
    assert run(TWO, [.8, .8], [2, 2], .5) == [0]


def test_suppressed_box_does_not_suppress_others(backend):
    boxes = [[0, 0, 1, 1], [.5, 0, 1.5, 1], [1, 0, 2, 1]]  # 0 kills 1; 1 would have killed 2
    assert run(boxes, [.9, .8, .7], [0, 0, 0], .3) == [0, 2]


def test_only_the_first_topk_take_part(backend):
    boxes = [[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]]
    assert run(boxes, [.1, .9, .5], [0, 0, 0], .5, topk=2) == [1, 2]
    assert run(boxes, [.1, .9, .5], [0, 0, 0], .5, topk=0) == [1, 2, 0]


def test_negative_class_ids_are_already_eliminated(backend):
    assert run(TWO, [.9, .8], [-1, 0], .5) == [1]


def test_bad_inputs_raise(backend):
    with pytest.raises(ValueError, match="nms: boxes, scores and class_ids"):
        run(TWO, [.9], [0, 0], .5)
    with pytest.raises(TypeError, match="nms: topk must be an integer"):
        run(TWO, [.9, .8], [0, 0], .5, topk=1.0)


@given(data=st.data(), n=st.integers(1, 25), topk=st.sampled_from([-1, 3, 10]),
       threshold=st.sampled_from([.3, .5, .7]), force=st.booleans())
def test_kept_boxes_have_no_same_class_pair_at_or_above_threshold(data, n, topk, threshold, force):
    grid = st.integers(0, 8).map(lambda v: v / 8)
    corners = np.array(data.draw(st.lists(st.tuples(grid, grid, grid, grid), min_size=n,
                                          max_size=n)), F).reshape(n, 2, 2)
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    boxes = boxes[:, [0, 1, 2, 3]]
    scores = F(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))) / F(5)
    class_ids = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    keep = nms(boxes, scores, class_ids, threshold, force, topk)
    assert np.array_equal(keep, dispatch(nms, "numba")(boxes, scores, class_ids, threshold,
                                                          force, topk))
    order = np.argsort(-scores, kind="stable")[:topk if topk > 0 else n]
    assert set(keep.tolist()) <= set(order.tolist())
    iou = iou_matrix(boxes[keep], boxes[keep], nonpositive_union_zero=True)
    same = np.ones_like(iou, bool) if force else class_ids[keep][:, None] == class_ids[keep][None]
    np.fill_diagonal(same, False)
    assert not (same & (iou >= F(threshold))).any()
    # Idempotent: NMS of the survivors keeps them all.
    again = nms(boxes[keep], scores[keep], class_ids[keep], threshold, force)
    assert np.array_equal(keep[again], keep[np.argsort(-scores[keep], kind="stable")])
