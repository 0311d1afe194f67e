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
