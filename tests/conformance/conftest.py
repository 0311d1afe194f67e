"""Conformance against real MXNet 1.9.1: the `mx` fixture, the skip/fail rule, the bit-exact tally.

In the main environment (no MXNet) every test here is skipped with the reason. Under
`make conformance` (SSDREF_REQUIRE_MXNET=1) a missing or wrong MXNet is a failure, never a skip.
"Real MXNet" means `import mxnet` gives version 1.9.1 with a symbol API: a data folder named
`mxnet` on sys.path (tests/data has some) is a namespace package and does not count.
"""
import os
import sys

import pytest

from ssdref.backends.mxnet import mxnet_status

REQUIRE = os.environ.get("SSDREF_REQUIRE_MXNET") == "1"
_MX, _REASON = mxnet_status()

# op -> [cases, bit-exact, within tolerance, worst error, both raised], filled by the side-by-side tests.
TALLY = {}


def record(op, outcome):
    row = TALLY.setdefault(op, [0, 0, 0, 0.0, 0])
    row[0] += 1
    row[1] += outcome.bit_exact
    row[2] += outcome.within_tol
    row[3] = max(row[3], outcome.worst_error)
    row[4] += outcome.both_raised


def pytest_collection_modifyitems(config, items):
    if _MX is not None or REQUIRE:
        return
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason=f"conformance needs real MXNet 1.9.1: {_REASON}; "
                                   f"run `make conformance`")
    for item in items:
        if str(item.fspath).startswith(here) and "test_params_mxnet" not in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tally():
    """record(op, outcome): count a compared case for the end-of-run conformance table."""
    return record


@pytest.fixture(scope="session")
def mx():
    """Real MXNet 1.9.1 (skip without it; fail under SSDREF_REQUIRE_MXNET=1)."""
    if _MX is None:
        if REQUIRE:
            pytest.fail(f"SSDREF_REQUIRE_MXNET=1 but {_REASON}", pytrace=False)
        pytest.skip(_REASON)
    return _MX


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    from ssdref.conformance import ReportRow, format_report
    rows = [ReportRow(op, c, e, w, worst, "", raised) for op, (c, e, w, worst, raised) in TALLY.items()]
    terminalreporter.write_sep("=", "ssdref vs MXNet 1.9.1 conformance")
    terminalreporter.write_line(format_report(rows))
    multibox = [r for r in rows if r.op.startswith("_contrib_")]
    if multibox:
        raised = sum(r.both_raised for r in multibox)
        compared = sum(r.cases for r in multibox) - raised
        exact = sum(r.bit_exact for r in multibox)
        terminalreporter.write_line(f"multibox ops: {exact}/{compared} compared cases bit-exact "
                                    f"({100.0 * exact / max(compared, 1):.2f}%), {raised} more "
                                    f"rejected by both")
    total = sum(r.cases for r in rows)
    terminalreporter.write_line(f"all ops: {total} cases ({sum(r.both_raised for r in rows)} "
                                f"rejected by both), {sum(r.bit_exact for r in rows)} bit-exact, "
                                f"{sum(r.within_tol for r in rows)} within tolerance")
    sys.stdout.flush()
