"""Properties of ssdref.testing.strategies: what each strategy promises holds on every draw."""

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings, strategies as st

from ssdref.testing import strategies as S

FLOATS = [np.float32, np.float64]
# find(): minimal examples, without the slow "explain" phase meant for failing tests.
FIND = settings(database=None, max_examples=200, phases=[Phase.generate, Phase.shrink])


@given(S.boxes(kind="valid"))
def test_valid_boxes_have_positive_area_inside_unit_square(boxes):
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and boxes.dtype == np.float32
    assert np.all((boxes >= 0) & (boxes <= 1))
    assert np.all(boxes[:, 0] < boxes[:, 2]) and np.all(boxes[:, 1] < boxes[:, 3])


@given(S.boxes(n=st.integers(0, 6), kind="degenerate", dtype=np.float64))
def test_degenerate_boxes_are_ordered_inside_unit_square(boxes):
    assert boxes.dtype == np.float64 and boxes.shape == (len(boxes), 4)
    assert np.all((boxes >= 0) & (boxes <= 1))
    assert np.all(boxes[:, 0] <= boxes[:, 2]) and np.all(boxes[:, 1] <= boxes[:, 3])


@given(S.boxes(kind="outside"))
def test_outside_boxes_each_cross_the_unit_square(boxes):
    assert np.all(boxes[:, 0] < boxes[:, 2]) and np.all(boxes[:, 1] < boxes[:, 3])
    assert np.all(((boxes < 0) | (boxes > 1)).any(axis=1))
    assert np.all((boxes >= -0.5) & (boxes <= 1.5))


@given(S.boxes(n=5, kind="any", grid=16))
def test_boxes_lie_on_the_grid_exactly(boxes):
    assert boxes.shape == (5, 4)
    np.testing.assert_array_equal(boxes * 16, np.round(boxes * 16))


def test_failing_examples_shrink_to_one_small_box():
    minimal = find(S.boxes(kind="valid"), lambda b: len(b) >= 1, settings=FIND)
    np.testing.assert_array_equal(minimal, [[0, 0, 1 / 32, 1 / 32]])


def test_degenerate_boxes_shrink_to_a_zero_area_box():
    minimal = find(S.boxes(kind="degenerate"), lambda b: True, settings=FIND)
    np.testing.assert_array_equal(minimal, [[0, 0, 0, 0]])


@given(S.labels(batch=st.integers(1, 3), max_objects=st.integers(0, 5), num_classes=4, width=6))
def test_padding_rows_follow_the_valid_rows_and_are_all_minus_one(label):
    assert label.ndim == 3 and label.shape[2] == 6
    num_valid = S.num_valid_labels(label)
    for image, count in enumerate(num_valid):
        valid, padding = label[image, :count], label[image, count:]
        assert np.all(padding == -1)
        assert np.all((valid[:, 0] >= 0) & (valid[:, 0] < 4) & (valid[:, 0] == np.round(valid[:, 0])))
        assert np.all(valid[:, 1] < valid[:, 3]) and np.all(valid[:, 2] < valid[:, 4])
        assert np.all(np.isin(valid[:, 5], [0, 1]))


@given(S.labels(batch=2, max_objects=3, allow_empty=False))
def test_labels_without_empty_images_have_an_object_per_image(label):
    assert label.shape[:2] == (2, 3)
    assert np.all(S.num_valid_labels(label) >= 1)


def test_labels_draw_empty_images():
    label = find(S.labels(batch=2, max_objects=3), lambda l: S.num_valid_labels(l).min() == 0,
                 settings=FIND)
    assert np.all(label[S.num_valid_labels(label).argmin()] == -1)


@given(S.labels(batch=1, max_objects=4, junk_after_padding=True))
def test_junk_rows_only_appear_after_the_terminating_row(label):
    count = S.num_valid_labels(label)[0]
    if count < 4:
        assert np.all(label[0, count] == -1)


@given(S.prior_params())
def test_prior_params_respect_multibox_prior_checks(params):
    assert all(0 < s <= 1 for s in params["sizes"]) and len(set(params["sizes"])) == len(params["sizes"])
    assert all(r > 0 for r in params["ratios"])
    assert all(0 <= o <= 1 for o in params["offsets"])
    assert (params["steps"][0] > 0) == (params["steps"][1] > 0)
    assert isinstance(params["clip"], bool)


@given(st.data(), st.sampled_from(FLOATS))
def test_anchor_count_is_h_w_times_sizes_plus_ratios_minus_one(data, dtype):
    shape = data.draw(S.feature_map_shapes(max_side=4))
    params = data.draw(S.prior_params())
    anchors = data.draw(S.anchors(shape, params, dtype=dtype))
    expected = shape[0] * shape[1] * (len(params["sizes"]) + len(params["ratios"]) - 1)
    assert anchors.shape == (1, expected, 4) and anchors.dtype == dtype
    if params["clip"]:
        assert np.all((anchors >= 0) & (anchors <= 1))


@given(S.feature_map_shapes(max_side=5), S.prior_params(), st.sampled_from(FLOATS))
def test_spec_formula_fallback_equals_ssdref_multibox_prior_bitwise(shape, params, dtype):
    from ssdref.multibox.prior import multibox_prior
    expected = multibox_prior(np.zeros((1, 1) + shape, dtype), **params)
    from ssdref.testing.strategies.geometry import _prior_formula
    actual = _prior_formula(shape, dtype=np.dtype(dtype), **params)
    np.testing.assert_array_equal(actual, expected)
    assert actual.tobytes() == expected.tobytes()   # bitwise: -0.0 from clip included


@given(S.ssd_configs())
def test_ssd_config_anchors_concatenate_every_layer(config):
    anchors = config.anchors()
    assert anchors.shape == (1, config.num_anchors, 4)
    assert all(r[0] == 1.0 for r in config.ratios)
    shapes = config.feature_shapes
    assert all(b[0] == (a[0] + 1) // 2 and b[1] == (a[1] + 1) // 2 for a, b in zip(shapes, shapes[1:]))


@given(S.logits(batch=2, num_classes=3, num_anchors=st.integers(2, 6)))
def test_tied_logits_are_half_steps_with_a_duplicated_anchor_possible(values):
    assert values.shape[:2] == (2, 4) and values.dtype == np.float32
    np.testing.assert_array_equal(values * 2, np.round(values * 2))
    assert np.all(np.abs(values) <= 4)


def test_tied_logits_put_two_anchors_on_identical_columns():
    values = find(S.logits(batch=1, num_classes=2, num_anchors=4),
                  lambda v: np.any(v != 0) and any(np.array_equal(v[0, :, i], v[0, :, j])
                                                   for i in range(4) for j in range(i)),
                  settings=FIND)
    assert values.shape == (1, 3, 4)


@given(S.probabilities(batch=1, num_classes=3, num_anchors=6, dtype=np.float64))
def test_probabilities_sum_to_one_and_tied_logits_give_identical_columns(probs):
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(probs > 0)


def test_probabilities_of_equal_logits_are_bitwise_equal():
    logits = np.array([[[0.5, 1.0, 0.5], [0.5, -2.0, 0.5]]] * 2)
    probs = S.softmax_classes(logits, np.float32)
    assert probs[0, :, 0].tobytes() == probs[0, :, 2].tobytes() == probs[1, :, 2].tobytes()


@given(S.multibox_target_inputs(width=6, junk_after_padding=True))
def test_target_bundle_shapes_agree(case):
    batch, num_anchors = case.label.shape[0], case.anchor.shape[1]
    assert case.anchor.shape == (1, case.config.num_anchors, 4)
    assert case.cls_pred.shape == (batch, case.config.num_classes + 1, num_anchors)
    assert case.label.shape[2] == 6 and case.params["ignore_label"] == -1


@given(S.multibox_detection_inputs(dtype=np.float64))
def test_detection_bundle_shapes_agree(case):
    batch, _, num_anchors = case.cls_prob.shape
    assert case.loc_pred.shape == (batch, num_anchors * 4) and case.anchor.shape == (1, num_anchors, 4)
    assert case.cls_prob.dtype == case.loc_pred.dtype == case.anchor.dtype == np.float64


@given(S.multibox_target_inputs())
def test_target_bundles_run_through_ssdref_multibox_target(case):
    from ssdref.multibox.target import multibox_target
    try:
        loc, mask, cls = multibox_target(case.anchor, case.label, case.cls_pred, **case.params)
    except ValueError as exc:   # MXNet's documented abort: too few mining candidates
        assert "hard-negative candidates" in str(exc)
        return
    batch, num_anchors = case.label.shape[0], case.anchor.shape[1]
    assert loc.shape == mask.shape == (batch, num_anchors * 4) and cls.shape == (batch, num_anchors)


@given(S.multibox_target_inputs(mining=False, junk_after_padding=True))
def test_junk_after_padding_does_not_change_ssdref_targets(case):
    from ssdref.multibox.target import multibox_target
    clean = case.label.copy()
    for image, count in enumerate(S.num_valid_labels(clean)):
        clean[image, count:] = -1
    with_junk = multibox_target(case.anchor, case.label, case.cls_pred, **case.params)
    without = multibox_target(case.anchor, clean, case.cls_pred, **case.params)
    for a, b in zip(with_junk, without):
        np.testing.assert_array_equal(a, b)


@given(S.boxes(kind="any"), S.boxes(kind="any"))
def test_iou_of_drawn_boxes_is_symmetric_and_in_unit_interval(a, b):
    from ssdref.multibox.boxes import iou_matrix
    iou = iou_matrix(a, b)
    assert iou.shape == (len(a), len(b)) and np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_array_equal(iou, iou_matrix(b, a).T)


@given(S.multibox_detection_inputs())
def test_detection_bundles_run_through_ssdref_multibox_detection(case):
    from ssdref.multibox.detection import multibox_detection
    out = multibox_detection(case.cls_prob, case.loc_pred, case.anchor, **case.params)
    assert out.shape == (case.cls_prob.shape[0], case.anchor.shape[1], 6)


@pytest.mark.parametrize("make, error", [
    (lambda: S.boxes(kind="inverted"), ValueError),
    (lambda: S.boxes(n=-1), ValueError),
    (lambda: S.boxes(dtype=np.int32), TypeError),
    (lambda: S.labels(width=4), ValueError),
    (lambda: S.labels(num_classes=0), ValueError),
    (lambda: S.logits(num_classes=-1), ValueError),
    (lambda: S.feature_map_shapes(min_side=3, max_side=2), ValueError),
])
def test_bad_strategy_arguments_fail_at_once_naming_the_argument(make, error):
    with pytest.raises(error, match=r"^\w+: \w+"):
        make()


def test_every_strategy_draws_with_no_arguments():
    from hypothesis import find
    for name in ("boxes", "labels", "feature_map_shapes", "prior_params", "anchors", "ssd_configs",
                 "logits", "cls_probs", "probabilities", "multibox_target_inputs",
                 "multibox_detection_inputs"):
        example = find(getattr(S, name)(), lambda _: True)
        assert example is not None, name


@given(S.cls_probs(num_classes=3, num_anchors=5))
def test_cls_probs_are_probabilities_over_the_class_axis(probs):
    assert probs.dtype == np.float32 and probs.shape[1:] == (4, 5)
    assert (probs >= 0).all() and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
