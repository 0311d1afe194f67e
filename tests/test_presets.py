"""ssdref.presets: each row of docs/conventions.md, pinned on hand-computed / documented cases."""
import math

import numpy as np
import pytest

from ssdref import ops, presets, use_backend
from ssdref.multibox.prior import multibox_prior
from ssdref.multibox.prior_presets import (caffe_aspect_ratios, caffe_prior_box,
                                           torchvision_scales, torchvision_ssd300_default_boxes)
from ssdref.multibox.target import multibox_target

F = np.float32
# Two boxes with IoU exactly 0.5 (spec D11): [0,0,1,1] and [0,0,.5,1].
HALF_BOXES = np.array([[0, 0, 1, 1], [0, 0, .5, 1]], F)
SSD = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5)


# --- mechanics ---------------------------------------------------------------------------------

def test_mxnet_is_the_default_and_explicit_knobs_override_a_preset():
    assert presets.get_preset() == presets.PRESETS["mxnet"] == presets.Preset()
    assert presets.get_preset("onnx").nms_comparator == ">"
    assert presets.get_preset("onnx", nms_comparator=">=").nms_comparator == ">="
    custom = presets.Preset(name="mine", match_comparator=">=")
    assert presets.get_preset(custom) is custom


def test_unknown_preset_or_knob_value_raises_naming_the_choices():
    with pytest.raises(ValueError, match="preset must be one of"):
        presets.get_preset("tensorflow")
    with pytest.raises(ValueError, match="nms_comparator must be one of"):
        presets.Preset(nms_comparator=">>")
    with pytest.raises(ValueError, match="knobs must be among"):
        presets.get_preset("mxnet", iou="x")


# --- NMS comparator ----------------------------------------------------------------------------

@pytest.mark.parametrize("preset, kept", [("mxnet", [0]), ("onnx", [0, 1]), ("torchvision", [0, 1]),
                                          ("caffe", [0, 1])])
def test_nms_iou_exactly_at_threshold_is_suppressed_only_by_mxnet(preset, kept):
    keep = ops.nms(HALF_BOXES, np.array([.9, .8], F), np.zeros(2), 0.5, preset=preset)
    assert list(keep) == kept


def test_onnx_detection_keeps_the_box_mxnet_suppresses_at_iou_half():
    prob = np.array([[[.1, .2], [.9, .8]]], F)
    args = (prob, np.zeros((1, 8), F), HALF_BOXES[None])
    mx = ops.multibox_detection(*args, nms_threshold=.5)
    onnx = ops.multibox_detection(*args, nms_threshold=.5, preset="onnx")
    assert list(mx[0, :, 0]) == [0, -1] and list(onnx[0, :, 0]) == [0, 0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_every_nms_op_takes_a_preset_and_an_explicit_comparator_wins(backend):
    # presets are applied one way: each op reads preset= through get_preset, knobs winning
    prob = np.array([[[.1, .2], [.9, .8]]], F)
    args = (prob, np.zeros((1, 8), F), HALF_BOXES[None])
    scores = np.array([.9, .8], F)
    with use_backend(backend):
        assert list(ops.nms(HALF_BOXES, scores, np.zeros(2), .5, preset="onnx")) == [0, 1]
        assert list(ops.nms(HALF_BOXES, scores, np.zeros(2), .5, preset="onnx",
                            nms_comparator=">=")) == [0]
        assert list(ops.nms(HALF_BOXES, scores, np.zeros(2), .5, preset=presets.Preset())) == [0]
        onnx = ops.multibox_detection(*args, nms_threshold=.5, preset="caffe", nms_comparator=">=")
        assert list(onnx[0, :, 0]) == [0, -1]
        with pytest.raises(ValueError, match="MultiBoxDetection: preset must be one of"):
            ops.multibox_detection(*args, preset="tensorflow")
        with pytest.raises(ValueError, match="nms: preset must be one of"):
            ops.nms(HALF_BOXES, scores, np.zeros(2), .5, preset="tensorflow")
        with pytest.raises(TypeError, match="nms_comparator must be a string"):
            ops.nms(HALF_BOXES, scores, np.zeros(2), .5, nms_comparator=1)


def test_presets_is_data_and_ops_runs_the_current_backend():
    assert not any(callable(getattr(presets, name, None))
                   for name in ("nms", "multibox_detection", "detection_kwargs"))
    from ssdref.multibox import nms as spec
    assert ops.nms.__wrapped__ is spec.nms and ops.nms.__doc__ == spec.nms.__doc__


# --- priors ------------------------------------------------------------------------------------

def test_torchvision_ssd300_anchors_match_its_documented_generator():
    boxes = torchvision_ssd300_default_boxes()
    assert boxes.shape == (8732, 4) and boxes.dtype == np.float32     # 38²·4+19²·6+10²·6+5²·6+3²·4+4
    # conv4_3 map, first location: centre 0.5/(300/8) -> 4 px; s=.07, s'=sqrt(.07*.15), ar 2 (w,h).
    s_prime = math.sqrt(.07 * .15) * 150
    w2, h2 = .07 * math.sqrt(2) * 150, .07 / math.sqrt(2) * 150
    np.testing.assert_allclose(boxes[:4], [[4 - 10.5, 4 - 10.5, 4 + 10.5, 4 + 10.5],
                                           [4 - s_prime, 4 - s_prime, 4 + s_prime, 4 + s_prime],
                                           [4 - w2, 4 - h2, 4 + w2, 4 + h2],
                                           [4 - h2, 4 - w2, 4 + h2, 4 + w2]], rtol=1e-6, atol=1e-4)
    # Third map (10x10) uses step 32, not 30: first centre 0.5/(300/32) -> 16 px.
    start = 38 * 38 * 4 + 19 * 19 * 6
    assert boxes[start, 0] + boxes[start, 2] == pytest.approx(32, abs=1e-4)
    # Last map: clip clamps w = .87*sqrt(2) to 1 (not the box); (h, w) pair -> x from 57.72 to 242.28.
    h_last = .87 / math.sqrt(2) * 150
    np.testing.assert_allclose(boxes[-1], [150 - h_last, 0, 150 + h_last, 300], rtol=1e-6, atol=1e-4)
    assert boxes.min() < 0                                          # boxes themselves are not clipped
    np.testing.assert_allclose(torchvision_ssd300_default_boxes("normalized") * 300, boxes,
                               rtol=1e-6, atol=1e-4)


def test_torchvision_default_scales_are_linear_then_one():
    np.testing.assert_allclose(torchvision_scales(6), [.15, .3, .45, .6, .75, .9, 1.0])


def test_caffe_ssd300_conv4_3_priors_follow_min_max_flip():
    out = caffe_prior_box((38, 38), (300, 300), [30], [60], [2], flip=True, variance=(.1, .1, .2, .2),
                          step=8)
    assert out.shape == (1, 2, 38 * 38 * 4 * 4)
    first = out[0, 0, :16].reshape(4, 4) * 300                      # back to pixels, centre 4
    big, w2, h2 = math.sqrt(30 * 60) / 2, 30 * math.sqrt(2) / 2, 30 / math.sqrt(2) / 2
    np.testing.assert_allclose(first, [[4 - 15, 4 - 15, 4 + 15, 4 + 15],
                                       [4 - big, 4 - big, 4 + big, 4 + big],
                                       [4 - w2, 4 - h2, 4 + w2, 4 + h2],
                                       [4 - h2, 4 - w2, 4 + h2, 4 + w2]], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(out[0, 1, :8], F([.1, .1, .2, .2, .1, .1, .2, .2]))


def test_caffe_ratio_list_dedupes_and_clip_clamps_boxes():
    assert caffe_aspect_ratios([2, 2, 1, 3], flip=True) == [1.0, 2.0, .5, 3.0, 1 / 3]
    out = caffe_prior_box((2, 2), (100, 100), [80], clip=True)
    assert out[0, 0].min() == 0 and out[0, 0].max() == 1 and out.shape == (1, 2, 16)


def test_caffe_and_mxnet_layouts_agree_on_a_square_map_with_matching_sizes():
    # Same order (min, sqrt(min*max), ar, 1/ar); only the size rule differs, so MXNet needs
    # sizes=(min, sqrt(min*max)) / image to reproduce Caffe.
    caffe = caffe_prior_box((4, 4), (64, 64), [16], [36], [2])[0, 0].reshape(-1, 4)
    mxnet = multibox_prior(np.zeros((1, 1, 4, 4), F), sizes=(16 / 64, 24 / 64), ratios=(1, 2, .5))
    np.testing.assert_allclose(mxnet[0], caffe, atol=1e-6)


def test_multibox_prior_refuses_a_foreign_prior_layout():
    with pytest.raises(ValueError, match="prior_presets.caffe_prior_box"):
        multibox_prior(np.zeros((1, 1, 2, 2), F), preset="caffe")
    with use_backend("numpy"):
        multibox_prior(np.zeros((1, 1, 2, 2), F), preset="onnx")   # mxnet layout: accepted


# --- matching and mining -----------------------------------------------------------------------

T17_ANCHORS = F([[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]])
T17_LABEL = F([[[0, 0, 0, 1, 1]]])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("preset, cls", [("mxnet", [1, 0, 0]), ("caffe", [1, 1, 0]),
                                         ("torchvision", [1, 1, 0])])
def test_iou_exactly_at_overlap_threshold_is_positive_only_with_ge(backend, preset, cls):
    with use_backend(backend):
        from ssdref.backend import dispatch
        _, _, cls_target = dispatch(multibox_target)(T17_ANCHORS, T17_LABEL, np.zeros((1, 2, 3), F),
                                                     preset=preset)
    np.testing.assert_array_equal(cls_target, [cls])


def test_cross_entropy_mining_separates_what_underflowed_background_probabilities_tie():
    # Anchors 1 and 2 are candidates; both have bg prob expf(-150) = expf(-200) = 0 in float32, a
    # tie MXNet breaks by index (anchor 1); -log p_bg is 150 vs 200, so CE picks anchor 2.
    anchors = F([[[0, 0, 1, 1], [.9, .9, 1, 1], [.8, .8, .9, .9]]])
    logits = F([[[0, -150, -200], [0, 0, 0]]])
    params = dict(SSD, negative_mining_ratio=1)
    mx = multibox_target(anchors, T17_LABEL, logits, **params)[2]
    ce = multibox_target(anchors, T17_LABEL, logits, **params, preset="torchvision")[2]
    np.testing.assert_array_equal(mx, [[1, 0, -1]])
    np.testing.assert_array_equal(ce, [[1, -1, 0]])


def test_cross_entropy_mining_caps_at_the_candidates_where_mxnet_aborts():
    with pytest.raises(ValueError, match="hard-negative candidates"):
        multibox_target(T17_ANCHORS, T17_LABEL, np.zeros((1, 2, 3), F), **SSD)
    cls = multibox_target(T17_ANCHORS, T17_LABEL, np.zeros((1, 2, 3), F), **SSD, mining="cross_entropy")[2]
    np.testing.assert_array_equal(cls, [[1, -1, 0]])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_minimum_negative_samples_is_honoured_only_by_the_mxnet_gpu_preset(backend):
    # Spec T8's setting: ratio 1, min_neg 3, one positive: CPU gives 1 negative, the GPU rule 3.
    a6 = F([[[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6], [0, 0, 1, 1]]])
    label = F([[[0, .5, .5, 1, 1], [-1] * 5]])
    logits = np.random.RandomState(0).randn(1, 3, 6).astype(F)
    params = dict(SSD, negative_mining_ratio=1, minimum_negative_samples=3)
    with use_backend(backend):
        from ssdref.backend import dispatch
        cpu = dispatch(multibox_target)(a6, label, logits, **params)[2]
        gpu = dispatch(multibox_target)(a6, label, logits, **params, preset="mxnet_gpu")[2]
    np.testing.assert_array_equal(cpu, [[-1, -1, -1, 1, -1, 0]])     # lowest bg prob: anchor 5
    np.testing.assert_array_equal(gpu, [[-1, 0, 0, 1, -1, 0]])       # then anchors 1 and 2


def test_mxnet_default_targets_are_unchanged_by_the_preset_machinery():
    rng = np.random.default_rng(0)
    anchors = multibox_prior(np.zeros((1, 1, 4, 4), F), sizes=(.3, .5), ratios=(1, 2, .5))
    label = F([[[0, .1, .1, .6, .5], [1, .4, .4, .9, .9], [-1] * 5]])
    logits = rng.standard_normal((1, 3, anchors.shape[1])).astype(F)
    plain = multibox_target(anchors, label, logits, **SSD)
    for a, b in zip(plain, multibox_target(anchors, label, logits, **SSD, preset="mxnet")):
        np.testing.assert_array_equal(a, b)


# --- loss normalization ------------------------------------------------------------------------

def test_loss_normalizers_mxnet_valid_versus_num_positive():
    cls_target = F([[1, 0, -1, 0, 2]])                       # 2 positives, 4 non-ignored anchors
    loc_loss = F([[.5, 0, .1, .2, 0, 0, 0, 0, .3, .3, .3, .3] + [0] * 8])   # 7 nonzero elements
    assert presets.loss_normalizers(cls_target, loc_loss) == (4, 7)
    assert presets.loss_normalizers(cls_target, loc_loss, "caffe") == (2, 2)
    assert presets.loss_normalizers(F([[-1, -1]]), F([[0] * 8]), "torchvision") == (1, 1)
