"""The small GluonCV ops: _greater_scalar, zeros_like, ones_like, _arange, where, slice_like.

Hand-computed cases of MXNet 1.9.1's semantics, gradients (float64 central differences where the
op has a backward, zeros where MXNet has none), errors naming op and argument, and the OpDefs as the
graph and `ssdref.nd` see them.
"""
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ssdref as mx
from ssdref.autograd.gradcheck import check_gradients
from ssdref.autograd.registry import get_op
from ssdref.layers import gluon


# ------------------------------------------------------------------------------ _greater_scalar
def test_greater_scalar_is_one_where_strictly_greater():
    x = np.float32([[0.5, 0.25, -1.0], [0.2500001, np.nan, 3.0]])
    y, _ = gluon.greater_scalar_forward(x, scalar=0.25)
    np.testing.assert_array_equal(y, np.float32([[1, 0, 0], [1, 0, 1]]))
    assert y.dtype == np.float32


def test_greater_scalar_casts_the_scalar_to_the_data_dtype_first():
    # float32(0.1) > 0.1 as doubles, so float32 data equal to float32(0.1) is not greater: 0.
    x32 = np.float32([0.1])
    assert gluon.greater_scalar_forward(x32, scalar=0.1)[0][0] == 0
    # In float64, float32(0.1) as a double is greater than 0.1: 1.
    assert gluon.greater_scalar_forward(np.float64([np.float32(0.1)]), scalar=0.1)[0][0] == 1


def test_greater_scalar_refuses_integer_data_and_a_non_number():
    with pytest.raises(TypeError, match="_greater_scalar: data must be float32 or float64"):
        gluon.greater_scalar_forward(np.arange(3), scalar=1)
    with pytest.raises(TypeError, match="_greater_scalar: scalar must be a number"):
        gluon.greater_scalar_forward(np.zeros(2, np.float32), scalar="1")


# -------------------------------------------------------------------------- zeros_like/ones_like
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeros_like_and_ones_like_keep_shape_and_dtype(dtype):
    x = np.full((2, 0, 3), 7, dtype)
    z, cache = gluon.zeros_like_forward(np.ones((2, 3), dtype))
    o, _ = gluon.ones_like_forward(x)
    assert z.dtype == dtype and z.shape == (2, 3) and not z.any()
    assert o.dtype == dtype and o.shape == (2, 0, 3)
    assert not gluon.like_backward(np.ones((2, 3), dtype), cache).any()


# ------------------------------------------------------------------------------------- _arange
def test_arange_values_and_repeat():
    y, _ = gluon.arange_forward(start=-1.5, stop=2.0, step=0.75, repeat=2)
    np.testing.assert_array_equal(y, np.float32([-1.5, -1.5, -.75, -.75, 0, 0, .75, .75, 1.5, 1.5]))
    assert y.dtype == np.float32
    y, _ = gluon.arange_forward(start=5, stop=1, step=-1.5, dtype="float64")
    np.testing.assert_array_equal(y, [5.0, 3.5, 2.0])
    y, _ = gluon.arange_forward(start=0, stop=4, dtype="int32")
    assert y.dtype == np.int32 and y.tolist() == [0, 1, 2, 3]


def test_arange_without_stop_counts_from_zero_to_start():
    y, _ = gluon.arange_forward(start=5, stop=None)        # mx.sym.arange(5) writes stop='None'
    np.testing.assert_array_equal(y, np.float32([0, 1, 2, 3, 4]))
    assert mx.sym.load_json(_ARANGE5_JSON).infer_shape()[1] == [(5,)]


_ARANGE5_JSON = """{
  "nodes": [
    {
      "op": "_arange", 
      "name": "_arange0", 
      "attrs": {
        "dtype": "float32", 
        "infer_range": "False", 
        "repeat": "1", 
        "start": "5", 
        "step": "1.0", 
        "stop": "None"
      }, 
      "inputs": []
    }
  ], 
  "arg_nodes": [], 
  "node_row_ptr": [0, 1], 
  "heads": [[0, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
}"""


def test_arange_length_is_ceil_in_double_and_values_sum_in_float32():
    assert gluon.arange_length(0.0, 1.0, 0.1, 1) == 10          # 1/0.1 rounds to exactly 10.0
    assert gluon.arange_length(0.0, 1.0000001, 0.1, 1) == 11
    y, _ = gluon.arange_forward(start=0.1, stop=3000.7, step=0.1)
    i = 29999
    expected = np.float32(0.1) + np.float32(i) * np.float32(0.1)   # float32 throughout, as MXNet
    assert y[i] == expected and y.size == 30006    # ceil((3000.7 - 0.1) / 0.1) in double, as MXNet


@pytest.mark.parametrize("kwargs, match", [
    (dict(start=0, stop=3, step=0), "_arange: step must not be 0"),
    (dict(start=3, stop=0), "_arange: start must be < stop"),
    (dict(start=0, stop=3, step=-1), "_arange: start must be > stop"),
    (dict(start=0, stop=3, repeat=0), "_arange: repeat must be >= 1"),
    (dict(start=0, stop=3, dtype="float16"), "_arange: dtype must be one of"),
])
def test_arange_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gluon.arange_forward(**kwargs)


def test_arange_opdef_has_no_inputs_and_takes_dtype_from_its_argument():
    sym = mx.sym._arange(start=0, stop=6, step=2, dtype="float64")
    assert sym.list_arguments() == []
    assert sym.infer_shape()[1] == [(3,)]
    assert sym.infer_type()[1] == [np.float64]
    np.testing.assert_array_equal(mx.nd._arange(start=0, stop=6, step=2), np.float32([0, 2, 4]))
    with pytest.raises(ValueError, match="_arange: infer_range=True without stop is not supported"):
        mx.nd._arange(start=6, infer_range=True)
    np.testing.assert_array_equal(mx.nd._arange(start=0, stop=2, infer_range=True), [0, 1])


# --------------------------------------------------------------------------------------- where
def test_where_picks_x_where_condition_is_nonzero_nan_included():
    cond = np.float32([[0, 1], [np.nan, -0.0]])
    x = np.float32([[1, 2], [3, 4]])
    y = np.float32([[10, 20], [30, 40]])
    out, cache = gluon.where_forward(cond, x, y)
    np.testing.assert_array_equal(out, [[10, 2], [3, 40]])
    dcond, dx, dy = gluon.where_backward(np.float32([[1, 1], [1, 1]]), cache)
    np.testing.assert_array_equal(dx, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(dy, [[1, 0], [0, 1]])
    assert not dcond.any() and dcond.shape == cond.shape


def test_where_with_a_1d_condition_picks_whole_rows():
    x, y = np.ones((3, 2, 2), np.float32), np.zeros((3, 2, 2), np.float32)
    out, _ = gluon.where_forward(np.int32([1, 0, 5]), x, y)
    np.testing.assert_array_equal(out[:, 0, 0], [1, 0, 1])


def test_where_refuses_mismatched_inputs():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="where: condition must have x's shape"):
        gluon.where_forward(np.zeros(3, np.float32), x, x)
    with pytest.raises(ValueError, match="where: y must have x's shape"):
        gluon.where_forward(x, x, np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="where: x and y must share one dtype"):
        gluon.where_forward(x, x, x.astype(np.float64))


def test_where_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    cond = rng.integers(0, 2, (3, 4)).astype(np.float64)

    def forward(x, y):
        return gluon.where_forward(cond, x, y)[0]

    def backward(heads, x, y):
        _, cache = gluon.where_forward(cond, x, y)
        _, dx, dy = gluon.where_backward(heads[0], cache)
        return {"x": dx, "y": dy}
    results = check_gradients(forward, backward, {"x": rng.standard_normal((3, 4)),
                                                  "y": rng.standard_normal((3, 4))})
    assert max(r.relative_error for r in results) <= 1e-6


def test_where_opdef_accepts_a_condition_of_another_dtype_in_a_graph():
    cond, x, y = (mx.sym.Variable(n) for n in ("cond", "x", "y"))
    net = mx.sym.where(cond, x, y)
    _, out_types, _ = net.infer_type(cond=np.int32, x=np.float64, y=np.float64)
    assert out_types == [np.float64]
    with pytest.raises(TypeError, match="where: x and y must share one dtype"):
        net.infer_type(cond=np.float32, x=np.float32, y=np.float64)
    ex = net.simple_bind(cond=(2,), x=(2, 3), y=(2, 3))
    ex.arg_dict["cond"][...] = [1, 0]
    ex.arg_dict["x"][...] = 1
    ex.forward(is_train=True)
    ex.backward([np.full((2, 3), 2.0, np.float32)])
    np.testing.assert_array_equal(ex.outputs[0], [[1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(ex.grad_dict["y"], [[0, 0, 0], [2, 2, 2]])
    assert not ex.grad_dict["cond"].any()


# ---------------------------------------------------------------------------------- slice_like
def test_slice_like_cuts_the_given_axes_to_shape_like():
    data = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    out, cache = gluon.slice_like_forward(data, np.zeros((9, 9, 2, 3), np.int64), axes=(2, 3))
    np.testing.assert_array_equal(out, data[:, :, :2, :3])
    out, _ = gluon.slice_like_forward(data, np.zeros((1, 2, 3, 4), np.float32))      # all axes
    np.testing.assert_array_equal(out, data[:1, :2, :3, :4])
    out, _ = gluon.slice_like_forward(data, np.zeros((1, 1, 1, 2), np.float32), axes=(-1, 0))
    np.testing.assert_array_equal(out, data[:1, :, :, :2])
    ddata, dlike = gluon.slice_like_backward(np.ones((2, 3, 2, 3), np.float32), cache)
    assert ddata.sum() == 36 and ddata[:, :, :2, :3].all() and dlike.shape == (9, 9, 2, 3)


@pytest.mark.parametrize("like_shape, axes, match", [
    ((2, 3), (), "slice_like: shape_like must have data's ndim 3"),
    ((2, 3, 9), (2,), "slice_like: shape_like size 9 on axis 2 exceeds data's size 4"),
    ((2, 3, 4), (3,), "slice_like: axes entry 3 is out of range for data"),
    ((2, 3), (-1,), "slice_like: axes entry -1 is out of range for shape_like"),
])
def test_slice_like_refuses_bad_axes_and_shapes(like_shape, axes, match):
    with pytest.raises(ValueError, match=match):
        gluon.slice_like_forward(np.zeros((2, 3, 4), np.float32), np.zeros(like_shape, np.float32),
                                 axes=axes)


@given(seed=st.integers(0, 10 ** 6), cut=st.lists(st.integers(1, 3), min_size=3, max_size=3))
def test_slice_like_gradient_matches_central_differences(seed, cut):
    rng = np.random.default_rng(seed)
    like = np.zeros(tuple(cut), np.float64)

    def forward(data):
        return gluon.slice_like_forward(data, like, axes=(0, 2))[0]

    def backward(heads, data):
        _, cache = gluon.slice_like_forward(data, like, axes=(0, 2))
        return {"data": gluon.slice_like_backward(heads[0], cache)[0]}
    results = check_gradients(forward, backward, {"data": rng.standard_normal((3, 2, 4))}, seed=seed)
    assert results[0].relative_error <= 1e-6


def test_slice_like_opdef_infers_partial_shapes_and_routes_no_gradient_to_shape_like():
    data, like = mx.sym.Variable("data"), mx.sym.Variable("like")
    net = mx.sym.slice_like(data, like, axes=(2, 3))
    _, out_shapes, _ = net.infer_shape(data=(1, 6, 10, 10), like=(1, 3, 4, 5))
    assert out_shapes == [(1, 6, 4, 5)]
    opdef = get_op("slice_like")
    _, out = opdef.infer_shape([(1, 6, 10, 0), (1, 3, 4, 5)], opdef.parse_params({"axes": "(2, 3)"}))
    assert out == [(1, 6, 4, 5)]
    _, out_types, _ = net.infer_type(data=np.float64, like=np.int32)
    assert out_types == [np.float64]


# ------------------------------------------------------------------------------ registration
def test_zero_gradient_ops_pass_zeros_in_a_graph():
    x = mx.sym.Variable("x")
    net = mx.sym.Group([mx.sym._greater_scalar(x, scalar=0.0), mx.sym.zeros_like(x),
                        mx.sym.ones_like(x)])
    ex = net.simple_bind(x=(2, 2))
    ex.arg_dict["x"][...] = [[1, -1], [0, 2]]
    ex.forward(is_train=True)
    ex.backward([np.ones((2, 2), np.float32)] * 3)
    np.testing.assert_array_equal(ex.outputs[0], [[1, 0], [0, 1]])
    assert not ex.grad_dict["x"].any()


def test_gluon_ops_round_trip_through_mxnet_json():
    x = mx.sym.Variable("x")
    net = mx.sym.where(mx.sym._greater_scalar(x, scalar=0.5), x, mx.sym.zeros_like(x))
    text = net.tojson()
    ops = [n["op"] for n in json.loads(text)["nodes"]]
    assert ops == ["null", "_greater_scalar", "zeros_like", "where"]
    again = mx.sym.load_json(text)
    assert again.tojson() == text


def test_read_only_non_contiguous_inputs_give_the_copys_result_and_stay_unchanged():
    from ssdref.multibox.box_decode import box_decode_forward
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 4, 10)).astype(np.float32)
    before = base.copy()
    view = base[:, :, ::2]
    view.flags.writeable = False
    runs = [
        lambda a: gluon.greater_scalar_forward(a, scalar=0.0)[0],
        lambda a: gluon.where_forward(a, a, -a)[0],
        lambda a: gluon.slice_like_forward(a, np.zeros((2, 3, 4)), axes=(0, 1))[0],
        lambda a: box_decode_forward(a[..., :4], a[:1, :, 1:5], std=(0.1, 0.1, 0.2, 0.2))[0],
    ]
    for run in runs:
        np.testing.assert_array_equal(run(view), run(np.ascontiguousarray(view)))
    np.testing.assert_array_equal(base, before)
