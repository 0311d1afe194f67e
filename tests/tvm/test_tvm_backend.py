"""ssdref's ONNX exports compiled by Apache TVM: detections, the NMS convention, divergence on TVM."""
import numpy as np
import pytest
from onnx import numpy_helper

from ssdref.backends import tvm_conformance
from ssdref.divergence import divergence, stem


def test_detection_graph_agrees_and_iou_at_threshold_is_suppressed_as_mxnet():
    from ssdref.backends import tvm
    from ssdref.backends.onnxruntime_conformance import _same, boundary_case
    from ssdref.multibox.detection import multibox_detection
    from ssdref.onnx_export import detection_model, reference_detections, to_mxnet_rows

    cls_prob, loc, anchors, params = boundary_case()           # two class-1 boxes, IoU exactly 0.5
    model = detection_model(anchors, cls_prob.shape[1], **params)
    got = to_mxnet_rows(tvm.run_onnx(model, {"cls_prob": cls_prob, "loc_pred": loc})["detections"], 1, 3)
    assert not _same(got, reference_detections(cls_prob, loc, anchors[None], **params))[1]   # ONNX: >
    assert _same(got, multibox_detection(cls_prob, loc, anchors[None], **params))[1]         # TVM: >=
    row = tvm_conformance.detection_row(3, seed=0)
    assert row.ok, row


def test_tiny_ssd_detections_equal_ssdref():
    row = tvm_conformance.ssd_row("tiny SSD export in TVM", "tiny", 64, 3, cases=2, seed=0)
    assert row.ok and row.worst_error < 1e-5, row


def test_divergence_on_tvm_untouched_exits_0_and_scaled_conv_is_named():
    model, data, _, _ = tvm_conformance.ssd_case("tiny", 64, 3, 0, 0)
    report = divergence(model, "tvm", data=data)
    assert report.exit_code == 0, report.format()
    params = {stem(t.name): numpy_helper.to_array(t) for t in model.graph.initializer}
    from ssdref.model import get_config, get_symbol
    symbol = get_symbol(**get_config("tiny", 64, num_classes=3))
    args = {k: v for k, v in params.items() if k in symbol.list_arguments()}
    weight = next(t for t in model.graph.initializer if stem(t.name) == "conv3_1_weight")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * np.float32(1.01), weight.name))
    report = divergence(model, "tvm", data=data, arg_params=args, aux_params={})
    assert report.exit_code == 1
    assert report.first_float.node == "conv3_1" and not report.replay_float.matches


@pytest.mark.slow
def test_ssd300_with_calibrated_weights_detections_equal_ssdref():
    row = tvm_conformance.ssd_row("SSD300 export in TVM", "vgg16_reduced", 300, 20, cases=1, seed=0)
    assert row.ok and row.worst_error < 1e-5, row
