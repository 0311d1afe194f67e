"""`ssdref export-onnx ... --with-intermediates DIR`: one ONNX backend-test folder per node of the
exported tiny SSD, holding ssdref's values; every folder passes onnx.checker, the ONNX loader reads
it, and ONNX Runtime reproduces each node's outputs from its inputs within ssdref.testing.compare's
tolerance table (integer and bool outputs exactly; NonMaxSuppression's near tie documented)."""
import json
import os

import numpy as np
import pytest

from tests.optional_deps import require

onnx = require("onnx", "interop")
require("onnxruntime", "interop")

from onnx import helper, numpy_helper  # noqa: E402

from ssdref import model as ssd_model  # noqa: E402
from ssdref import onnx_intermediates as oi  # noqa: E402
from ssdref.autograd.naming import NameManager  # noqa: E402
from ssdref.divergence import default_input, ssdref_node_values  # noqa: E402
from ssdref.onnx_export import export_symbol  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")
DETECTION_STEPS = ("loc", "boxes", "foreground", "score", "class", "keep_threshold", "ranked", "topk_values",
                   "topk_indices", "in_top", "keep", "kept_score", "class_scores", "selected", "detections")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    with NameManager():
        symbol = ssd_model.get_symbol(**ssd_model.get_config("tiny", 64, num_classes=3))
    args, aux = ssd_model.test_weights(symbol, 64, seed=0)
    model = export_symbol(symbol, args, aux, 64)
    data = default_input((1, 3, 64, 64))
    out = str(tmp_path_factory.mktemp("intermediates") / "tiny")
    cases = oi.write_intermediates(model, symbol, args, aux, data, out)
    return dict(model=model, symbol=symbol, args=args, aux=aux, data=data, dir=out, cases=cases)


def _load_pb(path):
    proto = onnx.TensorProto()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    return numpy_helper.to_array(proto)


def test_one_folder_per_node_in_graph_order_with_its_inputs_and_outputs(exported):
    model, cases, out = exported["model"], exported["cases"], exported["dir"]
    assert len(cases) == len(model.graph.node) > 100
    with open(os.path.join(out, "manifest.json")) as f:
        assert [c["folder"] for c in json.load(f)["cases"]] == [c["folder"] for c in cases]
    folders = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
    assert folders == [c["folder"] for c in cases]          # test_NNNN_ sorts in graph order
    for index, (node, case) in enumerate(zip(model.graph.node, cases)):
        assert case["folder"].startswith(f"test_{index:04d}_") and case["op_type"] == node.op_type
        sub = onnx.load(os.path.join(out, case["folder"], "model.onnx"))
        assert len(sub.graph.node) == 1 and sub.graph.node[0].op_type == node.op_type
        assert list(sub.graph.node[0].input) == list(node.input)
        assert [o.name for o in sub.graph.output] == [o for o in node.output if o]
        fed = {i.name for i in sub.graph.input} | {t.name for t in sub.graph.initializer}
        assert {i for i in node.input if i} <= fed
        data_dir = os.path.join(out, case["folder"], "test_data_set_0")
        assert sorted(os.listdir(data_dir)) == sorted(
            [f"input_{n}.pb" for n in range(len(sub.graph.input))]
            + [f"output_{n}.pb" for n in range(len(sub.graph.output))])


def test_every_node_model_passes_the_checker(exported):
    for case in exported["cases"]:
        onnx.checker.check_model(os.path.join(exported["dir"], case["folder"], "model.onnx"), full_check=True)


def test_the_onnx_backend_test_loader_reads_every_case_with_ssdrefs_tolerance(exported):
    from onnx.backend.test.loader import load_model_tests

    parent, kind = os.path.split(exported["dir"])
    loaded = {c.name: c for c in load_model_tests(parent, kind)}
    assert set(loaded) == {c["folder"] for c in exported["cases"]}
    conv = next(c for c in exported["cases"] if c["op_type"] == "Conv")
    assert (loaded[conv["folder"]].rtol, loaded[conv["folder"]].atol) == (1e-5, 1e-5)
    argmax = next(c for c in exported["cases"] if c["op_type"] == "ArgMax")
    assert (loaded[argmax["folder"]].rtol, loaded[argmax["folder"]].atol) == (0, 0)


def test_onnxs_own_backend_test_runner_passes_every_case_in_onnxruntime(exported):
    """onnx.backend.test.runner with onnxruntime.backend, as ONNX's own conformance runs it."""
    import unittest
    import warnings

    backend = pytest.importorskip("onnxruntime.backend")
    from onnx.backend.test.loader import load_model_tests
    from onnx.backend.test.runner import Runner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # the stock node cases' own overflow warnings
        runner = Runner(backend)
    parent, kind = os.path.split(exported["dir"])
    for case in load_model_tests(parent, kind):
        runner._add_model_test(case, "Ssdref")  # how ONNX adds its own model tests
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(runner.test_cases["OnnxBackendSsdrefModelTest"])
    with open(os.devnull, "w") as sink:
        result = unittest.TextTestRunner(stream=sink, verbosity=0).run(suite)
    ran = result.testsRun - len(result.skipped)         # the _cuda variants skip on this CPU backend
    assert ran == len(exported["cases"]) and not result.failures and not result.errors, \
        [str(t) for t, _ in result.failures + result.errors]


def test_detection_intermediates_are_included_with_ssdrefs_values(exported):
    labels = {c["ssdref_values"][t]: (c, t) for c in exported["cases"] for t in c["outputs"]
              if t in c["ssdref_values"]}
    by_tensor = {t: c for c in exported["cases"] for t in c["outputs"]}
    _, steps = ssdref_node_values(exported["symbol"], exported["args"], exported["aux"], exported["data"])
    assert [s for s in DETECTION_STEPS if f"detection:{s}" not in labels] == []
    for step in ("boxes", "score", "class", "topk_indices", "keep", "selected"):
        case, tensor = labels[f"detection:{step}"]
        assert case["sources"][tensor] == "ssdref"
        n = case["outputs"].index(tensor)
        value = _load_pb(os.path.join(exported["dir"], case["folder"], "test_data_set_0", f"output_{n}.pb"))
        np.testing.assert_array_equal(value, np.asarray(steps[step]).astype(value.dtype))
    final = by_tensor["detections"]
    assert final["sources"]["detections"] == "ssdref"
    value = _load_pb(os.path.join(exported["dir"], final["folder"], "test_data_set_0", "output_0.pb"))
    np.testing.assert_array_equal(value, steps["detections"])


def test_body_values_are_ssdrefs_executor_values(exported):
    outputs, _ = ssdref_node_values(exported["symbol"], exported["args"], exported["aux"], exported["data"])
    by_name = {node.name: value for node, value in outputs.items()}
    first = exported["cases"][0]
    assert first["op_type"] == "Conv" and first["inputs"] == ["data"]
    data_dir = os.path.join(exported["dir"], first["folder"], "test_data_set_0")
    np.testing.assert_array_equal(_load_pb(os.path.join(data_dir, "input_0.pb")), exported["data"])
    checked = 0
    for case in exported["cases"]:
        for n, tensor in enumerate(case["outputs"]):
            name = case["mxnet_nodes"].get(tensor)
            if case["sources"][tensor] == "ssdref" and name in by_name:
                path = os.path.join(exported["dir"], case["folder"], "test_data_set_0", f"output_{n}.pb")
                np.testing.assert_array_equal(_load_pb(path), by_name[name])
                checked += 1
    assert checked > 40


def test_onnxruntime_reproduces_every_nodes_outputs_from_its_inputs(exported):
    checks = oi.check_all(exported["dir"], "onnxruntime")
    assert len(checks) == sum(len(c["outputs"]) for c in exported["cases"])
    failed = [c for c in checks if not c.ok and not c.near_tie]
    assert not failed, "\n".join(map(str, failed))
    assert {c.kind for c in checks} == {"float", "discrete"}


def _nms_case(tmp_path, iou_box, expected):
    """A NonMaxSuppression case: two boxes, scores 0.9 / 0.8, IoU threshold 0.5."""
    boxes = np.float32([[[0, 0, 1, 1], iou_box]])
    scores = np.float32([[[0.9, 0.8]]])
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max", "iou", "score"], ["selected"])
    graph = helper.make_graph(
        [node], "nms", [helper.make_tensor_value_info("boxes", 1, [1, 2, 4]),
                        helper.make_tensor_value_info("scores", 1, [1, 1, 2])],
        [helper.make_tensor_value_info("selected", onnx.TensorProto.INT64, [None, 3])],
        [numpy_helper.from_array(np.array([10], np.int64), "max"),
         numpy_helper.from_array(np.float32([0.5]), "iou"), numpy_helper.from_array(np.float32([0.0]), "score")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    folder = tmp_path / "test_0000_nms"
    (folder / "test_data_set_0").mkdir(parents=True)
    onnx.save(model, str(folder / "model.onnx"))
    for name, value in (("input_0", boxes), ("input_1", scores), ("output_0", np.int64(expected))):
        onnx.save_tensor(numpy_helper.from_array(value), str(folder / "test_data_set_0" / f"{name}.pb"))
    return str(folder)


def test_a_nonmaxsuppression_difference_at_the_iou_threshold_is_the_documented_near_tie(tmp_path):
    # IoU exactly 0.5: ONNX keeps the second box (IoU > threshold suppresses), an expected output
    # that dropped it (MXNet's >=) differs only at the tie
    folder = _nms_case(tmp_path, [0, 0, 1, 0.5], [[0, 0, 0]])
    (check,) = oi.check_case(folder)
    assert not check.ok and check.near_tie and "near tie" in check.detail
    far = _nms_case(tmp_path / "far", [0, 0, 1, 0.9], [[0, 0, 0], [0, 0, 1]])   # IoU 0.9: no tie
    (check,) = oi.check_case(far)
    assert not check.ok and not check.near_tie


def test_cli_writes_the_folders_next_to_the_export(tmp_path, capsys):
    from ssdref.cli import main

    out = tmp_path / "cases"
    code = main(["export-onnx", "--params", PREFIX, "--data-shape", "64", "--no-runtime-check",
                 "--with-intermediates", str(out), str(tmp_path / "tiny.onnx")])
    text = capsys.readouterr().out
    assert code == 0, text
    nodes = len(onnx.load(str(tmp_path / "tiny.onnx")).graph.node)
    assert f"wrote {nodes} node test cases to {out}" in text
    checks = oi.check_all(str(out))
    assert checks and all(c.ok or c.near_tie for c in checks)
    code = main(["export-onnx", "--params", PREFIX, "--data-shape", "64", "--no-runtime-check",
                 "--with-intermediates", str(out), str(tmp_path / "again.onnx")])
    assert code == 2 and "--with-intermediates must name a new or empty folder" in capsys.readouterr().err
