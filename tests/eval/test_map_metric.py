"""MApMetric / VOC07MApMetric: hand-computed cases for every quirk, and example/ssd's own recorded results."""
import os

import numpy as np
import pytest

from ssdref.eval import MApMetric, VOC07MApMetric
from ssdref.eval.legacy_sort import argsort_descending, legacy_argsort
from ssdref.eval.map_metric import iou_one_to_many

DATA = os.path.join(os.path.dirname(__file__), "data")


def batch(*images, max_rows=None):
    """Stack per-image row lists into a (B, rows, width) float32 batch padded with -1 rows."""
    width = max(len(r) for rows in images for r in rows) if any(images) else 6
    rows = max_rows or max(1, max(len(rows) for rows in images))
    out = np.full((len(images), rows, width), -1.0, np.float32)
    for i, image in enumerate(images):
        for j, r in enumerate(image):
            out[i, j, :len(r)] = r
    return out


def run(metric, labels, preds):
    metric.update([batch(*labels)], [batch(*preds)])
    return metric.get()


BOX = [0.1, 0.1, 0.5, 0.5]
FAR = [0.6, 0.6, 0.9, 0.9]


# ---------------------------------------------------------------- recorded against example/ssd itself

@pytest.fixture(scope="module")
def map_cases():
    with np.load(os.path.join(DATA, "map_cases.npz")) as npz:
        return {k: npz[k] for k in npz.files}


def test_matches_example_ssd_eval_metric_bit_for_bit_on_recorded_batches(map_cases):
    cases = sorted({k.split("/")[0] for k in map_cases})
    assert len(cases) == 48
    for case in cases:
        def get(name):
            return map_cases[f"{case}/{name}"]
        metric_cls = {"MApMetric": MApMetric, "VOC07MApMetric": VOC07MApMetric}[str(get("metric"))]
        names = [str(n) for n in get("class_names")] or None
        metric = metric_cls(ovp_thresh=float(get("ovp_thresh")), use_difficult=bool(get("use_difficult")),
                            class_names=names, pred_idx=1)
        for k in range(int(get("num_batches"))):
            preds = get(f"preds{k}")
            metric.update([get(f"labels{k}")], [preds[:, :1], preds])
        values = np.atleast_1d(np.array(metric.get()[1], dtype=np.float64))
        assert values.tobytes() == get("values").tobytes(), case


def test_legacy_argsort_reproduces_numpy_1_23_quicksort_tie_order():
    with np.load(os.path.join(DATA, "argsort_numpy1235.npz")) as npz:
        count = 0
        for key in npz.files:
            if key.startswith("values_"):
                order = npz["order_" + key[len("values_"):]]
                np.testing.assert_array_equal(legacy_argsort(npz[key]), order, err_msg=key)
                count += 1
    assert count == 59


# ---------------------------------------------------------------- hand-computed quirks

def test_tied_scores_come_out_in_reverse_index_order():
    np.testing.assert_array_equal(argsort_descending(np.array([0.5, 0.5, 0.5])), [2, 1, 0])
    np.testing.assert_array_equal(argsort_descending(np.array([0.2, 0.9, 0.2, 0.9])), [3, 1, 2, 0])


def test_tie_reversal_in_matching_and_in_the_ap_sort_gives_ap_one_half():
    # Three detections of class 0 with equal scores: det0 and det1 both sit on the one gt, det2 is far.
    # Matching order (reversed): det2 FP, det1 TP, det0 FP -> records [FP, TP, FP]; the AP sort reverses
    # again -> [FP, TP, FP]: precision 0, 1/2, 1/3 at recall 0, 1, 1 -> AP 1/2.
    # (Stable order everywhere would give AP 1; reversed only in the AP sort, 1/3.)
    labels = [[[0, *BOX, 0]]]
    preds = [[[0, 0.5, *BOX], [0, 0.5, *BOX], [0, 0.5, *FAR]]]
    assert run(MApMetric(), labels, preds) == ("mAP", 0.5)


def test_images_without_gt_are_skipped_so_their_false_positives_never_count():
    labels = [[[0, *BOX, 0]], []]                              # image 1: padding rows only
    preds = [[[0, 0.8, *BOX]], [[0, 0.99, *FAR]]]              # a confident FP in image 1
    assert run(MApMetric(), labels, preds) == ("mAP", 1.0)
    # The same FP in an image that has some gt (of another class) counts.
    labels = [[[0, *BOX, 0]], [[1, *BOX, 0]]]
    metric = MApMetric(class_names=["a", "b"])
    names, values = run(metric, labels, preds)
    assert names == ["a", "b", "mAP"]
    assert values[0] == 0.5 and values[1] == 0.0 and values[2] == 0.25


def test_class_whose_only_detection_hits_a_difficult_gt_loses_its_gt_count():
    # Image 0: class 0 has a difficult gt (hit) and a normal gt (missed). The only record has flag 0, so
    # nothing is inserted and the normal gt is never counted. Image 1: one gt, one TP.
    labels = [[[0, *BOX, 1], [0, *FAR, 0]], [[0, *BOX, 0]]]
    preds = [[[0, 0.9, *BOX]], [[0, 0.8, *BOX]]]
    metric = MApMetric()
    assert run(metric, labels, preds) == ("mAP", 1.0)        # recall 1/1, not 1/2
    assert metric.counts == {0: 1}


def test_classes_without_detections_get_a_dummy_record_and_count_difficult_gts_too():
    labels = [[[0, *BOX, 0], [1, *FAR, 0], [1, *BOX, 1]]]
    preds = [[[0, 0.9, *BOX]]]
    metric = MApMetric(class_names=["a", "b"])
    names, values = run(metric, labels, preds)
    assert metric.counts == {0: 1, 1: 2}                     # the difficult gt of class 1 counted
    np.testing.assert_array_equal(metric.records[1], [[0, 0]])
    assert values == [1.0, 0.0, 0.5]


def test_voc07_thresholds_are_float_arange_values_that_exclude_recall_exactly_0_3():
    assert np.arange(0., 1.1, 0.1)[3] == 0.30000000000000004
    grid = [[0, 0.1 * c, 0.5 * r, 0.1 * c + 0.08, 0.5 * r + 0.4, 0] for r in range(2) for c in range(5)]
    labels = [grid]                                          # 10 gts of class 0
    preds = [[[0, score, *grid[k][1:5]] for k, score in enumerate([0.9, 0.8, 0.7])]]
    name, ap = run(VOC07MApMetric(), labels, preds)          # recall 0.1, 0.2, 0.3 at precision 1
    assert ap == 1 / 11. + 1 / 11. + 1 / 11.                 # t = 0, 0.1, 0.2 only: 3/11, not 4/11
    name, ap_all = run(MApMetric(), labels, preds)
    assert ap_all == pytest.approx(0.3)


def test_class_with_only_false_positives_and_no_gt_has_ap_zero_and_counts_in_the_mean():
    labels = [[[0, *BOX, 0]]]
    preds = [[[0, 0.9, *BOX], [2, 0.95, *FAR]]]
    names, values = run(MApMetric(class_names=["a", "b", "c"]), labels, preds)
    assert values[0] == 1.0 and np.isnan(values[1]) and values[2] == 0.0 and values[3] == 0.5


def test_overlap_threshold_is_strict_and_compared_in_double_precision():
    gt = [0.0, 0.0, 1.0, 1.0]
    half = [0.0, 0.0, 0.5, 1.0]
    assert iou_one_to_many(np.float32(half), np.float32([gt]))[0] == np.float32(0.5)
    assert run(MApMetric(), [[[0, *gt, 0]]], [[[0, 0.9, *half]]]) == ("mAP", 0.0)   # 0.5 > 0.5 fails
    sixty = [0.0, 0.0, 0.6, 1.0]
    iou = iou_one_to_many(np.float32(sixty), np.float32([gt]))[0]
    assert iou == np.float32(0.6) and float(iou) > 0.6 and not iou > np.float32(0.6)
    # float32(0.6) = 0.6000000238 > 0.6 in double: a TP at ovp_thresh=0.6, as under NumPy 1.23.
    assert run(MApMetric(ovp_thresh=0.6), [[[0, *gt, 0]]], [[[0, 0.9, *sixty]]]) == ("mAP", 1.0)


def test_duplicate_detections_are_false_positives_and_all_point_ap_is_hand_computed():
    # 3 gts; detections by score: TP, duplicate FP, TP -> recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3.
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    labels = [[[0, *BOX, 0], [0, *FAR, 0], [0, 0.0, 0.6, 0.3, 0.95, 0]]]
    preds = [[[0, 0.9, *BOX], [0, 0.8, *BOX], [0, 0.7, *FAR]]]
    name, ap = run(MApMetric(), labels, preds)
    assert ap == pytest.approx(5 / 9, abs=1e-15)
    name, ap07 = run(VOC07MApMetric(), labels, preds)
    assert ap07 == pytest.approx((4 * 1 + 3 * (2 / 3)) / 11, abs=1e-15)


def test_use_difficult_counts_difficult_gts_as_ordinary_ones():
    labels = [[[0, *BOX, 1], [0, *FAR, 0]]]
    preds = [[[0, 0.9, *BOX]]]
    assert run(MApMetric(use_difficult=True), labels, preds) == ("mAP", 0.5)
    # use_difficult False: the only record has flag 0, so class 0 is never inserted (lost-count quirk):
    # no class at all, mAP nan.
    metric = MApMetric(use_difficult=False)
    name, value = run(metric, labels, preds)
    assert np.isnan(value) and metric.counts == {}


def test_five_column_labels_have_no_difficult_flag():
    labels = [[[0, *BOX], [0, *FAR]]]
    preds = [[[0, 0.9, *BOX]]]
    assert run(MApMetric(), labels, preds) == ("mAP", 0.5)


def test_negative_class_predictions_are_dropped_and_class_ids_truncate_toward_zero():
    labels = [[[0, *BOX, 0]]]
    preds = [[[-1, 0.99, *BOX], [0.7, 0.5, *BOX]]]            # 0.7 -> class 0
    assert run(MApMetric(), labels, preds) == ("mAP", 1.0)


def test_class_ids_beyond_class_names_count_only_in_the_map():
    labels = [[[0, *BOX, 0], [3, *FAR, 0]]]
    preds = [[[0, 0.9, *BOX]]]
    names, values = run(MApMetric(class_names=["a"]), labels, preds)
    assert names == ["a", "mAP"] and values == [1.0, 0.5]


def test_results_accumulate_across_updates_until_reset():
    metric = MApMetric()
    metric.update([batch([[0, *BOX, 0]])], [batch([[0, 0.9, *BOX]])])
    metric.update([batch([[0, *FAR, 0]])], [batch([[0, 0.95, *BOX]])])
    # By score: FP 0.95 (image 1), TP 0.9 (image 0); 2 gts -> precision 0, 1/2 at recall 0, 1/2 -> 1/4.
    assert metric.get() == ("mAP", 0.25)
    metric.reset()
    name, value = metric.get()
    assert name == "mAP" and np.isnan(value)
    assert metric.get_name_value()[0][0] == "mAP"


def test_empty_metric_with_class_names_reports_nan_everywhere():
    names, values = MApMetric(class_names=["a", "b"]).get()
    assert names == ["a", "b", "mAP"] and all(np.isnan(v) for v in values)


def test_bad_inputs_raise_clear_errors():
    metric = MApMetric()
    good_labels, good_preds = [batch([[0, *BOX, 0]])], [batch([[0, 0.9, *BOX]])]
    with pytest.raises(TypeError, match="lists of arrays"):
        metric.update(good_labels[0], good_preds[0])
    with pytest.raises(ValueError, match=r"labels\[0\] must have shape"):
        metric.update([np.zeros((2, 3), np.float32)], good_preds)
    with pytest.raises(ValueError, match=r"preds\[0\] must have shape"):
        metric.update(good_labels, [np.zeros((1, 2, 5), np.float32)])
    with pytest.raises(ValueError, match="batch size"):
        metric.update(good_labels, [np.concatenate([good_preds[0]] * 2)])
    nan_preds = good_preds[0].copy()
    nan_preds[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        metric.update(good_labels, [nan_preds])
    with pytest.raises(ValueError, match="pred_idx=3"):
        MApMetric(pred_idx=3).update(good_labels, good_preds)
    with pytest.raises(TypeError, match="class_names"):
        MApMetric(class_names="abc")
