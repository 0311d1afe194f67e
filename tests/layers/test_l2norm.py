"""L2Normalization (ssdref.layers.l2norm): spec examples, sequential float32 sum, gradcheck."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.l2norm import l2norm_backward, l2norm_forward, norm_output

X = np.array([[[[3, 0], [1, 2]], [[4, 0], [1, 2]]]], np.float32)
G = np.arange(8, dtype=np.float32).reshape(X.shape)


@pytest.mark.parametrize("mode,y_expected,dx_expected", [
    ("instance", [0.507093, 0, 0.169031, 0.338062, 0.676123, 0, 0.169031, 0.338062],
     [-0.637488, 0.169031, 0.125566, 0.082101, -0.17386, 0.845154, 0.801689, 0.758224]),
    ("spatial", [0.801784, 0, 0.267261, 0.534522, 0.872872, 0, 0.218218, 0.436436],
     [-0.458162, 0.267261, 0.381802, 0.496342, -0.62348, 1.091089, 0.935219, 0.77935]),
])
def test_instance_and_spatial_examples_from_spec(mode, y_expected, dx_expected):
    y, cache = l2norm_forward(X, mode=mode)
    np.testing.assert_allclose(y.ravel(), y_expected, atol=1e-6)
    np.testing.assert_allclose(l2norm_backward(G, cache).ravel(), dx_expected, atol=1e-5)


def test_channel_mode_normalizes_each_position():
    y, cache = l2norm_forward(X, mode="channel")
    np.testing.assert_allclose(y[0, :, 0, 0], [0.6, 0.8], rtol=1e-6)
    assert norm_output(cache).shape == (1, 1, 2, 2)


def test_all_zero_location_passes_gradient_times_1e5():
    x = np.zeros((1, 3, 2, 2), np.float32)
    x[0, :, 1, 1] = [1, 2, 2]
    y, cache = l2norm_forward(x, mode="channel")
    dx = l2norm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx[0, :, 0, 0], 100000, rtol=1e-6)
    assert np.isfinite(dx).all()


def test_eps_is_inside_the_square_root():
    y, _ = l2norm_forward(X, mode="instance", eps=1.0)
    # sum of squares 35, + eps 1 inside the root: y = x / 6 (spec §10: [0.5, 0, 0.166667, ...])
    np.testing.assert_allclose(y.ravel()[:3], [0.5, 0, 0.166667], atol=1e-6)


def test_instance_mode_on_2d_input():
    y, cache = l2norm_forward(np.array([[3, 4], [1, 0]], np.float64))
    np.testing.assert_allclose(y, [[0.6, 0.8], [1, 0]])
    assert norm_output(cache).shape == (2,)


def test_channel_sum_is_sequential_in_float32_from_eps():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 37, 3)) * rng.uniform(0.01, 100, (1, 37, 1))).astype(np.float32)
    _, cache = l2norm_forward(x, mode="channel")
    for b in range(2):
        for j in range(3):
            total = np.float32(1e-10)
            for c in range(37):
                total = np.float32(total + np.float32(x[b, c, j] * x[b, c, j]))
            assert norm_output(cache)[b, 0, j] == np.sqrt(total)


def test_instance_and_spatial_sums_are_sequential_too():
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((2, 3, 11)) * rng.uniform(0.01, 100, (1, 3, 11))).astype(np.float32)
    _, cache = l2norm_forward(x, mode="spatial")
    total = np.float32(1e-10)
    for v in x[1, 2]:
        total = np.float32(total + np.float32(v * v))
    assert norm_output(cache)[1, 2] == np.sqrt(total)
    assert norm_output(cache).shape == (2, 3)


@given(st.sampled_from(["instance", "channel", "spatial"]), st.integers(0, 2**16))
def test_gradients_match_central_differences(mode, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, 2, 2))

    def forward(x):
        return l2norm_forward(x, mode=mode)[0]

    def backward(heads, x):
        return [l2norm_backward(heads[0], l2norm_forward(x, mode=mode)[1])]

    # head-gradient seed != data seed: g equal to x would be orthogonal to every direction that counts
    assert check_gradients(forward, backward, {"x": x}, seed=seed + 1)[0].relative_error <= 1e-6


@given(st.sampled_from(["instance", "channel", "spatial"]), st.integers(0, 2**16))
def test_float32_agrees_with_float64(mode, seed):
    x = np.random.default_rng(seed).standard_normal((2, 4, 3))
    y64, c64 = l2norm_forward(x, mode=mode)
    y32, c32 = l2norm_forward(x.astype(np.float32), mode=mode)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(l2norm_backward(np.ones_like(y32), c32),
                               l2norm_backward(np.ones_like(y64), c64), rtol=1e-4, atol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 3 dimensions in spatial mode"):
        l2norm_forward(np.ones((2, 3)), mode="spatial")
    with pytest.raises(ValueError, match="mode must be one of"):
        l2norm_forward(X, mode="batch")
    _, cache = l2norm_forward(X)
    with pytest.raises(TypeError, match="share one dtype"):
        l2norm_backward(G.astype(np.float64), cache)
