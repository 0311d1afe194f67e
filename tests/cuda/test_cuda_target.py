"""cuda_target.multibox_target equals ssdref.multibox.target bit for bit, errors included (spec §2, §8)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.kernels import cuda_target as gpu
from ssdref.multibox import target as spec
from tests.cuda.helpers import boxes, labels, same_bits_or_ulp

A6 = np.array([[[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6],
                [0, 0, 1, 1]]], np.float32)
SSD = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5)
PAD = [-1, -1, -1, -1, -1]


def both(anchor, label, cls_pred, **params):
    """(cuda result, numpy result); an error must be the same error with the same message."""
    results = []
    for fn in (gpu.multibox_target, spec.multibox_target):
        try:
            results.append(fn(anchor, label, cls_pred, **params))
        except ValueError as exc:
            results.append(str(exc))
    got, want = results
    if isinstance(got, str) or isinstance(want, str):
        assert got == want
    else:
        for g, w in zip(got, want):
            same_bits_or_ulp(g, w)     # float64 loc targets: libdevice log on a GPU (1 ulp)
    return got


def logits(rng, classes, anchors, batch=1):
    return np.round(rng.standard_normal((batch, classes, anchors)), 1).astype(np.float32)


@pytest.mark.cuda
def test_spec_cases_t3_t4(rng):
    label = np.array([[[1, .05, .05, .5, .55], PAD]], np.float32)
    for params in ({}, SSD):
        loc, mask, cls = both(A6, label, logits(rng, 3, 6), **params)
        np.testing.assert_array_equal(cls, [[2, 0, 0, 0, 2, 0]])


@pytest.mark.cuda
def test_spec_cases_t5_t6_t7_t10_t17(rng):
    both(A6, np.array([[[0, .5, .5, 1, 1], PAD, [1, 0, 0, .5, .5]]], np.float32), logits(rng, 3, 6), **SSD)
    message = both(A6, np.array([[[-1, 0, 0, .5, .5]]], np.float32), logits(rng, 3, 6), **SSD)
    assert "must all be -1" in message
    _, _, cls = both(A6, np.array([[PAD]], np.float32), logits(rng, 3, 6), **SSD)
    np.testing.assert_array_equal(cls, -1)
    t10 = np.array([[[0, 0, 0, .5, .5], [1, .5, 0, 1, .5], [0, 0, .5, .5, 1]]], np.float32)
    both(A6, t10, logits(rng, 3, 6), **dict(SSD, negative_mining_ratio=0.5))
    t17 = np.array([[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]], np.float32)
    _, _, cls = both(t17, np.array([[[0, 0, 0, 1, 1]]], np.float32), logits(rng, 2, 3),
                     **dict(SSD, negative_mining_ratio=1))
    np.testing.assert_array_equal(cls, [[1, -1, 0]])
    assert "aborts" in both(t17, np.array([[[0, 0, 0, 1, 1]]], np.float32), logits(rng, 2, 3), **SSD)


@pytest.mark.cuda
def test_spec_cases_t11_t13_t16(rng):
    t11 = np.array([[[0, 0, .2, .2], [.8, .8, 1, 1], [0, .8, .2, 1]]], np.float32)
    label = np.array([[[0, .4, .4, .6, .6], [1, .75, .75, 1, 1]]], np.float32)
    loc, _, cls = both(t11, label, logits(rng, 3, 3), **SSD)
    np.testing.assert_array_equal(cls, [[0, 2, 0]])
    np.testing.assert_allclose(loc[0, 4:8], [-1.2499988, -1.2499988, 1.1157182, 1.1157182], rtol=1e-6)
    t13 = np.array([[[0, 0, .5, .5], [0, 0, .5, .5], [.5, .5, 1, 1]]], np.float32)
    label = np.array([[[0, 0, 0, .4, .4], [1, 0, 0, .4, .4]]], np.float32)
    _, _, cls = both(t13, label, logits(rng, 3, 3), overlap_threshold=.99)
    np.testing.assert_array_equal(cls, [[1, 2, 0]])
    t16 = np.array([[[-.2, -.2, .3, .3], [.7, .7, 1.2, 1.2]]], np.float32)
    both(t16, np.array([[[0, -.1, -.1, .3, .3]]], np.float32), logits(rng, 2, 2), **SSD)


@pytest.mark.cuda
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 2), anchors=st.integers(1, 30),
       rows=st.integers(1, 4), classes=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64]),
       params=st.sampled_from([SSD, dict(SSD, negative_mining_ratio=0.5, negative_mining_thresh=0.3),
                               dict(overlap_threshold=0.3), dict(overlap_threshold=0.0),
                               dict(SSD, overlap_threshold=0.0, ignore_label=-2.0)]))
def test_target_equals_numpy(seed, batch, anchors, rows, classes, dtype, params):
    rng = np.random.default_rng(seed)
    anchor = boxes(rng, anchors, dtype, lo=-0.1)[None]
    label = labels(rng, batch, rows, dtype)
    cls_pred = np.round(rng.standard_normal((batch, classes, anchors)), 1).astype(dtype)  # ties
    both(anchor, label, cls_pred, **params)


@pytest.mark.parametrize("preset", ["caffe", "torchvision", "mxnet_gpu"])
def test_other_presets_give_the_specification_result(preset):
    label = np.array([[[0, .5, .5, 1, 1], PAD]], np.float32)
    logits = np.random.RandomState(0).randn(1, 3, 6).astype(np.float32)
    both(A6, label, logits, **SSD, minimum_negative_samples=3, preset=preset)


@pytest.mark.cuda
@pytest.mark.parametrize("ratio", [1e10, 1e19])
def test_huge_negative_mining_ratio_mines_nothing_like_the_cpu_backends(ratio):
    anchors = np.array([[[0, 0, .5, .5], [.5, .5, 1, 1], [0, .5, .5, 1]]], np.float32)
    label = np.array([[[0, 0, 0, .5, .5]]], np.float32)
    _, _, cls = both(anchors, label, np.zeros((1, 2, 3), np.float32),
                     negative_mining_ratio=ratio, negative_mining_thresh=.5)
    assert cls.tolist() == [[1, -1, -1]]


@pytest.mark.cuda
def test_nan_and_inf_inputs_give_the_specification_result_or_error():
    anchors = A6.copy()
    anchors[0, 0, 0] = np.nan
    label = np.array([[[1, .05, .05, .5, .55], [0, .5, .5, 1, np.inf], [np.nan, .5, .5, 1, 1]]],
                     np.float32)
    logits = np.random.RandomState(0).randn(1, 3, 6).astype(np.float32)
    both(anchors, label, logits)
    both(anchors, label, logits, **SSD)
    two_gt = np.array([[[1, .05, .05, .5, .55], [0, .5, .5, 1, 1], PAD]], np.float32)
    logits[0, 2, 1] = np.nan        # 3 candidates for 1 negative: the ranking would order a NaN
    error = both(A6, two_gt, logits, **dict(SSD, negative_mining_ratio=1 / 3))
    assert "cls_pred must give a finite background probability" in error
