"""smooth_l1: spec case M values for sigma 1 and 2, the gradient, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.smooth_l1 import smooth_l1_backward, smooth_l1_forward

M_X = np.array([[0, .5, -2, 0], [1.5, 0, 0, -.2]], dtype=np.float32)
SIGMA2_X = np.array([-1, -.3, -.2, 0, .2, .25, .3, 1, 3], dtype=np.float32)


def test_case_m_sigma_one_values():
    y, _ = smooth_l1_forward(M_X, scalar=1.0)
    np.testing.assert_allclose(y, [[0, .125, 1.5, 0], [1, 0, 0, .02]], rtol=1e-6)
    assert y.dtype == np.float32


def test_case_m_sigma_two_values_and_slopes():
    y, cache = smooth_l1_forward(SIGMA2_X, scalar=2.0)
    np.testing.assert_allclose(y, [.875, .175, .08, 0, .08, .125, .175, .875, 2.875], rtol=1e-6)
    slope = smooth_l1_backward(np.ones_like(SIGMA2_X), cache)
    np.testing.assert_allclose(slope, [-1, -1, -.8, 0, .8, 1, 1, 1, 1], rtol=1e-6)


def test_backward_multiplies_the_head_gradient():
    _, cache = smooth_l1_forward(M_X)
    head = np.full(M_X.shape, 3, np.float32)
    np.testing.assert_allclose(smooth_l1_backward(head, cache), 3 * smooth_l1_backward(np.ones_like(M_X), cache))


def test_threshold_point_is_continuous():
    x = np.array([-1.0, 1.0])
    y, cache = smooth_l1_forward(x, scalar=1.0)
    np.testing.assert_array_equal(y, [0.5, 0.5])
    np.testing.assert_array_equal(smooth_l1_backward(np.ones(2), cache), [-1, 1])


@given(seed=st.integers(0, 10**6), sigma=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
       shape=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_gradient_matches_central_differences_away_from_the_kinks(seed, sigma, shape):
    rng = np.random.default_rng(seed)
    t = 1 / sigma**2
    x = rng.uniform(-3 * t, 3 * t, size=shape)
    x = np.where(np.abs(np.abs(x) - t) < 1e-3 * t, x + 2e-3 * t, x)   # keep h away from |x| == t
    results = check_gradients(lambda x: smooth_l1_forward(x, scalar=sigma)[0],
                              lambda g, x: [smooth_l1_backward(g[0], smooth_l1_forward(x, scalar=sigma)[1])],
                              {"x": x})
    assert results[0].relative_error <= 1e-6


@given(seed=st.integers(0, 10**6))
def test_float32_and_float64_agree(seed):
    x = np.random.default_rng(seed).standard_normal((3, 7)) * 2
    y64, c64 = smooth_l1_forward(x)
    y32, c32 = smooth_l1_forward(x.astype(np.float32))
    np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(smooth_l1_backward(np.ones((3, 7), np.float32), c32),
                               smooth_l1_backward(np.ones((3, 7)), c64), rtol=1e-6, atol=1e-7)


def test_input_is_not_mutated():
    x = M_X.copy()
    smooth_l1_forward(x)
    np.testing.assert_array_equal(x, M_X)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: smooth_l1_forward(M_X, scalar=0.0), ValueError, "smooth_l1: scalar"),
    (lambda: smooth_l1_forward(np.zeros(3, np.int64)), TypeError, "smooth_l1: data must be float32"),
    (lambda: smooth_l1_backward(np.zeros(3), smooth_l1_forward(M_X)[1]), ValueError, "head gradient must match"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
