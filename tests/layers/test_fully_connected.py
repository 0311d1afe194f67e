"""FullyConnected: spec mxnet-layers §11 example, flatten modes, gradients, errors."""
import numpy as np
import pytest

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.fully_connected import fully_connected_backward, fully_connected_forward


def test_spec_example_flatten_true():
    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    w = np.arange(12, dtype=np.float32).reshape(2, 6) / 10
    b = np.array([1, -1], np.float32)
    y, cache = fully_connected_forward(x, w, b)
    np.testing.assert_allclose(y, [[6.5, 13.5], [15.5, 44.1]], rtol=1e-6)
    dx, dw, db = fully_connected_backward(np.array([[1, 2], [3, 4]], np.float32), cache)
    np.testing.assert_allclose(dw, [[18, 22, 26, 30, 34, 38], [24, 30, 36, 42, 48, 54]])
    np.testing.assert_allclose(db, [4, 6])
    assert dx.shape == x.shape


def test_flatten_false_acts_on_last_axis_and_bias_grad_sums_leading_axes():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    y, cache = fully_connected_forward(x, np.ones((2, 2)), np.zeros(2), flatten=False)
    assert y.shape == (2, 3, 2)
    _, _, db = fully_connected_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(db, [6, 6])


@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_gradients_match_central_differences(flatten, with_bias):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    k = 12 if flatten else 4
    inputs = {"x": x, "w": rng.standard_normal((5, k))}
    if with_bias:
        inputs["b"] = rng.standard_normal(5)

    def forward(x, w, b=None):
        return fully_connected_forward(x, w, b, flatten=flatten)[0]

    def backward(heads, x, w, b=None):
        _, cache = fully_connected_forward(x, w, b, flatten=flatten)
        dx, dw, db = fully_connected_backward(heads[0], cache)
        return {"x": dx, "w": dw, "b": db}

    for result in check_gradients(forward, backward, inputs):
        assert result.relative_error <= 1e-6, result.name


def test_wrong_weight_shape_names_op_and_argument():
    with pytest.raises(ValueError, match="FullyConnected: weight must have shape"):
        fully_connected_forward(np.zeros((2, 6), np.float32), np.zeros((3, 5), np.float32), None)


def test_mixed_dtypes_are_a_type_error():
    with pytest.raises(TypeError, match="FullyConnected"):
        fully_connected_forward(np.zeros((2, 6), np.float32), np.zeros((3, 6)), None)
