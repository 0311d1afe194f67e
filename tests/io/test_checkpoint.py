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
from tests.optional_deps import require

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
    matplotlib_image = require("matplotlib.image", "plot")
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
    require("matplotlib", "plot")
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


# ---- bad inputs: clear errors, and MXNet's refusal of missing parameters ----
def _empty_params_prefix(tmp_path):
    shutil.copy(os.path.join(DATA, "tiny-symbol.json"), tmp_path / "empty-symbol.json")
    save_params(str(tmp_path / "empty-0002.params"), {}, {})
    return str(tmp_path / "empty")


def test_missing_parameters_are_refused_unless_allowed_as_mxnet_set_params(tmp_path, image):
    prefix = _empty_params_prefix(tmp_path)
    with pytest.raises(ValueError, match=r"run-checkpoint: the \.params file must hold every "
                                         r"parameter of the symbol .* got 33 missing: relu3_1_scale"):
        run_checkpoint(prefix, EPOCH, image)
    detections = run_checkpoint(prefix, EPOCH, image, allow_missing=True)     # zeros, as MXNet's
    assert detections.shape[0] == 1


def test_partial_params_name_the_missing_ones(tmp_path, image):
    args, aux = load_params(os.path.join(DATA, "tiny-0002.params"))
    args.pop("conv2_1_bias")
    shutil.copy(os.path.join(DATA, "tiny-symbol.json"), tmp_path / "part-symbol.json")
    save_params(str(tmp_path / "part-0002.params"), args, aux)
    with pytest.raises(ValueError, match="got 1 missing: conv2_1_bias$"):
        run_checkpoint(str(tmp_path / "part"), EPOCH, image)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((64, 64), np.float32), ValueError,
     r"must be a \(3, H, W\) RGB array .*got shape \(64, 64\)"),
    (np.zeros((4, 8, 8), np.float32), ValueError, r"got shape \(4, 8, 8\)"),
    (np.zeros((3, 0, 8), np.float32), ValueError, r"H, W > 0, got shape \(3, 0, 8\)"),
    (np.full((3, 8, 8), np.nan, np.float32), ValueError, "must hold finite pixel values"),
    (np.zeros((3, 8, 8), object), TypeError, "must hold numbers"),
])
def test_bad_image_arrays_are_clear_errors(bad, error, match):
    with pytest.raises(error, match="run-checkpoint: image .*" + match):
        run_checkpoint(PREFIX, EPOCH, bad)


def test_unreadable_image_file_is_a_value_error_naming_it(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(100)))
    with pytest.raises(ValueError, match=r"IMAGE '.*garbage\.bin' must be a \.npy array or an image "
                                         r"file .* got an unreadable file \(UnidentifiedImageError"):
        read_image(str(garbage))
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"IMAGE '.*broken\.npy' must be a NumPy \.npy array file"):
        read_image(str(broken))


def _cli(argv, capsys):
    from ssdref.cli import main
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["{prefix}", "2", "{garbage}"], r"IMAGE '.*garbage\.bin' must be a \.npy array or an image file"),
    (["{prefix}", "3", "{image}"], r"checkpoint file .*tiny-0003\.params does not exist"),
    (["{prefix}", "2", "{image}", "--out", "{tmp}/missing/x.png"],
     r"--out must be a file in an existing folder, got '.*missing/x\.png'"),
    (["{prefix}", "2", "{image}", "--data-shape", "0"], r"--data-shape must be > 0, got 0"),
])
def test_cli_usage_errors_print_one_line_and_exit_2(tmp_path, capsys, argv, match):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(100)))
    names = dict(prefix=PREFIX, garbage=str(garbage), image=os.path.join(DATA, "image.npy"),
                 tmp=str(tmp_path))
    code, err = _cli(["run-checkpoint"] + [a.format(**names) for a in argv], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("ssdref run-checkpoint: error: ")
    assert __import__("re").search(match, err), err


def test_cli_refuses_an_empty_params_file_with_exit_1(tmp_path, capsys):
    prefix = _empty_params_prefix(tmp_path)
    image = os.path.join(DATA, "image.npy")
    code, err = _cli(["run-checkpoint", prefix, "2", image, "--out", ""], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "must hold every parameter of the symbol" in err and "33 missing" in err
    code, _ = _cli(["run-checkpoint", prefix, "2", image, "--out", "", "--allow-missing"], capsys)
    assert code == 0
