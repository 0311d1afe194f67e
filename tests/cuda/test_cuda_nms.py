"""cuda_nms.nms (bitmask NMS) equals the greedy ssdref.multibox.nms.nms exactly."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.kernels import cuda_nms as gpu
from ssdref.multibox import nms as spec
from tests.cuda.helpers import boxes


@pytest.mark.cuda
def test_iou_exactly_at_threshold_suppresses_d11():
    b = np.array([[0, 0, 1, 1], [0, 0, .5, 1]], np.float32)
    s = np.array([.9, .8], np.float32)
    np.testing.assert_array_equal(gpu.nms(b, s, np.zeros(2), 0.5), [0])
    np.testing.assert_array_equal(gpu.nms(b, s, np.zeros(2), 0.5), spec.nms(b, s, np.zeros(2), 0.5))


@pytest.mark.cuda
def test_strict_comparator_keeps_iou_exactly_at_threshold():
    b = np.array([[0, 0, 1, 1], [0, 0, .5, 1]], np.float32)
    s = np.array([.9, .8], np.float32)
    np.testing.assert_array_equal(gpu.nms(b, s, np.zeros(2), 0.5, nms_comparator=">"), [0, 1])
    with pytest.raises(ValueError, match="nms_comparator"):
        gpu.nms(b, s, np.zeros(2), 0.5, nms_comparator="==")


@pytest.mark.cuda
@settings(max_examples=12)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 70), force=st.booleans(),
       topk=st.sampled_from([-1, 3, 100]), threshold=st.sampled_from([0.3, 0.5, 0.7]),
       dtype=st.sampled_from([np.float32, np.float64]), comparator=st.sampled_from([">=", ">"]))
def test_nms_equals_greedy(seed, n, force, topk, threshold, dtype, comparator):
    rng = np.random.default_rng(seed)
    b = boxes(rng, n, dtype)
    b[n // 2] = b[0]                                        # identical boxes: IoU 1
    s = np.round(rng.uniform(0, 1, n), 1).astype(dtype)     # many equal scores
    ids = rng.integers(-1, 3, n)
    np.testing.assert_array_equal(gpu.nms(b, s, ids, threshold, force, topk, comparator),
                                  spec.nms(b, s, ids, threshold, force, topk, comparator))


@pytest.mark.cuda
def test_more_than_64_boxes_cross_mask_words(rng):
    n = 150
    b = boxes(rng, n, np.float32, size=(0.2, 0.6))
    s = rng.uniform(0, 1, n).astype(np.float32)
    np.testing.assert_array_equal(gpu.nms(b, s, np.zeros(n), 0.45, True),
                                  spec.nms(b, s, np.zeros(n), 0.45, True))
