"""Shape ops: Reshape's special codes (MXNet's documented examples), Flatten, transpose, Concat,
slice_axis, expand_dims; gradients and errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers import shape as sh


@pytest.mark.parametrize("codes, expected", [
    ((4, 0, 2), (4, 3, 2)), ((0, -1), (2, 12)), ((6, -1), (6, 4)), ((-1,), (24,)),
    ((-2,), (2, 3, 4)), ((2, -2), (2, 3, 4)), ((0, -2), (2, 3, 4)),
    ((-3, 4), (6, 4)), ((2, -3), (2, 12)),
    ((-4, 1, 2, -2), (1, 2, 3, 4)), ((-4, 2, -1, -2), (2, 1, 3, 4)), ((-4, -1, 1, -2), (2, 1, 3, 4)),
    ((0, -4, -1, 3, 4), (2, 1, 3, 4)), ((0, 0, 0, 1), (2, 3, 4, 1)), ((-1, 0), (8, 3)),
])
def test_reshape_special_codes_match_mxnet_examples_on_2_3_4(codes, expected):
    assert sh.infer_reshape_shape((2, 3, 4), codes) == expected
    y, _ = sh.reshape_forward(np.arange(24.0).reshape(2, 3, 4), shape=codes)
    assert y.shape == expected
    np.testing.assert_array_equal(y.ravel(), np.arange(24.0))


@pytest.mark.parametrize("in_shape, codes, reverse, expected", [
    ((2, 3, 4), (-1, 0), True, (6, 4)), ((10, 5, 4), (-1, 0), False, (40, 5)),
    ((10, 5, 4), (-1, 0), True, (50, 4)), ((2, 3, 4), (0, -1), True, (3, 8)), ((2, 3, 4), (-3, 0), True, (6, 4)),
])
def test_reshape_reverse_matches_special_values_right_to_left(in_shape, codes, reverse, expected):
    assert sh.infer_reshape_shape(in_shape, codes, reverse) == expected


def test_reshape_ssd_head_codes():
    assert sh.infer_reshape_shape((2, 8732 * 21), (0, -1, 21)) == (2, 8732, 21)
    assert sh.infer_reshape_shape((1, 8732 * 4), (0, -1, 4)) == (1, 8732, 4)


def test_reshape_partial_shapes_propagate_unknown_dims():
    assert sh.infer_reshape_shape((None, 12), (0, -1, 4)) == (None, None, 4)
    assert sh.infer_reshape_shape((2, None, 4), (0, -2)) == (2, None, 4)
    assert sh.infer_reshape_shape((2, None, 4), (-3, 4)) == (None, 4)


def test_reshape_legacy_target_shape_infers_the_zero_dim():
    assert sh.infer_reshape_shape((2, 3, 4), target_shape=(4, 0)) == (4, 6)
    assert sh.infer_reshape_shape((2, 3, 4), target_shape=(9, 0, 6), keep_highest=True) == (2, 2, 6)


@pytest.mark.parametrize("codes, match", [
    ((-1, -1), "at most one -1"), ((-4, 2, 2, 3, 4), "split dims 2, 2 do not divide original dim 2"),
    ((5, 5), "has 24"), ((5, -1), "has 24"), ((-5,), "shape values must be"), ((), "shape must be given"),
    ((-4, -1, -1), "cannot both be -1"), ((0, 0, 0, 0), "has no input dim to copy"),
])
def test_reshape_rejects_bad_codes_and_count_mismatches(codes, match):
    with pytest.raises(ValueError, match=match):
        sh.reshape_forward(np.zeros((2, 3, 4)), shape=codes)


def test_flatten_shapes_and_gradient():
    assert sh.flatten_forward(np.zeros(2))[0].shape == (2, 1)
    assert sh.flatten_forward(np.zeros((2, 3)))[0].shape == (2, 3)
    x = np.arange(24.0).reshape(2, 3, 4)
    y, cache = sh.flatten_forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, 12))
    np.testing.assert_array_equal(sh.flatten_backward(y * 2, cache), x * 2)


def test_transpose_default_reverses_and_gradient_uses_the_inverse_permutation():
    assert sh.transpose_forward(np.zeros((2, 3, 4)))[0].shape == (4, 3, 2)
    y, cache = sh.transpose_forward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y, [[0, 3], [1, 4], [2, 5]])
    dx = sh.transpose_backward(10 * np.arange(6.0).reshape(3, 2), cache)
    np.testing.assert_array_equal(dx, [[0, 20, 40], [10, 30, 50]])


def test_concat_example_and_split_gradient():
    a = np.array([[0., 1], [2, 3]])
    b = np.array([[10., 11, 12], [13, 14, 15]])
    y, cache = sh.concat_forward(a, b, dim=1)
    np.testing.assert_array_equal(y, np.hstack([a, b]))
    da, db = sh.concat_backward(np.arange(10.0).reshape(2, 5), cache)
    np.testing.assert_array_equal(da, [[0, 1], [5, 6]])
    np.testing.assert_array_equal(db, [[2, 3, 4], [7, 8, 9]])
    assert sh.concat_forward(a, b, dim=-1)[0].shape == (2, 5)
    assert sh.concat_forward(a)[0].shape == (2, 2)


def test_slice_axis_example_and_gradient():
    b = np.array([[10., 11, 12], [13, 14, 15]])
    y, cache = sh.slice_axis_forward(b, axis=1, begin=1, end=None)
    np.testing.assert_array_equal(y, [[11, 12], [14, 15]])
    np.testing.assert_array_equal(sh.slice_axis_backward(np.full((2, 2), 7.0), cache), [[0, 7, 7], [0, 7, 7]])
    np.testing.assert_array_equal(sh.slice_axis_forward(b, axis=-1, begin=-2, end=-1)[0], [[11], [14]])


def test_expand_dims_axis_range():
    x = np.zeros((2, 3))
    assert sh.expand_dims_forward(x, axis=-1)[0].shape == (2, 3, 1)
    assert sh.expand_dims_forward(x, axis=2)[0].shape == (2, 3, 1)
    assert sh.expand_dims_forward(x, axis=-3)[0].shape == (1, 2, 3)
    with pytest.raises(ValueError, match=r"expand_dims: axis must be in \[-3, 2\], got 3"):
        sh.expand_dims_forward(x, axis=3)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sh.transpose_forward(np.zeros((2, 3, 4)), axes=(0, -1, 1)), ValueError, "permutation"),
    (lambda: sh.transpose_forward(np.zeros((2, 3, 4)), axes=(0, 1)), ValueError, "one entry per input dim"),
    (lambda: sh.concat_forward(np.zeros((2, 2)), np.zeros((3, 3)), dim=1), ValueError, "arg1 must match"),
    (lambda: sh.concat_forward(np.zeros((2, 2)), np.zeros((2, 2), np.float32)), TypeError, "share one dtype"),
    (lambda: sh.concat_forward(np.zeros((2, 2)), dim=2), ValueError, "dim must be in"),
    (lambda: sh.slice_axis_forward(np.zeros((2, 3)), axis=1, begin=2, end=1), ValueError, "begin=2, end=1"),
    (lambda: sh.slice_axis_forward(np.zeros((2, 3)), axis=1, begin=0, end=5), ValueError, "axis size 3"),
    (lambda: sh.slice_axis_forward(np.zeros((2, 3)), axis=2, begin=0, end=1), ValueError, "axis must be"),
    (lambda: sh.flatten_forward(np.zeros((2, 3), np.int64)), TypeError, "Flatten: data must be float32"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _check(forward, backward, inputs):
    results = check_gradients(forward, backward, inputs)
    assert max(r.relative_error for r in results) <= 1e-6


@given(seed=st.integers(0, 10**6), shape=st.lists(st.integers(1, 4), min_size=2, max_size=4))
def test_shape_op_gradients_match_central_differences(seed, shape):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    ndim = len(shape)
    axes = tuple(rng.permutation(ndim))
    axis = int(rng.integers(0, ndim))
    begin = int(rng.integers(0, shape[axis]))
    for fwd, bwd in [
        (sh.flatten_forward, sh.flatten_backward),
        (lambda x: sh.reshape_forward(x, shape=(0, -1)), sh.reshape_backward),
        (lambda x: sh.transpose_forward(x, axes=axes), sh.transpose_backward),
        (lambda x: sh.slice_axis_forward(x, axis=axis, begin=begin, end=None), sh.slice_axis_backward),
        (lambda x: sh.expand_dims_forward(x, axis=axis), sh.expand_dims_backward),
    ]:
        _check(lambda x: fwd(x)[0], lambda g, x: [bwd(g[0], fwd(x)[1])], {"x": x})
    other = list(shape)
    other[axis] += 1
    y = rng.standard_normal(other)
    _check(lambda x, y: sh.concat_forward(x, y, dim=axis)[0],
           lambda g, x, y: sh.concat_backward(g[0], sh.concat_forward(x, y, dim=axis)[1]), {"x": x, "y": y})


def test_outputs_never_alias_inputs_and_keep_dtype():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for y, _ in [sh.flatten_forward(x), sh.reshape_forward(x, shape=(3, 2)), sh.transpose_forward(x, axes=(0, 1)),
                 sh.expand_dims_forward(x, axis=0), sh.slice_axis_forward(x, axis=0, begin=0, end=None)]:
        assert y.dtype == np.float32 and not np.shares_memory(x, y)
