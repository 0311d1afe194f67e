"""How one conformance case is run on ssdref and on MXNet and compared: `compare_case`.

The cases come from the catalogue: the hypothesis generators (`ssdref.cases.generators`,
`GENERATORS[op](draw)`) and the spec §8 cases (`ssdref.cases.spec`, here by their conformance
labels as `SPEC_CASES`; `SPEC_ABORTS` must be refused). Both are re-exported here, with the
`Case` type (`ssdref.cases.case`), for the conformance tests and `ssdref conformance`.

`compare_case` runs a case on both engines (`ssdref.backends.mxnet.run_op`) and measures, for
every output, every input gradient and every aux state, the error
`ssdref.backends.measure.scaled_error` (MXNet's array the reference), floored by the largest input
or head-gradient magnitude (`problem_scale`; multibox ops: not floored); discrete outputs
(MultiBoxTarget's cls_target, MultiBoxDetection's class ids) must be equal.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.backends.measure import (absolute_error, bit_identical, problem_scale,  # noqa: F401
                                     scaled_error)
from ssdref.cases.case import Case  # noqa: F401
from ssdref.cases.generators import GENERATORS, MULTIBOX_OPS, gen_convolution_3x3, values  # noqa: F401


class Outcome(NamedTuple):
    """One compared case: whether it was bit-identical, within tolerance, and the worst error.

    both_raised: both engines rejected the input. That is agreement (within_tol) only when
    ssdref's error is a clear ValueError/TypeError; it never counts as bit-exact."""
    bit_exact: bool
    within_tol: bool
    worst_error: float
    detail: str                # what differed (empty when within tolerance)
    both_raised: bool = False


# What ssdref must raise where MXNet rejects an input: a clear error naming the argument, never an
# internal exception (IndexError, KeyError, ZeroDivisionError, numba's TypingError...).
CLEAR_ERRORS = (ValueError, TypeError)


# ------------------------------------------------------------------------------- spec §8 cases
# The multibox ground-truth cases of spec mxnet-semantics.md §8 (T*, D*), declared once in the case
# catalogue (ssdref.cases.spec), by their conformance labels; SPEC_ABORTS must be refused.
def _spec_cases():
    from ssdref.cases.spec import SPEC_CASES as CATALOGUE
    cases = {c.label: c.case() for c in CATALOGUE}
    return cases, frozenset(c.label for c in CATALOGUE if c.error)


SPEC_CASES, SPEC_ABORTS = _spec_cases()


# Outputs compared for equality, not within a tolerance: (op, output index) -> column (None: all).
DISCRETE = {("_contrib_MultiBoxTarget", 2): None, ("_contrib_MultiBoxDetection", 0): 0}


# ------------------------------------------------------------------------------- comparison
def compare_arrays(pairs, tolerance, floor=0.0) -> Outcome:
    """pairs: [(label, ssdref array, mxnet array, discrete columns or False)];
    tolerance: {'forward': rel, 'backward': rel} (labels starting 'grad:' or 'aux:' are backward)."""
    exact, within, worst, details = True, True, 0.0, []
    for label, ours, theirs, discrete in pairs:
        if not bit_identical(ours, theirs):
            exact = False
        if discrete is not False:
            o, t = np.asarray(ours), np.asarray(theirs)
            sel = (slice(None),) * (o.ndim - 1) + (discrete,) if discrete is not None else ...
            if o.shape != t.shape or not np.array_equal(o[sel], t[sel]):
                within = False
                details.append(f"{label}: discrete values differ")
                worst = float("inf")
                continue
        err = scaled_error(ours, theirs, floor)
        forward = not label.startswith(("grad:", "aux:", "arg:"))
        own = scaled_error(ours, theirs) if floor and forward else err
        worst = max(worst, err)
        tol = tolerance["forward" if forward else "backward"]
        if not err <= tol:
            within = False
            details.append(f"{label}: error {err:.3g} > {tol:g}")
        elif not own <= OWN_SCALE_FACTOR * tol and not absolute_error(ours, theirs) <= \
                tolerance.get("absolute", 0.0):
            # The floor (the inputs' size) must not hide an output that is small and wrong:
            # sigmoid(-9) 15% off is 1.4e-5 of an input of 9, but 0.15 of itself.
            within = False
            details.append(f"{label}: error {own:.3g} relative to the output's own size > "
                           f"{OWN_SCALE_FACTOR * tol:g}")
    return Outcome(exact, within, worst, "; ".join(details))


# The floor-scaled error bounds the error against the size of the computation; each forward
# output must also be within OWN_SCALE_FACTOR x the tolerance of its own largest magnitude
# (measured over the layer sweep: under 20x). Gradients keep only the floor: they cancel
# legitimately (L2Normalization's dX with g parallel to x is 1.6% off relative to itself).
OWN_SCALE_FACTOR = 1000.0


def run_case(engine, case):
    """Run `case` on `engine`; returns RunResult or the exception it raised."""
    from ssdref.backends.mxnet import run_op
    try:
        return run_op(engine, case.op, case.params, case.inputs, case.aux, is_train=case.is_train,
                      out_grads=case.out_grads, backward=case.backward)
    except Exception as exc:   # both engines rejecting the same input is agreement (compare_case)
        return exc


def compare_case(case, mx, tolerance) -> Outcome:
    """Run `case` on ssdref and on real MXNet (`mx`) and compare everything they return."""
    import ssdref
    theirs = run_case(mx, case)
    ours = run_case(ssdref, case)
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        if isinstance(theirs, Exception) and isinstance(ours, Exception):
            if isinstance(ours, CLEAR_ERRORS):
                return Outcome(False, True, 0.0, "", both_raised=True)
            return Outcome(False, False, 0.0,
                           f"both raised, but ssdref's {type(ours).__name__} is not a ValueError or "
                           f"TypeError: {str(ours).strip().splitlines()[0][:300]}", both_raised=True)
        who = "MXNet" if isinstance(theirs, Exception) else "ssdref"
        err = theirs if isinstance(theirs, Exception) else ours
        return Outcome(False, False, float("inf"),
                       f"only {who} raised: {type(err).__name__}: {str(err).strip().splitlines()[0][:300]}")
    pairs = []
    if len(ours.outputs) != len(theirs.outputs):
        return Outcome(False, False, float("inf"), f"{len(ours.outputs)} outputs vs {len(theirs.outputs)}")
    for i, (o, t) in enumerate(zip(ours.outputs, theirs.outputs)):
        pairs.append((f"output{i}", o, t, DISCRETE.get((case.op, i), False)))
    for name in theirs.grads:
        pairs.append((f"grad:{name}", ours.grads.get(name), theirs.grads[name], False))
    for name in theirs.aux:
        pairs.append((f"aux:{name}", ours.aux.get(name), theirs.aux[name], False))
    # Argument values after the run are not compared here: MXNet's BatchNorm(fix_gamma=True)
    # writes 1 into gamma, ssdref leaves it (reported; pinned by
    # test_batchnorm_fix_gamma_writes_one_into_gamma).
    floor = 0.0 if case.op.startswith("_contrib_") else problem_scale(case)
    return compare_arrays(pairs, tolerance, floor)


def describe(case) -> str:
    shapes = {k: v.shape for k, v in {**case.inputs, **case.aux}.items()}
    return (f"{case.op}({case.params}) inputs {shapes} dtype {case.dtype} is_train={case.is_train}")
