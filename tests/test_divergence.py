"""ssdref divergence: the first node where ONNX Runtime's run of an export departs from ssdref, and why."""
import argparse

import numpy as np
import pytest

from tests.optional_deps import require

onnx = require("onnx", "interop")                 # divergence reads ONNX models
require("onnxruntime", "interop")                 # the runtime under test here
from onnx import numpy_helper  # noqa: E402

from ssdref import divergence as dv  # noqa: E402
from ssdref import model as ssd_model  # noqa: E402
from ssdref.autograd.naming import NameManager  # noqa: E402
from ssdref.io.mxnet_params import checkpoint_params_path, save_params  # noqa: E402
from ssdref.onnx_export import export_symbol  # noqa: E402

NUM_CLASSES = 3            # tiny SSD, 64 px: 1488 anchors, nms_topk 400 (the export has a TopK)


def _tiny():
    with NameManager():
        symbol = ssd_model.get_symbol(**ssd_model.get_config("tiny", 64, num_classes=NUM_CLASSES))
    args, aux = ssd_model.test_weights("tiny", 64, NUM_CLASSES, seed=0)
    return symbol, args, aux


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An exported tiny SSD with calibrated weights, and its checkpoint (symbol JSON + params)."""
    folder = tmp_path_factory.mktemp("divergence")
    symbol, args, aux = _tiny()
    exported = export_symbol(symbol, args, aux, 64)
    prefix = str(folder / "tiny")
    symbol.save(f"{prefix}-symbol.json")
    save_params(checkpoint_params_path(prefix, 0), args, aux)
    onnx.save(exported, str(folder / "tiny.onnx"))
    return dict(folder=folder, prefix=prefix, model=exported, symbol=symbol, args=args, aux=aux)


def _initializer(model, param):
    return next(t for t in model.graph.initializer if dv.stem(t.name) == param)


def _with_initializer(model, param, change):
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    tensor = _initializer(changed, param)
    tensor.CopyFrom(numpy_helper.from_array(change(numpy_helper.to_array(tensor)).astype(np.float32), tensor.name))
    return changed


def _cli(argv) -> int:
    parser = argparse.ArgumentParser(prog="ssdref")
    dv.add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["divergence", *argv])
    return args.func(args)


def test_every_mxnet_node_and_detection_step_is_mapped(checkpoint):
    mapping = dv.map_tensors(checkpoint["model"], checkpoint["symbol"])
    mapped = {target.name if not isinstance(target, str) else target for target in mapping.values()}
    ops = [n for n in checkpoint["symbol"]._nodes() if not n.is_variable
           and n.op.name not in ("_contrib_MultiBoxPrior", "_contrib_MultiBoxDetection")]
    assert {n.name for n in ops} <= mapped            # pools (unnamed in ONNX) included
    for step in ("boxes", "score", "class", "keep_threshold", "topk_indices", "keep", "selected", "detections"):
        assert f"detection:{step}" in mapped
    for tensor, target in mapping.items():            # named tensors land on the node of that name
        if not isinstance(target, str) and not dv.stem(tensor)[:1].isupper():
            assert dv.stem(tensor) == target.name


def test_untouched_export_has_no_divergence(checkpoint):
    report = dv.divergence(checkpoint["model"], "onnxruntime", symbol=checkpoint["symbol"],
                           arg_params=checkpoint["args"], aux_params=checkpoint["aux"])
    assert report.exit_code == 0, report.format()
    assert report.first_float is None and report.first_discrete is None
    assert len(report.results) > 60 and max(r.error for r in report.results if r.kind == "float") < 1e-5


def test_cli_exits_0_on_the_untouched_model(checkpoint, capsys):
    path = str(checkpoint["folder"] / "tiny.onnx")
    assert _cli([path, "--params", checkpoint["prefix"], "--epoch", "0"]) == 0
    assert "result: no divergence (exit 0)" in capsys.readouterr().out


def test_conv_weight_scaled_by_1_01_is_named_first_and_exits_1(checkpoint, capsys):
    tampered = _with_initializer(checkpoint["model"], "conv2_1_weight", lambda w: w * np.float32(1.01))
    path = str(checkpoint["folder"] / "tampered.onnx")
    onnx.save(tampered, path)
    assert _cli([path, "--params", checkpoint["prefix"], "--epoch", "0"]) == 1
    out = capsys.readouterr().out
    assert "first beyond tolerance: conv2_1 (Conv," in out
    assert "replay of conv2_1 alone on ssdref's inputs" in out and "this op differs" in out
    assert "initializer conv2_1_weight differs from ssdref's parameter" in out
    report = dv.divergence(tampered, arg_params=checkpoint["args"], aux_params=checkpoint["aux"])
    assert report.first_float.node == "conv2_1" and report.first_float.op == "Conv"
    assert report.first_float.error > 1e-3 > report.first_float.tolerance
    assert not report.replay_float.matches


def _tie_case(checkpoint):
    """Softmax -> TopK: anchors 0 and 1 of relu3_1 get identical class weights (exact score ties in
    ssdref at every position); the runtime's model raises anchor 1's foreground biases by 2e-6, a few
    ulps through Softmax, within tolerance everywhere, yet enough to reorder TopK's tied pairs."""
    symbol, args, aux = checkpoint["symbol"], dict(checkpoint["args"]), checkpoint["aux"]
    c = NUM_CLASSES + 1
    weight = args["relu3_1_cls_pred_conv_weight"].copy()
    bias = args["relu3_1_cls_pred_conv_bias"].copy()
    weight[c:2 * c], bias[c:2 * c] = weight[:c], bias[:c]
    args.update(relu3_1_cls_pred_conv_weight=weight, relu3_1_cls_pred_conv_bias=bias)
    exported = export_symbol(symbol, args, aux, 64)
    bumped = bias.copy()
    bumped[c + 1:2 * c] += np.float32(2e-6)
    runtime_model = _with_initializer(exported, "relu3_1_cls_pred_conv_bias", lambda _: bumped)
    return runtime_model, args


def test_softmax_topk_tie_is_reported_as_upstream_rounding(checkpoint):
    runtime_model, args = _tie_case(checkpoint)
    report = dv.divergence(runtime_model, symbol=checkpoint["symbol"], arg_params=args,
                           aux_params=checkpoint["aux"])
    text = report.format()
    assert report.first_float is None, text
    softmax = next(r for r in report.results if r.node == "cls_prob")
    assert softmax.op == "Softmax" and 0 < softmax.error <= softmax.tolerance
    first = report.first_discrete
    assert first is not None and first.op == "TopK" and first.node == "detection:topk_indices", text
    assert report.near_tie.explained, report.near_tie.detail
    assert report.replay_discrete.matches
    assert report.replay_discrete.verdict.startswith("upstream rounding"), text
    assert report.exit_code == 0
    assert "beyond upstream rounding at a tie" in text


def test_an_op_that_differs_on_ssdrefs_inputs_is_named(checkpoint):
    changed = onnx.ModelProto()
    changed.CopyFrom(checkpoint["model"])
    topk = next(n for n in changed.graph.node if n.op_type == "TopK")
    next(a for a in topk.attribute if a.name == "largest").i = 0        # a port that takes the smallest
    report = dv.divergence(changed, symbol=checkpoint["symbol"], arg_params=checkpoint["args"],
                           aux_params=checkpoint["aux"])
    assert report.first_discrete.op == "TopK"
    assert not report.replay_discrete.matches
    assert report.replay_discrete.verdict.startswith("this op differs")
    assert report.exit_code == 1


def test_without_params_the_network_and_parameters_come_from_the_model(checkpoint):
    report = dv.divergence(checkpoint["model"])
    assert report.exit_code == 0
    assert any("model's own initializers" in note for note in report.notes)


def test_detection_steps_match_the_onnx_preset_rows():
    from ssdref.onnx_export import reference_detections, to_mxnet_rows

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((1, 4, 50)).astype(np.float32)
    cls_prob = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    loc = (rng.standard_normal((1, 200)) * 0.3).astype(np.float32)
    centres = rng.random((50, 2)).astype(np.float32) * 0.8 + 0.1
    anchors = np.concatenate([centres - 0.1, centres + 0.1], 1).astype(np.float32)
    params = dict(threshold=0.2, nms_threshold=0.45, nms_topk=20, force_suppress=False, clip=True)
    steps = dv.detection_steps(cls_prob, loc, anchors, **params)
    expected = reference_detections(cls_prob, loc, anchors[None], **params)
    np.testing.assert_array_equal(to_mxnet_rows(steps["detections"], 1, 50), expected)


@pytest.mark.parametrize("argv, message", [
    (["missing.onnx"], "MODEL must be an existing .onnx file"),
    (["{model}", "--params", "x"], "--params PREFIX and --epoch N go together"),
    (["{model}", "--rtol", "0"], "--rtol must be > 0"),
])
def test_usage_errors_exit_2(checkpoint, capsys, argv, message):
    argv = [a.format(model=checkpoint["folder"] / "tiny.onnx") for a in argv]
    assert _cli(argv) == 2
    assert message in capsys.readouterr().err


def test_a_model_that_is_not_an_ssd_export_exits_2(tmp_path, capsys):
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["data"], ["y"])], "g",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert _cli([str(path)]) == 2
    assert "no detection head" in capsys.readouterr().err


def test_a_callable_runtime_is_compared_too(checkpoint):
    calls = []

    def my_runtime(model, feeds):
        calls.append(len(model.graph.output))
        return dv.run_model(model, feeds, "onnxruntime")

    report = dv.divergence(checkpoint["model"], my_runtime, symbol=checkpoint["symbol"],
                           arg_params=checkpoint["args"], aux_params=checkpoint["aux"])
    assert report.exit_code == 0 and report.runtime == "my_runtime"
    assert calls and calls[0] > 100                 # every node output exposed


def test_mapping_does_not_depend_on_automatic_names(checkpoint):
    with NameManager():
        ssd_model.get_symbol(**ssd_model.get_config("tiny", 64, num_classes=NUM_CLASSES))   # counters move on
        shifted = ssd_model.get_symbol(**ssd_model.get_config("tiny", 64, num_classes=NUM_CLASSES))
    report = dv.divergence(checkpoint["model"], symbol=shifted, arg_params=checkpoint["args"],
                           aux_params=checkpoint["aux"])
    assert report.exit_code == 0, report.format()
    assert any(r.node == "pool2" for r in report.results) and len(report.results) > 60


def test_runtime_tvm_without_tvm_is_a_usage_error(checkpoint, capsys, monkeypatch):
    from ssdref.backends import tvm
    monkeypatch.setattr(tvm, "importable", lambda: False)
    monkeypatch.setattr(dv, "_reexec_in_tvm_venv", lambda argv: None)      # no .venv-tvm to re-run in
    assert _cli([str(checkpoint["folder"] / "tiny.onnx"), "--runtime", "tvm"]) == 2
    assert "--runtime tvm needs the tvm package" in capsys.readouterr().err
