"""MultiBoxTarget: spec §8 cases T3-T17 (errors included) bit-exact on both backends; properties."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdref.backend import dispatch
from ssdref.multibox.target import background_probability, multibox_target, negative_count

F = np.float32
A6 = np.array([[[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6],
                [0, 0, 1, 1]]], F)
LOGITS = np.random.RandomState(0).randn(1, 3, 6).astype(F)
SSD = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5,
           minimum_negative_samples=0, variances=(.1, .1, .2, .2))
PAD = [-1, -1, -1, -1, -1]


def target(anchor, label, cls_pred, **kwargs):
    return dispatch(multibox_target)(np.asarray(anchor, F), np.asarray(label, F),
                                     np.asarray(cls_pred, F), **kwargs)


def zeros_logits(num_anchors, batch=1):
    return np.zeros((batch, 2, num_anchors), F)


def test_spec_logits_have_the_printed_background_probabilities(printed):
    printed(background_probability(LOGITS[0]),
            [0.5525258, 0.4286311, 0.5195684, 0.7640242, 0.5356836, 0.0687717])


@pytest.mark.parametrize("params", [{}, SSD], ids=["defaults", "ssd"])
def test_t3_t4_one_gt_two_positives(backend, printed, params):
    loc, mask, cls = target(A6, [[[1, .05, .05, .5, .55], PAD]], LOGITS, **params)
    assert cls.tolist() == [[2, 0, 0, 0, 2, 0]]
    loc = loc.reshape(6, 4)
    printed(loc[0], [0.5000001, 1.0000002, -0.5268027, 0])
    printed(loc[4], [-1.5000004, -1.0000002, -0.5268027, 0])
    assert np.array_equal(mask.reshape(6, 4).any(axis=1), [1, 0, 0, 0, 1, 0])
    assert not loc[[1, 2, 3, 5]].any()


def test_t5_rows_after_the_padding_row_are_ignored(backend):
    label = [[[0, .5, .5, 1, 1], PAD, [1, 0, 0, .5, .5]]]
    _, _, cls = target(A6, label, LOGITS, **SSD)
    assert cls.tolist() == [[-1, 0, 0, 1, -1, 0]]


def test_t6_malformed_padding_row_raises(backend):
    with pytest.raises(ValueError, match=r"label row 0 of image 0 has class -1.*coordinates must "
                                         r"all be -1.*Check failed"):
        target(A6, [[[-1, 0, 0, .5, .5]]], LOGITS)


def test_t6_padding_row_first_leaves_image_ignored(backend):
    _, mask, cls = target(A6[:, :2], [[PAD, [0, 0, 0, .5, .5]]], LOGITS[:, :, :2])
    assert cls.tolist() == [[-1, -1]] and not mask.any()


@pytest.mark.parametrize("params", [{}, SSD], ids=["defaults", "ssd"])
def test_t7_image_without_gt_is_untouched(backend, params):
    loc, mask, cls = target(A6, [[PAD, PAD]], LOGITS, **params)
    assert (cls == -1).all() and not mask.any() and not loc.any()


def test_t8_minimum_negative_samples_is_ignored_on_cpu(backend):
    # The spec does not print T8's logits; these make anchor 2 the hardest negative.
    logits = np.zeros((1, 2, 6), F)
    logits[0, 1, 2] = 2.0
    label = [[[0, .5, .5, 1, 1], PAD]]
    results = [target(A6, label, logits, negative_mining_ratio=1, minimum_negative_samples=m)
                for m in (0, 3)]
    assert results[1][2].tolist() == [[-1, -1, 0, 1, -1, -1]]
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_t9b_too_few_negative_candidates_raises(backend):
    anchors = [[[0, 0, 1, 1], [0, 0, .6, .6], [0, 0, .65, .65], [.8, .8, 1, 1]]]
    with pytest.raises(ValueError, match=r"only 1 hard-negative candidates.*needs 3.*"
                                         r"temp.size\(\) >= num_negative \(1 vs. 3\)"):
        target(anchors, [[[0, 0, 0, 1, 1]]], zeros_logits(4), negative_mining_thresh=.3,
               negative_mining_ratio=3)


def test_t10_negative_count_truncates(backend):
    label = [[[0, 0, 0, .5, .5], [1, .5, 0, 1, .5], [0, 0, .5, .5, 1]]]
    _, _, cls = target(A6, label, LOGITS, **dict(SSD, negative_mining_ratio=.5))
    assert cls.tolist() == [[1, 2, 1, -1, -1, 0]]


def test_t11_gt_without_overlap_is_dropped(backend, printed):
    anchors = [[[0, 0, .2, .2], [.8, .8, 1, 1], [0, .8, .2, 1]]]
    label = [[[0, .4, .4, .6, .6], [1, .75, .75, 1, 1]]]
    loc, _, cls = target(anchors, label, LOGITS[:, :, :3], **SSD)
    assert cls.tolist() == [[0, 2, 0]]
    printed(loc.reshape(3, 4)[1], [-1.2499988, -1.2499988, 1.1157182, 1.1157182])


def test_t11_zero_overlap_threshold_keeps_only_bipartite_positives(backend):
    _, _, cls = target(A6, [[[1, .05, .05, .5, .55], PAD]], LOGITS,
                       **dict(SSD, overlap_threshold=0))
    assert cls.tolist() == [[2, 0, 0, -1, -1, 0]]


def test_t13_bipartite_ties_go_to_lowest_anchor_then_lowest_gt(backend):
    anchors = [[[0, 0, .5, .5], [0, 0, .5, .5], [.5, .5, 1, 1]]]
    _, _, cls = target(anchors, [[[0, 0, 0, .4, .4], [1, 0, 0, .4, .4]]], zeros_logits(3),
                       overlap_threshold=.99)
    assert cls.tolist() == [[1, 2, 0]]


def test_t15_zero_area_gt_is_never_matched(backend):
    _, mask, cls = target(A6, [[[0, .2, .2, .2, .4]]], LOGITS)
    assert cls.tolist() == [[0] * 6] and not mask.any()


def test_t16_anchors_outside_unit_square_are_used_as_is(backend, printed):
    anchors = [[[-.2, -.2, .3, .3], [.7, .7, 1.2, 1.2]]]
    loc, _, cls = target(anchors, [[[0, -.1, -.1, .3, .3]]], zeros_logits(2))
    assert cls.tolist() == [[1, 0]]
    printed(loc.reshape(2, 4)[0], [1.0000001, 1.0000001, -1.1157176, -1.1157176])


def test_t17_iou_exactly_at_overlap_threshold_is_not_positive(backend):
    anchors = [[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]]
    _, _, cls = target(anchors, [[[0, 0, 0, 1, 1]]], zeros_logits(3), negative_mining_ratio=1)
    assert cls.tolist() == [[1, -1, 0]]


def test_t17b_iou_at_both_thresholds_leaves_too_few_candidates(backend):
    anchors = [[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]]
    with pytest.raises(ValueError, match=r"\(1 vs. 2\)"):
        target(anchors, [[[0, 0, 0, 1, 1]]], zeros_logits(3), negative_mining_ratio=3)


def test_no_mining_makes_every_non_positive_a_negative(backend):
    _, _, cls = target(A6, [[[0, .5, .5, 1, 1]]], LOGITS, negative_mining_thresh=0.1)
    assert cls.tolist() == [[0, 0, 0, 1, 0, 0]]


def test_label_columns_beyond_five_are_ignored(backend):
    base = target(A6, [[[1, .05, .05, .5, .55]]], LOGITS, **SSD)
    wide = target(A6, [[[1, .05, .05, .5, .55, 1, 7]]], LOGITS, **SSD)
    for a, b in zip(base, wide):
        assert np.array_equal(a, b)


def test_first_error_in_image_order_is_raised(backend):
    anchors = [[[0, 0, 1, 1], [0, 0, .6, .6], [0, 0, .65, .65], [.8, .8, 1, 1]]]
    label = [[[0, 0, 0, 1, 1]], [[-1, 0, 0, 1, 1]]]
    with pytest.raises(ValueError, match="image 0 has only 1 hard-negative"):
        target(anchors, label, zeros_logits(4, 2), negative_mining_thresh=.3,
               negative_mining_ratio=3)
    with pytest.raises(ValueError, match="label row 0 of image 0"):
        target(anchors, label[::-1], zeros_logits(4, 2), negative_mining_thresh=.3,
               negative_mining_ratio=3)


def test_mining_needs_positive_negative_mining_thresh(backend):
    with pytest.raises(ValueError, match="negative_mining_thresh must be > 0"):
        target(A6, [[[0, .5, .5, 1, 1]]], LOGITS, negative_mining_ratio=3,
               negative_mining_thresh=0)
    # MXNet only checks it for an image with a gt: an all-padding batch passes.
    target(A6, [[PAD]], LOGITS, negative_mining_ratio=3, negative_mining_thresh=0)


def test_inputs_are_not_mutated_and_float64_agrees(backend):
    rng = np.random.RandomState(1)
    anchor = A6.copy()
    label = np.array([[[1, .05, .05, .5, .55], [0, .5, .5, 1, 1], PAD]], F)
    logits = rng.randn(1, 3, 6).astype(F)
    copies = [x.copy() for x in (anchor, label, logits)]
    single = target(anchor, label, logits, **SSD)
    for x, y in zip((anchor, label, logits), copies):
        assert np.array_equal(x, y)
    double = dispatch(multibox_target)(anchor.astype(np.float64), label.astype(np.float64),
                                       logits.astype(np.float64), **SSD)
    assert all(d.dtype == np.float64 for d in double)
    assert np.array_equal(single[2], double[2])
    np.testing.assert_allclose(single[0], double[0], atol=1e-5)


@pytest.mark.parametrize("args, error, match", [
    ((np.zeros((2, 6, 4), F), np.zeros((1, 1, 5), F), np.zeros((1, 2, 6), F)), ValueError,
     "anchor must have shape"),
    ((A6, np.zeros((1, 1, 4), F), np.zeros((1, 2, 6), F)), ValueError, "label must have shape"),
    ((A6, np.zeros((1, 1, 5), F), np.zeros((1, 2, 5), F)), ValueError, "cls_pred must have shape"),
    ((A6, np.zeros((1, 1, 5), np.float64), np.zeros((1, 2, 6), F)), TypeError, "share one dtype"),
    ((A6, np.zeros((0, 2, 5), F), np.zeros((0, 2, 6), F)), ValueError,
     r"label must have shape \(batch > 0, rows > 0, 5 or more columns\), got \(0, 2, 5\)"),
])
def test_bad_inputs_raise_clear_errors(backend, args, error, match):
    with pytest.raises(error, match=f"MultiBoxTarget: .*{match}"):
        dispatch(multibox_target)(*args)


@given(num_positive=st.integers(0, 40), num_anchors=st.integers(1, 60),
       ratio=st.sampled_from([0.5, 1.0, 2.5, 3.0, 0.3]))
def test_negative_count_is_truncated_product_capped_by_free_anchors(num_positive, num_anchors,
                                                                    ratio):
    num_positive = min(num_positive, num_anchors)
    expected = min(int(np.float32(num_positive) * np.float32(ratio)), num_anchors - num_positive)
    assert negative_count(num_positive, num_anchors, ratio) == expected


@given(seed=st.integers(0, 2**31 - 1), ratio=st.sampled_from([1.0, 2.0, 3.0]))
def test_mining_count_is_min_of_truncated_product_and_free_anchors(seed, ratio):
    rng = np.random.RandomState(seed)
    corners = rng.uniform(0, 1, (1, 12, 2, 2)).astype(F)
    anchors = np.concatenate([corners.min(axis=2), corners.max(axis=2) + F(0.01)], axis=2)
    box = np.sort(rng.uniform(0, 1, (2, 2)), axis=0).astype(F)
    label = np.array([[[0, box[0, 0], box[0, 1], box[1, 0] + .05, box[1, 1] + .05]]], F)
    logits = np.round(rng.randn(1, 3, 12), 1).astype(F)
    # negative_mining_thresh 1: every non-positive anchor is a candidate (IoU 1 would be positive).
    _, _, cls = multibox_target(anchors, label, logits, negative_mining_ratio=ratio,
                                negative_mining_thresh=1.0)
    num_positive = int((cls > 0).sum())
    assert int((cls == 0).sum()) == min(int(num_positive * ratio), 12 - num_positive)


@pytest.mark.parametrize("ratio", [1e10, 1e19, 2.0**31, 1e30])
def test_huge_negative_mining_ratio_overflows_int32_and_mines_nothing_as_mxnet(backend, ratio):
    # MXNet: static_cast<int>(1.0f * ratio) is INT32_MIN on x86, so num_negative <= 0: every
    # non-positive anchor stays ignored (cls_target -1), on every backend alike.
    anchors = [[[0, 0, .5, .5], [.5, .5, 1, 1], [0, .5, .5, 1]]]
    _, _, cls = target(anchors, [[[0, 0, 0, .5, .5]]], zeros_logits(3),
                       negative_mining_ratio=ratio, negative_mining_thresh=.5)
    assert cls.tolist() == [[1, -1, -1]]


def test_largest_mining_product_below_int32_still_mines(backend):
    ratio = float(np.nextafter(F(2.0**31), F(0)))          # 2147483520: fits int32
    anchors = [[[0, 0, .5, .5], [.5, .5, 1, 1], [0, .5, .5, 1]]]
    _, _, cls = target(anchors, [[[0, 0, 0, .5, .5]]], zeros_logits(3),
                       negative_mining_ratio=ratio, negative_mining_thresh=.5)
    assert cls.tolist() == [[1, 0, 0]]
    assert negative_count(1, 3, ratio) == 2 and negative_count(1, 3, 2.0**31) == 0


# ---- NaN and inf: as MXNet 1.9.1 takes them (values below printed by MXNet for these inputs) ----
TWO_GT = [[[1, .05, .05, .5, .55], [0, .5, .5, 1, 1], PAD]]


@pytest.mark.parametrize("row, column, value", [(0, 1, np.nan), (0, 3, np.inf)])
@pytest.mark.parametrize("params, expected", [({}, [0, 0, 0, 1, 0, 0]),
                                               (SSD, [-1, 0, 0, 1, -1, 0])])
def test_nan_or_inf_gt_box_is_never_matched_as_in_mxnet(backend, row, column, value, params,
                                                        expected):
    label = np.array(TWO_GT, F)
    label[0, row, column] = value
    loc, mask, cls = target(A6, label, LOGITS, **params)
    assert cls[0].tolist() == expected
    assert np.isfinite(loc).all() and mask.reshape(6, 4)[:, 0].tolist() == [0, 0, 0, 1, 0, 0]


def test_nan_gt_class_passes_through_to_cls_target(backend):
    label = np.array(TWO_GT, F)
    label[0, 0, 0] = np.nan
    _, mask, cls = target(A6, label, LOGITS)
    np.testing.assert_array_equal(cls[0], np.array([np.nan, 0, 0, 1, np.nan, 0], F))
    assert mask.reshape(6, 4)[:, 0].tolist() == [1, 0, 0, 1, 1, 0]


@pytest.mark.parametrize("column, value", [(0, np.nan), (2, np.inf)])
def test_nan_or_inf_anchor_is_never_positive(backend, column, value):
    anchors = A6.copy()
    anchors[0, 0, column] = value
    for params in ({}, SSD):
        _, _, cls = target(anchors, TWO_GT, LOGITS, **params)
        assert cls[0].tolist() == [0, 0, 0, 1, 2, 0]


def test_nan_logits_are_fine_where_the_mining_ranking_does_not_decide(backend):
    logits = LOGITS.copy()
    logits[0, 0, 1] = np.nan
    assert target(A6, TWO_GT, logits)[2][0].tolist() == [2, 0, 0, 1, 2, 0]          # no mining
    # 3 candidates (anchors 1, 2, 5) for min(3 * 3, 6 - 3) = 3 negatives: all taken, no order
    assert target(A6, TWO_GT, logits, **SSD)[2][0].tolist() == [2, 0, 0, 1, 2, 0]


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_background_probability_the_ranking_must_order_is_a_clear_error(backend, value):
    logits = LOGITS.copy()
    logits[0, 2, 1] = value                      # inf: inf - inf in the softmax, NaN as well
    with pytest.raises(ValueError, match=r"MultiBoxTarget: cls_pred must give a finite background "
                                         r"probability .* \(image 0: 3 candidates for 1 negatives\), "
                                         r"got 1 NaN"):
        target(A6, TWO_GT, logits, **dict(SSD, negative_mining_ratio=1 / 3))


@pytest.mark.parametrize("name, value, error, match", [
    ("overlap_threshold", 10**20, None, None),
    ("negative_mining_thresh", 1e39, ValueError, "must be a finite float32 number"),
    ("ignore_label", float("nan"), ValueError, "must be a finite float32 number"),
    ("negative_mining_ratio", "3", TypeError, "must be a number"),
    ("minimum_negative_samples", 2**31, ValueError, "must be an int32"),
    ("variances", "x", TypeError, "variances must be 4 numbers"),
    ("variances", (0.1, 0.1, 1e39, 0.2), ValueError, "variances must be 4 nonzero numbers finite in float32"),
])
def test_parameters_are_checked_as_mxnet_parses_them(backend, name, value, error, match):
    args = (A6, [[[1, .05, .05, .5, .55]]], LOGITS)
    if error is None:                          # 1e20 is a finite float32: accepted
        target(*args, **{name: value})
        return
    with pytest.raises(error, match=f"MultiBoxTarget: {name if name != 'variances' else ''}.*{match}"):
        target(*args, **{name: value})
