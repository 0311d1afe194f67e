"""ssdref.mathf: the C library's transcendental functions, bit for bit (checked against the C
library itself through ctypes), never NumPy's CPU-dispatched SIMD versions."""
import ctypes
import ctypes.util
import math

import numpy as np
import pytest

from ssdref import mathf

LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
C_FUNCTIONS = {("expf", 1): "exp", ("logf", 1): "log", ("tanhf", 1): "tanh", ("log1pf", 1): "log1p",
               ("powf", 2): "pow"}


def _c(name, dtype, arity):
    fn = getattr(LIBM, name + ("f" if dtype == np.float32 else ""))
    ctype = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    fn.restype, fn.argtypes = ctype, [ctype] * arity
    return fn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("helper,arity", list(C_FUNCTIONS))
def test_helpers_equal_the_c_library_bit_for_bit(helper, arity, dtype):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-30, 30, 3000), rng.uniform(0.01, 5, 3000),
                        [0.0, -0.0, 1.0, 0.5, 20.0, 88.5, -1e-30]]).astype(dtype)
    if helper in ("logf", "log1pf", "powf"):
        x = np.abs(x) + dtype(0.25)
    y = (rng.uniform(-4, 4, x.size)).astype(dtype)
    c_fn = _c(C_FUNCTIONS[(helper, arity)], dtype, arity)
    ours = getattr(mathf, helper)(x, y) if arity == 2 else getattr(mathf, helper)(x)
    theirs = np.array([c_fn(*((float(a), float(b)) if arity == 2 else (float(a),)))
                       for a, b in zip(x, y)], dtype)
    assert ours.dtype == dtype
    assert ours.tobytes() == theirs.tobytes()


def test_integer_input_is_a_type_error_naming_the_helper():
    with pytest.raises(TypeError, match="tanhf: x must be float32 or float64, got dtype int64"):
        mathf.tanhf(np.arange(3))
    with pytest.raises(TypeError, match="powf: x and y must share one dtype"):
        mathf.powf(np.ones(2, np.float32), np.ones(2))


def test_powf_broadcasts_and_keeps_ieee_special_cases():
    with np.errstate(invalid="ignore"):
        out = mathf.powf(np.float32([[2.0], [-8.0]]), np.float32([0.0, 0.5, 3.0]))
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], np.float32([1.0, math.sqrt(2.0), 8.0]))
    assert out[1, 0] == 1.0 and np.isnan(out[1, 1]) and out[1, 2] == -512.0
