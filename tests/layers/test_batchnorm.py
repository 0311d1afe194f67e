"""BatchNorm (ssdref.layers.batchnorm): spec §5 example, moving update in backward, gradcheck."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.batchnorm import (DEFAULT_EPS, batchnorm_backward, batchnorm_forward,
                                     batchnorm_moving_update)

X = np.array([[[[1, 2], [3, 4]], [[0, 0], [1, -1]]], [[[5, 6], [7, 9]], [[2, 2], [2, 3]]]], np.float32)
GAMMA, BETA = np.array([2, 3], np.float32), np.array([0.5, -1], np.float32)
MM, MV = np.zeros(2, np.float32), np.ones(2, np.float32)


def test_default_eps_is_float32_1e3_as_double():
    assert DEFAULT_EPS == 0.0010000000474974513


def test_training_example_from_spec_uses_biased_variance():
    (y, mean, invstd), cache = batchnorm_forward(X, GAMMA, BETA, MM, MV, fix_gamma=False)
    np.testing.assert_allclose(mean, [4.625, 1.125])
    np.testing.assert_allclose(cache.var, [6.234375, 1.609375])
    np.testing.assert_allclose(invstd, [0.400469, 0.788019], rtol=1e-5)
    np.testing.assert_allclose(y[0, 0].ravel(), [-2.403399, -1.602461, -0.801524, -0.000586], atol=2e-6)
    new_mean, new_var = batchnorm_moving_update(cache, MM, MV, momentum=0.9)
    np.testing.assert_allclose(new_mean, [0.4625, 0.1125], rtol=1e-6)
    np.testing.assert_allclose(new_var, [1.523438, 1.060938], rtol=1e-6)


def test_fix_gamma_ignores_gamma_and_gives_zero_dgamma():
    (y, _, _), cache = batchnorm_forward(X, GAMMA, BETA, MM, MV)
    np.testing.assert_allclose(y[0, 0].ravel(), [-0.951699, -0.551231, -0.150762, 0.249707], atol=2e-6)
    _, dgamma, _ = batchnorm_backward(np.ones_like(X), cache)
    np.testing.assert_array_equal(dgamma, [0, 0])
    np.testing.assert_array_equal(GAMMA, [2, 3])  # inputs are never mutated


def test_one_element_per_channel_gives_beta():
    (y, _, _), _ = batchnorm_forward(np.array([[[[3]], [[5]]]], np.float32), GAMMA, BETA, MM, MV)
    np.testing.assert_array_equal(y.ravel(), BETA)


def test_inference_uses_moving_statistics_and_no_update_with_global_stats():
    mm, mv = np.array([1, 2], np.float32), np.array([4, 9], np.float32)
    (y, mean, invstd), cache = batchnorm_forward(X, GAMMA, BETA, mm, mv, fix_gamma=False, is_train=False)
    np.testing.assert_allclose(y[1, 1, 0, 0], 3 * (2 - 2) / np.sqrt(9 + DEFAULT_EPS) - 1, rtol=1e-6)
    np.testing.assert_array_equal(mean, mm)
    np.testing.assert_allclose(invstd[0], 1 / np.sqrt(4 + DEFAULT_EPS), rtol=1e-6)
    (_, _, _), cache = batchnorm_forward(X, GAMMA, BETA, mm, mv, use_global_stats=True)
    assert all(a is b for a, b in zip(batchnorm_moving_update(cache, mm, mv), (mm, mv)))


def test_negative_axis_equals_positive_axis():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    params = [np.ones(5), np.zeros(5), np.zeros(5), np.ones(5)]
    (y_neg, _, _), _ = batchnorm_forward(x, *params, axis=-1)
    (y_pos, _, _), _ = batchnorm_forward(x, *params, axis=3)
    np.testing.assert_array_equal(y_neg, y_pos)


configs = st.fixed_dictionaries({
    "axis": st.sampled_from([1, -1, 0]), "fix_gamma": st.booleans(),
    "mode": st.sampled_from(["train", "global", "quirk"]), "seed": st.integers(0, 2**16)})


@settings(max_examples=30)
@given(configs)
def test_gradients_match_central_differences(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((3, 2, 2, 3))
    channels = x.shape[c["axis"]]
    inputs = {"x": x, "gamma": rng.uniform(0.5, 2, channels), "beta": rng.standard_normal(channels)}
    mm, mv = rng.standard_normal(channels), rng.uniform(0.5, 2, channels)
    args = dict(fix_gamma=c["fix_gamma"], axis=c["axis"], use_global_stats=c["mode"] == "global",
                is_train=c["mode"] != "global")

    def forward(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta, mm, mv, **args)[0][0]

    def backward(heads, x, gamma, beta):
        return batchnorm_backward(heads[0], batchnorm_forward(x, gamma, beta, mm, mv, **args)[1])

    # h = 1e-5: dx is a small difference of O(1) terms, so the default step's rounding noise shows
    for result in check_gradients(forward, backward, inputs, seed=c["seed"] + 1, h=1e-5):
        assert result.relative_error <= 1e-6, result.name


def test_autograd_quirk_backward_after_inference_forward_uses_training_formula():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 3, 3))
    ones, zeros = np.ones(2), np.zeros(2)
    _, cache = batchnorm_forward(x, ones, zeros, zeros, ones, is_train=False)
    g = rng.standard_normal(x.shape)
    dx_train, _, _ = batchnorm_backward(g, cache, train_mode=True)
    dx_plain, _, _ = batchnorm_backward(g, cache, train_mode=False)
    invstd = 1 / np.sqrt(1 + DEFAULT_EPS)
    np.testing.assert_allclose(dx_plain, g * invstd)
    m = g.size // 2
    x_hat = x * invstd
    mean_g = g.sum(axis=(0, 2, 3), keepdims=True) / m
    mean_gx = (g * x_hat).sum(axis=(0, 2, 3), keepdims=True) / m
    np.testing.assert_allclose(dx_train, invstd * (g - mean_g - x_hat * mean_gx), rtol=1e-12)


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5, 5)) * 3 + 1
    p64 = [rng.uniform(0.5, 2, 3), rng.standard_normal(3), np.zeros(3), np.ones(3)]
    (y64, _, _), c64 = batchnorm_forward(x, *p64, fix_gamma=False)
    (y32, _, _), c32 = batchnorm_forward(x.astype(np.float32), *[p.astype(np.float32) for p in p64],
                                         fix_gamma=False)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(x.shape)
    for a32, a64 in zip(batchnorm_backward(g.astype(np.float32), c32), batchnorm_backward(g, c64)):
        assert a32.dtype == np.float32
        np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="Channel axis out of range"):
        batchnorm_forward(X, GAMMA, BETA, MM, MV, axis=4)
    with pytest.raises(ValueError, match=r"gamma must have shape \(2,\)"):
        batchnorm_forward(X, np.ones(3, np.float32), BETA, MM, MV)
    with pytest.raises(TypeError, match="share one dtype"):
        batchnorm_forward(X, GAMMA.astype(np.float64), BETA, MM, MV)
