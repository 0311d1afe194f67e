"""The PyTorch backend: MXNet semantics in torch ops, torch autograd gradients equal ssdref's backward."""
import numpy as np
import pytest

from tests.optional_deps import require

torch = require("torch", "interop")

from ssdref.backends import torch_conformance as tc  # noqa: E402
from ssdref.backends.torch import (detect_torchvision, match_torchvision, native_pooling,  # noqa: E402
                                   nms_torchvision, pooling, run_graph)
from ssdref.layers.pooling import pooling_forward  # noqa: E402
from ssdref.multibox.detection import multibox_detection  # noqa: E402
from ssdref.multibox.target import multibox_target  # noqa: E402


def test_tiny_ssd_parameter_gradients_match_ssdref_in_float64():
    symbol, args = tc.tiny_ssd_case(seed=5, batch=1)
    params = [n for n in args if n not in ("data", "label")]
    _, err32, err64 = tc.compare_graph(symbol, args, {}, grad_names=params)
    assert err64 <= 1e-10          # measured ~5e-15: the same math, another summation order
    assert err32 <= 1e-4


def test_every_op_row_agrees_with_ssdref():
    rows = tc.op_rows(examples=3, seed=1)
    assert [r.op for r in rows if not r.ok] == []
    assert all(r.worst_error <= 1e-4 for r in rows)


def test_full_pooling_overhang_is_kept_unlike_torch_ceil_mode():
    # H = 5, k = 2, s = 2, pad 1: MXNet 'full' has 4 windows; torch's ceil_mode drops the last
    # one because it starts in the right padding.
    x = np.arange(50, dtype=np.float32).reshape(1, 2, 5, 5)
    params = dict(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pooling_convention="full")
    ref, _ = pooling_forward(x, pool_type="max", **params)
    ours = pooling(torch.from_numpy(x), pool_type="max", **params).numpy()
    native = native_pooling(torch.from_numpy(x), pool_type="max", **params).numpy()
    np.testing.assert_array_equal(ours, ref)
    assert ref.shape[2:] == (4, 4) and native.shape[2:] == (3, 3)


def test_avg_pooling_uses_mxnet_divisor_for_count_include_pad():
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 4)).astype(np.float32)
    for cip in (True, False):
        params = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full", count_include_pad=cip)
        ref, _ = pooling_forward(x, pool_type="avg", **params)
        np.testing.assert_allclose(pooling(torch.from_numpy(x), pool_type="avg", **params).numpy(), ref,
                                   rtol=1e-6, atol=1e-6)


def test_torchvision_nms_keeps_a_box_at_exactly_the_iou_threshold():
    boxes = torch.tensor([[0, 0, 1, 0.5], [0, 0, 1, 0.25]])       # IoU exactly 0.5
    assert nms_torchvision(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert nms_torchvision(boxes, torch.tensor([0.9, 0.8]), 0.49).tolist() == [0]


def test_torchvision_detection_preset_differs_from_mxnet_only_at_the_boundary():
    cls_prob, loc, anchors = tc._boundary_detection_case()
    mx = multibox_detection(cls_prob, loc, anchors, nms_threshold=0.5)
    tv = detect_torchvision(cls_prob, loc, anchors, nms_threshold=0.5)
    assert (mx[0, :, 0] >= 0).sum() == 2 and (tv[0, :, 0] >= 0).sum() == 3


def test_torchvision_matcher_takes_iou_equal_to_threshold_as_positive():
    from ssdref.cases.multibox import matching_boundary_inputs
    anchors, gts = matching_boundary_inputs()           # the catalogue's IoU-exactly-0.5 case
    label = gts[None]
    _, _, cls_target = multibox_target(anchors, label, np.zeros((1, 2, 3), np.float32),
                                       overlap_threshold=0.5, negative_mining_ratio=-1)
    assert (cls_target[0] > 0).tolist() == [True, False, False]     # bipartite match only; 0.5 not > 0.5
    assert match_torchvision(anchors[0], label[0, :, 1:], 0.5).tolist() == [0, 0, -1]


def test_unsupported_operator_is_named():
    import ssdref
    net = ssdref.sym.Dropout(ssdref.sym.Variable("data"), p=0.5, mode="always")
    with pytest.raises(ValueError, match="Dropout"):
        run_graph(net, {"data": np.ones((2, 3), np.float32)}, is_train=True)


def test_conformance_command_reports_every_row(capsys, monkeypatch):
    from ssdref.cli import main
    # the tiny SSD rows are pinned above; here only the command's wiring and the other rows
    monkeypatch.setattr(tc, "tiny_ssd_rows", lambda cases, seed: [])
    assert main(["conformance", "--backend", "torch", "--examples", "2"]) == 0
    out = capsys.readouterr().out
    assert "Convolution" in out and "MultiBoxDetection NMS vs torchvision preset" in out
