"""The case catalogue (ssdref.cases): each case declared once, read by the golden set, and equal to
what MXNet 1.9.1 was recorded on (golden/mxnet-1.9.1/) in inputs, parameters and outputs."""
from pathlib import Path

import numpy as np
import pytest

from ssdref import golden
from ssdref.cases import spec
from ssdref.testing.goldens import load_golden, read_manifest

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "golden" / "mxnet-1.9.1"
RECORDED_LABELS = {c["name"][len("spec/"):] for c in read_manifest(RECORDED)["cases"]
                   if c["name"].startswith("spec/")}


def test_no_case_name_or_label_is_declared_twice():
    names = [c.name for c in spec.SPEC_CASES]
    labels = [c.label for c in spec.SPEC_CASES]
    assert len(set(names)) == len(names) and len(set(labels)) == len(labels)
    golden_names = [c.name for c in golden.declared_cases()]
    assert len(set(golden_names)) == len(golden_names)


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
    d13 = load_golden("MultiBoxDetection_D13_one_class").outputs["output"][0]
    assert (d13[:, 0] == -1).all()                    # C == 1: every anchor is background
    assert set(RECORDED_LABELS) <= {c.label for c in spec.SPEC_CASES}


def test_conformance_and_the_mxnet_recorder_read_the_catalogue():
    from ssdref.backends import conformance_cases, record_mxnet
    assert list(conformance_cases.SPEC_CASES) == [c.label for c in spec.SPEC_CASES]
    assert conformance_cases.SPEC_ABORTS == {c.label for c in spec.SPEC_CASES if c.error}
    for case in spec.SPEC_CASES:
        ours = conformance_cases.SPEC_CASES[case.label]
        assert (ours.op, ours.params) == (case.op, case.params)
        assert all(ours.inputs[n] is v for n, v in case.inputs.items())     # the same arrays
    assert list(record_mxnet._spec_cases()) == [f"spec/{c.label}" for c in spec.SPEC_CASES]
