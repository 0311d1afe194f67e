"""`ssdref conformance --backend mxnet`: every op side by side with real MXNet 1.9.1, plus whole SSD.

Implements the backend interface of `ssdref.conformance`: `run(examples, seed) -> list[ReportRow]`.
The cases are the conformance tests' own (`ssdref.backends.conformance_cases.GENERATORS`, drawn by
hypothesis with `seed`), compared with the tolerance table of `tests/conformance/tolerances.py`
(read from the checkout: the one table, shared with pytest). The whole-SSD rows build the tiny SSD's
train and test symbols on both engines with the same builder code and compare the forward outputs
and every parameter gradient.
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from ssdref.conformance import ReportRow

TOLERANCE_FILE = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "tolerances.py"


def load_tolerances():
    """The `tests/conformance/tolerances.py` module of this checkout."""
    if not TOLERANCE_FILE.is_file():
        raise FileNotFoundError(f"conformance: the tolerance table {TOLERANCE_FILE} is missing "
                                f"(run from a checkout of ssdref)")
    spec = importlib.util.spec_from_file_location("ssdref_conformance_tolerances", TOLERANCE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class OpTally:
    """Counts for one report row."""

    def __init__(self, op):
        self.op, self.cases, self.exact, self.within, self.worst, self.notes = op, 0, 0, 0, 0.0, []
        self.raised = 0

    def add(self, outcome, what=""):
        self.cases += 1
        self.raised += outcome.both_raised
        self.exact += outcome.bit_exact
        self.within += outcome.within_tol
        self.worst = max(self.worst, outcome.worst_error)
        if not outcome.within_tol and len(self.notes) < 2:
            self.notes.append(f"{what} {outcome.detail}".strip())

    def row(self, note=""):
        notes = "; ".join(self.notes) or note
        return ReportRow(self.op, self.cases, self.exact, self.within, self.worst, notes[:400],
                         self.raised)


def sweep_op(op, examples, seed, mx, tolerances, on_case=None):
    """Draw `examples` cases of `op` with hypothesis (seeded) and compare each; an OpTally."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from ssdref.backends.conformance_cases import GENERATORS, compare_case, describe

    tally = OpTally(op)

    @hseed(seed)
    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None,
              derandomize=False, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data):
        case = GENERATORS[op](data.draw)
        outcome = compare_case(case, mx, tolerances.tolerance(op, case.dtype))
        tally.add(outcome, describe(case) if not outcome.within_tol else "")
        if on_case is not None:
            on_case(case, outcome)

    one()
    return tally


def run(examples: int = 20, seed: int = 0) -> list[ReportRow]:
    from ssdref.backends.conformance_cases import GENERATORS
    from ssdref.backends.mxnet import import_mxnet
    from ssdref.backends.mxnet_graph import compare_ssd

    mx = import_mxnet()
    tolerances = load_tolerances()
    rows = []
    for op in GENERATORS:
        rows.append(sweep_op(op, examples, seed, mx, tolerances).row())
    for network in ("tiny",):
        result = compare_ssd(mx, network, batch=2, seed=seed)
        tol = tolerances.TOLERANCES[f"ssd:{network}"]
        rows.append(graph_row(f"ssd:{network}", result, tol))
    return rows


def graph_row(name, result, tol) -> ReportRow:
    """One row for a whole-graph comparison (`mxnet_graph.GraphComparison`)."""
    bad = [m for m in result.measurements
           if not (m.error == 0.0 if m.exact_required else m.error <= (tol.backward if m.is_grad else tol.forward))]
    worst = max((m.error for m in result.measurements), default=0.0)
    exact = sum(m.error == 0.0 for m in result.measurements)
    within = len(result.measurements) - len(bad)
    note = "; ".join(f"{m.name}: {m.error:.3g}" for m in bad[:3]) or result.note
    return ReportRow(name, len(result.measurements), exact, within, worst if math.isfinite(worst) else worst, note)
