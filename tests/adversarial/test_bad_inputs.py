"""Bad inputs (issue 17): a fast in-process subset of tests/adversarial/cases.py, and the full harness.

The fast subset (cases marked fast=True) runs in this process on the numpy and numba backends: each
must give a clear ValueError/TypeError naming its argument, or MXNet's accepted result. The full
harness (run_bad_inputs.py: every case in a forked child, on each backend, CUDA in the simulator)
is a slow test (about 10-20 s a backend with Numba's cache warm): no case may
crash, hang or end not ok.
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases as case_table  # noqa: E402
import run_bad_inputs as harness  # noqa: E402

import ssdref  # noqa: E402

FAST = [c for c in case_table.CASES if c.fast]

# Cases that are not ok (none since the fixes of issue 17): a failure outside this set fails the run.
KNOWN: set = set()     # every case of the harness is ok on every backend: keep it that way


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
def test_bad_input_gives_clear_error_or_mxnet_result(case, backend):
    with ssdref.use_backend(backend):
        outcome, detail = harness.execute(case)
    assert outcome == "ok", f"{case.call!r}: {outcome}: {detail}"


def test_fast_subset_is_representative():
    groups = {c.id.split(".")[0] for c in FAST}
    assert len(FAST) >= 25 and {"conv", "pool", "prior", "target", "det", "sym", "json", "params", "ck", "cli"} <= groups


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
def test_full_harness_has_no_failures(tmp_path, backend):
    report = tmp_path / "report.tsv"
    env = dict(os.environ, **({"NUMBA_ENABLE_CUDASIM": "1"} if backend == "cuda" else {}))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "run_bad_inputs.py"), "--backend", backend,
                           "--timeout", "120", "--report", str(report)],
                          capture_output=True, text=True, timeout=900, env=env)
    rows = [line.split("\t") for line in report.read_text().splitlines()[1:]]
    assert len(rows) >= 150, proc.stdout[-2000:] + proc.stderr[-2000:]
    bad = {row[1]: (row[2], row[5]) for row in rows if row[2] != "ok"}
    assert not {k: v for k, v in bad.items() if v[0] in ("crash", "hang")}
    new = {k: v for k, v in bad.items() if k not in KNOWN}
    assert not new, "\n".join(f"{k}: {v[0]}: {v[1]}" for k, v in new.items())
