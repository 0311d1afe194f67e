"""cuda_detection.multibox_detection equals ssdref.multibox.detection bit for bit (spec §3, §8)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import cuda

from ssdref.kernels import cuda_detection as gpu
from ssdref.multibox import detection as spec
from tests.cuda.helpers import boxes, same_bits, same_bits_or_ulp

D1_PROB = np.array([[[.1, .2, .3, .1, .98], [.6, .5, .2, .45, .01], [.3, .3, .5, .45, .01]]], np.float32)
D1_ANCHOR = np.array([[[0, 0, .5, .5], [.05, 0, .55, .5], [.5, .5, 1, 1], [.5, .5, 1.1, 1.1],
                       [.2, .2, .4, .4]]], np.float32)


@pytest.mark.cuda
@pytest.mark.parametrize("params", [{}, {"force_suppress": True}, {"nms_threshold": 0.0},
                                    {"threshold": 0.55}, {"background_id": 2},
                                    {"nms_comparator": ">"}])
def test_spec_case_d1_variants(params):
    loc = np.zeros((1, 20), np.float32)
    got = gpu.multibox_detection(D1_PROB, loc, D1_ANCHOR, **params)
    same_bits(got, spec.multibox_detection(D1_PROB, loc, D1_ANCHOR, **params))
    if not params:
        np.testing.assert_allclose(got[0, :, :2], [[0, .6], [-1, .5], [1, .5], [0, .45], [0, .01]])


@pytest.mark.cuda
def test_strict_comparator_keeps_iou_exactly_at_nms_threshold():
    prob = np.array([[[.1, .2], [.9, .8]]], np.float32)
    anchor = np.array([[[0, 0, 1, 1], [0, 0, .5, 1]]], np.float32)
    loc = np.zeros((1, 8), np.float32)
    for comparator, classes in ((">", [0, 0]), (">=", [0, -1])):
        got = gpu.multibox_detection(prob, loc, anchor, nms_threshold=.5, nms_comparator=comparator)
        same_bits(got, spec.multibox_detection(prob, loc, anchor, nms_threshold=.5,
                                               nms_comparator=comparator))
        assert got[0, :, 0].tolist() == classes


@pytest.mark.cuda
@pytest.mark.parametrize("clip", [True, False])
def test_spec_case_d3b_topk_keeps_stale_rows(clip):
    anchor = np.array([[[0, 0, .1, .1], [.2, .2, .3, .3], [.4, .4, .5, .5], [.6, .6, .7, .7],
                        [-.1, .9, .2, 1.3]]], np.float32)
    prob = np.zeros((1, 2, 5), np.float32)
    prob[0, 1] = [.1, .2, .9, .3, .8]
    prob[0, 0] = 1 - prob[0, 1]
    loc = np.zeros((1, 20), np.float32)
    got = gpu.multibox_detection(prob, loc, anchor, clip=clip, nms_topk=2)
    same_bits(got, spec.multibox_detection(prob, loc, anchor, clip=clip, nms_topk=2))
    np.testing.assert_array_equal(got[0, :, 0], [0, 0, -1, -1, -1])


@pytest.mark.cuda
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 2), classes=st.integers(1, 4),
       anchors=st.integers(1, 40), dtype=st.sampled_from([np.float32, np.float64]),
       clip=st.booleans(), force=st.booleans(), topk=st.sampled_from([-1, 4, 1000]),
       nms_threshold=st.sampled_from([0.3, 0.5, 1.0, 1.5]), threshold=st.sampled_from([0.01, 0.3]),
       comparator=st.sampled_from([">=", ">"]))
def test_detection_equals_numpy(seed, batch, classes, anchors, dtype, clip, force, topk,
                                nms_threshold, threshold, comparator):
    rng = np.random.default_rng(seed)
    prob = np.round(rng.uniform(0, 1, (batch, classes, anchors)), 1).astype(dtype)  # ties
    loc = (rng.standard_normal((batch, anchors * 4)) * 0.5).astype(dtype)
    anchor = boxes(rng, anchors, dtype, lo=-0.1)[None]
    kw = dict(clip=clip, threshold=threshold, nms_threshold=nms_threshold, force_suppress=force,
              nms_topk=topk, nms_comparator=comparator)
    # float64 boxes: libdevice exp on a GPU (1 ulp), measured in ulps of the box scale (helpers)
    same_bits_or_ulp(gpu.multibox_detection(prob, loc, anchor, **kw),
                     spec.multibox_detection(prob, loc, anchor, **kw), box_columns=(2, 3, 4, 5))


@pytest.mark.cuda
def test_device_arrays_in_give_device_arrays_out():
    loc = np.zeros((1, 20), np.float32)
    out = gpu.multibox_detection(cuda.to_device(D1_PROB), cuda.to_device(loc), cuda.to_device(D1_ANCHOR))
    assert hasattr(out, "copy_to_host")
    same_bits(out.copy_to_host(), spec.multibox_detection(D1_PROB, loc, D1_ANCHOR))


@pytest.mark.cuda
def test_bad_inputs_raise_the_specification_errors():
    with pytest.raises(ValueError, match="loc_pred must have shape"):
        gpu.multibox_detection(D1_PROB, np.zeros((1, 19), np.float32), D1_ANCHOR)
    with pytest.raises(TypeError, match="MultiBoxDetection"):
        gpu.multibox_detection(D1_PROB, np.zeros((1, 20), np.float64), D1_ANCHOR)


@pytest.mark.cuda
def test_use_backend_cuda_dispatches_the_multibox_ops_to_the_cuda_kernels():
    import ssdref
    from ssdref.backend import dispatch
    from ssdref.multibox.prior import multibox_prior
    from ssdref.multibox.target import multibox_target
    loc = np.zeros((1, 20), np.float32)
    with ssdref.use_backend("cuda"):
        fns = [dispatch(f) for f in (spec.multibox_detection, multibox_target, multibox_prior)]
        out = fns[0](D1_PROB, loc, D1_ANCHOR)
    assert [f.__module__ for f in fns] == ["ssdref.kernels.cuda_detection",
                                           "ssdref.kernels.cuda_target", "ssdref.kernels.cuda_prior"]
    same_bits(out, spec.multibox_detection(D1_PROB, loc, D1_ANCHOR))


@pytest.mark.cuda
def test_nan_and_inf_inputs_give_the_specification_result():
    rng = np.random.RandomState(3)
    prob, loc, anchor = D1_PROB.copy(), rng.standard_normal((1, 20)).astype(np.float32), D1_ANCHOR.copy()
    prob[0, 1, 0], prob[0, 2, 3] = np.nan, np.inf
    loc[0, 2], loc[0, 5] = np.inf, np.nan
    anchor[0, 4, 0] = np.nan
    for clip in (True, False):
        got = gpu.multibox_detection(prob, loc, anchor, clip=clip)
        want = spec.multibox_detection(prob, loc, anchor, clip=clip)
        assert np.array_equal(got, want, equal_nan=True)
