"""MakeLoss and BlockGrad: spec case M gradients, strict 'valid' counting, identity forwards."""
import numpy as np
import pytest

from ssdref.layers.make_loss import (block_grad_backward, block_grad_forward, make_loss_backward,
                                     make_loss_forward)
from ssdref.layers.smooth_l1 import smooth_l1_backward, smooth_l1_forward

M_LOSS_INPUT = np.array([[0, .5, .3], [1, 0, 0]], dtype=np.float32)


def constant_grad(data, **params):
    _, cache = make_loss_forward(data, **params)
    g = make_loss_backward(None, cache)
    assert np.all(g == g.flat[0]) and g.shape == data.shape and g.dtype == data.dtype
    return float(g.flat[0])


@pytest.mark.parametrize("params, expected", [
    ({"normalization": "null"}, 1.0),
    ({"normalization": "batch"}, 0.5),
    ({"normalization": "valid", "valid_thresh": 0.4}, 0.5),
    ({"normalization": "valid"}, 1 / 3),
    ({"normalization": "valid", "grad_scale": 2.0}, 2 / 3),
    ({"normalization": "null", "grad_scale": 0.0}, 0.0),
])
def test_case_m_make_loss_gradients(params, expected):
    assert constant_grad(M_LOSS_INPUT, **params) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("shape, rows", [((5,), 1), ((4, 3), 4), ((2, 3, 4), 6), ((2, 1, 3, 2), 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_divides_by_the_rows_of_the_flattened_2d_view(shape, rows, dtype):
    # Measured on MXNet 1.9.1 (grad_scale=2): 2 for (5,), 0.5 for (4, 3), 1/3 for (2, 3, 4) and
    # (2, 1, 3, 2): the divisor is prod(shape[:-1]), not shape[0] (spec §4.3's "/ B" is 2-D only).
    data = np.ones(shape, dtype)
    assert constant_grad(data, normalization="batch", grad_scale=2.0) == dtype(2.0) / dtype(rows)


def test_valid_on_an_all_zero_input_divides_by_one():
    assert constant_grad(np.zeros((2, 3), np.float32), normalization="valid") == 1.0


def test_valid_counts_strictly_greater_than_the_threshold():
    data = np.array([0.4, 0.4, 0.5, -1.0])
    assert constant_grad(data, normalization="valid", valid_thresh=0.4) == 1.0          # only 0.5
    assert constant_grad(data, normalization="valid", valid_thresh=-2.0) == 0.25


def test_case_m_loc_loss_gradient_through_smooth_l1():
    x = np.array([[0, .5, -2, 0], [1.5, 0, 0, -.2]], dtype=np.float32)
    loss, sl1_cache = smooth_l1_forward(x)
    out, ml_cache = make_loss_forward(loss, normalization="valid")
    np.testing.assert_array_equal(out, loss)
    dx = smooth_l1_backward(make_loss_backward(np.full_like(out, 9), ml_cache), sl1_cache)
    np.testing.assert_allclose(dx, [[0, .125, -.25, 0], [.25, 0, 0, -.05]], rtol=1e-7)


def test_make_loss_forward_is_an_identity_copy():
    data = M_LOSS_INPUT.copy()
    out, _ = make_loss_forward(data)
    np.testing.assert_array_equal(out, M_LOSS_INPUT)
    out[0, 0] = 5
    np.testing.assert_array_equal(data, M_LOSS_INPUT)


def test_block_grad_is_identity_with_zero_gradient():
    x = np.array([1.0, 2.0])
    y, cache = block_grad_forward(x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(block_grad_backward(np.array([5.0, 6.0]), cache), [0, 0])
    # d(BlockGrad(x) * x)/dx = BlockGrad(x) = x: only the unblocked factor carries gradient.
    head = np.ones(2)
    np.testing.assert_array_equal(head * y + block_grad_backward(head * x, cache), x)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: make_loss_forward(M_LOSS_INPUT, normalization="mean"), ValueError, "MakeLoss: normalization"),
    (lambda: make_loss_forward(np.zeros(3, np.int32)), TypeError, "MakeLoss: data must be float32"),
    (lambda: make_loss_forward(np.zeros(()), normalization="batch"), ValueError, "at least 1 dimension"),
    (lambda: make_loss_forward(np.zeros((0, 3)), normalization="batch"), ValueError, "nonzero leading axes"),
    (lambda: block_grad_forward("x"), TypeError, "BlockGrad: data must be a numpy array"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
