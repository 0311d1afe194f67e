"""run_checkpoint on a GluonCV-style export: box_nms and three outputs (ids, scores, pixel boxes)
run as they are, fed with GluonCV's ImageNet mean and std, as MultiBoxDetection-layout rows."""
import numpy as np
import pytest

import ssdref as mx
from ssdref.io import save_params
from ssdref.io.checkpoint import gluoncv_rows, is_gluoncv, run_checkpoint
from ssdref.io.images import GLUONCV_MEAN_PIXELS, GLUONCV_STD_PIXELS, preprocess

SIDE = 8


def _gluoncv_like(tmp_path):
    """data (1, 3, 8, 8) -> 1x1 conv to 6 channels -> 64 rows [id, score, x0, y0, x1, y1] ->
    box_nms -> slices: the shape of a GluonCV SSD export's head."""
    data = mx.sym.Variable("data")
    conv = mx.sym.Convolution(data, kernel=(1, 1), num_filter=6, name="head")
    rows = mx.sym.transpose(mx.sym.Reshape(conv, shape=(0, 6, -1)), axes=(0, 2, 1))
    nms = mx.sym.contrib.box_nms(rows, overlap_thresh=0.45, topk=10, valid_thresh=0.01,
                                 id_index=0, score_index=1, coord_start=2, name="box_nms0")
    outputs = [mx.sym.slice_axis(nms, axis=-1, begin=b, end=e) for b, e in ((0, 1), (1, 2), (2, 6))]
    net = mx.sym.Group(outputs)
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 3, 1, 1)).astype(np.float32) * 0.1
    bias = np.float32([1, 0.5, 1, 1, 3, 3])            # ids ~1, scores ~0.5, boxes in pixels
    prefix = str(tmp_path / "gluon")
    (tmp_path / "gluon-symbol.json").write_text(net.tojson())
    save_params(prefix + "-0000.params", {"head_weight": weight, "head_bias": bias}, {})
    return net, prefix, weight, bias


def test_a_gluoncv_export_runs_with_gluoncvs_normalization(tmp_path):
    net, prefix, weight, bias = _gluoncv_like(tmp_path)
    assert is_gluoncv(net)
    image = np.random.default_rng(1).integers(0, 256, (3, SIDE, SIDE)).astype(np.float32)
    rows = run_checkpoint(prefix, 0, image, data_shape=SIDE)
    data = preprocess(image, SIDE, GLUONCV_MEAN_PIXELS, "bilinear", GLUONCV_STD_PIXELS)
    ex = net.simple_bind(data=data.shape, grad_req="null")
    ex.arg_dict["head_weight"][...] = weight
    ex.arg_dict["head_bias"][...] = bias
    expected = gluoncv_rows(*ex.forward(is_train=False, data=data), SIDE)
    np.testing.assert_array_equal(rows, expected)
    assert rows.shape == (1, 64, 6) and (rows[0, :, 0] >= 0).any()
    np.testing.assert_allclose(rows[0, 0, 2:], expected[0, 0, 2:])     # boxes over the input size


def test_multibox_detection_overrides_are_refused_for_a_gluoncv_export(tmp_path):
    _, prefix, _, _ = _gluoncv_like(tmp_path)
    with pytest.raises(ValueError, match="GluonCV export's NMS is its _contrib_box_nms node"):
        run_checkpoint(prefix, 0, np.zeros((3, SIDE, SIDE), np.float32), data_shape=SIDE,
                       nms_threshold=0.3)


def test_gluoncv_rows_keep_the_minus_one_fill():
    ids = np.float32([[[2], [-1]]])
    scores = np.float32([[[.9], [-1]]])
    boxes = np.float32([[[10, 20, 30, 40], [-1, -1, -1, -1]]])
    rows = gluoncv_rows(ids, scores, boxes, (40, 80))
    np.testing.assert_array_equal(rows[0, 0], np.float32([2, .9, 10 / 80, 20 / 40, 30 / 80, 1]))
    assert (rows[0, 1] == -1).all()
