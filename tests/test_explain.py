"""`ssdref explain`: the stage-by-stage trace writes its files, and its numbers are the ops' numbers."""
import dataclasses
import os

import numpy as np
import pytest

from ssdref.cli import main
from ssdref.explain import FIGURES, TraceMismatch, build_train_symbol, explain, run_network
from ssdref.explain.trace import SSD_TARGET, trace
from ssdref.io.mxnet_params import save_params
from ssdref.multibox.boxes import decode, iou_matrix
from ssdref.multibox.prior import multibox_prior
from ssdref.multibox.target import multibox_target

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return explain(image_index=0, out=str(tmp_path_factory.mktemp("explain")), seed=0)


def test_writes_markdown_and_one_png_per_stage(report):
    assert sorted(report.figures) == sorted(FIGURES)
    text = open(report.markdown, encoding="utf-8").read()
    for path in report.figures.values():
        with open(path, "rb") as handle:
            assert handle.read(8) == PNG_SIGNATURE
        assert f"]({os.path.basename(path)})" in text        # every figure is shown in explain.md
    for heading in ("Anchors", "IoU", "Hard negative mining", "Encoded targets", "normalizers", "NMS"):
        assert heading in text


def test_anchor_count_per_layer_is_h_times_w_times_sizes_plus_ratios_minus_one(report):
    for layer in report.layers:
        assert layer.count == layer.height * layer.width * (len(layer.sizes) + len(layer.ratios) - 1)
        expected = multibox_prior(np.zeros((1, 1, layer.height, layer.width), np.float32),
                                  sizes=layer.sizes, ratios=layer.ratios)[0]
        np.testing.assert_array_equal(report.anchors[layer.start:layer.start + layer.count], expected)
    assert [(l.height, l.width) for l in report.layers] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    assert sum(l.count for l in report.layers) == report.anchors.shape[0] == 1488


def test_positives_and_negatives_are_those_of_multibox_target(report):
    _, _, cls_target = multibox_target(report.anchors[None], report.label[None], report.cls_pred[None],
                                       **SSD_TARGET)
    np.testing.assert_array_equal(np.flatnonzero(cls_target[0] > 0), report.positives)
    np.testing.assert_array_equal(np.flatnonzero(cls_target[0] == 0), np.sort(report.negatives))
    np.testing.assert_array_equal(report.cls_target, cls_target[0])


def test_each_gt_has_one_bipartite_anchor_and_threshold_matches_exceed_one_half(report):
    iou = iou_matrix(report.anchors, report.gt[:, 1:5])
    np.testing.assert_array_equal(report.iou, iou)
    bipartite = [m for m in report.matches if m.stage == "bipartite"]
    assert sorted(m.gt for m in bipartite) == list(range(len(report.gt)))
    assert bipartite[0].iou == iou.max()                         # the first pick is the global maximum
    assert all(a.iou >= b.iou for a, b in zip(bipartite, bipartite[1:]))   # greedy: IoU never rises
    for m in report.matches:
        if m.stage == "threshold":
            assert m.iou > 0.5 and m.gt == int(np.argmax(iou[m.anchor]))
    non_positive = np.setdiff1d(np.arange(len(iou)), report.positives)
    assert np.all(iou[non_positive].max(axis=1) <= 0.5)


def test_mining_picks_the_lowest_background_probabilities(report):
    num_positive = report.num_positive
    assert report.num_negative == min(int(3 * num_positive), report.anchors.shape[0] - num_positive)
    logits = report.cls_pred.astype(np.float64)
    bg = np.exp(logits[0] - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    picked = [c for c in report.candidates if c.picked]
    rest = [c for c in report.candidates if not c.picked]
    assert len(picked) == report.num_negative
    assert max(c.bg_prob for c in picked) <= min(c.bg_prob for c in rest)
    for c in report.candidates[:20]:
        assert c.max_iou < 0.5
        assert c.bg_prob == pytest.approx(bg[c.anchor], rel=1e-5, abs=1e-12)


def test_encoded_targets_decode_back_to_their_gt(report):
    for t in report.targets:
        box = decode(report.anchors[t.anchor][None], np.float32([t.loc_target]))[0]
        np.testing.assert_allclose(box, report.gt[t.gt, 1:5], atol=1e-5)
        assert t.cls_target == int(report.gt[t.gt, 0]) + 1


def test_two_losses_have_their_own_normalizers(report):
    assert report.num_cls == report.num_positive + report.num_negative
    assert report.num_loc == int(np.count_nonzero(report.loc_loss_elements > 0))
    assert report.num_loc <= 4 * report.num_positive
    assert report.cls_grad_scale == pytest.approx(1 / report.num_cls)
    assert report.loc_grad_scale == pytest.approx(1 / report.num_loc)
    counted = np.flatnonzero(report.cls_target >= 0)
    p = report.cls_prob[report.cls_target[counted].astype(int), counted].astype(np.float64)
    assert report.cls_loss == pytest.approx(-np.log(p).mean(), rel=1e-4)
    assert np.all(np.isfinite(report.neg_log_p)) and len(report.neg_log_p) == report.num_cls
    assert report.loc_loss == pytest.approx(report.loc_loss_elements.sum(dtype=np.float64) / report.num_loc)
    # The monitor divides SmoothL1 by N_cls (spec §7), the gradient by N_loc.
    assert report.metric_smooth_l1 == pytest.approx(report.loc_loss_sum / report.num_cls, rel=1e-5)


def test_nms_keeps_a_subset_whose_same_class_boxes_overlap_below_the_threshold(report):
    before = {d.anchor for d in report.before_nms}
    assert {d.anchor for d in report.after_nms} <= before
    assert len(report.before_nms) == min(report.nms_topk, len(report.before_nms))
    scores = [d.score for d in report.before_nms]
    assert scores == sorted(scores, reverse=True)
    for cls in {d.class_id for d in report.after_nms}:
        boxes = np.float32([d.box for d in report.after_nms if d.class_id == cls])
        iou = iou_matrix(boxes, boxes)
        np.fill_diagonal(iou, 0)
        assert np.all(iou < report.nms_threshold)
    rows = report.det_out[report.det_out[:, 0] >= 0]
    np.testing.assert_array_equal(rows[:, 0], [d.class_id for d in report.after_nms])


def test_a_checkpoint_is_loaded_with_params_and_epoch(tmp_path, report):
    symbol, _, _ = build_train_symbol("tiny", 64, 3)
    data, label = np.zeros((1, 3, 64, 64), np.float32), np.full((1, 4, 6), -1, np.float32)
    executor = symbol.simple_bind(grad_req="null", data=data.shape, label=label.shape)
    rng = np.random.default_rng(7)
    arg_params = {k: rng.normal(0, 0.05, v.shape).astype(np.float32)
                  for k, v in executor.arg_dict.items() if k not in ("data", "label")}
    save_params(str(tmp_path / "net-0003.params"), arg_params, {})
    loaded = explain(0, str(tmp_path / "a"), params=str(tmp_path / "net"), epoch=3, figures=False)
    given = explain(0, str(tmp_path / "b"), arg_params=arg_params, figures=False)
    assert loaded.params_source.startswith("checkpoint")
    np.testing.assert_array_equal(loaded.cls_prob, given.cls_prob)
    assert not np.array_equal(loaded.cls_prob, report.cls_prob)
    np.testing.assert_array_equal(loaded.positives, report.positives)    # matching ignores the weights


def test_trace_refuses_outputs_that_disagree_with_the_ops(report):
    symbol, config, _ = build_train_symbol("tiny", 64, 3)
    outputs, internals = run_network(symbol, np.zeros((1, 3, 64, 64), np.float32), report.label[None])
    outputs["cls_label"] = outputs["cls_label"].copy()
    outputs["cls_label"][0, int(report.positives[0])] = -1
    with pytest.raises(TraceMismatch, match="cls_target"):
        trace(network="tiny", data_shape=64, num_classes=3, class_names=("a", "b", "c"),
              image=report.image, label=report.label, config=config, internals=internals, outputs=outputs)


def test_cli_explain_writes_explain_md(tmp_path, capsys):
    assert main(["explain", "--image", "1", "--out", str(tmp_path), "--no-figures"]) == 0
    assert os.path.isfile(tmp_path / "explain.md")
    assert "positives" in capsys.readouterr().out


def test_flat_ratio_list_of_the_demo_config_is_shared_by_every_layer(tmp_path):
    from ssdref.demo import DEMO_CONFIG

    demo = explain(0, str(tmp_path), config=DEMO_CONFIG, figures=False)
    assert [layer.ratios for layer in demo.layers] == [(1,)] * 4
    assert [layer.count for layer in demo.layers] == [512, 128, 32, 8]
    assert demo.anchors.shape[0] == 680
    assert demo.nms_threshold == 0.45                    # the config's nms_thresh is the default


def test_cli_explain_demo_config_loads_the_tutorial_checkpoint(tmp_path, capsys):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    prefix = os.path.join(root, "docs", "figures", "tiny")
    assert main(["explain", "--image", "3", "--demo-config", "--params", prefix, "--epoch", "8",
                 "--out", str(tmp_path), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "anchors 680 = 512 + 128 + 32 + 8" in printed and "positives 11 (3 bipartite)" in printed


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_index=-1), "image_index must be an int >= 0"),
    (dict(params="nowhere/net"), "epoch must be given"),
    (dict(params="nowhere/net", epoch=2), "no such file"),
])
def test_bad_arguments_raise_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain(out=str(tmp_path), figures=False, **kwargs)


def test_report_reads_trace_fields_through(report):
    assert report.num_positive == report.trace.num_positive
    assert dataclasses.is_dataclass(report)
