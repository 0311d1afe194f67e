"""export-onnx as deployment tools read it: IR version 8, metadata_props (class names, mean/std, data
shape, network, ONNX tensor -> MXNet node), a dynamic batch axis, defaults read from the checkpoint,
and the ONNX Runtime check the README promises."""
import json
import os
import shutil

import numpy as np
import pytest

from tests.optional_deps import require

onnx = require("onnx", "interop")
require("onnxruntime", "interop")

from ssdref.backends import onnxruntime_conformance as oc  # noqa: E402
from ssdref.io.checkpoint import load_checkpoint, run_checkpoint  # noqa: E402
from ssdref.io.images import preprocess  # noqa: E402
from ssdref.onnx_export import export_symbol, to_mxnet_rows  # noqa: E402
from ssdref.testing.compare import assert_detections_equal  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(PREFIX, 2)


@pytest.fixture(scope="module")
def model(checkpoint):
    symbol, arg, aux = checkpoint
    return export_symbol(symbol, arg, aux, 64, class_names=["circle", "square", "triangle"], network="tiny")


def _props(model):
    return {p.key: p.value for p in model.metadata_props}


def _cli(argv, capsys):
    from ssdref.cli import main
    code = main(["export-onnx"] + [str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ir_version_is_8_the_lowest_opset_17_allows(model):
    assert model.ir_version == 8
    assert onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", 17)]) == 8
    assert [o.version for o in model.opset_import] == [17]


def test_metadata_props_name_classes_mean_std_data_shape_and_network(model):
    props = _props(model)
    assert json.loads(props["class_names"]) == ["circle", "square", "triangle"]
    assert json.loads(props["mean_pixels"]) == [123.0, 117.0, 104.0]
    assert json.loads(props["std_pixels"]) == [1.0, 1.0, 1.0]
    assert json.loads(props["data_shape"]) == [1, 3, 64, 64]
    assert props["network"] == "tiny"
    assert props["detections_format"].startswith("(K, 7) rows [batch, class_id, score")


def test_metadata_class_names_default_and_must_fit_the_classes(checkpoint):
    symbol, arg, aux = checkpoint
    default = export_symbol(symbol, arg, aux, 64)
    assert json.loads(_props(default)["class_names"]) == ["class 0", "class 1", "class 2"]
    with pytest.raises(ValueError, match="class_names must name the 3 classes, got 2"):
        export_symbol(symbol, arg, aux, 64, class_names=["a", "b"])


def test_metadata_maps_onnx_tensors_to_mxnet_nodes(model, checkpoint):
    mapping = json.loads(_props(model)["mxnet_node_names"])
    symbol_names = {n.name for n in checkpoint[0]._nodes()}
    produced = {out for node in model.graph.node for out in node.output}
    produced |= {init.name for init in model.graph.initializer}
    assert set(mapping.values()) <= symbol_names and set(mapping) <= produced
    assert "conv1_1" in mapping.values() and "conv1_1_weight" in mapping.values()
    assert "detection" in mapping.values() and "cls_prob" in mapping.values()


def test_dynamic_batch_export_runs_any_batch_and_gives_ssdref_detections(checkpoint):
    symbol, arg, aux = checkpoint
    model = export_symbol(symbol, arg, aux, 64, dynamic_batch=True)
    onnx.checker.check_model(model, full_check=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 64, 64]
    assert json.loads(_props(model)["data_shape"]) == ["batch", 3, 64, 64]
    image = np.load(os.path.join(DATA, "image.npy"))
    images = [image, image[:, ::-1].copy(), image[:, :, ::-1].copy()]
    data = np.concatenate([preprocess(im, 64) for im in images])
    got = to_mxnet_rows(oc._session(model).run(None, {"data": data})[0], 3, 1488)
    assert_detections_equal(got, run_checkpoint(PREFIX, 2, images))
    one = to_mxnet_rows(oc._session(model).run(None, {"data": data[:1]})[0], 1, 1488)
    assert_detections_equal(one, got[:1])


def test_cli_takes_epoch_and_data_shape_from_the_checkpoint(tmp_path, capsys):
    for suffix in ("-symbol.json", "-0002.params"):
        shutil.copy(f"{PREFIX}{suffix}", tmp_path / f"ssd_tiny_64{suffix}")
    code, out, _ = _cli(["--params", tmp_path / "ssd_tiny_64", tmp_path / "m.onnx"], capsys)
    assert code == 0, out
    assert "input data (1, 3, 64, 64)" in out and "epoch 2" in out
    assert json.loads(_props(onnx.load(str(tmp_path / "m.onnx")))["data_shape"]) == [1, 3, 64, 64]


def test_cli_with_several_epochs_asks_for_epoch(tmp_path, capsys):
    for name in ("tiny-symbol.json", "tiny-0002.params"):
        shutil.copy(os.path.join(DATA, name), tmp_path / name)
    shutil.copy(os.path.join(DATA, "tiny-0002.params"), tmp_path / "tiny-0003.params")
    code, _, err = _cli(["--params", tmp_path / "tiny", "--data-shape", "64", tmp_path / "m.onnx"], capsys)
    assert code == 2 and "--epoch must be given with --params when the checkpoint has not exactly " \
                         "one" in err and "got epochs [2, 3]" in err


def test_cli_runs_full_check_and_the_onnx_runtime_check(tmp_path, capsys, monkeypatch):
    calls = []
    real = onnx.checker.check_model
    monkeypatch.setattr(onnx.checker, "check_model", lambda m, **kw: calls.append(kw) or real(m, **kw))
    code, out, _ = _cli(["--params", PREFIX, "--data-shape", "64", "--dynamic-batch",
                         "--class-names", "circle,square,triangle", tmp_path / "m.onnx"], capsys)
    assert code == 0 and calls == [dict(full_check=True)]
    assert "onnx.checker (full_check=True): ok" in out
    assert "ONNX Runtime check: batch 2," in out and ("bit-exact ssdref" in out or "matches" in out)
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert json.loads(_props(model)["class_names"]) == ["circle", "square", "triangle"]
    assert _props(model)["network"] == "checkpoint tiny"


def test_cli_runtime_mismatch_exits_1(tmp_path, capsys, monkeypatch):
    import ssdref.onnx_export as export
    monkeypatch.setattr(export, "reference_detections",
                        lambda cls_prob, *a, **k: np.full((cls_prob.shape[0], cls_prob.shape[2], 6), -1, np.float32))
    code, out, _ = _cli([tmp_path / "m.onnx"], capsys)
    assert code == 1 and "MISMATCH" in out


def test_cli_no_runtime_check_skips_onnxruntime(tmp_path, capsys):
    code, out, _ = _cli([tmp_path / "m.onnx", "--no-runtime-check"], capsys)
    assert code == 0 and "ONNX Runtime check" not in out


def test_export_without_params_uses_calibrated_weights_and_passes_its_runtime_check(tmp_path, capsys):
    from ssdref.cli import main
    assert main(["export-onnx", str(tmp_path / "ssd.onnx")]) == 0
    captured = capsys.readouterr()
    assert "calibrated test weights" in captured.err
    assert "ONNX Runtime check" in captured.out and "MISMATCH" not in captured.out
