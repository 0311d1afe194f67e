"""compare_case's verdicts, without MXNet: engines are stood in for by their results."""
import numpy as np

from ssdref.backends import conformance_cases as cc

CASE = cc.Case("Activation", {"act_type": "relu"}, {"data": np.zeros((2, 2), np.float32)}, {},
               False, None, backward=False)


def _verdict(monkeypatch, ours, theirs):
    monkeypatch.setattr(cc, "run_case", lambda engine, case: ours if engine != "mx" else theirs)
    return cc.compare_case(CASE, "mx", {"forward": 0.0, "backward": 0.0})


def test_both_raising_is_agreement_but_never_bit_exact(monkeypatch):
    outcome = _verdict(monkeypatch, ValueError("Activation: data ..."), RuntimeError("MXNetError"))
    assert outcome.both_raised and outcome.within_tol and not outcome.bit_exact


def test_an_internal_ssdref_exception_is_not_agreement_even_when_mxnet_raises(monkeypatch):
    outcome = _verdict(monkeypatch, IndexError("list index out of range"), RuntimeError("MXNetError"))
    assert outcome.both_raised and not outcome.within_tol
    assert "IndexError is not a ValueError or TypeError" in outcome.detail


def test_only_one_side_raising_is_a_mismatch(monkeypatch):
    outcome = _verdict(monkeypatch, ValueError("x"), cc_result())
    assert not outcome.within_tol and not outcome.both_raised and "only ssdref raised" in outcome.detail


def cc_result():
    from ssdref.backends.mxnet import RunResult
    return RunResult([np.zeros((2, 2), np.float32)], {}, {}, {})


def test_a_small_forward_output_cannot_hide_behind_the_size_of_the_inputs():
    # sigmoid(-9) = 1.234e-4 15% off: 1.8e-9 relative to a floor of 1e4 (passes the floor-scaled
    # bound) but 0.15 relative to itself, which the own-size bound rejects.
    expected = np.array([1.2339458e-4], np.float32)
    wrong = expected * np.float32(1.15)
    tolerance = {"forward": 2e-6, "backward": 2e-6}
    loose = cc.compare_arrays([("output0", wrong, expected, False)], tolerance, floor=1e4)
    assert not loose.within_tol and "relative to the output's own size" in loose.detail
    close = cc.compare_arrays([("output0", expected * np.float32(1 + 1e-6), expected, False)],
                              tolerance, floor=9.0)
    assert close.within_tol


def test_gradients_keep_the_floor_and_an_absolute_allowance_waives_the_own_size_bound():
    expected = np.array([1e-6, 0.0], np.float32)
    got = np.array([0.0, 0.0], np.float32)
    tolerance = {"forward": 2e-5, "backward": 1e-5, "absolute": 1e-4}
    assert cc.compare_arrays([("output0", got, expected, False)], tolerance, floor=1.0).within_tol
    assert cc.compare_arrays([("grad:data", got, expected, False)],
                             {"forward": 2e-5, "backward": 1e-5}, floor=1.0).within_tol
