"""Elementwise, broadcast and scalar arithmetic: spec tables, broadcast-reducing gradients, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.layers import elementwise as ew

LHS = np.array([[1., 2, 3], [4, 5, 6]])
RHS = np.array([[2.], [4]])


@pytest.mark.parametrize("op, dlhs, drhs", [
    ("add", LHS, [[6], [15]]),
    ("sub", LHS, [[-6], [-15]]),
    ("mul", [[2, 4, 6], [16, 20, 24]], [[14], [77]]),
    ("div", [[0.5, 1, 1.5], [1, 1.25, 1.5]], [[-3.5], [-4.8125]]),
])
def test_broadcast_gradients_match_the_spec_table(op, dlhs, drhs):
    out, cache = ew.broadcast_binary_forward(LHS, RHS, op=op)
    assert out.shape == (2, 3)
    got_l, got_r = ew.broadcast_binary_backward(LHS.copy(), cache)
    np.testing.assert_allclose(got_l, dlhs, rtol=1e-15)
    np.testing.assert_allclose(got_r, drhs, rtol=1e-15)


def test_broadcast_lower_rank_operand_and_ssd_scale_gradient():
    out, cache = ew.broadcast_binary_forward(np.ones((2, 3)), np.array([1., 2, 3]), op="add")
    np.testing.assert_array_equal(out, [[2, 3, 4], [2, 3, 4]])
    rng = np.random.default_rng(0)
    scale, x = rng.standard_normal((1, 4, 1, 1)), rng.standard_normal((2, 4, 3, 3))
    g = rng.standard_normal((2, 4, 3, 3))
    _, cache = ew.broadcast_binary_forward(scale, x, op="mul")
    dscale, dx = ew.broadcast_binary_backward(g, cache)
    np.testing.assert_allclose(dscale, (g * x).sum(axis=(0, 2, 3), keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(dx, g * scale, rtol=1e-15)


@pytest.mark.parametrize("op, scalar, y, dx", [
    ("plus", 3, [4, 5, 7], [1, 1, 2]),
    ("minus", 3, [-2, -1, 1], [1, 1, 2]),
    ("rminus", 3, [2, 1, -1], [-1, -1, -2]),
    ("mul", 3, [3, 6, 12], [3, 3, 6]),
    ("div", 4, [0.25, 0.5, 1], [0.25, 0.25, 0.5]),
    ("rdiv", 4, [4, 2, 1], [-4, -1, -0.5]),
    ("power", 2, [1, 4, 16], [2, 4, 16]),
    ("rpower", 2, [2, 4, 16], [2 * np.log(2), 4 * np.log(2), 32 * np.log(2)]),
])
def test_scalar_ops_match_the_spec_table(op, scalar, y, dx):
    x = np.array([1., 2, 4])
    out, cache = ew.scalar_forward(x, op=op, scalar=scalar)
    np.testing.assert_allclose(out, y, rtol=1e-15)
    np.testing.assert_allclose(ew.scalar_backward(np.array([1., 1, 2]), cache), dx, rtol=1e-15)
    out32, _ = ew.scalar_forward(x.astype(np.float32), op=op, scalar=scalar)
    assert out32.dtype == np.float32


@pytest.mark.parametrize("op, dlhs, drhs", [
    ("add", lambda a, b, g: g, lambda a, b, g: g),
    ("sub", lambda a, b, g: g, lambda a, b, g: -g),
    ("mul", lambda a, b, g: g * b, lambda a, b, g: g * a),
    ("div", lambda a, b, g: g / b, lambda a, b, g: -g * a / b**2),
])
def test_elemwise_gradients_follow_the_formulas(op, dlhs, drhs):
    rng = np.random.default_rng(1)
    a, b, g = rng.uniform(0.5, 2, (3, 4, 2))
    _, cache = ew.elemwise_binary_forward(a, b, op=op)
    got_l, got_r = ew.elemwise_binary_backward(g, cache)
    np.testing.assert_allclose(got_l, dlhs(a, b, g), rtol=1e-14)
    np.testing.assert_allclose(got_r, drhs(a, b, g), rtol=1e-14)


def _check(forward, backward, inputs):
    results = check_gradients(forward, backward, inputs)
    assert max(r.relative_error for r in results) <= 1e-6, [r.relative_error for r in results]


broadcast_pairs = st.lists(st.tuples(st.integers(1, 3), st.booleans(), st.booleans()), min_size=1, max_size=3)


@given(seed=st.integers(0, 10**6), dims=broadcast_pairs, drop=st.integers(0, 2),
       op=st.sampled_from(ew.BINARY_OPS))
def test_broadcast_gradients_match_central_differences(seed, dims, drop, op):
    lhs_shape = tuple(1 if squash else d for d, squash, _ in dims)
    rhs_shape = tuple(1 if squash else d for d, _, squash in dims)[min(drop, len(dims) - 1):]
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.uniform(0.5, 2, lhs_shape), rng.uniform(0.5, 2, rhs_shape)   # positive: power's log
    _check(lambda lhs, rhs: ew.broadcast_binary_forward(lhs, rhs, op=op)[0],
           lambda g, lhs, rhs: ew.broadcast_binary_backward(g[0], ew.broadcast_binary_forward(lhs, rhs, op=op)[1]),
           {"lhs": lhs, "rhs": rhs})


@given(seed=st.integers(0, 10**6), shape=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       op=st.sampled_from(ew.BINARY_OPS))
def test_elemwise_gradients_match_central_differences(seed, shape, op):
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.uniform(0.5, 2, shape), rng.uniform(0.5, 2, shape)
    _check(lambda lhs, rhs: ew.elemwise_binary_forward(lhs, rhs, op=op)[0],
           lambda g, lhs, rhs: ew.elemwise_binary_backward(g[0], ew.elemwise_binary_forward(lhs, rhs, op=op)[1]),
           {"lhs": lhs, "rhs": rhs})


@given(seed=st.integers(0, 10**6), op=st.sampled_from(ew.SCALAR_OPS), scalar=st.sampled_from([0.5, 2.0, 3.0]))
def test_scalar_gradients_match_central_differences(seed, op, scalar):
    x = np.random.default_rng(seed).uniform(0.5, 2, (2, 3))
    _check(lambda x: ew.scalar_forward(x, op=op, scalar=scalar)[0],
           lambda g, x: [ew.scalar_backward(g[0], ew.scalar_forward(x, op=op, scalar=scalar)[1])], {"x": x})


@given(seed=st.integers(0, 10**6), op=st.sampled_from(ew.BINARY_OPS))
def test_float32_and_float64_agree(seed, op):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (1, 4))
    y64, c64 = ew.broadcast_binary_forward(a, b, op=op)
    y32, c32 = ew.broadcast_binary_forward(a.astype(np.float32), b.astype(np.float32), op=op)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=1e-6)   # sub cancels: absolute floor
    for g32, g64 in zip(ew.broadcast_binary_backward(np.ones((3, 4), np.float32), c32),
                        ew.broadcast_binary_backward(np.ones((3, 4)), c64)):
        np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6)


def test_identity_copies_forward_and_passes_the_gradient():
    x = np.array([1., 2])
    y, cache = ew.identity_forward(x)
    assert not np.shares_memory(x, y)
    np.testing.assert_array_equal(ew.identity_backward(np.array([3., 4]), cache), [3, 4])


def test_division_by_zero_gives_inf_without_error_like_mxnet():
    out, _ = ew.elemwise_binary_forward(np.array([1., -1, 0]), np.zeros(3), op="div")
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


@pytest.mark.parametrize("call, exc, match", [
    (lambda: ew.elemwise_binary_forward(np.zeros((2, 3)), np.zeros((2, 1)), op="add"), ValueError,
     r"elemwise_add: rhs must have lhs's shape \[2,3\] \(no broadcasting\), got \[2,1\]"),
    (lambda: ew.broadcast_binary_forward(np.zeros((2, 3)), np.zeros((3, 2)), op="mul"), ValueError,
     r"operands could not be broadcast together with shapes \[2,3\] \[3,2\]"),
    (lambda: ew.broadcast_binary_forward(np.zeros(3), np.zeros(3, np.float32), op="add"), TypeError,
     "inputs must share one dtype"),
    (lambda: ew.elemwise_binary_forward(np.zeros(3), np.zeros(3), op="mod"), ValueError, "op must be one of"),
    (lambda: ew.scalar_forward(np.zeros(3), op="plus", scalar="1"), TypeError, "_plus_scalar: scalar"),
    (lambda: ew.scalar_forward(np.zeros(3, np.int32), op="mul", scalar=2), TypeError, "must be float32"),
])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
