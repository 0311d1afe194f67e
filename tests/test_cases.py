"""The case catalogue (ssdref.cases): each case declared once, read by the golden set, conformance,
the MXNet recording and the gradient checks, and the spec cases equal to what MXNet 1.9.1 was
recorded on (golden/mxnet-1.9.1/) in inputs, parameters and outputs."""
import re
from pathlib import Path

import numpy as np
import pytest

from ssdref import golden
from ssdref.cases import graphs, layers, multibox, recorded, spec
from ssdref.cases.case import Case
from ssdref.testing.goldens import load_golden, read_manifest

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "golden" / "mxnet-1.9.1"
RECORDED_LABELS = {c["name"][len("spec/"):] for c in read_manifest(RECORDED)["cases"]
                   if c["name"].startswith("spec/")}


def _config(op, params, shapes):
    return op, repr(sorted(params.items())), repr(sorted(shapes.items()))


def test_no_case_name_or_label_is_declared_twice():
    names = [c.name for c in spec.SPEC_CASES]
    labels = [c.label for c in spec.SPEC_CASES]
    assert len(set(names)) == len(names) and len(set(labels)) == len(labels)
    golden_names = [c.name for c in golden.declared_cases()]
    assert len(set(golden_names)) == len(golden_names)
    layer_names = [layer.name for layer in layers.LAYERS]
    assert len(set(layer_names)) == len(layer_names)
    recorded_names = list(recorded.recorded_cases())
    assert len(set(recorded_names)) == len(recorded_names)
    # ... and no configuration is declared twice under two names
    configs = [_config(layer.op, layer.params, layer.shapes) for layer in layers.LAYERS]
    assert len(set(configs)) == len(configs)
    spec_configs = [_config(c.op, c.params, {k: v.shape for k, v in c.inputs.items()})
                    + tuple(v.tobytes() for v in c.inputs.values())
                    for c in spec.SPEC_CASES]
    assert len(set(spec_configs)) == len(spec_configs)


def test_only_the_catalogue_declares_a_case_type():
    """One op-call type (ssdref.cases.case.Case); the catalogue's tables (SpecCase, Layer) and the
    golden set's recipe record (GoldenRecipe) are the only other case records in ssdref."""
    found = {}
    for path in (ROOT / "ssdref").rglob("*.py"):
        for name in re.findall(r"^class (\w*Case|\w*Recipe|Layer)\(", path.read_text(), re.M):
            found[name] = path.relative_to(ROOT).as_posix()
    assert found == {"Case": "ssdref/cases/case.py", "SpecCase": "ssdref/cases/spec.py",
                     "Layer": "ssdref/cases/layers.py", "GoldenRecipe": "ssdref/golden/cases.py",
                     "GoldenCase": "ssdref/testing/goldens.py"}   # the last: the loader's view of a file


def test_golden_reads_the_layer_multibox_and_graph_cases_from_the_catalogue():
    declared = {c.name: c for c in golden.declared_cases()}
    golden_layers = layers.read_by(layers.GOLDEN)
    for index, layer in enumerate(golden_layers):
        for dtype in ("float32", "float64"):
            ours = declared[f"{layer.name}_{dtype}"]
            assert ours.extra["layer"] is layer and (ours.op, ours.params, ours.seed) == \
                (layer.op, layer.params, index)
    assert sum(c.kind == "op" and "layer" in c.extra for c in declared.values()) == 2 * len(golden_layers)
    for stem, op, params, seed in multibox.RANDOM:
        ours = declared[f"{stem}_float32"]
        assert (ours.op, ours.params, ours.seed, ours.make_inputs) == \
            (op, params, seed, multibox.random_multibox_inputs)
    assert declared[multibox.PRIOR_NONSQUARE[0]].params is multibox.PRIOR_NONSQUARE[2]
    assert declared["tiny_ssd_train_step_float32"].run is graphs.tiny_run
    assert declared["ssd300_vgg16_reduced_detect"].params is graphs.SSD300
    from_catalogue = {c.name for c in spec.SPEC_CASES} | {multibox.PRIOR_NONSQUARE[0]}
    from_catalogue |= {f"{stem}_{d}" for stem, *_ in multibox.RANDOM for d in ("float32", "float64")}
    from_catalogue |= {f"{layer.name}_{d}" for layer in golden_layers for d in ("float32", "float64")}
    from_catalogue |= {f"tiny_ssd_train_step_{d}" for d in ("float32", "float64")}
    assert set(declared) - from_catalogue == {"ssd300_vgg16_reduced_detect"}


def test_gradcheck_reads_the_layer_cases_from_the_catalogue():
    from ssdref.autograd import gradcheck_suite
    assert gradcheck_suite.CASES == layers.read_by(layers.GRADCHECK)
    assert all(any(case is layer for layer in layers.LAYERS) for case in gradcheck_suite.CASES)
    # a configuration both read is one declaration: e.g. the golden Convolution_pad1 is checked
    shared = [layer for layer in gradcheck_suite.CASES if layers.GOLDEN in layer.uses]
    assert any(layer.name == "Convolution_pad1" for layer in shared) and len(shared) > 30


def test_the_golden_set_reads_the_spec_cases_from_the_catalogue():
    declared = {c.name: c for c in golden.declared_cases()}
    for case in spec.SPEC_CASES:
        ours = declared[case.name]
        assert (ours.op, ours.params, ours.extra.get("error")) == (case.op, case.params, case.error)
        inputs = ours.make_inputs(ours)
        assert list(inputs) == list(case.inputs)
        for name, value in case.inputs.items():
            assert inputs[name].tobytes() == value.tobytes(), (case.name, name)


@pytest.mark.parametrize("case", [c for c in spec.SPEC_CASES if c.label in RECORDED_LABELS],
                         ids=lambda c: c.name)
def test_catalogue_cases_are_the_recorded_mxnet_runs_and_the_goldens_reproduce_them(case):
    recorded = load_golden(f"spec/{case.label}", root=RECORDED)
    assert recorded.op == case.op
    assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in case.params.items()} == recorded.params
    for name, value in case.inputs.items():
        assert value.tobytes() == recorded.inputs[name].tobytes(), name
    if case.error:
        assert not recorded.outputs
        return
    ours = load_golden(case.name)
    for index, (name, value) in enumerate(ours.outputs.items()):
        np.testing.assert_array_equal(value, recorded.outputs[f"output{index}"], err_msg=name)


def test_spec_statements_checked_by_value():
    d8 = load_golden("MultiBoxDetection_D8_decode").outputs["output"][0, 0]
    np.testing.assert_allclose(d8[2:], spec.D8_DECODED, rtol=0, atol=5e-8)
    for name, printed in (("MultiBoxDetection_D1", spec.D1_OUT),
                          ("MultiBoxDetection_D3b_topk_stale", spec.D3B_TOPK_STALE_OUT)):
        out = load_golden(name).outputs["output"][0]
        np.testing.assert_allclose(out, printed, rtol=0, atol=5.01e-8, err_msg=name)
    noclip = load_golden("MultiBoxDetection_D3b_noclip").outputs["output"][0, 1]
    np.testing.assert_allclose(noclip, spec.D3B_NOCLIP_ROW1, rtol=0, atol=5.01e-8)
    d13 = load_golden("MultiBoxDetection_D13_one_class").outputs["output"][0]
    assert (d13[:, 0] == -1).all()                    # C == 1: every anchor is background
    assert set(RECORDED_LABELS) <= {c.label for c in spec.SPEC_CASES}


def test_conformance_and_the_mxnet_recorder_read_the_catalogue():
    from ssdref.backends import conformance_cases, record_mxnet
    from ssdref.cases import generators
    assert conformance_cases.Case is Case and conformance_cases.GENERATORS is generators.GENERATORS
    assert list(conformance_cases.SPEC_CASES) == [c.label for c in spec.SPEC_CASES]
    assert conformance_cases.SPEC_ABORTS == {c.label for c in spec.SPEC_CASES if c.error}
    for case in spec.SPEC_CASES:
        ours = conformance_cases.SPEC_CASES[case.label]
        assert (ours.op, ours.params) == (case.op, case.params)
        assert all(ours.inputs[n] is v for n, v in case.inputs.items())     # the same arrays
    assert list(record_mxnet._spec_cases()) == [f"spec/{c.label}" for c in spec.SPEC_CASES]
    assert record_mxnet.recorded_cases is recorded.recorded_cases
    cases = record_mxnet.recorded_cases()
    assert all(isinstance(c, Case) for c in cases.values())
    assert [n for n in cases if n.startswith("spec/")] == [f"spec/{c.label}" for c in spec.SPEC_CASES]


def test_the_multibox_tests_read_the_spec_cases_from_the_catalogue():
    """tests/multibox/test_detection.py keeps no copy of a §8 case: its arrays are the catalogue's."""
    from tests.multibox import test_detection
    cases = spec.by_name()
    assert test_detection.D1_PROB is cases["MultiBoxDetection_D1"].inputs["cls_prob"]
    assert test_detection.D1_ANCHORS is cases["MultiBoxDetection_D1"].inputs["anchor"]
    assert test_detection.D3_PROB is cases["MultiBoxDetection_D3b_topk_stale"].inputs["cls_prob"]
    assert test_detection.D3_ANCHORS is cases["MultiBoxDetection_D3b_topk_stale"].inputs["anchor"]
    assert test_detection.D1_OUT is spec.D1_OUT


def test_the_torch_and_onnxruntime_reports_read_their_cases_from_the_catalogue():
    """The one-op cases of the torch report, the NMS / matching boundary cases and random draws of
    the convention rows, and the SSD graph setups of the MXNet, torch and ONNX Runtime comparisons:
    each declared once in ssdref.cases and read from there."""
    from ssdref.backends import mxnet_graph, onnxruntime_conformance, torch_conformance
    from ssdref.cases import torch_ops
    assert torch_conformance.OP_CASES is torch_ops.OP_CASES
    assert torch_conformance.random_detection_inputs is multibox.random_detection_inputs
    assert onnxruntime_conformance.random_detection_inputs is multibox.random_detection_inputs
    # the boundary case both reports run is one declaration
    declared = multibox.nms_boundary_inputs()
    torch_case = torch_conformance._boundary_detection_case()
    onnx_case = onnxruntime_conformance.boundary_case()
    for ours, torchs, onnxs in zip(declared, torch_case, onnx_case):
        assert ours.tobytes() == torchs.tobytes() == onnxs.tobytes()
    assert torch_case[2].shape == (1, 3, 4) and onnx_case[2].shape == (3, 4)
    # the graph setups
    assert mxnet_graph.make_label is graphs.random_label
    assert torch_conformance.tiny_ssd_case is graphs.shapes_train_case
    assert mxnet_graph.DATA_SHAPE["tiny"] == graphs.COMPARISON["data_shape"]
    rng = np.random.default_rng(0)
    ours = mxnet_graph.make_params(rng, {"a_weight": (2, 3), "b_bias": (2,), "c_scale": (1, 2, 1, 1)}, {})
    again = graphs.random_parameters(np.random.default_rng(0), {"a_weight": (2, 3), "b_bias": (2,),
                                                               "c_scale": (1, 2, 1, 1)})
    assert all(ours[0][k].tobytes() == again[0][k].tobytes() for k in again[0])
    # no backend draws SSD parameters or op cases of its own
    for path in (ROOT / "ssdref" / "backends").glob("*.py"):
        text = path.read_text()
        assert "np.sqrt(2.0" not in text and not re.search(r"^def _case_", text, re.M), path.name


def test_the_torch_op_cases_stay_inside_the_torch_backend():
    from ssdref.autograd.registry import get_op
    from ssdref.cases import torch_ops
    ops = set()
    for index, make in enumerate(torch_ops.OP_CASES):
        op, params, args, aux = make(np.random.default_rng([0, index]))
        assert get_op(op) is not None and all(v.dtype == np.float64 for v in {**args, **aux}.values())
        ops.add(op)
    assert len(ops) == len(torch_ops.OP_CASES)                      # one row per op
    torch = pytest.importorskip("torch", reason="torch (interop extra) checks the op names it runs")
    del torch
    from ssdref.backends.torch import TORCH_OPS
    assert ops <= set(TORCH_OPS)
