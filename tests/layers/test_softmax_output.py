"""SoftmaxOutput: spec case S, the normalizations, ignore handling, options, and the gradient as the
derivative of the normalized cross-entropy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import numerical_gradient, relative_error
from ssdref.layers.softmax import softmax_forward
from ssdref.layers.softmax_output import softmax_output_backward, softmax_output_forward

# Spec §8 case S: C = 3 classes (rows), N = 3 anchors (columns), one image.
S_DATA = np.array([[[1, 2, .5], [0, -1, .5], [2, 0, .5]]], dtype=np.float32)
S_LABEL = np.array([[2, -1, 0]], dtype=np.float32)
S_PROB = [[.2447285, .8437947, .3333333], [.0900306, .0420101, .3333333], [.6652409, .1141952, .3333333]]
S_GRAD_VALID = [[.1223642, 0, -.3333333], [.0450153, 0, .1666667], [-.1673795, 0, .1666667]]
SSD = dict(multi_output=True, use_ignore=True, ignore_label=-1.0)


def grad(data, label, **params):
    _, cache = softmax_output_forward(data, label, **params)
    return softmax_output_backward(None, cache)[0]


def test_case_s_forward_matches_spec():
    prob, _ = softmax_output_forward(S_DATA, S_LABEL, **SSD, normalization="valid")
    np.testing.assert_allclose(prob[0], S_PROB, atol=1e-7)


def test_case_s_valid_gradient_divides_by_the_two_valid_labels():
    np.testing.assert_allclose(grad(S_DATA, S_LABEL, **SSD, normalization="valid")[0], S_GRAD_VALID, atol=1e-7)


@pytest.mark.parametrize("normalization", ["null", "batch"])
def test_case_s_null_and_batch_divide_by_three_with_one_image(normalization):
    expected = np.array(S_GRAD_VALID) * 2 / 3
    np.testing.assert_allclose(grad(S_DATA, S_LABEL, **SSD, normalization=normalization)[0], expected, atol=1e-7)
    np.testing.assert_allclose(expected[0, 0], .0815762, atol=1e-7)


def test_valid_counts_non_ignored_labels_over_the_whole_batch():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2, 4, 5)).astype(np.float32)
    label = np.array([[1, -1, 3, 0, -1], [-1, -1, -1, 2, -1]], dtype=np.float32)   # 3 + 1 = 4 valid
    prob, cache = softmax_output_forward(data, label, **SSD, normalization="valid")
    onehot = np.zeros_like(prob)
    for b, a in zip(*np.nonzero(label >= 0)):
        onehot[b, int(label[b, a]), a] = 1
    expected = (prob - onehot) / np.float32(4) * (label >= 0)[:, None, :]
    np.testing.assert_allclose(softmax_output_backward(None, cache)[0], expected, atol=1e-7)


def test_batch_normalization_with_multi_output_divides_by_spatial_size_times_batch():
    data = np.random.default_rng(1).standard_normal((2, 3, 4))
    label = np.array([[0, 1, 2, 1], [2, 2, 0, 1]], dtype=np.float64)
    null = grad(data, label, multi_output=True, normalization="null")
    batch = grad(data, label, multi_output=True, normalization="batch")
    np.testing.assert_allclose(batch, null / 2, rtol=1e-15)
    prob, _ = softmax_forward(data, axis=1)
    np.testing.assert_allclose(null[0, 0, 0], (prob[0, 0, 0] - 1) / 4, rtol=1e-15)


def test_all_labels_ignored_gives_zero_gradient():
    label = np.full((1, 3), -1, dtype=np.float32)
    for normalization in ("null", "batch", "valid"):
        g = grad(S_DATA, label, **SSD, normalization=normalization)
        np.testing.assert_array_equal(g, np.zeros_like(S_DATA))


def test_head_gradient_is_ignored_and_label_gets_zero_gradient():
    _, cache = softmax_output_forward(S_DATA, S_LABEL, **SSD, normalization="valid")
    a, dlabel = softmax_output_backward(None, cache)
    b, _ = softmax_output_backward(np.full(S_DATA.shape, 7, np.float32), cache)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dlabel, np.zeros_like(S_LABEL))
    assert a.dtype == np.float32 and a.shape == S_DATA.shape


# Spec mxnet-layers.md §12: 2-D data with label (N,), the non-multi_output path.
D2 = np.array([[1, 2, 3], [1, 1, 1]], dtype=np.float64)
L2 = np.array([2, 0], dtype=np.float64)
P_MINUS_ONEHOT = np.array([[0.090031, 0.244728, -0.334759], [-0.666667, 0.333333, 0.333333]])


@pytest.mark.parametrize("params, expected", [
    ({}, P_MINUS_ONEHOT),
    ({"normalization": "batch"}, P_MINUS_ONEHOT / 2),
    ({"normalization": "valid"}, P_MINUS_ONEHOT / 2),
    ({"grad_scale": 2.0}, P_MINUS_ONEHOT * 2),
    ({"use_ignore": True, "ignore_label": 0.0}, P_MINUS_ONEHOT * [[1], [0]]),
    ({"normalization": "valid", "ignore_label": 0.0}, P_MINUS_ONEHOT),     # counted 1, not zeroed
    ({"out_grad": True}, [[0.008106, 0.059892, -0.222695], [-0.222222, 0.111111, 0.111111]]),
])
def test_two_d_options_match_the_spec_table(params, expected):
    np.testing.assert_allclose(grad(D2, L2, **params), expected, atol=2e-6)


def test_smooth_alpha_spreads_alpha_over_the_other_classes():
    np.testing.assert_allclose(grad(D2, L2, smooth_alpha=0.3)[0], [-0.059969, 0.094728, -0.034759], atol=2e-6)


def test_multi_output_ignores_smooth_alpha():
    # MXNet 1.9.1: the multi_output backward is p - onehot whatever smooth_alpha (measured; the
    # rows and preserve_shape paths do smooth).
    data = np.array([[[0.5, 2.5, 0.0], [-3.0, 0.5, 1.0]]], np.float32)
    label = np.array([[0.0, 1.0, 1.0]], np.float32)
    for extra in ({}, {"use_ignore": True, "ignore_label": 1.0, "normalization": "valid"}):
        np.testing.assert_array_equal(grad(data, label, multi_output=True, smooth_alpha=0.3, **extra),
                                      grad(data, label, multi_output=True, **extra))


def test_multi_output_accepts_smooth_alpha_with_one_class():
    data, label = np.zeros((1, 1, 3)), np.zeros((1, 3))
    np.testing.assert_array_equal(grad(data, label, multi_output=True, smooth_alpha=0.3), np.zeros((1, 1, 3)))


def test_preserve_shape_honours_smooth_alpha():
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    label = np.zeros((2, 3))
    prob, cache = softmax_output_forward(data, label, preserve_shape=True, smooth_alpha=0.3)
    target = np.where(np.arange(4) == 0, 0.7, 0.1)
    np.testing.assert_allclose(softmax_output_backward(None, cache)[0], prob - target, rtol=1e-14, atol=1e-16)


def test_labels_are_truncated_and_out_of_range_labels_subtract_nothing():
    prob, _ = softmax_output_forward(D2, L2)
    np.testing.assert_allclose(grad(D2, np.array([1.7, 5.0])), prob - [[0, 1, 0], [0, 0, 0]], rtol=1e-15)
    np.testing.assert_allclose(grad(D2, np.array([-1.0, 0.0])), prob - [[0, 0, 0], [1, 0, 0]], rtol=1e-15)


def test_preserve_shape_softmaxes_the_last_axis_without_division():
    data = np.random.default_rng(2).standard_normal((2, 3, 2))
    label = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.float64)
    prob, cache = softmax_output_forward(data, label, preserve_shape=True)
    np.testing.assert_allclose(prob, softmax_forward(data, axis=-1)[0], rtol=1e-15)
    onehot = np.stack([1 - label, label], axis=-1)
    np.testing.assert_allclose(softmax_output_backward(None, cache)[0], prob - onehot, rtol=1e-15)


def test_non_multi_output_flattens_rank_three_data_to_batch_rows():
    data = np.random.default_rng(3).standard_normal((2, 3, 2))
    prob, cache = softmax_output_forward(data, np.array([4.0, 1.0]))
    flat = softmax_forward(data.reshape(2, 6), axis=1)[0]
    np.testing.assert_allclose(prob, flat.reshape(2, 3, 2), rtol=1e-15)
    expected = flat - np.eye(6)[[4, 1]]
    np.testing.assert_allclose(softmax_output_backward(None, cache)[0], expected.reshape(2, 3, 2), rtol=1e-15)


def test_multi_output_accepts_flat_spatial_and_singleton_channel_labels():
    data = np.random.default_rng(4).standard_normal((2, 3, 2, 2))
    flat = np.array([[0, 1, 2, 1], [2, 2, 0, -1]], dtype=np.float64)
    reference = grad(data, flat, **SSD, normalization="valid")
    np.testing.assert_array_equal(grad(data, flat.reshape(2, 2, 2), **SSD, normalization="valid"), reference)
    np.testing.assert_array_equal(grad(data, flat.reshape(2, 1, 2, 2), **SSD, normalization="valid"), reference)


def test_label_with_data_shape_is_a_probability_target():
    target = np.array([[0.2, 0.3, 0.5], [1, 0, 0]])
    prob, _ = softmax_output_forward(D2, L2)
    np.testing.assert_allclose(grad(D2, target, grad_scale=3.0, normalization="valid"), (prob - target) * 3,
                               rtol=1e-15)


@given(seed=st.integers(0, 10**6), batch=st.integers(1, 3), classes=st.integers(2, 4),
       anchors=st.integers(1, 4), normalization=st.sampled_from(["null", "batch", "valid"]),
       grad_scale=st.sampled_from([1.0, 0.5, 3.0]))
def test_float64_gradient_is_the_derivative_of_normalized_cross_entropy(
        seed, batch, classes, anchors, normalization, grad_scale):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((batch, classes, anchors))
    label = rng.integers(-1, classes, size=(batch, anchors)).astype(np.float64)
    valid = label >= 0
    normalizer = {"null": anchors, "batch": anchors * batch, "valid": max(1, int(valid.sum()))}[normalization]

    def objective():
        prob = softmax_forward(data, axis=1)[0]
        picked = np.take_along_axis(prob, np.maximum(label, 0).astype(int)[:, None, :], axis=1)[:, 0]
        return np.array(grad_scale * np.sum(-np.log(picked) * valid) / normalizer)

    numerical = numerical_gradient(objective, data, np.array(1.0))
    analytic = grad(data, label, **SSD, normalization=normalization, grad_scale=grad_scale)
    assert relative_error(analytic, numerical) <= 1e-6


@given(seed=st.integers(0, 10**6), normalization=st.sampled_from(["null", "batch", "valid"]))
def test_float32_and_float64_agree(seed, normalization):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((2, 5, 6))
    label = rng.integers(-1, 5, size=(2, 6)).astype(np.float64)
    g64 = grad(data, label, **SSD, normalization=normalization)
    g32 = grad(data.astype(np.float32), label.astype(np.float32), **SSD, normalization=normalization)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7)


def test_float32_forward_equals_the_bit_exact_softmax_over_classes():
    rng = np.random.default_rng(9)
    data = (rng.standard_normal((2, 21, 30)) * 3).astype(np.float32)
    prob, _ = softmax_output_forward(data, np.zeros((2, 30), np.float32), multi_output=True)
    np.testing.assert_array_equal(prob, softmax_forward(data, axis=1)[0])


def test_inputs_are_not_mutated():
    data, label = S_DATA.copy(), S_LABEL.copy()
    grad(data, label, **SSD, normalization="valid")
    np.testing.assert_array_equal(data, S_DATA)
    np.testing.assert_array_equal(label, S_LABEL)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: softmax_output_forward(D2, np.zeros(3)), ValueError, r"SoftmaxOutput: label must have shape \(2,\)"),
    (lambda: softmax_output_forward(S_DATA, np.zeros((1, 4), np.float32), multi_output=True), ValueError,
     "SoftmaxOutput: label must have shape"),
    (lambda: softmax_output_forward(D2, L2.astype(np.float32)), TypeError, "inputs must share one dtype"),
    (lambda: softmax_output_forward(D2, L2, normalization="mean"), ValueError, "normalization must be one of"),
    (lambda: softmax_output_forward(D2, np.array([np.nan, 0])), ValueError, "label must be finite"),
    (lambda: softmax_output_forward(np.zeros(3), np.zeros(())), ValueError, "at least 2 dimensions"),
    (lambda: softmax_output_forward(D2, L2, smooth_alpha=1.5), ValueError, "smooth_alpha must be <= 1.0"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
