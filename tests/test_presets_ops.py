"""The multibox ops accept `preset=` in ssdref.nd.contrib / ssdref.sym.contrib (ssdref's own argument)."""
import numpy as np
import pytest

import ssdref as mx

CLS_PROB = np.array([[[.1, .2], [.9, .8]]], np.float32)          # (1, C=2, A=2)
LOC = np.zeros((1, 8), np.float32)
ANCHORS = np.array([[[0, 0, 1, 1], [0, 0, .5, 1]]], np.float32)  # IoU exactly 0.5


def test_detection_preset_selects_the_nms_comparator_at_iou_equal_to_threshold():
    mxnet_rows = mx.nd.contrib.MultiBoxDetection(CLS_PROB, LOC, ANCHORS, nms_threshold=0.5)
    onnx_rows = mx.nd.contrib.MultiBoxDetection(CLS_PROB, LOC, ANCHORS, nms_threshold=0.5, preset="onnx")
    assert mxnet_rows[0, :, 0].tolist() == [0, -1]     # MXNet: IoU >= threshold suppresses
    assert onnx_rows[0, :, 0].tolist() == [0, 0]       # ONNX NonMaxSuppression: only IoU > threshold


def test_default_preset_is_mxnet_bit_for_bit():
    rng = np.random.default_rng(0)
    data = np.zeros((1, 1, 3, 4), np.float32)
    assert np.array_equal(mx.nd.contrib.MultiBoxPrior(data, sizes=(0.3, 0.5), ratios=(1, 2)),
                          mx.nd.contrib.MultiBoxPrior(data, sizes=(0.3, 0.5), ratios=(1, 2), preset="mxnet"))
    anchors = mx.nd.contrib.MultiBoxPrior(data, sizes=(0.3, 0.5), ratios=(1, 2))
    label = np.array([[[0, .1, .1, .5, .6], [-1, -1, -1, -1, -1]]], np.float32)
    cls_pred = rng.standard_normal((1, 3, anchors.shape[1])).astype(np.float32)
    plain = mx.nd.contrib.MultiBoxTarget(anchors, label, cls_pred, negative_mining_ratio=3)
    named = mx.nd.contrib.MultiBoxTarget(anchors, label, cls_pred, negative_mining_ratio=3, preset="mxnet")
    for a, b in zip(plain, named):
        assert np.array_equal(a, b)


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="preset"):
        mx.nd.contrib.MultiBoxDetection(CLS_PROB, LOC, ANCHORS, preset="caffee")


def test_preset_is_written_to_symbol_json_only_when_given():
    cls, loc, anc = mx.sym.Variable("cls_prob"), mx.sym.Variable("loc_pred"), mx.sym.Variable("anchor")
    plain = mx.sym.contrib.MultiBoxDetection(cls, loc, anc, name="det")
    assert "preset" not in plain.tojson()
    assert '"preset": "onnx"' in mx.sym.contrib.MultiBoxDetection(cls, loc, anc, preset="onnx", name="d2").tojson()
