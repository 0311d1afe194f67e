"""Pooling (ssdref.layers.pooling): spec §3 examples, divisor rules, tie rule, gradcheck, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers.pooling import pooling_backward, pooling_forward

A25 = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
TIES = np.array([[1, 3, 3, 0], [3, 2, 3, 1], [0, 0, 5, 5], [0, 0, 5, 5]], np.float32)[None, None]


def _run(x, **kwargs):
    y, cache = pooling_forward(x, **kwargs)
    return y, pooling_backward(np.ones_like(y), cache)


def test_max_backward_goes_to_first_maximum_in_row_major_order():
    _, dx = _run(TIES, kernel=(2, 2), stride=(2, 2))
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_max_backward_overlapping_windows_accumulate():
    _, dx = _run(TIES, kernel=(3, 3), stride=(1, 1), pad=(1, 1))
    np.testing.assert_array_equal(dx[0, 0], [[0, 4, 1, 0], [1, 0, 0, 0], [1, 0, 9, 0], [0, 0, 0, 0]])


def test_max_all_zero_input_picks_window_corners():
    _, dx = _run(np.zeros((1, 1, 4, 4), np.float32), kernel=2, stride=2)
    assert set(zip(*np.nonzero(dx[0, 0]))) == {(0, 0), (0, 2), (2, 0), (2, 2)}


def test_max_padding_never_wins():
    y, _ = _run(-np.ones((1, 1, 3, 3), np.float32), kernel=3, stride=1, pad=1)
    np.testing.assert_array_equal(y, -np.ones((1, 1, 3, 3)))


def test_max_window_without_real_cells_gives_lowest_value_and_no_gradient():
    x = np.ones((1, 1, 3), np.float32)
    y, dx = _run(x, kernel=1, pad=1)
    np.testing.assert_array_equal(y[0, 0], [np.finfo(np.float32).min, 1, 1, 1, np.finfo(np.float32).min])
    np.testing.assert_array_equal(dx, np.ones((1, 1, 3)))


def test_stride_defaults_to_one():
    y, _ = pooling_forward(np.zeros((1, 1, 8, 8)), kernel=(3, 3))
    assert y.shape == (1, 1, 6, 6)


@pytest.mark.parametrize("kwargs,y_expected,dx_corner", [
    (dict(kernel=3, stride=2, pad=1, pool_type="avg"),
     [[1.77778, 3.66667, 3.11111], [7.66667, 13, 9.66667], [8.44444, 13.66667, 9.77778]], 0.11111),
    (dict(kernel=3, stride=2, pad=1, pool_type="avg", count_include_pad=False),
     [[4, 5.5, 7], [11.5, 13, 14.5], [19, 20.5, 22]], 0.25),
    (dict(kernel=2, stride=2, pool_type="avg", pooling_convention="full"),
     [[4, 6, 7.5], [14, 16, 17.5], [21.5, 23.5, 25]], 0.25),
    (dict(kernel=2, stride=2, pad=1, pool_type="avg", pooling_convention="full"),
     [[0.25, 1.25, 2.25, 0], [4.25, 10, 12, 0], [9.25, 20, 22, 0], [0, 0, 0, 0]], 0.25),
    (dict(kernel=2, stride=2, pad=1, pool_type="avg", pooling_convention="full",
          count_include_pad=False),
     [[1, 2.5, 4.5, 0], [8.5, 10, 12, 0], [18.5, 20, 22, 0], [0, 0, 0, 0]], 1.0),
    (dict(kernel=2, stride=2, pool_type="sum", pooling_convention="full"),
     [[16, 24, 15], [56, 64, 35], [43, 47, 25]], 1.0),
])
def test_avg_and_sum_examples_from_spec(kwargs, y_expected, dx_corner):
    y, dx = _run(A25, **kwargs)
    np.testing.assert_allclose(y[0, 0], y_expected, atol=1e-5)
    np.testing.assert_allclose(dx[0, 0, 0, 0], dx_corner, atol=1e-5)


def test_full_overhang_is_not_counted_but_right_pad_is():
    x = np.tile(np.arange(1, 7, dtype=np.float32), (6, 1))[None, None]
    args = dict(kernel=3, stride=2, pad=1, pool_type="avg", pooling_convention="full")
    np.testing.assert_allclose(pooling_forward(x, **args)[0][0, 0, 0], [2 / 3, 2, 10 / 3, 2], rtol=1e-6)
    y, _ = pooling_forward(x, count_include_pad=False, **args)
    np.testing.assert_allclose(y[0, 0, 0], [1.5, 3, 5, 6], rtol=1e-6)


def test_avg_full_gradient_counts_overhang_windows_once():
    _, dx = _run(A25, kernel=2, stride=2, pool_type="avg", pooling_convention="full")
    assert dx[0, 0, 1, 1] == 0.25 and dx[0, 0, 4, 1] == 0.5 and dx[0, 0, 4, 4] == 1.0


@pytest.mark.parametrize("pool_type,value,grad", [("avg", 13, 0.04), ("max", 25, None), ("sum", 325, 1)])
def test_global_pool_ignores_kernel_stride_pad_convention(pool_type, value, grad):
    y, dx = _run(A25, global_pool=True, pool_type=pool_type, pad=(1, 1), stride=(3, 3),
                 pooling_convention="full")
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == value
    if grad is None:
        assert dx[0, 0, 4, 4] == 1 and dx.sum() == 1
    else:
        np.testing.assert_allclose(dx, grad, rtol=1e-6)


def test_lp_pooling_examples_from_spec():
    y1, _ = pooling_forward(A25 - 13, kernel=2, stride=2, pool_type="lp", p_value=1)
    np.testing.assert_array_equal(y1[0, 0], [[-36, -28], [4, 12]])
    y2, _ = pooling_forward(A25 - 13, kernel=2, stride=2, pool_type="lp", p_value=2)
    np.testing.assert_allclose(y2[0, 0], [[18.70829, 14.89966], [5.47723, 7.87401]], rtol=1e-6)
    x = np.array([1, 2, 6, 7], np.float64).reshape(1, 1, 2, 2)
    np.testing.assert_allclose(pooling_forward(x, kernel=2, pool_type="lp", p_value=3)[0], 8.28164, rtol=1e-6)


def test_output_sizes_valid_and_full():
    assert pooling_forward(np.zeros((1, 1, 5, 5)), kernel=2, stride=2, pad=1)[0].shape[2:] == (3, 3)
    assert pooling_forward(np.zeros((1, 1, 5, 5)), kernel=2, stride=2, pad=1,
                           pooling_convention="full")[0].shape[2:] == (4, 4)
    assert pooling_forward(np.zeros((1, 1, 7)), kernel=3, stride=3, pooling_convention="full")[0].shape == (1, 1, 3)


configs = st.fixed_dictionaries({
    "ndim": st.sampled_from([1, 2, 2, 3]), "k": st.integers(1, 3), "s": st.integers(1, 3),
    "p": st.integers(0, 2), "extra": st.integers(0, 3),
    "pool_type": st.sampled_from(["max", "avg", "sum", "lp"]), "p_value": st.sampled_from([1, 2, 3]),
    "convention": st.sampled_from(["valid", "full"]), "cip": st.sampled_from([None, False]),
    "seed": st.integers(0, 2**16)})


def _draw(c):
    rng = np.random.default_rng(c["seed"])
    size = max(c["k"] - 2 * c["p"], 1) + (min(c["extra"], 1) if c["ndim"] == 3 else c["extra"])
    x = rng.standard_normal((2, 2) + (size,) * c["ndim"])
    if c["pool_type"] == "lp":  # keep away from y = 0, where (x / y)^(p-1) is not differentiable
        x = np.abs(x) + 0.5
    args = dict(kernel=c["k"], stride=c["s"], pad=c["p"], pool_type=c["pool_type"],
                p_value=c["p_value"], pooling_convention=c["convention"], count_include_pad=c["cip"])
    return x, args


@settings(max_examples=40)
@given(configs)
def test_gradients_match_central_differences(c):
    x, args = _draw(c)
    if c["pool_type"] == "max":  # separate values so the argmax is stable under the perturbation
        x = np.argsort(np.argsort(x, axis=None)).reshape(x.shape) * 0.01

    def forward(x):
        return pooling_forward(x, **args)[0]

    def backward(heads, x):
        return [pooling_backward(heads[0], pooling_forward(x, **args)[1])]

    y = forward(x)
    heads = np.random.default_rng(c["seed"] + 1).standard_normal(y.shape)
    heads[y == np.finfo(y.dtype).min] = 0  # max windows without a real cell: a constant output
    for result in check_gradients(forward, backward, {"x": x}, head_grads=heads):
        assert result.relative_error <= 1e-6


@given(configs)
def test_float32_agrees_with_float64(c):
    x, args = _draw(c)
    y64, cache64 = pooling_forward(x, **args)
    y32, cache32 = pooling_forward(x.astype(np.float32), **args)
    assert y32.dtype == np.float32
    empty = y64 == np.finfo(np.float64).min  # max windows with no real cell: each dtype's lowest
    np.testing.assert_array_equal(y32[empty], np.finfo(np.float32).min)
    np.testing.assert_allclose(y32[~empty], y64[~empty], rtol=1e-5, atol=1e-5)
    g = np.ones_like(y64)
    dx32 = pooling_backward(g.astype(np.float32), cache32)
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, pooling_backward(g, cache64), rtol=1e-4, atol=1e-4)


def test_inputs_not_mutated():
    x = A25.copy()
    y, cache = pooling_forward(x, kernel=3, stride=1, pad=1, pool_type="avg")
    pooling_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(x, A25)


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "kernel is required"),
    (dict(kernel=7), r"kernel size \(7\) exceeds input \(5 padded to 5\)"),
    (dict(kernel=2, stride=0), "stride must be >= 1"),
    (dict(kernel=(2, 2, 2)), "kernel must have 2 entries"),
    (dict(kernel=2, pool_type="foo"), "pool_type must be one of"),
    (dict(kernel=2, pooling_convention="same"), "'same' is not supported"),
    (dict(kernel=2, pool_type="lp"), "p_value must be 1, 2 or 3"),
])
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pooling_forward(A25, **kwargs)


def test_integer_data_raises_type_error():
    with pytest.raises(TypeError, match="float32 or float64"):
        pooling_forward(np.zeros((1, 1, 4, 4), np.int64), kernel=2)


def test_3d_avg_full_window_starting_at_the_padded_edge_is_nan_as_mxnet():
    # MXNet 1.9.1's 3-D avg divides by the product of unclamped per-axis extents: a window
    # starting exactly at H + p (or, without count_include_pad, with no real cell along an axis)
    # is 0/0 = NaN; one starting further out has a negative extent and gives 0. Checked against
    # MXNet (native and oneDNN) on 144 configurations.
    x = np.ones((1, 1, 3, 4, 3), np.float32)
    y, cache = pooling_forward(x, kernel=1, stride=4, pool_type="avg", pooling_convention="full")
    nan = np.nan
    np.testing.assert_array_equal(y[0, 0], [[[1, 0], [nan, nan]], [[0, 0], [nan, nan]]])
    assert not np.signbit(y[~np.isnan(y)]).any()
    np.testing.assert_array_equal(pooling_backward(np.ones_like(y), cache)[0, 0, 0, 0], [1, 0, 0])
    cube = np.arange(1, 126, dtype=np.float32).reshape(1, 1, 5, 5, 5)
    args = dict(kernel=2, stride=2, pad=1, pool_type="avg", pooling_convention="full")
    with_pad = pooling_forward(cube, **args)[0]
    without_pad = pooling_forward(cube, count_include_pad=False, **args)[0]
    assert with_pad[0, 0, -1, -1, -1] == 0                 # the right pad is counted: 0 / 1
    assert np.isnan(without_pad[0, 0, -1]).all() and np.isnan(without_pad[0, 0, :, -1]).all()
    assert not np.isnan(without_pad[0, 0, :-1, :-1, :-1]).any()


def test_2d_avg_full_window_past_the_padded_edge_stays_zero():
    y = pooling_forward(A25, kernel=1, stride=4, pool_type="avg", pooling_convention="full",
                        count_include_pad=False)[0]
    np.testing.assert_array_equal(y[0, 0], [[1, 5], [21, 25]])
    y = pooling_forward(np.ones((1, 1, 4, 4), np.float32), kernel=1, stride=4, pad=0,
                        pool_type="avg", pooling_convention="full")[0]
    assert not np.isnan(y).any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=10**20), r"stride must be int32 values \(<= 2147483647\)"),
    (dict(pad=2**31), r"pad must be int32 values"),
    (dict(pad=10**6), r"pad .* must leave a padded input and an output of at most \d+ elements"),
])
def test_pad_and_stride_beyond_int32_or_memory_are_clear_errors(kwargs, match):
    from ssdref.kernels.cpu_pooling import pooling_forward as kernel_forward
    for forward in (pooling_forward, kernel_forward):
        with pytest.raises(ValueError, match="Pooling: " + match):
            forward(np.ones((1, 1, 4, 4), np.float32), kernel=(2, 2), pool_type="avg", **kwargs)
