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


def run(boxes, scores, class_ids, threshold, force_suppress=False, topk=-1, **kwargs):
    return dispatch(nms)(F(boxes), F(scores), np.asarray(class_ids), threshold, force_suppress,
                         topk, **kwargs).tolist()


def test_d11_iou_equal_to_threshold_suppresses(backend):
    assert run(TWO, [.9, .8], [0, 0], .5) == [0]
    assert run(TWO, [.9, .8], [0, 0], .5000001) == [0, 1]


def test_strict_comparator_keeps_iou_equal_to_threshold(backend):
    assert run(TWO, [.9, .8], [0, 0], .5, nms_comparator=">") == [0, 1]
    assert run(TWO, [.9, .8], [0, 0], .4999999, nms_comparator=">") == [0]
    assert run(TWO, [.9, .8], [0, 0], .5, nms_comparator=">=") == [0]


def test_zero_threshold_suppresses_disjoint_boxes_only_with_ge(backend):
    disjoint = [[0, 0, 1, 1], [2, 2, 3, 3]]                 # IoU exactly 0
    assert run(disjoint, [.9, .8], [0, 0], 0) == [0]
    assert run(disjoint, [.9, .8], [0, 0], 0, nms_comparator=">") == [0, 1]
    assert run(disjoint, [.9, .8], [0, 0], -.5, nms_comparator=">") == [0]


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
    with pytest.raises(ValueError, match="nms: nms_comparator must be '>=' or '>', got '=>'"):
        run(TWO, [.9, .8], [0, 0], .5, nms_comparator="=>")
    with pytest.raises(TypeError, match="nms: nms_comparator must be a string"):
        run(TWO, [.9, .8], [0, 0], .5, nms_comparator=1)
    assert run(TWO, [.9, .8], [0, 0], .5, nms_comparator=None) == [0]   # None: the preset's (MXNet)


@given(data=st.data(), n=st.integers(1, 25), topk=st.sampled_from([-1, 3, 10]),
       threshold=st.sampled_from([.3, .5, .7, 0., -.1]), force=st.booleans(),
       comparator=st.sampled_from([">=", ">"]))
def test_kept_boxes_have_no_same_class_pair_at_or_above_threshold(data, n, topk, threshold, force,
                                                                   comparator):
    grid = st.integers(0, 8).map(lambda v: v / 8)
    corners = np.array(data.draw(st.lists(st.tuples(grid, grid, grid, grid), min_size=n,
                                          max_size=n)), F).reshape(n, 2, 2)
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    boxes = boxes[:, [0, 1, 2, 3]]
    scores = F(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))) / F(5)
    class_ids = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    keep = nms(boxes, scores, class_ids, threshold, force, topk, comparator)
    assert np.array_equal(keep, dispatch(nms, "numba")(boxes, scores, class_ids, threshold,
                                                          force, topk, comparator))
    order = np.argsort(-scores, kind="stable")[:topk if topk > 0 else n]
    assert set(keep.tolist()) <= set(order.tolist())
    iou = iou_matrix(boxes[keep], boxes[keep], nonpositive_union_zero=True)
    same = np.ones_like(iou, bool) if force else class_ids[keep][:, None] == class_ids[keep][None]
    np.fill_diagonal(same, False)
    hit = iou > F(threshold) if comparator == ">" else iou >= F(threshold)
    assert not (same & hit).any()
    # Idempotent: NMS of the survivors keeps them all.
    again = nms(boxes[keep], scores[keep], class_ids[keep], threshold, force, -1, comparator)
    assert np.array_equal(keep[again], keep[np.argsort(-scores[keep], kind="stable")])


@pytest.mark.parametrize("comparator", [">=", ">"])
def test_thousands_of_boxes_in_many_classes_equal_the_specification(comparator):
    rng = np.random.default_rng(11)
    n = 2500
    corner = rng.uniform(0, .8, (n, 2))
    boxes = F(np.concatenate([corner, corner + rng.uniform(.05, .4, (n, 2))], axis=1))
    boxes[n // 2:n // 2 + 50] = boxes[:50]                     # IoU exactly 1
    boxes[100:150, 2] = boxes[100:150, 0]                      # zero-area boxes: union may be 0
    scores = F(np.round(rng.uniform(0, 1, n), 2))               # many ties
    class_ids = rng.integers(-1, 20, n)
    want = nms(boxes, scores, class_ids, .45, False, 3000, comparator)
    got = dispatch(nms, "numba")(boxes, scores, class_ids, .45, False, 3000, comparator)
    assert np.array_equal(got, want) and got.dtype == np.int64
