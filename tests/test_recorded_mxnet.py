"""ssdref against MXNet 1.9.1's recorded outputs (golden/mxnet-1.9.1/, `make record-mxnet`): no MXNet needed.

Every recorded case is replayed on ssdref (`ssdref.backends.mxnet.run_op`, or the tiny SSD's training
step) and compared with the tolerances written next to it (from tests/conformance/tolerances.py at
recording time): floats by `scaled_error`, MultiBoxTarget cls_target / MultiBoxDetection class ids
and the SSD's cls_label exactly. Cases where MXNet raised must raise in ssdref too.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import ssdref
from ssdref.backends.conformance_cases import DISCRETE, Case, problem_scale, scaled_error
from ssdref.backends.mxnet import run_graph, run_op
from ssdref.testing.goldens import load_golden

ROOT = Path(__file__).resolve().parents[1] / "golden" / "mxnet-1.9.1"


def _manifest_cases():
    path = ROOT / "manifest.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


CASES = {case["name"]: case for case in _manifest_cases()}


def test_recorded_set_exists_and_is_small():
    assert CASES, f"no recorded MXNet cases in {ROOT} (run `make record-mxnet`)"
    assert sum(p.stat().st_size for p in ROOT.iterdir()) < 2_000_000
    ops = {case["op"] for case in CASES.values()}
    assert {"_contrib_MultiBoxPrior", "_contrib_MultiBoxTarget", "_contrib_MultiBoxDetection",
            "ssd:tiny"} <= ops


def _check(name, ours, theirs, limit, discrete=False, floor=0.0):
    if discrete is not False:
        sel = (slice(None),) * (theirs.ndim - 1) + (discrete,) if discrete is not None else ...
        np.testing.assert_array_equal(ours[sel], theirs[sel], err_msg=name)
    err = scaled_error(ours, theirs, floor)
    assert err <= limit, f"{name}: error {err:.3g} > {limit:g}"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["kind"] == "op"])
def test_op_case_matches_recorded_mxnet(name):
    golden = load_golden(name, root=ROOT)
    run = CASES[name]["run"]
    inputs = {k: golden.inputs[k] for k in run["args"]}
    aux = {k: golden.inputs[k] for k in run["aux"]}
    heads = [golden.inputs[f"head_grad{i}"] for i in range(run["head_grads"])] or None
    if run["expect_error"]:
        with pytest.raises(ValueError):
            run_op(ssdref, golden.op, golden.params, inputs, aux, is_train=run["is_train"],
                   out_grads=heads, backward=run["backward"])
        return
    result = run_op(ssdref, golden.op, golden.params, inputs, aux, is_train=run["is_train"],
                    out_grads=heads, backward=run["backward"])
    case = Case(golden.op, golden.params, inputs, aux, run["is_train"], heads, run["backward"])
    floor = 0.0 if golden.op.startswith("_contrib_") else problem_scale(case)
    tol = golden.tolerances
    for i, ours in enumerate(result.outputs):
        _check(f"output{i}", ours, golden.outputs[f"output{i}"], tol["forward"],
               DISCRETE.get((golden.op, i), False), floor)
    for key, ours in result.grads.items():
        _check(f"grad_{key}", ours, golden.outputs[f"grad_{key}"], tol["backward"], floor=floor)
    for key, ours in result.aux.items():
        _check(f"aux_{key}", ours, golden.outputs[f"aux_{key}"], tol["backward"], floor=floor)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["kind"] == "graph"])
def test_ssd_train_step_matches_recorded_mxnet(name):
    from ssdref.backends.mxnet_graph import build
    golden = load_golden(name, root=ROOT)
    run = CASES[name]["run"]
    net = build(ssdref, run["network"], run["data_shape"], run["num_classes"])
    args = {k: golden.inputs[k] for k in net.list_arguments()}
    aux = {k: golden.inputs[f"aux_{k}"] for k in net.list_auxiliary_states()}
    result = run_graph(ssdref, net, args, aux, is_train=True)
    tol = golden.tolerances
    for out_name, ours in zip(net.list_outputs(), result.outputs):
        exact = out_name in run["exact"]
        _check(out_name, ours, golden.outputs[out_name], 0.0 if exact else tol["forward"])
    for arg, ours in result.grads.items():
        if arg in ("data", "label"):
            continue
        _check(f"grad_{arg}", ours, golden.outputs[f"grad_{arg}"], tol["backward"])
    deploy = build(ssdref, run["network"], run["data_shape"], run["num_classes"], train=False)
    det = run_graph(ssdref, deploy, {k: v for k, v in args.items() if k != "label"}, aux,
                    backward=False).outputs[0]
    _check("deploy_detection", det, golden.outputs["deploy_detection"], tol["forward"])
