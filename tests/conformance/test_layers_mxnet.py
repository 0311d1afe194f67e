"""Every layer op of ssdref side by side with real MXNet 1.9.1: forward, backward, aux updates.

Each op draws its configurations with hypothesis (derandomized under the `ci` profile) from
`ssdref.backends.conformance_cases.GENERATORS` and runs them through both engines' executors
(`ssdref.backends.mxnet.run_op`): outputs, the gradient of every input, and aux states after a
training backward (BatchNorm's moving statistics) must agree within `tolerances.TOLERANCES`.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssdref
from ssdref.autograd.registry import all_ops
from ssdref.backends.conformance_cases import (GENERATORS, MULTIBOX_OPS, compare_case, describe,
                                              gen_convolution_3x3)
from ssdref.backends.mxnet import run_op

import tolerances

# Examples per op: the ops with many parameters get more; cheap ops stay quick (the whole
# `make conformance` must stay well under 10 minutes on 2 cores).
EXAMPLES = {"Convolution": 200, "Pooling": 200, "BatchNorm": 200, "SoftmaxOutput": 150,
            "Reshape": 120, "Activation": 120, "L2Normalization": 120, "softmax": 100,
            "log_softmax": 100, "SoftmaxActivation": 100, "FullyConnected": 100, "Concat": 100,
            "slice_axis": 100, "transpose": 100}
DEFAULT_EXAMPLES = 60
LAYER_OPS = [op for op in GENERATORS if op not in MULTIBOX_OPS]


def check_op(op, mx, tally, data):
    case = GENERATORS[op](data.draw)
    outcome = compare_case(case, mx, tolerances.tolerance(op, case.dtype))
    tally(op, outcome)
    assert outcome.within_tol, f"{describe(case)}: {outcome.detail}"


@pytest.mark.conformance
@pytest.mark.parametrize("op", LAYER_OPS)
def test_layer_op_matches_mxnet(op, mx, tally):
    @settings(max_examples=EXAMPLES.get(op, DEFAULT_EXAMPLES))
    @given(st.data())
    def run(data):
        check_op(op, mx, tally, data)
    run()


@pytest.mark.conformance
def test_winograd_shaped_convolution_matches_mxnet(mx, tally, monkeypatch):
    """The 3x3 stride-1 layers the Numba backend computes by Winograd (forward, dx, dW), under
    Convolution's tolerance, in a row of their own (MIN_CHANNELS 1: small layers take it too)."""
    from ssdref.kernels import cpu_winograd
    monkeypatch.setattr(cpu_winograd, "MIN_CHANNELS", 1)
    @settings(max_examples=100)
    @given(st.data())
    def run(data):
        case = gen_convolution_3x3(data.draw)
        outcome = compare_case(case, mx, tolerances.tolerance("Convolution", case.dtype))
        tally("Convolution 3x3/1 (Winograd)", outcome)
        assert outcome.within_tol, f"{describe(case)}: {outcome.detail}"
    run()


def test_every_registered_op_has_a_conformance_generator_and_a_tolerance():
    """The report covers every op of ssdref.nd / ssdref.nd.contrib that MXNet has."""
    missing = sorted(set(all_ops()) - set(GENERATORS))
    assert missing == []
    assert sorted(set(GENERATORS) - set(tolerances.TOLERANCES)) == []
    for op, row in tolerances.TOLERANCES.items():
        assert row.reason, op


# ---- known ssdref deviations, reported to the lead (strict: they must start passing once fixed)
@pytest.mark.conformance
def test_batchnorm_fix_gamma_writes_one_into_gamma(mx):
    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    inputs = {"data": x, "gamma": np.full(3, 2.0, np.float32), "beta": np.zeros(3, np.float32)}
    aux = {"moving_mean": np.zeros(3, np.float32), "moving_var": np.ones(3, np.float32)}
    theirs = run_op(mx, "BatchNorm", {"fix_gamma": True}, inputs, aux, is_train=True, out_grads=[x])
    ours = run_op(ssdref, "BatchNorm", {"fix_gamma": True}, inputs, aux, is_train=True, out_grads=[x])
    np.testing.assert_array_equal(theirs.args["gamma"], np.ones(3, np.float32))
    np.testing.assert_array_equal(ours.args["gamma"], theirs.args["gamma"])


@pytest.mark.conformance
def test_softmax_output_multi_output_ignores_smooth_alpha(mx):
    data = np.array([[[0.5, 2.5, 0.0], [-3.0, 0.5, 1.0]]], np.float32)
    inputs = {"data": data, "label": np.array([[0.0, 1.0, 1.0]], np.float32)}
    params = {"multi_output": True, "smooth_alpha": 0.3, "normalization": "null"}
    theirs = run_op(mx, "SoftmaxOutput", params, inputs, is_train=True, out_grads=[data])
    ours = run_op(ssdref, "SoftmaxOutput", params, inputs, is_train=True, out_grads=[data])
    np.testing.assert_allclose(ours.grads["data"], theirs.grads["data"], rtol=1e-6, atol=1e-7)


@pytest.mark.conformance
def test_slice_axis_accepts_end_none_keyword(mx):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    params = {"axis": 1, "begin": 1, "end": None}
    theirs = run_op(mx, "slice_axis", params, {"data": x}, backward=False)
    ours = run_op(ssdref, "slice_axis", params, {"data": x}, backward=False)
    np.testing.assert_array_equal(ours.outputs[0], theirs.outputs[0])


@pytest.mark.conformance
def test_make_loss_batch_divides_by_flattened_rows(mx):
    x = np.ones((2, 3, 4), np.float32)
    theirs = run_op(mx, "MakeLoss", {"normalization": "batch"}, {"data": x}, is_train=True, out_grads=[x])
    ours = run_op(ssdref, "MakeLoss", {"normalization": "batch"}, {"data": x}, is_train=True, out_grads=[x])
    np.testing.assert_allclose(theirs.grads["data"], 1 / 6)
    np.testing.assert_array_equal(ours.grads["data"], theirs.grads["data"])


@pytest.mark.conformance
def test_softmax_activation_instance_backward_on_3d_is_wrong_in_mxnet(mx):
    """Pinned MXNet 1.9.1 quirk (not followed): SoftmaxActivation(mode='instance') on 3-D input has a
    nonzero gradient for a constant head gradient; ssdref gives softmax's gradient (zero here)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 2)).astype(np.float32)
    g = np.ones_like(x)
    theirs = run_op(mx, "SoftmaxActivation", {"mode": "instance"}, {"data": x}, is_train=True, out_grads=[g])
    ours = run_op(ssdref, "SoftmaxActivation", {"mode": "instance"}, {"data": x}, is_train=True, out_grads=[g])
    assert np.abs(theirs.grads["data"]).max() > 0.1
    np.testing.assert_allclose(ours.grads["data"], 0, atol=1e-6)


@pytest.mark.conformance
def test_backward_after_inference_forward_is_refused_by_ssdref_only(mx):
    """A deliberate difference, pinned: MXNet's executor runs backward after forward(is_train=False)
    (BatchNorm then applies the training formula with the moving statistics, spec layers §5);
    ssdref's executor raises instead. The side-by-side cases compare backward after training
    forwards only."""
    x = np.ones((2, 3), np.float32)
    theirs = run_op(mx, "Dropout", {"p": 0.5}, {"data": x}, is_train=False, out_grads=[x])
    np.testing.assert_array_equal(theirs.grads["data"], x)
    with pytest.raises(RuntimeError, match="forward"):
        run_op(ssdref, "Dropout", {"p": 0.5}, {"data": x}, is_train=False, out_grads=[x])


@pytest.mark.conformance
@pytest.mark.parametrize("shape, kernel, stride, pad, cip", [
    ((1, 1, 3, 4, 3), 1, 4, 0, True), ((1, 1, 5, 5, 5), 2, 2, 1, False),
    ((1, 1, 4, 5, 4), 2, 3, 1, True), ((1, 1, 4, 5, 4), 3, 3, 1, False),
    ((1, 1, 4, 4), 1, 4, 0, False),
])
def test_avg_full_windows_past_the_padded_edge_match_mxnet_nan_and_zero(mx, shape, kernel, stride,
                                                                         pad, cip):
    """3-D avg 'full' windows of zero extent are NaN in MXNet (0/0), 2-D ones 0: same in ssdref."""
    x = np.random.default_rng(0).uniform(1, 2, shape).astype(np.float32)
    ndim = len(shape) - 2
    params = {"kernel": (kernel,) * ndim, "stride": (stride,) * ndim, "pad": (pad,) * ndim,
              "pool_type": "avg", "pooling_convention": "full", "count_include_pad": cip}
    theirs = run_op(mx, "Pooling", params, {"data": x}, backward=False).outputs[0]
    ours = run_op(ssdref, "Pooling", params, {"data": x}, backward=False).outputs[0]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    assert np.isnan(theirs).any() == (ndim == 3)


@pytest.mark.conformance
def test_both_raising_is_counted_apart_and_needs_a_clear_ssdref_error(mx):
    from ssdref.backends.conformance_cases import Case, compare_case
    bad = Case("Pooling", {"kernel": (9, 9), "pool_type": "max"},
               {"data": np.zeros((1, 1, 3, 3), np.float32)}, {}, False, None, backward=False)
    outcome = compare_case(bad, mx, {"forward": 0.0, "backward": 0.0})
    assert outcome.both_raised and outcome.within_tol and not outcome.bit_exact


@pytest.mark.conformance
def test_conformance_command_runs_mxnet_through_main(mx, capsys):
    from ssdref.cli import main
    assert main(["conformance", "--backend", "mxnet", "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert "ssdref vs mxnet" in out and "0 op(s) with mismatches" in out


_POOL_SCRIPT = """
import json, sys
import numpy as np, mxnet as mx
x = mx.nd.array(np.array(json.loads(sys.argv[1]), np.float32)); x.attach_grad()
with mx.autograd.record():
    y = mx.nd.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", pooling_convention="full")
y.backward(mx.nd.array(np.array(json.loads(sys.argv[2]), np.float32)))
print(json.dumps([y.asnumpy().tolist(), x.grad.asnumpy().tolist()]))
"""


@pytest.mark.conformance
def test_avg_full_edge_windows_onednn_backward_deviates_and_native_mxnet_equals_ssdref(mx):
    """MXNet bug, pinned both ways (docs/conventions.md): with the default oneDNN build, avg pooling
    'full' (count_include_pad=True) divides a partial edge window by the clipped size in forward
    but by the whole kernel in backward. Native MXNet (MXNET_MKLDNN_ENABLED=0) is consistent and
    equals ssdref, whose gradient is kept."""
    import json
    import os
    import subprocess
    import sys
    rng = np.random.default_rng(0)
    x = rng.random((1, 1, 7, 8)).astype(np.float32)            # H = 7: the last row window is cut
    g = rng.random((1, 1, 4, 4)).astype(np.float32)
    params = {"kernel": (2, 2), "stride": (2, 2), "pool_type": "avg", "pooling_convention": "full"}
    ours = run_op(ssdref, "Pooling", params, {"data": x}, is_train=True, out_grads=[g])
    runs = {}
    for build, flag in (("onednn", "1"), ("native", "0")):
        done = subprocess.run([sys.executable, "-c", _POOL_SCRIPT, json.dumps(x.tolist()),
                               json.dumps(g.tolist())], capture_output=True, text=True, check=True,
                              env={**os.environ, "MXNET_MKLDNN_ENABLED": flag})
        runs[build] = [np.array(a, np.float32) for a in json.loads(done.stdout.strip().splitlines()[-1])]
    native_y, native_dx = runs["native"]
    onednn_y, onednn_dx = runs["onednn"]
    np.testing.assert_allclose(ours.outputs[0], native_y, rtol=1e-6)
    np.testing.assert_allclose(ours.grads["data"], native_dx, rtol=1e-6)
    np.testing.assert_allclose(onednn_y, native_y, rtol=1e-6)
    edge = np.s_[0, 0, 6, :]                                      # the cut window's input row
    assert not np.allclose(onednn_dx[edge], native_dx[edge], rtol=1e-3)
    np.testing.assert_allclose(onednn_dx[edge], native_dx[edge] / 2, rtol=1e-6)   # / 4, not / 2
