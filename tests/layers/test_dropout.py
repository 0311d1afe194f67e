"""Dropout (ssdref.layers.dropout): identity at inference, seeded scaled mask, shared axes, gradcheck."""
import numpy as np
import pytest

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.dropout import dropout_backward, dropout_forward, mask_output


def test_inference_is_identity_with_gradient_g():
    x = np.arange(6.0).reshape(2, 3)
    y, cache = dropout_forward(x, p=0.5, is_train=False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(dropout_backward(np.full_like(x, 3), cache), np.full_like(x, 3))


def test_training_values_are_zero_or_scaled_and_seeded():
    x = np.ones((100, 100), np.float32)
    y, cache = dropout_forward(x, p=0.25)
    assert set(np.unique(y)) == {np.float32(0), np.float32(1 / 0.75)}
    assert 0.22 < np.mean(y == 0) < 0.28
    np.testing.assert_array_equal(dropout_forward(x, p=0.25)[0], y)          # same seed, same mask
    assert not np.array_equal(dropout_forward(x, p=0.25, seed=1)[0], y)


def test_backward_uses_the_mask():
    x = np.ones((4, 5))
    y, cache = dropout_forward(x, p=0.5)
    np.testing.assert_array_equal(dropout_backward(np.full_like(x, 3), cache), 3 * y)
    np.testing.assert_array_equal(mask_output(cache, x.dtype), y)


def test_mode_always_drops_at_inference():
    y, _ = dropout_forward(np.ones((50, 50)), p=0.5, mode="always", is_train=False)
    assert (y == 0).any()


def test_axes_share_one_mask_value():
    y, _ = dropout_forward(np.ones((2, 3, 4)), p=0.5, axes=(1,))
    for n in range(2):
        for k in range(4):
            assert len(set(y[n, :, k])) == 1 and y[n, 0, k] in (0, 2)


def test_p_zero_identity_and_p_one_zero():
    x = np.ones((3, 3))
    np.testing.assert_array_equal(dropout_forward(x, p=0.0)[0], x)
    y, cache = dropout_forward(x, p=1.0)
    np.testing.assert_array_equal(y, 0)
    np.testing.assert_array_equal(dropout_backward(x, cache), 0)


def test_gradient_matches_central_differences():
    x = np.random.default_rng(0).standard_normal((3, 4))

    def forward(x):
        return dropout_forward(x, p=0.3)[0]

    def backward(heads, x):
        return [dropout_backward(heads[0], dropout_forward(x, p=0.3)[1])]

    assert check_gradients(forward, backward, {"x": x})[0].relative_error <= 1e-6


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
        dropout_forward(np.ones(3), p=1.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        dropout_forward(np.ones(3), mode="sometimes")
    with pytest.raises(ValueError, match="axes must be axes of data"):
        dropout_forward(np.ones((2, 3)), axes=(2,))
