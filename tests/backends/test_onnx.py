"""The ONNX export runs in ONNX Runtime and gives ssdref's detections (onnx preset; MXNet's where no
IoU sits exactly at the NMS threshold)."""
import os

import numpy as np
import pytest

from tests.optional_deps import require

onnx = require("onnx", "interop")
require("onnxruntime", "interop")

from ssdref.backends import onnxruntime_conformance as oc  # noqa: E402
from ssdref.io.checkpoint import load_checkpoint, preprocess  # noqa: E402
from ssdref.multibox.detection import multibox_detection  # noqa: E402
from ssdref.onnx_export import (detection_model, export_symbol, reference_detections,  # noqa: E402
                                to_mxnet_rows)
from ssdref.testing.compare import assert_detections_equal  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")


def _run(model, feeds):
    return oc._session(model).run(None, feeds)[0]


def test_exported_mxnet_checkpoint_gives_mxnet_detections_in_onnxruntime():
    symbol, arg, aux = load_checkpoint(os.path.join(DATA, "tiny"), 2)
    model = export_symbol(symbol, arg, aux, 64)
    onnx.checker.check_model(model)
    data = preprocess(np.load(os.path.join(DATA, "image.npy")), 64)
    got = to_mxnet_rows(_run(model, {"data": data}), 1, 1488)
    assert_detections_equal(got, np.load(os.path.join(DATA, "mxnet_detections.npy")))


def test_nms_at_exactly_the_threshold_keeps_the_box_in_onnx_and_suppresses_it_in_mxnet():
    cls_prob, loc, anchors, params = oc.boundary_case()
    got = to_mxnet_rows(_run(detection_model(anchors, 2, **params), {"cls_prob": cls_prob, "loc_pred": loc}), 1, 3)
    assert (got[0, :, 0] >= 0).sum() == 3
    assert (multibox_detection(cls_prob, loc, anchors[None], **params)[0, :, 0] >= 0).sum() == 2
    assert_detections_equal(got, reference_detections(cls_prob, loc, anchors[None], **params))


def test_detection_graph_matches_the_onnx_preset_on_random_cases():
    rows = oc.detection_rows(examples=6, seed=3)
    assert all(r.ok for r in rows), rows


def test_to_mxnet_rows_sorts_by_score_and_pads():
    det = np.array([[0, 1, 0.2, 0, 0, 1, 1], [0, 0, 0.9, 0, 0, 1, 1], [1, 2, 0.5, 0, 0, 1, 1]], np.float32)
    rows = to_mxnet_rows(det, 2, 3)
    assert rows[0, :, 1].tolist() == pytest.approx([0.9, 0.2, -1])
    assert rows[1, 0, 0] == 2 and (rows[1, 1:] == -1).all()


def test_cli_exports_a_checked_model(tmp_path, capsys):
    from ssdref.cli import main
    out = tmp_path / "ssd.onnx"
    assert main(["export-onnx", "--params", os.path.join(DATA, "tiny"), "--epoch", "2", "--data-shape", "64",
                 str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert {"NonMaxSuppression", "Exp", "Conv", "MaxPool", "Softmax"} <= ops
    assert "wrote" in capsys.readouterr().out
