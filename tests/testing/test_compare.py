"""ssdref.testing.compare: tie-aware detection comparison, target comparison, the tolerance table."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.testing import strategies as S
from ssdref.testing.compare import (TOLERANCES, assert_allclose_dtype, assert_detections_equal,
                                    assert_targets_equal, tolerance_for)


# MultiBoxDetection-shaped output of one image: sorted valid rows, a suppressed row, padding.
DETECTIONS = np.array([
    [0, 0.9, 0.10, 0.10, 0.40, 0.40],
    [1, 0.7, 0.50, 0.50, 0.90, 0.80],   # rows 1 and 2 tie on score 0.7
    [2, 0.7, 0.20, 0.60, 0.30, 0.90],
    [-1, 0.6, 0.11, 0.10, 0.41, 0.40],  # suppressed by NMS: class -1, payload kept
    [0, 0.3, 0.60, 0.10, 0.95, 0.35],
    [-1, -1, -1, -1, -1, -1],
], dtype=np.float32)


def test_identical_detections_pass():
    assert_detections_equal(DETECTIONS, DETECTIONS.copy())
    assert_detections_equal(DETECTIONS[None], DETECTIONS[None].copy())


def test_tie_permutation_passes():
    permuted = DETECTIONS[[0, 2, 1, 3, 4, 5]]
    assert_detections_equal(permuted, DETECTIONS, check_order=True)


def test_same_class_tie_permutation_pairs_rows_by_iou():
    expected = DETECTIONS.copy()
    expected[2, 0] = 1                       # rows 1 and 2 now tie on score and class
    assert_detections_equal(expected[[0, 2, 1, 3, 4, 5]], expected)


def test_box_shift_of_005_fails_with_a_box_report():
    shifted = DETECTIONS.copy()
    shifted[4, [2, 4]] += 0.05
    with pytest.raises(AssertionError) as info:
        assert_detections_equal(shifted, DETECTIONS)
    message = str(info.value)
    assert "differ in 1 of 1 image" in message
    assert "box differs expected row 4 / actual row 4" in message
    assert "max |diff| 0.05" in message and "IoU" in message
    assert "class changed" not in message and "unmatched" not in message


def test_class_change_fails_with_a_class_report():
    changed = DETECTIONS.copy()
    changed[0, 0] = 3
    with pytest.raises(AssertionError, match=r"class changed expected row 0 / actual row 0: 0 -> 3"):
        assert_detections_equal(changed, DETECTIONS)


def test_class_swap_inside_a_tie_group_is_reported_as_class_changes():
    swapped = DETECTIONS.copy()
    swapped[[1, 2], 0] = swapped[[2, 1], 0]
    with pytest.raises(AssertionError) as info:
        assert_detections_equal(swapped, DETECTIONS)
    assert str(info.value).count("class changed") == 2


def test_rows_with_class_minus_one_are_ignored_whatever_their_payload():
    actual = DETECTIONS.copy()
    actual[3, 1:] = [0.99, 0, 0, 1, 1]       # stale payload beyond topk / suppressed row
    actual[5] = [-1, 0.5, 0.2, 0.2, 0.3, 0.3]
    assert_detections_equal(actual, DETECTIONS)
    compact = DETECTIONS[DETECTIONS[:, 0] >= 0]          # another framework's (K, 6) list
    assert_detections_equal(compact, DETECTIONS)
    with pytest.raises(AssertionError, match="unmatched"):
        assert_detections_equal(actual, DETECTIONS, ignore_invalid=False)


def test_missing_and_extra_detections_are_listed_as_unmatched():
    with pytest.raises(AssertionError) as info:
        assert_detections_equal(DETECTIONS[[0, 1, 2]], DETECTIONS[[0, 1, 4]])
    message = str(info.value)
    assert "unmatched expected row 2: [cls 0, score 0.3" in message
    assert "unmatched actual row 2: [cls 2, score 0.7" in message


def test_score_difference_beyond_tolerance_is_reported_as_score_change():
    moved = DETECTIONS.copy()
    moved[4, 1] = 0.31
    with pytest.raises(AssertionError, match=r"score differs expected row 4 / actual row 4: 0\.3"):
        assert_detections_equal(moved, DETECTIONS)
    assert_detections_equal(moved, DETECTIONS, score_tol=0.02)


def test_near_ties_within_tolerance_are_interchangeable():
    expected = DETECTIONS.astype(np.float64)
    actual = expected[[0, 2, 1, 3, 4, 5]].copy()
    actual[1, 1] += 5e-6                      # float32-level noise reorders a near-tie
    assert_detections_equal(actual, expected, dtype=np.float32, check_order=True)


def test_check_order_catches_unsorted_output():
    unsorted = DETECTIONS[[4, 0, 1, 2, 3, 5]]
    assert_detections_equal(unsorted, DETECTIONS)
    with pytest.raises(AssertionError, match="out of score order"):
        assert_detections_equal(unsorted, DETECTIONS, check_order=True)


def test_failing_images_are_named_per_image():
    batch = np.stack([DETECTIONS, DETECTIONS])
    broken = batch.copy()
    broken[1, 0, 0] = 1
    with pytest.raises(AssertionError) as info:
        assert_detections_equal(broken, batch)
    assert "differ in 1 of 2 image" in str(info.value) and "image 1 (" in str(info.value)
    assert "image 0 (" not in str(info.value)


def test_nan_in_a_valid_row_is_reported():
    broken = DETECTIONS.copy()
    broken[0, 2] = np.nan
    with pytest.raises(AssertionError, match="non-finite actual row 0"):
        assert_detections_equal(broken, DETECTIONS)


def test_bad_detection_shapes_raise_value_error():
    with pytest.raises(ValueError, match=r"actual must have shape \(B, K, 6\), \(K, 6\), \(K, 7\)"):
        assert_detections_equal(DETECTIONS[:, :5], DETECTIONS)
    with pytest.raises(ValueError, match=r"column 0 of \(K, 7\) rows must hold batch indices"):
        assert_detections_equal(np.float32([[0.5, 0, .9, 0, 0, 1, 1]]), DETECTIONS[0])


def test_a_degenerate_box_that_moved_is_a_box_difference_not_two_unmatched_rows():
    # a zero-width box clipped at x = 1 has IoU 0 with everything, itself included
    expected = np.float32([[1, .105175, 1, .272368, 1, 1]])
    actual = np.float32([[1, .105175, 1, .27239, 1, 1]])
    with pytest.raises(AssertionError) as err:
        assert_detections_equal(actual, expected)
    assert "box differs expected row 0 / actual row 0" in str(err.value)
    assert "unmatched" not in str(err.value)
    assert_detections_equal(actual, expected, box_tol=3e-5)


def test_batched_layouts_lists_and_batch_column_rows_are_accepted():
    per_image = [np.float32([[0, .9, .1, .1, .5, .5], [1, .7, .2, .2, .6, .6]]),
                 np.zeros((0, 6), np.float32), np.float32([[2, .8, .1, .1, .3, .3]])]
    padded = np.full((3, 4, 6), -1, np.float32)
    for b, rows in enumerate(per_image):
        padded[b, :len(rows)] = rows
    with_batch = np.concatenate([np.concatenate([np.full((len(r), 1), b, np.float32), r], axis=1)
                                 for b, r in enumerate(per_image)])
    for a in (per_image, padded, with_batch):
        for e in (per_image, padded, with_batch):
            assert_detections_equal(a, e)
    moved = [r.copy() for r in per_image]
    moved[2][0, 1] = .5
    with pytest.raises(AssertionError, match=r"(?s)1 of 3 image\(s\).*image 2 .*score differs"):
        assert_detections_equal(moved, with_batch)


@st.composite
def tied_detections(draw):
    """A valid (A, 6) output with many tied scores, and a copy shuffled within tie groups."""
    count = draw(st.integers(1, 8))
    boxes = draw(S.boxes(count, kind="valid"))
    scores = np.array(draw(st.lists(st.sampled_from((0.9, 0.5, 0.25)), min_size=count,
                                    max_size=count)), np.float32)
    classes = np.array(draw(st.lists(st.integers(0, 2), min_size=count, max_size=count)))
    order = np.argsort(-scores, kind="stable")
    rows = np.column_stack([classes, scores, boxes]).astype(np.float32)[order]
    keys = -rows[:, 1] + np.array(draw(st.permutations(range(count)))) * 1e-3
    return rows, rows[np.argsort(keys, kind="stable")]


@given(tied_detections())
def test_any_permutation_within_tie_groups_passes(pair):
    expected, actual = pair
    assert_detections_equal(actual, expected, check_order=True)


@given(tied_detections(), st.data())
def test_any_single_box_shift_of_005_fails(pair, data):
    expected, _ = pair
    actual = expected.copy()
    row, coord = data.draw(st.integers(0, len(actual) - 1)), data.draw(st.integers(2, 5))
    actual[row, coord] += 0.05
    with pytest.raises(AssertionError):
        assert_detections_equal(actual, expected)


@given(S.multibox_detection_inputs())
def test_ssdref_detections_match_themselves_under_tie_shuffles(case):
    from ssdref.multibox.detection import multibox_detection
    out = multibox_detection(case.cls_prob, case.loc_pred, case.anchor, **case.params)
    reversed_rows = out[:, ::-1]             # reverses every tie group and moves -1 rows first
    assert_detections_equal(reversed_rows, out)


# ---- MultiBoxTarget -------------------------------------------------------------------------

def _targets():
    cls = np.array([[1, 0, -1, 2, 0], [0, 0, -1, -1, 1]], np.float32)
    mask = np.repeat((cls > 0).astype(np.float32), 4, axis=1)
    loc = np.where(mask > 0, np.linspace(-2, 2, mask.size).reshape(mask.shape), 0).astype(np.float32)
    return loc, mask, cls


def test_identical_targets_pass_and_unmasked_loc_is_not_compared():
    loc, mask, cls = _targets()
    noisy = loc + np.where(mask > 0, 0, 7).astype(np.float32)
    assert_targets_equal((noisy, mask, cls), (loc, mask, cls))
    assert_targets_equal(dict(loc_target=loc, loc_mask=mask, cls_target=cls), [loc, mask, cls])


def test_a_single_flipped_cls_target_is_caught():
    loc, mask, cls = _targets()
    flipped = cls.copy()
    flipped[1, 3] = 0
    with pytest.raises(AssertionError) as info:
        assert_targets_equal((loc, mask, flipped), (loc, mask, cls))
    message = str(info.value)
    assert "image 1: 1 difference(s)" in message
    assert "anchor 3: cls_target expected -1, got 0" in message and "image 0" not in message


def test_masked_loc_difference_and_mask_flip_are_caught():
    loc, mask, cls = _targets()
    moved, unmasked = loc.copy(), mask.copy()
    moved[0, 13] += 1e-3                     # anchor 3, coordinate 1
    unmasked[0, 0:4] = 0
    with pytest.raises(AssertionError, match=r"anchor 3: loc_target expected .* max \|diff\| 0\.001"):
        assert_targets_equal((moved, mask, cls), (loc, mask, cls))
    mask_report = r"anchor 0: loc_mask expected \[1, 1, 1, 1\], got \[0, 0, 0, 0\]"
    with pytest.raises(AssertionError, match=mask_report):
        assert_targets_equal((loc, unmasked, cls), (loc, mask, cls))
    assert_targets_equal((moved, mask, cls), (loc, mask, cls), atol=1e-2)


def test_target_shapes_are_checked():
    loc, mask, cls = _targets()
    with pytest.raises(ValueError, match="loc_target \\(B, A\\*4\\)"):
        assert_targets_equal((loc[:, :-1], mask, cls), (loc, mask, cls))


# ---- tolerance table ------------------------------------------------------------------------

def test_tolerance_table_is_tighter_for_float64():
    assert set(TOLERANCES) == {np.float32, np.float64}
    assert TOLERANCES[np.float64]["rtol"] < TOLERANCES[np.float32]["rtol"]
    assert tolerance_for(np.float16) == TOLERANCES[np.float32]


def test_allclose_dtype_uses_the_dtype_tolerance():
    x32 = np.linspace(0.1, 1, 10, dtype=np.float32)
    assert_allclose_dtype(x32 * np.float32(1 + 2e-6), x32)
    with pytest.raises(AssertionError, match="float32: rtol=1e-05"):
        assert_allclose_dtype(x32 * np.float32(1.001), x32)
    x64 = x32.astype(np.float64)
    with pytest.raises(AssertionError, match="float64"):
        assert_allclose_dtype(x64 * (1 + 1e-7), x64)     # float32-level error in a float64 path
    assert_allclose_dtype(x64 * (1 + 1e-7), x32)         # mixed: the looser float32 tolerance
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_allclose_dtype(x32[:3], x32)
