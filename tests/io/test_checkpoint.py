"""ssdref runs checkpoints that real MXNet 1.9.1 trained and gives MXNet's detections (tie-aware).

Data: tests/data/checkpoints (written by make_checkpoints.py in .venv-mxnet): a tiny SSD (64 px,
3 classes) after 12 SGD iterations, its train and deploy symbols, a fixed image, MXNet's detections.
"""
import os
import shutil

import numpy as np
import pytest

from ssdref.io import load_params, save_params
from ssdref.io.checkpoint import (deploy_symbol, load_checkpoint, preprocess, read_image,
                                  resize_bilinear, run_checkpoint, shown_rows)
from ssdref.testing.compare import assert_detections_equal

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")
EPOCH = 2


@pytest.fixture(scope="module")
def image():
    return np.load(os.path.join(DATA, "image.npy"))


@pytest.fixture(scope="module")
def mxnet_detections():
    return np.load(os.path.join(DATA, "mxnet_detections.npy"))


@pytest.fixture(scope="module")
def train_symbol_detections(image):
    return run_checkpoint(PREFIX, EPOCH, image)


def _deploy_prefix(tmp_path):
    shutil.copy(os.path.join(DATA, "tiny_deploy-symbol.json"), tmp_path / "tiny_deploy-symbol.json")
    shutil.copy(os.path.join(DATA, "tiny-0002.params"), tmp_path / "tiny_deploy-0002.params")
    return str(tmp_path / "tiny_deploy")


def test_checkpoint_files_stay_small():
    total = sum(os.path.getsize(os.path.join(DATA, f)) for f in os.listdir(DATA))
    assert total < 1 << 20


def test_mxnet_trained_train_symbol_gives_mxnet_detections(train_symbol_detections, mxnet_detections):
    assert (mxnet_detections[0, :, 0] >= 0).sum() > 50     # a real test: many valid rows
    assert_detections_equal(train_symbol_detections, mxnet_detections)


def test_train_symbol_det_out_matches_deploy_output(mxnet_detections):
    det_out = np.load(os.path.join(DATA, "mxnet_train_det_out.npy"))
    assert_detections_equal(det_out, mxnet_detections)


def test_mxnet_deploy_symbol_gives_mxnet_detections(tmp_path, image, mxnet_detections):
    assert_detections_equal(run_checkpoint(_deploy_prefix(tmp_path), EPOCH, image), mxnet_detections)


def test_deploy_graph_of_train_symbol_needs_no_label():
    symbol, arg_params, aux_params = load_checkpoint(PREFIX, EPOCH)
    assert "label" not in symbol.list_arguments()
    assert symbol.list_outputs() == ["detection_output"]
    assert set(symbol.list_arguments()) - {"data"} == set(arg_params)


def test_deploy_symbol_is_kept_as_is(tmp_path):
    from ssdref import sym
    deploy = sym.load(os.path.join(DATA, "tiny_deploy-symbol.json"))
    assert deploy_symbol(deploy) is deploy


def test_symbol_without_detection_is_rejected():
    from ssdref import sym
    net = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=2, name="c")
    with pytest.raises(ValueError, match="MultiBoxDetection"):
        deploy_symbol(net)


def test_missing_checkpoint_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-0001.params|nothing-symbol.json"):
        load_checkpoint(str(tmp_path / "nothing"), 1)


def test_params_resaved_by_ssdref_give_identical_bytes(tmp_path):
    arg, aux = load_params(os.path.join(DATA, "tiny-0002.params"))
    save_params(tmp_path / "again.params", arg, aux)
    with open(os.path.join(DATA, "tiny-0002.params"), "rb") as f:
        assert (tmp_path / "again.params").read_bytes() == f.read()


def test_png_image_gives_the_same_detections(tmp_path, image, train_symbol_detections):
    matplotlib_image = pytest.importorskip("matplotlib.image", reason="matplotlib (extra 'plot') is needed")
    path = tmp_path / "image.png"
    matplotlib_image.imsave(path, image.transpose(1, 2, 0).astype(np.uint8))
    np.testing.assert_allclose(read_image(str(path)), image, atol=1e-4)
    assert_detections_equal(run_checkpoint(PREFIX, EPOCH, str(path)), train_symbol_detections)


def test_preprocess_subtracts_the_example_mean_pixel(image):
    data = preprocess(image, 64)
    assert data.shape == (1, 3, 64, 64) and data.dtype == np.float32
    np.testing.assert_array_equal(data[0, 1], image[1].astype(np.float32) - 117)


def test_resize_bilinear_keeps_constants_and_averages_pairs():
    flat = np.full((3, 10, 7), 42.0, np.float32)
    np.testing.assert_allclose(resize_bilinear(flat, 5, 13), 42.0)
    ramp = np.arange(8, dtype=np.float32)[None, None, :].repeat(4, axis=1)
    # halving: output centre i sits at input 2i + 0.5, the mean of pixels 2i and 2i + 1
    np.testing.assert_allclose(resize_bilinear(ramp, 2, 4)[0, 0], [0.5, 2.5, 4.5, 6.5])


def test_cli_prints_table_and_draws(tmp_path, capsys, train_symbol_detections):
    pytest.importorskip("matplotlib", reason="matplotlib (extra 'plot') draws the detections")
    from ssdref.cli import main
    out = tmp_path / "det.png"
    code = main(["run-checkpoint", PREFIX, str(EPOCH), os.path.join(DATA, "image.npy"),
                 "--out", str(out), "--threshold", "0.5", "--data-shape", "64",
                 "--class-names", "circle,square,triangle"])
    assert code == 0
    text = capsys.readouterr().out
    rows = shown_rows(train_symbol_detections, 0.5)
    assert f"{len(rows)} with score >= 0.5" in text
    assert out.stat().st_size > 1000
