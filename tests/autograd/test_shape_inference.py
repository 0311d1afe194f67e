"""infer_shape / infer_shape_partial / infer_type over graphs (spec mxnet-graph-formats.md §3)."""
import warnings

import numpy as np
import pytest

import graph_toy_ops  # noqa: F401  (registers the _test_* ops)
from ssdref import sym
from ssdref.autograd.naming import NameManager


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


def test_parameter_shapes_are_inferred_from_data():
    out = sym._test_BN(sym._test_FC(sym.Variable("x"), num_hidden=4, name="fc"), name="bn")
    args, outs, aux = out.infer_shape(x=(2, 5))
    assert out.list_arguments() == ["x", "fc_weight", "fc_bias", "bn_gamma", "bn_beta"]
    assert args == [(2, 5), (4, 5), (4,), (4,), (4,)]
    assert outs == [(2, 4)]
    assert aux == [(4,), (4,)]


def test_real_convolution_and_softmax_output_shapes():
    data = sym.Variable("data")
    conv = sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=8, num_group=2, name="conv")
    out = sym.SoftmaxOutput(conv, multi_output=True, name="softmax")
    args, outs, aux = out.infer_shape(data=(2, 4, 5, 5))
    assert dict(zip(out.list_arguments(), args)) == {
        "data": (2, 4, 5, 5), "conv_weight": (8, 2, 3, 3), "conv_bias": (8,), "softmax_label": (2, 25)}
    assert outs == [(2, 8, 5, 5)] and aux == []


def test_shapes_flow_to_earlier_nodes_until_a_fixed_point():
    x, y = sym.Variable("x"), sym.Variable("y")
    # tanh(x) is visited before the add that learns x's shape from y: needs a second pass.
    out = sym._test_add(sym._test_tanh(x), sym._test_add(x, y))
    args, outs, _ = out.infer_shape(y=(2, 3))
    assert args == [(2, 3), (2, 3)] and outs == [(2, 3)]


def test_shape_attr_seeds_and_explicit_kwarg_overrides():
    a = sym.Variable("a", shape=(2, 3))
    assert sym._test_tanh(a).infer_shape() == ([(2, 3)], [(2, 3)], [])
    assert sym._test_tanh(a).infer_shape(a=(4, 5))[0] == [(4, 5)]


def test_aux_names_are_accepted_as_kwargs():
    bn = sym._test_BN(sym.Variable("x"), name="b")
    assert bn.infer_shape_partial(b_moving_mean=(3,))[2] == [(3,), ()]


def test_incomplete_inference_warns_and_returns_nones():
    scale = sym.Variable("scale")  # no shape=: broadcast_mul does not infer it (SSD sets shape=)
    out = sym.broadcast_mul(scale, sym._test_tanh(sym.Variable("data")))
    with pytest.warns(UserWarning, match=r"Cannot decide shape for the following arguments .*\n\tscale: \(\)"):
        assert out.infer_shape(data=(2, 3)) == (None, None, None)
    assert out.infer_shape_partial(data=(2, 3)) == ([(), (2, 3)], [()], [])


def test_unknown_list_in_the_warning_is_capped_at_ten():
    out = sym._test_Cat(*[sym.Variable(f"v{i}") for i in range(12)])
    with pytest.warns(UserWarning) as record:
        out.infer_shape()
    message = str(record[0].message)
    assert message.count("\n\tv") == 10 and message.endswith("\n\t...")


def test_partial_keeps_zero_dims_unknown():
    out = sym._test_FC(sym.Variable("data"), num_hidden=5)
    args, outs, _ = out.infer_shape_partial(data=(0, 3))
    assert args == [(0, 3), (5, 3), (5,)] and outs == [(0, 5)]
    with pytest.warns(UserWarning):
        assert out.infer_shape(data=(0, 3)) == (None, None, None)


def test_argument_errors():
    out = sym._test_FC(sym.Variable("data"), num_hidden=5, name="fc")
    with pytest.raises(ValueError, match=r"InferShapeKeyword argument name foo not found.\nCandidate "
                                         r"arguments:\n\t\[0\]data\n\t\[1\]fc_weight\n\t\[2\]fc_bias"):
        out.infer_shape(foo=(1,))
    with pytest.raises(TypeError, match=r"Arguments need to be shapes \(tuple\), but 'data' is <class 'list'>"):
        out.infer_shape(data=[2, 3])
    with pytest.raises(ValueError, match="keyword"):
        out.infer_shape((2, 3))


def test_inconsistent_shapes_name_the_node_and_input():
    out = sym._test_add(sym.Variable("x"), sym.Variable("y"))
    with pytest.raises(ValueError, match=r"Incompatible attr in node _test_add0 at 1-th input: "
                                         r"expected \[2,3\], got \[3,2\]"):
        out.infer_shape(x=(2, 3), y=(3, 2))
    plus = sym.Variable("x") + sym.Variable("y")
    with pytest.raises(ValueError, match="Error in operator _plus0"):
        plus.infer_shape(x=(2, 3), y=(3, 2))


def test_infer_type_propagates_and_returns_numpy_type_classes():
    out = sym._test_BN(sym._test_FC(sym.Variable("x"), num_hidden=4))
    args, outs, aux = out.infer_type(x="float64")
    assert args == [np.float64] * 5 and outs == [np.float64] and aux == [np.float64] * 2
    assert sym._test_tanh(sym.Variable("d", dtype="float32")).infer_type()[1] == [np.float32]


def test_infer_type_conflict_and_incomplete():
    out = sym._test_add(sym.Variable("x"), sym.Variable("y"))
    with pytest.raises(TypeError, match="_test_add0"):
        out.infer_type(x=np.float32, y=np.float64)
    with pytest.warns(UserWarning, match=r"Cannot decide type .*\n\tx: None"):
        assert out.infer_type() == (None, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert out.infer_type(x=np.float32)[0] == [np.float32, np.float32]


def test_mixed_dtypes_name_each_input_with_its_dtype():
    conv = sym.Convolution(sym.Variable("data"), num_filter=2, kernel=(3, 3), name="conv")
    with pytest.raises(TypeError, match=r"Error in operator conv: Convolution: inputs must share one "
                                        r"dtype, got data=float64, weight=float32"):
        conv.infer_type(data=np.float64, conv_weight=np.float32)


def test_shape_error_from_two_variables_with_one_name_says_so():
    x1, x2 = sym.Variable("x"), sym.Variable("x")
    net = sym.Convolution(x1, num_filter=2, kernel=(3, 3), name="c", bias=x2)
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\) .* several variables share "
                                         r"the name\(s\) \['x'\]"):
        net.infer_shape(x=(1, 3, 5, 5))
