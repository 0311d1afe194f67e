"""Precision tiers: how closely ssdref's own recomputation must reproduce each stored output.

Every output of every case carries a tier in the manifest (`"precision": {name: tier}`):
  * `exact`: bit for bit (NaN equals NaN whatever its payload; +0 and -0 differ). Discrete outputs
    always; and every float output whose computation is IEEE-754 arithmetic in an order ssdref
    fixes: goldens are made and verified in 'portable' precision (`ssdref.use_precision`), where
    matrix products have a fixed float64 summation order (`ssdref.layers.gemm`) and convolutions
    take im2col, and the transcendental functions are the C library's (`ssdref.mathf`), never
    NumPy's CPU-dispatched SIMD ones.
  * `ulp:N`: each element within N units in the last place of the stored value (ulp distance on
    the ordered float bit patterns; +0 and -0 are 0 apart). The float outputs of float64 cases
    that call a double-precision C-library function (exp, log, tanh, log1p, pow): glibc picks its
    FMA or its SSE2 code for those by CPU, and the two differ in the last bit (measured on 2M
    inputs each: exp, log, log1p, pow by 1 ulp on 0.003-0.07% of inputs, tanh by up to 2 ulp).
    glibc's float32 functions give the same bits on both paths (measured), so float32 cases are
    `exact` throughout. N = 2 covers the functions' own difference; on the stored inputs the
    whole emulation matrix (docs/golden-format.md), FMA switched off included, moved no output by
    more than 1 ulp.
The consumer tolerances (`tolerances`) are a different thing: how far *another* backend may be.
"""
from __future__ import annotations

import numpy as np

EXACT = "exact"
ULP_PREFIX = "ulp:"

# Ops whose float64 results pass through double-precision C-library functions (ssdref.mathf),
# with the parameter value that selects such a function where only some settings do.
LIBM_OPS = {
    "Activation": ("act_type", ("sigmoid", "tanh", "softrelu")),
    "_power": None, "broadcast_power": None, "_power_scalar": None, "_rpower_scalar": None,
    "softmax": None, "log_softmax": None, "SoftmaxActivation": None, "SoftmaxOutput": None,
    "_contrib_MultiBoxTarget": None, "_contrib_MultiBoxDetection": None,
    "ssd_train_step": None, "ssd_detect": None,
}
LIBM_FLOAT64_TIER = "ulp:2"


def _calls_libm(case) -> bool:
    if case.op not in LIBM_OPS:
        return False
    selector = LIBM_OPS[case.op]
    return selector is None or case.params.get(selector[0]) in selector[1]


def declared_tiers(case, outputs) -> dict:
    """{output name: tier} for a declared case and its outputs ({name: array}): one rule for all
    (module docstring). Integer-valued outputs (labels, masks) are exact in every case."""
    loose = case.dtype == "float64" and _calls_libm(case)
    discrete = {n for n, t in case.tolerances.items() if t == {"rtol": 0.0, "atol": 0.0}}
    return {name: (LIBM_FLOAT64_TIER if loose and name not in discrete
                   and np.asarray(value).dtype.kind == "f" else EXACT)
            for name, value in outputs.items()}


def parse_tier(tier) -> int:
    """The allowed ulp distance of a tier: 0 for 'exact', N for 'ulp:N' (N >= 1)."""
    if tier == EXACT:
        return 0
    if isinstance(tier, str) and tier.startswith(ULP_PREFIX) and tier[len(ULP_PREFIX):].isdigit() \
            and int(tier[len(ULP_PREFIX):]) >= 1:
        return int(tier[len(ULP_PREFIX):])
    raise ValueError(f"golden: precision tier must be 'exact' or 'ulp:N' with N >= 1, got {tier!r}")


def _ordered(values: np.ndarray) -> np.ndarray:
    """Float bit patterns mapped to integers in the order of the floats (+0 and -0 both to 0)."""
    bits = values.view(np.int32 if values.dtype == np.float32 else np.int64).astype(np.int64)
    magnitude = bits & np.int64(0x7FFFFFFF if values.dtype == np.float32 else 0x7FFFFFFFFFFFFFFF)
    return np.where(bits < 0, -magnitude, magnitude)


def ulp_distance(expected, actual) -> np.ndarray:
    """Elementwise distance in units in the last place between two float arrays of one dtype
    (float32 or float64); 0 where both are NaN, the dtype's largest integer where one is."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    distance = np.abs(_ordered(expected) - _ordered(actual))
    both_nan, one_nan = np.isnan(expected) & np.isnan(actual), np.isnan(expected) ^ np.isnan(actual)
    distance = np.where(both_nan, 0, distance)
    return np.where(one_nan, np.iinfo(np.int64).max, distance)


def tier_problem(name, expected, actual, tier) -> str | None:
    """None if `actual` reproduces `expected` within `tier`, else a one-line description."""
    allowed = parse_tier(tier)
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape or expected.dtype != actual.dtype:
        return (f"{name}: shape/dtype {actual.shape} {actual.dtype}, expected {expected.shape} "
                f"{expected.dtype}")
    if expected.dtype.kind != "f":
        bad = expected != actual
    elif allowed == 0:
        same_bits = expected.view(f"u{expected.itemsize}") == actual.view(f"u{actual.itemsize}")
        bad = ~(same_bits | (np.isnan(expected) & np.isnan(actual)))
    else:
        bad = ulp_distance(expected, actual) > allowed
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    detail = ""
    if expected.dtype.kind == "f":
        detail = f", max ulp distance {int(ulp_distance(expected, actual).max())}"
    return (f"{name}: {int(bad.sum())} of {bad.size} values differ beyond tier {tier}{detail}; "
            f"first at {where}: stored {expected[where]!r}, recomputed {actual[where]!r}")
