"""run-checkpoint as users run example/ssd's demo.py: batches and folders, saved detections, NMS
overrides, capped drawings, the data shape read from the checkpoint, OpenCV's resize."""
import json
import os
import shutil
import sys

import numpy as np
import pytest

from ssdref.io.checkpoint import (checkpoint_data_shape, load_checkpoint, run_checkpoint,
                                  shown_rows)
from ssdref.io.images import image_paths, preprocess
from ssdref.multibox.detection import multibox_detection
from ssdref.testing.compare import assert_detections_equal

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")
IMAGE = os.path.join(DATA, "image.npy")
EPOCH = 2


@pytest.fixture(scope="module")
def image():
    return np.load(IMAGE)


@pytest.fixture(scope="module")
def single(image):
    return run_checkpoint(PREFIX, EPOCH, image)


def _cli(argv, capsys):
    from ssdref.cli import main
    code = main(["run-checkpoint"] + [str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _images_folder(tmp_path, image):
    folder = tmp_path / "images"
    folder.mkdir()
    np.save(folder / "a.npy", image)
    np.save(folder / "b.npy", image[:, ::-1].copy())       # flipped: other detections
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_several_images_run_as_one_batch_giving_each_image_its_own_detections(image, single):
    flipped = image[:, ::-1].copy()
    batch = run_checkpoint(PREFIX, EPOCH, [image, flipped])
    assert batch.shape[0] == 2
    assert_detections_equal(batch[:1], single)
    assert_detections_equal(batch[1:], run_checkpoint(PREFIX, EPOCH, flipped))


def test_a_folder_expands_to_its_image_files_sorted(tmp_path, image):
    folder = _images_folder(tmp_path, image)
    assert [os.path.basename(p) for p in image_paths([folder])] == ["a.npy", "b.npy"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="must hold image files"):
        image_paths([tmp_path / "empty"])


def test_save_npy_writes_the_raw_batch_rows_and_json_the_valid_rows(tmp_path, capsys, image):
    folder = _images_folder(tmp_path, image)
    code, out, _ = _cli([PREFIX, EPOCH, folder, "--out", "", "--save", tmp_path / "d.npy"], capsys)
    assert code == 0 and "wrote" in out
    raw = np.load(tmp_path / "d.npy")
    assert_detections_equal(raw, run_checkpoint(PREFIX, EPOCH, [image, image[:, ::-1].copy()]))
    code, _, _ = _cli([PREFIX, EPOCH, folder, "--out", "", "--save", tmp_path / "d.json"], capsys)
    saved = json.loads((tmp_path / "d.json").read_text())
    assert code == 0 and saved["epoch"] == EPOCH and saved["data_shape"] == 64
    assert [os.path.basename(e["path"]) for e in saved["images"]] == ["a.npy", "b.npy"]
    for entry, rows in zip(saved["images"], raw):
        np.testing.assert_allclose(entry["detections"], rows[rows[:, 0] >= 0], rtol=1e-6)


def test_save_with_another_suffix_is_a_usage_error(tmp_path, capsys):
    code, _, err = _cli([PREFIX, EPOCH, IMAGE, "--save", tmp_path / "d.txt"], capsys)
    assert code == 2 and "--save must end in .npy or .json" in err


def test_several_images_draw_one_png_each_into_a_folder(tmp_path, capsys, image):
    from tests.optional_deps import require
    require("matplotlib", "plot")
    folder = _images_folder(tmp_path, image)
    code, _, _ = _cli([PREFIX, EPOCH, folder, "--out", tmp_path / "drawn.png"], capsys)
    assert code == 0
    assert sorted(os.listdir(tmp_path / "drawn")) == ["000_a.png", "001_b.png"]


@pytest.mark.parametrize("overrides", [dict(nms_threshold=0.3), dict(force_suppress=True),
                                       dict(nms_topk=20), dict(nms_threshold=0.7, force_suppress=True)])
def test_nms_overrides_give_multibox_detection_with_those_parameters(image, overrides):
    from ssdref import sym
    from ssdref.autograd.symbol import Symbol
    symbol, args, aux = load_checkpoint(PREFIX, EPOCH)
    detection = symbol._outputs[0][0]
    heads = sym.Group([Symbol([entry]) for entry in detection.inputs[:3]])
    executor = heads.simple_bind(grad_req="null", data=(1, 3, 64, 64))
    executor.copy_params_from(args, aux, allow_extra_params=True)
    cls_prob, loc, anchors = executor.forward(is_train=False, data=preprocess(image, 64))
    params = {**detection.params, **overrides}
    expected = multibox_detection(cls_prob, loc, anchors, **{k: params[k] for k in (
        "clip", "threshold", "nms_threshold", "force_suppress", "variances", "nms_topk")})
    assert_detections_equal(run_checkpoint(PREFIX, EPOCH, image), multibox_detection(
        cls_prob, loc, anchors, **{k: detection.params[k] for k in (
            "clip", "threshold", "nms_threshold", "force_suppress", "variances", "nms_topk")}))
    got = run_checkpoint(PREFIX, EPOCH, image, **overrides)
    assert_detections_equal(got, expected)
    if "nms_topk" in overrides:
        assert (got[0, :, 0] >= 0).sum() <= 20


def test_nms_overrides_apply_to_a_deploy_symbol_too(tmp_path, image):
    shutil.copy(os.path.join(DATA, "tiny_deploy-symbol.json"), tmp_path / "d-symbol.json")
    shutil.copy(os.path.join(DATA, "tiny-0002.params"), tmp_path / "d-0002.params")
    assert_detections_equal(run_checkpoint(str(tmp_path / "d"), EPOCH, image, nms_topk=20),
                            run_checkpoint(PREFIX, EPOCH, image, nms_topk=20))


def test_cli_nms_options_reach_the_detection(capsys, image):
    code, out, _ = _cli([PREFIX, EPOCH, IMAGE, "--out", "", "--topk", "7", "--threshold", "0",
                         "--nms", "0.3", "--force-nms"], capsys)
    expected = run_checkpoint(PREFIX, EPOCH, image, nms_topk=7, nms_threshold=0.3, force_suppress=True)
    assert code == 0 and f"{int((expected[0, :, 0] >= 0).sum())} detections" in out


def test_max_boxes_caps_the_table_to_the_highest_scores(capsys, single):
    every = shown_rows(single, 0.0)
    assert len(every) > 5
    code, out, _ = _cli([PREFIX, EPOCH, IMAGE, "--out", "", "--threshold", "0", "--max-boxes", "5"], capsys)
    assert code == 0 and f"{len(every)} with score >= 0, the best 5 shown (--max-boxes)" in out
    table = out.split("(--max-boxes)\n", 1)[1]
    assert f"{every[0, 1]:.4g}"[:5] in table and len(table.strip().splitlines()) == 5 + 2
    np.testing.assert_array_equal(shown_rows(single, 0.0, max_boxes=5), every[:5])


def test_max_boxes_default_is_50(capsys, single):
    code, out, _ = _cli([PREFIX, EPOCH, IMAGE, "--out", "", "--threshold", "0"], capsys)
    assert len(shown_rows(single, 0.0)) > 50 and "the best 50 shown" in out


def test_non_square_image_without_a_recorded_data_shape_is_refused(tmp_path, capsys, image):
    wide = np.concatenate([image, image], axis=2)
    with pytest.raises(ValueError, match=r"data_shape must be given \(--data-shape\): the checkpoint "
                                         r"records none .* got \[\(64, 128\)\]"):
        run_checkpoint(PREFIX, EPOCH, wide)
    np.save(tmp_path / "wide.npy", wide)
    code, _, err = _cli([PREFIX, EPOCH, tmp_path / "wide.npy", "--out", ""], capsys)
    assert code == 2 and err.count("\n") == 1 and "--data-shape" in err


def test_data_shape_is_read_from_the_prefix_suffix_as_example_ssd_names_checkpoints(tmp_path, image, single):
    for suffix in ("-symbol.json", "-0002.params"):
        shutil.copy(f"{PREFIX}{suffix}", tmp_path / f"ssd_tiny_64{suffix}")
    prefix = str(tmp_path / "ssd_tiny_64")
    assert checkpoint_data_shape(prefix) == (64, "the prefix's _64 suffix")
    assert_detections_equal(run_checkpoint(prefix, EPOCH, np.concatenate([image, image], axis=2)),
                            run_checkpoint(PREFIX, EPOCH, np.concatenate([image, image], axis=2),
                                           data_shape=64))


def test_data_shape_is_read_from_the_symbol_data_shape_attribute(tmp_path):
    symbol = json.loads(open(f"{PREFIX}-symbol.json").read())
    data = next(n for n in symbol["nodes"] if n["name"] == "data")
    data["attrs"] = {"__shape__": "(1, 3, 64, 64)"}
    (tmp_path / "s-symbol.json").write_text(json.dumps(symbol))
    assert checkpoint_data_shape(str(tmp_path / "s")) == (64, "the symbol's data __shape__")
    assert checkpoint_data_shape(PREFIX) == (None, None)


def test_resize_opencv_without_opencv_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cv2", None)          # import cv2 raises ImportError
    code, _, err = _cli([PREFIX, EPOCH, IMAGE, "--out", "", "--resize", "opencv"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--resize opencv needs OpenCV: pip install opencv-python-headless" in err


# OpenCV is not a declared extra (opencv-python-headless is ~50 MB): its tests skip without it.
def _cv2():
    from tests.optional_deps import require
    return require("cv2", "opencv")


def test_resize_opencv_is_cv2_resize_inter_linear_on_uint8(image):
    cv2 = _cv2()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 37, 53)).astype(np.float32)
    expected = cv2.resize(pixels.astype(np.uint8).transpose(1, 2, 0), (64, 64), interpolation=cv2.INTER_LINEAR)
    data = preprocess(pixels, 64, resize="opencv")
    np.testing.assert_array_equal(data[0] + np.float32([123, 117, 104]).reshape(3, 1, 1),
                                  expected.transpose(2, 0, 1).astype(np.float32))
    assert np.abs(preprocess(pixels, 64) - data).max() > 0     # the float32 bilinear differs


def test_resize_opencv_reads_files_with_imread_as_rgb(tmp_path, capsys, image):
    cv2 = _cv2()
    rgb = np.concatenate([image, image], axis=2).astype(np.uint8).transpose(1, 2, 0)
    cv2.imwrite(str(tmp_path / "wide.png"), rgb[:, :, ::-1])                  # BGR on disk
    from ssdref.io.images import read_image
    np.testing.assert_array_equal(read_image(str(tmp_path / "wide.png"), "opencv"),
                                  rgb.transpose(2, 0, 1).astype(np.float32))
    code, _, _ = _cli([PREFIX, EPOCH, tmp_path / "wide.png", "--out", "", "--data-shape", "64",
                       "--resize", "opencv", "--save", tmp_path / "d.npy"], capsys)
    wide = rgb.transpose(2, 0, 1).astype(np.float32)
    assert code == 0
    assert_detections_equal(np.load(tmp_path / "d.npy"),
                            run_checkpoint(PREFIX, EPOCH, wide, data_shape=64, resize="opencv"))
