"""explain on a user's image file (no ground truth) and with a checkpoint's own training symbol."""
import json
import os
import shutil

import numpy as np
import pytest

from ssdref.explain import explain
from ssdref.explain.inputs import checkpoint_symbol
from ssdref.io.checkpoint import run_checkpoint
from ssdref.testing.compare import assert_detections_equal

DATA = os.path.join(os.path.dirname(__file__), "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")
IMAGE = os.path.join(DATA, "image.npy")


def test_an_image_file_is_traced_without_ground_truth(tmp_path):
    report = explain(out=str(tmp_path), image=IMAGE, figures=False)
    assert len(report.gt) == 0 and report.num_positive == 0 and report.num_negative == 0
    assert report.image.shape == (64, 64, 3) and report.image.dtype == np.uint8
    np.testing.assert_array_equal(report.image, np.rint(np.load(IMAGE)).transpose(1, 2, 0))
    text = open(report.markdown).read()
    assert "Image file `image.npy` (no ground truth" in text


def test_an_image_file_of_another_size_is_resized_and_drawn(tmp_path):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (extra 'plot')")
    wide = np.concatenate([np.load(IMAGE)] * 2, axis=2)
    np.save(tmp_path / "wide.npy", wide)
    report = explain(out=str(tmp_path / "out"), image=str(tmp_path / "wide.npy"))
    assert report.image.shape == (64, 64, 3) and len(report.figures) >= 6
    assert all(os.path.getsize(path) > 1000 for path in report.figures.values())


def test_the_checkpoints_own_symbol_gives_run_checkpoints_detections(tmp_path):
    report = explain(out=str(tmp_path), image=IMAGE, params=PREFIX, epoch=2, std=1.0, figures=False)
    assert report.builder == "the checkpoint's own tiny-symbol.json"
    assert report.num_classes == 3 and report.nms_threshold == 0.5 and report.nms_topk == 400
    assert_detections_equal(report.det_out[None], run_checkpoint(PREFIX, 2, IMAGE))
    assert "the checkpoint's symbol as saved" in open(report.markdown).read()


def test_checkpoint_symbol_reads_anchors_classes_and_nms_from_the_graph():
    symbol, config, num_classes = checkpoint_symbol(PREFIX, 64)
    assert num_classes == 3 and config["nms_thresh"] == 0.5 and config["nms_topk"] == 400
    assert len(config["sizes"]) == len(config["ratios"]) == 4
    assert config["sizes"][0] == [0.15, 0.22] and config["ratios"][0] == [1.0, 2.0, 0.5]
    assert checkpoint_symbol(os.path.join(DATA, "nothing"), 64) is None


def test_a_changed_nms_setting_in_the_checkpoint_symbol_is_traced(tmp_path):
    graph = json.loads(open(f"{PREFIX}-symbol.json").read())
    detection = next(n for n in graph["nodes"] if n["name"] == "detection")
    detection["attrs"]["nms_threshold"] = "0.3"
    (tmp_path / "c-symbol.json").write_text(json.dumps(graph))
    shutil.copy(f"{PREFIX}-0002.params", tmp_path / "c-0002.params")
    report = explain(out=str(tmp_path / "o"), image=IMAGE, params=str(tmp_path / "c"), epoch=2, std=1.0,
                     figures=False)
    assert report.nms_threshold == pytest.approx(0.3)
    assert_detections_equal(report.det_out[None], run_checkpoint(PREFIX, 2, IMAGE, nms_threshold=0.3))


def test_a_deploy_symbol_is_refused_with_the_reason(tmp_path):
    shutil.copy(os.path.join(DATA, "tiny_deploy-symbol.json"), tmp_path / "d-symbol.json")
    shutil.copy(f"{PREFIX}-0002.params", tmp_path / "d-0002.params")
    with pytest.raises(ValueError, match=r"d-symbol\.json must be a training symbol .* got outputs "
                                         r"\['detection_output'\]"):
        explain(out=str(tmp_path / "o"), params=str(tmp_path / "d"), epoch=2, figures=False)


def test_cli_explains_an_image_file_with_a_checkpoint(tmp_path, capsys):
    from ssdref.cli import main
    code = main(["explain", "--image", IMAGE, "--params", PREFIX, "--epoch", "2", "--std", "1",
                 "--out", str(tmp_path), "--no-figures"])
    out = capsys.readouterr().out
    assert code == 0 and "tiny-symbol.json at 64 px" in out and "gt 0" in out


def test_cli_image_that_is_neither_index_nor_file_exits_2(tmp_path, capsys):
    from ssdref.cli import main
    code = main(["explain", "--image", str(tmp_path / "none.png"), "--out", str(tmp_path), "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--image must be an index into the synthetic set or an existing image file" in err
