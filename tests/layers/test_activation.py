"""Activation (ssdref.layers.activation, ssdref.kernels.cpu_activation): spec §4 examples, gradcheck."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.kernels import cpu_activation
from ssdref.layers.activation import ACT_TYPES, activation_backward, activation_forward

X = np.array([-2, -1e-8, 0, 1e-8, 3], np.float32)
G = np.array([1, 2, 3, 4, 5], np.float32)


@pytest.mark.parametrize("act_type,y_expected,dx_expected", [
    ("relu", [0, 0, 0, 0, 3], [0, 0, 0, 4, 5]),
    ("sigmoid", [0.119203, 0.5, 0.5, 0.5, 0.952574], [0.104994, 0.5, 0.75, 1, 0.225883]),
    ("softrelu", [0.126928, 0.693147, 0.693147, 0.693147, 3.048587], [0.119203, 1, 1.5, 2, 4.762871]),
    ("softsign", [-0.666667, 0, 0, 0, 0.75], [0.111111, 2, 3, 4, 0.3125]),
])
def test_examples_from_spec(act_type, y_expected, dx_expected):
    y, cache = activation_forward(X, act_type=act_type)
    dx = activation_backward(G, cache)
    assert y.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(y, y_expected, atol=1e-6)
    np.testing.assert_allclose(dx, dx_expected, atol=1e-6)


def test_relu_gradient_is_zero_at_exactly_zero_and_nan_maps_to_zero():
    y, cache = activation_forward(np.array([0.0, np.nan, -np.inf, 1e-300]), act_type="relu")
    np.testing.assert_array_equal(y, [0, 0, 0, 1e-300])
    np.testing.assert_array_equal(activation_backward(np.ones(4), cache), [0, 0, 0, 1])


def test_softrelu_does_not_overflow():
    y, _ = activation_forward(np.array([20, 100, 1000], np.float32), act_type="softrelu")
    np.testing.assert_array_equal(y, [20, 100, 1000])


@given(st.sampled_from(ACT_TYPES), st.integers(0, 2**16))
def test_gradients_match_central_differences(act_type, seed):
    x = np.random.default_rng(seed).standard_normal((3, 4)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # relu and softsign are not differentiable at 0

    def forward(x):
        return activation_forward(x, act_type=act_type)[0]

    def backward(heads, x):
        return [activation_backward(heads[0], activation_forward(x, act_type=act_type)[1])]

    assert check_gradients(forward, backward, {"x": x}, seed=seed + 1)[0].relative_error <= 1e-6


@given(st.sampled_from(ACT_TYPES), st.integers(0, 2**16))
def test_float32_agrees_with_float64(act_type, seed):
    x = np.random.default_rng(seed).standard_normal(50) * 5
    y64, c64 = activation_forward(x, act_type=act_type)
    y32, c32 = activation_forward(x.astype(np.float32), act_type=act_type)
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(activation_backward(np.ones(50, np.float32), c32),
                               activation_backward(np.ones(50), c64), rtol=1e-5, atol=1e-6)


@given(st.integers(0, 2**16), st.booleans())
def test_numba_relu_equals_numpy_exactly(seed, float32):
    x = np.round(np.random.default_rng(seed).standard_normal((2, 3, 5)), 1)
    x = x.astype(np.float32 if float32 else np.float64)
    x[0, 0, :2] = [np.nan, -0.0]
    y, cache = activation_forward(x, act_type="relu")
    y_k, cache_k = cpu_activation.activation_forward(x, act_type="relu")
    np.testing.assert_array_equal(y_k, y)
    assert not np.signbit(y_k).any()
    g = np.random.default_rng(seed + 1).standard_normal(x.shape).astype(x.dtype)
    np.testing.assert_array_equal(cpu_activation.activation_backward(g, cache_k),
                                  activation_backward(g, cache))


def test_numba_other_activations_fall_back_to_numpy():
    y, cache = cpu_activation.activation_forward(X, act_type="tanh")
    np.testing.assert_array_equal(y, activation_forward(X, act_type="tanh")[0])
    np.testing.assert_array_equal(cpu_activation.activation_backward(G, cache),
                                  activation_backward(G, activation_forward(X, act_type="tanh")[1]))


def test_bad_inputs():
    with pytest.raises(ValueError, match="act_type must be one of"):
        activation_forward(X, act_type="gelu")
    with pytest.raises(TypeError, match="float32 or float64"):
        activation_forward(np.arange(3), act_type="relu")
    _, cache = activation_forward(X, act_type="relu")
    with pytest.raises(TypeError, match="share one dtype"):
        activation_backward(G.astype(np.float64), cache)
    with pytest.raises(ValueError, match="out_grad must have shape"):
        activation_backward(G[:2], cache)
