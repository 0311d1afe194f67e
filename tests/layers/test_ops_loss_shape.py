"""OpDefs of ops_loss / ops_shape: names and aliases, argument parsing from JSON strings,
infer_shape (SoftmaxOutput labels, Reshape codes on partial shapes, Concat), forward/backward wiring."""
import numpy as np
import pytest

from ssdref.autograd.registry import get_op


@pytest.mark.parametrize("alias, name", [
    ("softmax", "softmax"), ("log_softmax", "log_softmax"), ("SoftmaxActivation", "SoftmaxActivation"),
    ("SoftmaxOutput", "SoftmaxOutput"), ("smooth_l1", "smooth_l1"), ("MakeLoss", "MakeLoss"),
    ("make_loss", "make_loss"), ("BlockGrad", "BlockGrad"), ("stop_gradient", "BlockGrad"),
    ("Flatten", "Flatten"), ("flatten", "Flatten"), ("Reshape", "Reshape"), ("reshape", "Reshape"),
    ("Concat", "Concat"), ("concat", "Concat"), ("transpose", "transpose"), ("slice_axis", "slice_axis"),
    ("expand_dims", "expand_dims"), ("_Plus", "elemwise_add"), ("_plus", "elemwise_add"),
    ("_Minus", "elemwise_sub"), ("_Mul", "elemwise_mul"), ("_Div", "elemwise_div"), ("_Power", "_power"),
    ("broadcast_plus", "broadcast_add"), ("broadcast_minus", "broadcast_sub"), ("broadcast_mul", "broadcast_mul"),
    ("_PlusScalar", "_plus_scalar"), ("_MinusScalar", "_minus_scalar"), ("_RMinusScalar", "_rminus_scalar"),
    ("_MulScalar", "_mul_scalar"), ("_DivScalar", "_div_scalar"), ("_RDivScalar", "_rdiv_scalar"),
    ("_PowerScalar", "_power_scalar"), ("_rpower_scalar", "_rpower_scalar"), ("_RPowerScalar", "_rpower_scalar"),
    ("identity", "_copy"), ("_copy", "_copy"),
])
def test_aliases_resolve_to_mxnet_op_names(alias, name):
    assert get_op(alias).name == name
    assert alias in get_op(alias).aliases


def test_softmax_output_parses_json_strings_and_fills_defaults():
    op = get_op("SoftmaxOutput")
    params = op.parse_params({"multi_output": "True", "use_ignore": "True", "ignore_label": "-1",
                              "normalization": "valid", "grad_scale": "1.0"})
    assert params == {"grad_scale": 1.0, "ignore_label": -1.0, "multi_output": True, "use_ignore": True,
                      "preserve_shape": False, "normalization": "valid", "out_grad": False, "smooth_alpha": 0.0}
    assert op.inputs(params) == ("data", "label")
    with pytest.raises(ValueError, match="normalization must be one of"):
        op.parse_params({"normalization": "mean"})


@pytest.mark.parametrize("params, data, label", [
    ({}, (4, 10), (4,)),
    ({"multi_output": "True"}, (2, 21, 8732), (2, 8732)),
    ({"multi_output": "True"}, (2, 3, 4, 5), (2, 20)),
    ({"preserve_shape": "True"}, (2, 3, 5), (2, 3)),
    ({}, (2, 3, 5), (2, 3)),
])
def test_softmax_output_infers_the_label_shape(params, data, label):
    op = get_op("SoftmaxOutput")
    in_shapes, out_shapes = op.infer_shape([data, None], op.parse_params(params))
    assert in_shapes == [data, label] and out_shapes == [data]


def test_softmax_output_rejects_a_wrong_label_shape_and_defers_unknown_data():
    op = get_op("SoftmaxOutput")
    with pytest.raises(ValueError, match="SoftmaxOutput: label must have shape"):
        op.infer_shape([(2, 3), (3,)], op.parse_params({}))
    assert op.infer_shape([None, (2,)], op.parse_params({}))[1] == [None]
    # Partial shapes use the graph's legacy convention: 0 = unknown dim.
    assert op.infer_shape([(0, 21, 100), None], op.parse_params({"multi_output": True}))[0][1] == (0, 100)


def test_reshape_infer_shape_handles_codes_reverse_and_partial_shapes():
    op = get_op("Reshape")
    assert op.infer_shape([(2, 8732 * 21)], op.parse_params({"shape": "(0, -1, 21)"}))[1] == [(2, 8732, 21)]
    assert op.infer_shape([(2, 3, 4)], op.parse_params({"shape": "(-1, 0)", "reverse": "True"}))[1] == [(6, 4)]
    assert op.infer_shape([(0, 84)], op.parse_params({"shape": "(0, -1, 21)"}))[1] == [(0, 0, 21)]  # 0 = unknown
    assert op.infer_shape([(0, 3, 4)], op.parse_params({"shape": "(0, -3)"}))[1] == [(0, 12)]
    assert op.infer_shape([None], op.parse_params({"shape": "(0, -1, 4)"}))[1] == [None]
    assert op.infer_shape([None], op.parse_params({"shape": "(3, 4)"}))[1] == [(3, 4)]


def test_concat_infer_shape_sums_the_axis_and_fills_shared_dims():
    op = get_op("Concat")
    params = op.parse_params({"num_args": "3", "dim": "1"})
    assert op.inputs(params) == ("arg0", "arg1", "arg2")
    assert op.key_var_num_args == "num_args"
    filled, out = op.infer_shape([(2, 5), (2, 7), (2, 1)], params)
    assert out == [(2, 13)]
    filled, out = op.infer_shape([(2, 5), (0, 7), None], params)
    assert filled == [(2, 5), (2, 7), None] and out == [(2, 0)]
    with pytest.raises(ValueError, match="Concat: arg1: incompatible shapes"):
        op.infer_shape([(2, 5), (3, 7), (2, 1)], params)
    assert op.parse_params({"num_args": 2})["dim"] == 1
    with pytest.raises(ValueError, match="required argument 'num_args'"):
        op.parse_params({})


def test_unary_and_binary_infer_shapes():
    params = {}
    assert get_op("transpose").infer_shape([(2, 3, 4)], get_op("transpose").parse_params({"axes": "(0, 2, 1)"}))[1] \
        == [(2, 4, 3)]
    assert get_op("Flatten").infer_shape([(2, 3, 4)], params)[1] == [(2, 12)]
    op = get_op("slice_axis")
    assert op.infer_shape([(2, 6)], op.parse_params({"axis": "1", "begin": "-4", "end": "None"}))[1] == [(2, 4)]
    op = get_op("expand_dims")
    assert op.infer_shape([(2, 3)], op.parse_params({"axis": "-1"}))[1] == [(2, 3, 1)]
    add = get_op("elemwise_add")
    assert add.infer_shape([(2, 3), None], params) == ([(2, 3), (2, 3)], [(2, 3)])
    with pytest.raises(ValueError, match="elemwise_add: rhs: incompatible shapes"):
        add.infer_shape([(2, 3), (3, 2)], params)
    mul = get_op("broadcast_mul")
    assert mul.infer_shape([(1, 4, 1, 1), (2, 4, 3, 3)], params)[1] == [(2, 4, 3, 3)]
    assert mul.infer_shape([None, (2, 4, 3, 3)], params) == ([None, (2, 4, 3, 3)], [None])
    with pytest.raises(ValueError, match=r"broadcast_mul: lhs and rhs must have broadcast-compatible "
                                         r"shapes .* got lhs \(1, 7, 1, 1\) and rhs \(2, 8, 5, 5\)"):
        mul.infer_shape([(1, 7, 1, 1), (2, 8, 5, 5)], params)
    assert get_op("_mul_scalar").infer_shape([(5,)], {"scalar": 2.0})[1] == [(5,)]


def test_softmax_output_opdef_forward_and_custom_backward_ignore_head_gradients():
    op = get_op("SoftmaxOutput")
    params = op.parse_params({"multi_output": "True", "use_ignore": "True", "normalization": "valid"})
    data = np.array([[[1, 2, .5], [0, -1, .5], [2, 0, .5]]], dtype=np.float32)
    label = np.array([[2, -1, 0]], dtype=np.float32)
    (prob,), cache = op.forward([data, label], [], params, True)
    ddata, dlabel = op.backward([np.full_like(prob, 5)], cache, params)
    np.testing.assert_allclose(ddata[0, :, 0], [.1223642, .0450153, -.1673795], atol=1e-7)
    np.testing.assert_array_equal(dlabel, 0)


def test_loss_head_opdefs_make_loss_block_grad_and_make_loss_op():
    x = np.array([[0, .5, .3], [1, 0, 0]], dtype=np.float32)
    op = get_op("MakeLoss")
    params = op.parse_params({"normalization": "valid", "valid_thresh": "0.4"})
    (y,), cache = op.forward([x], [], params, True)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(op.backward([None], cache, params)[0], np.full_like(x, 0.5))
    legacy = get_op("make_loss")
    assert legacy.outputs({}) == ("loss",) and legacy.params == ()
    (_,), cache = legacy.forward([x], [], {}, True)
    np.testing.assert_array_equal(legacy.backward([None], cache, {})[0], np.ones_like(x))
    block = get_op("stop_gradient")
    (_,), cache = block.forward([x], [], {}, True)
    np.testing.assert_array_equal(block.backward([np.ones_like(x)], cache, {})[0], 0)


def test_arithmetic_opdefs_run_forward_and_backward():
    a, b = np.array([1., 2]), np.array([3., 5])
    op = get_op("_Minus")
    (y,), cache = op.forward([a, b], [], {}, True)
    np.testing.assert_array_equal(y, [-2, -3])
    np.testing.assert_array_equal(op.backward([np.ones(2)], cache, {})[1], [-1, -1])
    op = get_op("_RDivScalar")
    params = op.parse_params({"scalar": "4"})
    (y,), cache = op.forward([np.array([1., 2, 4])], [], params, True)
    np.testing.assert_array_equal(y, [4, 2, 1])
    np.testing.assert_array_equal(op.backward([np.array([1., 1, 2])], cache, params)[0], [-4, -1, -0.5])
    op = get_op("Concat")
    params = op.parse_params({"num_args": 2, "dim": -1})
    (y,), cache = op.forward([np.zeros((2, 2)), np.ones((2, 3))], [], params, True)
    grads = op.backward([np.arange(10.0).reshape(2, 5)], cache, params)
    assert [g.shape for g in grads] == [(2, 2), (2, 3)]


def test_softmax_opdefs_and_unsupported_options():
    op = get_op("softmax")
    params = op.parse_params({"axis": "1"})
    (y,), cache = op.forward([np.zeros((2, 4, 3))], [], params, True)
    np.testing.assert_allclose(y, 0.25)
    assert op.backward([None], cache, params)[0].shape == (2, 4, 3)
    with pytest.raises(ValueError, match="softmax: use_length=True is not supported"):
        op.forward([np.zeros((2, 3))], [], op.parse_params({"use_length": "True"}), True)
    with pytest.raises(ValueError, match="axis must be in"):
        op.infer_shape([(2, 3)], op.parse_params({"axis": "2"}))
    act = get_op("SoftmaxActivation")
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        act.infer_shape([(2, 3)], act.parse_params({"mode": "channel"}))


def test_slice_axis_end_none_keyword_slices_to_the_end_in_nd_and_sym():
    import json

    import ssdref
    x = np.arange(6.0).reshape(2, 3).astype(np.float32)
    np.testing.assert_array_equal(ssdref.nd.slice_axis(x, axis=1, begin=1, end=None), x[:, 1:])
    sym = ssdref.sym.slice_axis(ssdref.sym.var("data"), axis=1, begin=1, end=None)
    # MXNet 1.9.1 writes the None as the string 'None'.
    assert json.loads(sym.tojson())["nodes"][1]["attrs"] == {"axis": "1", "begin": "1", "end": "None"}
    assert sym.infer_shape(data=(2, 3))[1] == [(2, 2)]


def test_slice_axis_end_stays_required_when_omitted():
    import ssdref
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="slice_axis: required argument 'end' is missing"):
        ssdref.nd.slice_axis(x, axis=1, begin=1)
    with pytest.raises(ValueError, match="slice_axis: required argument 'end' is missing"):
        ssdref.sym.slice_axis(ssdref.sym.var("data"), axis=1, begin=1)


def test_broadcast_shape_mismatch_names_lhs_and_rhs_imperatively_and_in_a_graph():
    import ssdref as mx
    match = (r"broadcast_mul: lhs and rhs must have broadcast-compatible shapes .* got lhs \(2, 3\) "
             r"and rhs \(4, 3\)")
    with pytest.raises(ValueError, match=match):
        mx.nd.broadcast_mul(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32))
    net = mx.sym.broadcast_mul(mx.sym.Variable("a"), mx.sym.Variable("b"))
    with pytest.raises(ValueError, match=match):
        net.simple_bind(a=(2, 3), b=(4, 3))
