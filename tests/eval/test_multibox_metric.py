"""MultiBoxMetric: CrossEntropy over valid anchors, SmoothL1 divided by valid (not positive) anchors."""
import os

import numpy as np
import pytest

from ssdref.eval import MultiBoxMetric

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_matches_example_ssd_metric_bit_for_bit_across_accumulated_batches():
    with np.load(os.path.join(DATA, "multibox_metric_cases.npz")) as npz:
        metric = MultiBoxMetric()
        for k in range(3):
            metric.update(None, [npz[f"p{k}"], npz[f"loc{k}"], npz[f"l{k}"]])
            names, values = metric.get()
            assert names == ["CrossEntropy", "SmoothL1"]
            assert np.array(values).tobytes() == npz[f"values{k}"].tobytes()
            assert metric.num_inst == list(npz[f"counts{k}"])


def test_hand_computed_losses_divide_both_by_the_number_of_non_ignored_anchors():
    # 1 image, 2 classes, 3 anchors: labels [1, -1, 0] -> valid = 2 (one positive, one negative).
    cls_prob = np.array([[[0.2, 0.5, 0.9],
                          [0.8, 0.5, 0.1]]], np.float32)
    cls_label = np.array([[1, -1, 0]], np.float32)
    loc_loss = np.array([[0.5, 0.25, 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    metric = MultiBoxMetric()
    metric.update([None], [cls_prob, loc_loss, cls_label])
    names, (ce, smooth_l1) = metric.get()
    want_ce = (-np.log(np.float32(0.8) + np.float32(1e-8)) - np.log(np.float32(0.9) + np.float32(1e-8))) / 2
    assert ce == pytest.approx(float(want_ce), rel=1e-6)
    assert smooth_l1 == 0.75 / 2                               # / valid (2), not / positives (1)


def test_sums_accumulate_until_reset_and_empty_gives_nan():
    metric = MultiBoxMetric()
    prob = np.full((1, 2, 2), 0.5, np.float32)
    metric.update(None, [prob, np.ones((1, 8), np.float32), np.array([[0, 1]], np.float32)])
    metric.update(None, [prob, np.zeros((1, 8), np.float32), np.array([[-1, 1]], np.float32)])
    assert metric.num_inst == [3, 3]
    assert metric.get()[1][1] == 8 / 3
    metric.reset()
    assert all(np.isnan(v) for v in metric.get()[1])
    all_ignored = np.array([[-1, -1]], np.float32)
    metric.update(None, [prob, np.ones((1, 8), np.float32), all_ignored])
    assert all(np.isnan(v) for v in metric.get()[1])           # 0 valid anchors: nan, as 0/0 in MXNet


def test_float64_inputs_work_and_inputs_are_not_mutated():
    rng = np.random.default_rng(0)
    prob = rng.random((2, 3, 4))
    label = np.array([[0, 1, 2, -1], [2, 2, -1, 0]], np.float64)
    loc = rng.random((2, 16))
    copies = [a.copy() for a in (prob, loc, label)]
    metric = MultiBoxMetric()
    metric.update(None, [prob, loc, label])
    for a, b in zip((prob, loc, label), copies):
        np.testing.assert_array_equal(a, b)
    assert metric.get()[1][1] == pytest.approx(loc.sum() / 6)


def test_bad_inputs_raise_clear_errors():
    metric = MultiBoxMetric()
    prob = np.full((1, 2, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match="cls_prob, loc_loss, cls_label"):
        metric.update(None, [prob])
    with pytest.raises(ValueError, match="cls_prob must have shape"):
        metric.update(None, [prob[0], np.zeros(1), np.zeros((1, 3))])
    with pytest.raises(ValueError, match="cls_label must hold"):
        metric.update(None, [prob, np.zeros(1), np.zeros((1, 4))])
    with pytest.raises(ValueError, match="must be < the 2 classes"):
        metric.update(None, [prob, np.zeros(1), np.array([[0, 2, 1]], np.float32)])
