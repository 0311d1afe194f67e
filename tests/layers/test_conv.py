"""Convolution (ssdref.layers.conv): spec §2 examples, float64 gradcheck, adjoint identities, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.conv import conv_backward, conv_forward


def test_dilated_padded_example_from_spec():
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
    y, _ = conv_forward(x, np.ones((1, 1, 3, 3), np.float32), np.zeros(1, np.float32),
                        kernel=(3, 3), pad=(1, 1), dilate=(2, 2))
    np.testing.assert_array_equal(y[0, 0], [[52, 78, 52], [78, 117, 78], [52, 78, 52]])
    assert y.dtype == np.float32


def test_one_dimensional_example_from_spec():
    y, _ = conv_forward(np.ones((1, 1, 5)), np.ones((1, 1, 3)), None, kernel=(3,))
    np.testing.assert_array_equal(y, [[[3, 3, 3]]])


def test_cross_correlation_not_convolution():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    y, _ = conv_forward(x, w, None, pad=1)
    # y[i, j] = sum_uv x[i+u-1, j+v-1] w[u, v]; the impulse at (0, 0) meets w[1-i, 1-j]
    assert y[0, 0, 0, 0] == w[0, 0, 1, 1] and y[0, 0, 1, 1] == w[0, 0, 0, 0]


def test_groups_use_their_own_channels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((6, 2, 3, 3))
    y, _ = conv_forward(x, w, None, num_group=2)
    y0, _ = conv_forward(x[:, :2], w[:3], None)
    y1, _ = conv_forward(x[:, 2:], w[3:], None)
    np.testing.assert_allclose(y, np.concatenate([y0, y1], axis=1), rtol=1e-12)


@pytest.mark.parametrize("size,k,s,d,p,expected", [(5, 3, 1, 1, 0, 3), (7, 3, 2, 1, 1, 4),
                                                   (19, 3, 1, 6, 6, 19), (6, 7, 1, 1, 3, 6)])
def test_output_size_formula(size, k, s, d, p, expected):
    x = np.zeros((1, 1, size, size))
    y, _ = conv_forward(x, np.zeros((1, 1, k, k)), None, stride=s, dilate=d, pad=p)
    assert y.shape == (1, 1, expected, expected)


configs = st.fixed_dictionaries({
    "ndim": st.sampled_from([1, 2, 2, 3]), "batch": st.integers(1, 2),
    "group": st.sampled_from([1, 2]), "cpg": st.integers(1, 2), "fpg": st.integers(1, 2),
    "k": st.integers(1, 3), "s": st.integers(1, 2), "d": st.integers(1, 2), "p": st.integers(0, 2),
    "extra": st.integers(0, 3), "bias": st.booleans(), "seed": st.integers(0, 2**16)})


def _draw(c, dtype=np.float64):
    rng = np.random.default_rng(c["seed"])
    ndim = c["ndim"]
    need = max(c["d"] * (c["k"] - 1) + 1 - 2 * c["p"], 1)
    size = need + (min(c["extra"], 1) if ndim == 3 else c["extra"])  # keep 3-D cases small
    shape = (c["batch"], c["group"] * c["cpg"]) + (size,) * ndim
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c["group"] * c["fpg"], c["cpg"]) + (c["k"],) * ndim).astype(dtype)
    b = rng.standard_normal(c["group"] * c["fpg"]).astype(dtype) if c["bias"] else None
    args = dict(stride=c["s"], dilate=c["d"], pad=c["p"], num_group=c["group"])
    return x, w, b, args


@settings(max_examples=25)
@given(configs)
def test_gradients_match_central_differences(c):
    x, w, b, args = _draw(c)
    inputs = {"x": x, "w": w} | ({"b": b} if b is not None else {})

    def forward(x, w, b=None):
        return conv_forward(x, w, b, **args)[0]

    def backward(heads, x, w, b=None):
        dx, dw, db = conv_backward(heads[0], conv_forward(x, w, b, **args)[1])
        return {"x": dx, "w": dw, "b": db}

    for result in check_gradients(forward, backward, inputs, seed=c["seed"] + 1):
        assert result.relative_error <= 1e-6, result.name


@given(configs)
def test_adjoint_identities_and_float32_agreement(c):
    x, w, b, args = _draw(c)
    b = np.zeros(w.shape[0]) if b is None else b
    y, cache = conv_forward(x, w, b, **args)
    g = np.random.default_rng(1).standard_normal(y.shape)
    dx, dw, db = conv_backward(g, cache)
    # <dX, x> = <g, y - b> and <dW, w> + <db, b> = <g, y> (spec §2)
    assert np.isclose(np.sum(dx * x), np.sum(g * (y - b.reshape((1, -1) + (1,) * (y.ndim - 2)))))
    assert np.isclose(np.sum(dw * w) + np.sum(db * b), np.sum(g * y))
    y32, cache32 = conv_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **args)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y, rtol=1e-4, atol=1e-4)
    for a32, a64 in zip(conv_backward(g.astype(np.float32), cache32), (dx, dw, db)):
        np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-4)


def test_inputs_not_mutated_and_noncontiguous_ok():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3)).transpose(0, 1, 3, 2)
    w = rng.standard_normal((3, 6, 2, 2))
    x_before, w_before = x.copy(), w.copy()
    y, cache = conv_forward(x, w, None, pad=1)
    conv_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(y, conv_forward(np.ascontiguousarray(x), w, None, pad=1)[0])


@pytest.mark.parametrize("kwargs,shape_w,message", [
    (dict(kernel=(5, 5)), (1, 1, 5, 5), "kernel size exceeds input"),
    (dict(num_group=2), (2, 1, 3, 3), "divisible by num_group"),
    (dict(kernel=(3, 3)), (2, 1, 2, 2), "weight must have shape"),
    (dict(stride=0), (1, 1, 3, 3), "stride must be >= 1"),
    (dict(dilate=(1,)), (1, 1, 3, 3), "dilate must have 2 entries"),
])
def test_bad_arguments_raise_value_error(kwargs, shape_w, message):
    channels = 3 if kwargs.get("num_group") else 1
    with pytest.raises(ValueError, match=message):
        conv_forward(np.zeros((1, channels, 3, 3)), np.zeros(shape_w), None, **kwargs)


def test_mixed_dtypes_and_integers_raise_type_error():
    with pytest.raises(TypeError, match="share one dtype"):
        conv_forward(np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 3, 3)), None)
    with pytest.raises(TypeError, match="float32 or float64"):
        conv_forward(np.zeros((1, 1, 3, 3), np.int32), np.zeros((1, 1, 3, 3), np.int32), None)


def test_bad_bias_and_out_grad_shapes():
    with pytest.raises(ValueError, match="bias must have shape"):
        conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 3, 3)), np.zeros(3))
    _, cache = conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 3, 3)), None)
    with pytest.raises(ValueError, match="out_grad must have shape"):
        conv_backward(np.zeros((1, 2, 2, 2)), cache)
