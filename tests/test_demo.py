"""`ssdref demo`: a very short smoke run, evaluation and pictures (the full run is `make demo`)."""
import argparse

import numpy as np
import pytest

from ssdref import demo
from ssdref.data.shapes import CLASS_NAMES, make_images, normalize
from ssdref.train import build_symbols, train_ssd


def test_a_one_update_demo_prints_ap_and_writes_pictures_and_a_checkpoint(tmp_path, capsys):
    args = argparse.Namespace(quick=True, out=str(tmp_path / "out"), seed=0,
                              settings=dict(num_train=16, epochs=1, lr_steps=[], num_val=8))
    assert demo.run_demo(args) == 0
    printed = capsys.readouterr().out
    assert "mAP" in printed and "VOC07" in printed and all(name in printed for name in CLASS_NAMES)
    for name in ("detections.png", "loss_curve.png", "ssd_tiny-0001.params", "ssd_tiny-symbol.json"):
        path = tmp_path / "out" / name
        assert path.exists() and path.stat().st_size > 0, name
    assert (tmp_path / "out" / "detections.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_true_boxes_as_detections_score_map_one():
    _, labels = make_images(6, 32, seed=3, split="val")
    det = np.full((6, 5, 6), -1.0, np.float32)
    for i, label in enumerate(labels):
        rows = label[label[:, 0] >= 0]
        det[i, :len(rows), 0] = rows[:, 0]
        det[i, :len(rows), 1] = 0.9
        det[i, :len(rows), 2:] = rows[:, 1:5]
    result = demo.evaluate(det, labels, CLASS_NAMES)
    assert result["mAP"] == 1.0 and result["mAP07"] == pytest.approx(1.0)   # 11 x (1 / 11.)
    assert "mAP" in demo.ap_table(result)


def test_predict_pads_the_last_batch_without_changing_any_image():
    result = train_ssd("tiny", 32, 3, epochs=1, batch_size=2, num_train=2, progress=False,
                       config=demo.DEMO_CONFIG)
    test_sym, _, _ = build_symbols("tiny", 32, 3, config=demo.DEMO_CONFIG, train=False)
    data = normalize(make_images(5, 32, seed=1, split="val")[0])
    whole = demo.predict(test_sym, result.arg_params, result.aux_params, data, batch_size=5)
    padded = demo.predict(test_sym, result.arg_params, result.aux_params, data, batch_size=3)
    assert whole.shape == padded.shape == (5, test_sym.infer_shape(data=(5, 3, 32, 32))[1][0][1], 6)
    np.testing.assert_allclose(padded, whole, rtol=1e-5, atol=1e-6)
