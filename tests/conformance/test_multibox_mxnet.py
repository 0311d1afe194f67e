"""MultiBoxPrior / MultiBoxTarget / MultiBoxDetection side by side with real MXNet 1.9.1.

Hypothesis draws small SSD geometries, padded labels (images without objects, valid-looking rows
after the terminating -1 row, a 'difficult' column), tied logits and probabilities (equal scores,
equal background probabilities, IoU exactly at a threshold), and every parameter the ops take.
Discrete outputs (cls_target, class ids, row order) must be equal and floats bit-exact (spec
semantics §0); the terminal summary prints the bit-exact share. The spec's §8 cases run as well.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdref.backends.conformance_cases import GENERATORS, MULTIBOX_OPS, SPEC_CASES, compare_case, describe

import tolerances

EXAMPLES = {"_contrib_MultiBoxPrior": 200, "_contrib_MultiBoxTarget": 300,
            "_contrib_MultiBoxDetection": 300}


@pytest.mark.conformance
@pytest.mark.parametrize("op", MULTIBOX_OPS)
def test_multibox_op_matches_mxnet_bit_for_bit(op, mx, tally):
    @settings(max_examples=EXAMPLES[op])
    @given(st.data())
    def run(data):
        case = GENERATORS[op](data.draw)
        outcome = compare_case(case, mx, tolerances.tolerance(op, np.float32))
        tally(op, outcome)
        assert outcome.within_tol, f"{describe(case)}: {outcome.detail}"
    run()


# The spec semantics §8 cases (ssdref.backends.conformance_cases.SPEC_CASES), bit for bit.
@pytest.mark.conformance
@pytest.mark.parametrize("name", list(SPEC_CASES))
def test_spec_case_matches_mxnet_bit_for_bit(name, mx, tally):
    case = SPEC_CASES[name]
    outcome = compare_case(case, mx, tolerances.tolerance(case.op, np.float32))
    tally(case.op, outcome)
    assert outcome.bit_exact, f"{name}: {outcome.detail}"
