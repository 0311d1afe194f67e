"""softmax, log_softmax, SoftmaxActivation: spec values, C-expf bit-exactness, gradients, errors."""
import ctypes
import ctypes.util

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.softmax import (log_softmax_backward, log_softmax_forward, softmax_activation_backward,
                                   softmax_activation_forward, softmax_backward, softmax_forward)

_libm = ctypes.CDLL(ctypes.util.find_library("m"))
_libm.expf.restype = ctypes.c_float
_libm.expf.argtypes = [ctypes.c_float]

X = np.array([[1, 2, 3], [1, 1, 1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0, 2, 1]], dtype=np.float64)


def reference_softmax_rows_f32(rows: np.ndarray) -> np.ndarray:
    """Independent scalar loop: libm expf via ctypes, float32 running sum in class order."""
    out = np.empty_like(rows)
    for r, row in enumerate(rows):
        top = max(row)
        exps = [np.float32(_libm.expf(float(np.float32(v - top)))) for v in row]
        total = np.float32(0)
        for e in exps:
            total = np.float32(total + e)
        out[r] = [np.float32(e / total) for e in exps]
    return out


def test_softmax_matches_spec_example_values_and_gradient():
    y, cache = softmax_forward(X, axis=-1)
    np.testing.assert_allclose(y, [[0.090031, 0.244728, 0.665241], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    dx = softmax_backward(G, cache)
    np.testing.assert_allclose(dx, [[0.081925, -0.022033, -0.059892], [-1 / 3, 1 / 3, 0]], atol=1e-6)


def test_softmax_temperature_two_matches_spec():
    y, cache = softmax_forward(X, axis=-1, temperature=2.0)
    np.testing.assert_allclose(y[0], [0.186324, 0.307196, 0.50648], atol=1e-6)
    np.testing.assert_allclose(softmax_backward(G, cache)[1], [-1 / 6, 1 / 6, 0], atol=1e-6)


def test_log_softmax_matches_spec_example():
    y, cache = log_softmax_forward(X)
    # The spec prints -2.407604...; the exact value is -2.4076059644 (-log(1 + e + e^2)), so the
    # printed digits are 2e-6 off: compare with a tolerance that admits both.
    np.testing.assert_allclose(y[0], [-2.407604, -1.407604, -0.407604], atol=3e-6)
    np.testing.assert_allclose(y[0], np.array([0, 1, 2]) - np.log(1 + np.e + np.e**2), rtol=1e-14)
    np.testing.assert_allclose(log_softmax_backward(G, cache)[0], [0.909969, -0.244729, -0.665242], atol=1e-6)
    _, cache_t = log_softmax_forward(X, temperature=2.0)
    np.testing.assert_allclose(log_softmax_backward(G, cache_t)[1], [-0.5, 0.5, 0], atol=1e-6)


@given(seed=st.integers(0, 2**31 - 1), classes=st.integers(1, 25), rows=st.integers(1, 6))
def test_float32_softmax_is_bit_exact_with_libm_expf_sequential_sum(seed, classes, rows):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((rows, classes)) * 4).astype(np.float32)
    y, _ = softmax_forward(logits, axis=1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, reference_softmax_rows_f32(logits))


def test_float32_softmax_over_axis_one_is_bit_exact_per_anchor():
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal((2, 21, 9)) * 3).astype(np.float32)
    y, _ = softmax_forward(logits, axis=1)
    for b in range(2):
        np.testing.assert_array_equal(y[b].T, reference_softmax_rows_f32(logits[b].T.copy()))


def _gradcheck(forward, backward, x, **kwargs):
    results = check_gradients(lambda x: forward(x, **kwargs)[0],
                              lambda heads, x: [backward(heads[0], forward(x, **kwargs)[1])], {"x": x})
    assert results[0].relative_error <= 1e-6, results[0].relative_error


shapes_and_axes = st.integers(1, 3).flatmap(lambda nd: st.tuples(
    st.lists(st.integers(1, 4), min_size=nd, max_size=nd), st.integers(-nd, nd - 1)))


@given(shape_axis=shapes_and_axes, seed=st.integers(0, 10**6),
       temperature=st.sampled_from([None, 1.0, 0.5, 2.5]))
def test_softmax_and_log_softmax_gradients_match_central_differences(shape_axis, seed, temperature):
    shape, axis = shape_axis
    x = np.random.default_rng(seed).standard_normal(shape)
    _gradcheck(softmax_forward, softmax_backward, x, axis=axis, temperature=temperature)
    _gradcheck(log_softmax_forward, log_softmax_backward, x, axis=axis, temperature=temperature)


@given(ndim=st.integers(3, 4), seed=st.integers(0, 10**6), mode=st.sampled_from(["instance", "channel"]))
def test_softmax_activation_gradient_matches_central_differences(ndim, seed, mode):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(rng.integers(1, 4, size=ndim)))
    _gradcheck(softmax_activation_forward, softmax_activation_backward, x, mode=mode)


@given(seed=st.integers(0, 10**6))
def test_float32_and_float64_softmax_agree(seed):
    x = np.random.default_rng(seed).standard_normal((3, 5, 4))
    y64, c64 = softmax_forward(x, axis=1)
    y32, c32 = softmax_forward(x.astype(np.float32), axis=1)
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-7)
    g = np.random.default_rng(seed + 1).standard_normal(x.shape)
    np.testing.assert_allclose(softmax_backward(g.astype(np.float32), c32), softmax_backward(g, c64),
                               rtol=1e-4, atol=1e-6)
    l64, _ = log_softmax_forward(x, axis=1)
    l32, _ = log_softmax_forward(x.astype(np.float32), axis=1)
    np.testing.assert_allclose(l32, l64, rtol=1e-5, atol=1e-6)


def test_softmax_activation_instance_is_over_the_last_axis():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2) * 0.25
    y, _ = softmax_activation_forward(x, mode="instance")
    np.testing.assert_allclose(y[..., 0], np.full((2, 3), 0.437824), atol=1e-6)
    np.testing.assert_allclose(y[..., 1], np.full((2, 3), 0.562177), atol=1e-6)
    y1, _ = softmax_activation_forward(np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_allclose(y1, [0.268941, 0.731059], atol=1e-6)


def test_softmax_activation_channel_equals_softmax_axis_one_bit_for_bit():
    x = np.random.default_rng(3).standard_normal((2, 5, 3, 2)).astype(np.float32)
    a, ca = softmax_activation_forward(x, mode="channel")
    b, cb = softmax_forward(x, axis=1)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(softmax_activation_backward(g, ca), softmax_backward(g, cb))


def test_inputs_are_not_mutated_and_noncontiguous_inputs_give_the_same_result():
    x = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    x_t = x.T                                    # non-contiguous view
    x_t.flags.writeable = False
    saved = x.copy()
    y, _ = softmax_forward(x_t, axis=0)
    np.testing.assert_array_equal(x, saved)
    np.testing.assert_array_equal(y, softmax_forward(np.ascontiguousarray(x_t), axis=0)[0])
    assert y.flags.c_contiguous


def test_minus_inf_entries_are_fine_unless_a_whole_row_is_minus_inf():
    y, _ = softmax_forward(np.array([[0.0, -np.inf]], dtype=np.float32))
    np.testing.assert_array_equal(y, [[1.0, 0.0]])
    with pytest.raises(ValueError, match="softmax: data must not have a slice"):
        softmax_forward(np.array([[-np.inf, -np.inf]]))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: softmax_forward(np.zeros((2, 3)), axis=2), ValueError, "softmax: axis must be in"),
    (lambda: softmax_forward(np.zeros((2, 3), dtype=np.int32)), TypeError, "softmax: data must be float32"),
    (lambda: softmax_forward(np.array([[np.nan, 1.0]])), ValueError, "softmax: data must not contain NaN"),
    (lambda: softmax_forward(np.zeros((2, 3)), temperature=0.0), ValueError, "temperature"),
    (lambda: log_softmax_forward(np.zeros((2, 3)), axis=-3), ValueError, "log_softmax: axis"),
    (lambda: softmax_activation_forward(np.zeros((2, 3)), mode="channel"), ValueError, "at least 3 dimensions"),
    (lambda: softmax_activation_forward(np.zeros((2, 3, 1)), mode="spatial"), ValueError, "mode must be one of"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_head_gradient_of_the_wrong_dtype_is_a_type_error():
    _, cache = softmax_forward(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="softmax: head gradient must have the output's dtype"):
        softmax_backward(np.zeros((2, 3)), cache)
