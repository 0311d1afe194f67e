"""0 = unknown dim in declared and given shapes (MXNet 1.9.1's legacy semantics, spec §3).

Gluon exports declare `(64, 0, 3, 3)` weights and `(0,)` BatchNorm parameters; inference fills
the zeros in, so `simple_bind(data=...)` binds such a graph. The MXNet side of every case here is
checked in tests/conformance/test_partial_shapes_mxnet.py.
"""
import json

import numpy as np
import pytest

import ssdref as mx


def _conv(weight_shape=(8, 0, 3, 3)):
    w = mx.sym.Variable("w", shape=weight_shape)
    return mx.sym.Convolution(mx.sym.Variable("data"), weight=w, num_filter=8, kernel=(3, 3),
                              pad=(1, 1), name="conv")


def _conv_bn():
    return mx.sym.BatchNorm(_conv(), gamma=mx.sym.Variable("bn_gamma", shape=(0,)),
                            moving_mean=mx.sym.Variable("bn_moving_mean", shape=(0,)), name="bn")


def test_zero_in_declared_weight_shape_is_filled_in_from_data():
    args, outs, aux = _conv().infer_shape(data=(2, 4, 5, 5))
    assert args == [(2, 4, 5, 5), (8, 4, 3, 3), (8,)] and outs == [(2, 8, 5, 5)] and aux == []


def test_simple_bind_from_the_data_shape_alone_fills_zero_dims():
    exe = _conv_bn().simple_bind(None, data=(2, 4, 5, 5))
    assert {k: v.shape for k, v in exe.arg_dict.items()} == {
        "data": (2, 4, 5, 5), "w": (8, 4, 3, 3), "conv_bias": (8,), "bn_gamma": (8,), "bn_beta": (8,)}
    assert {k: v.shape for k, v in exe.aux_dict.items()} == {"bn_moving_mean": (8,), "bn_moving_var": (8,)}
    assert exe.forward()[0].shape == (2, 8, 5, 5)


def test_partial_keeps_declared_zeros_and_infers_nothing_without_data():
    # MXNet's Convolution and BatchNorm deduce nothing (not even the bias) before the data is known.
    args, outs, aux = _conv_bn().infer_shape_partial()
    assert args == [(), (8, 0, 3, 3), (), (0,), ()] and outs == [()] and aux == [(0,), ()]


def test_unknown_batch_propagates_in_partial_and_blocks_full_inference():
    args, outs, _ = _conv().infer_shape_partial(data=(0, 4, 5, 5))
    assert args == [(0, 4, 5, 5), (8, 4, 3, 3), (8,)] and outs == [(0, 8, 5, 5)]
    with pytest.warns(UserWarning, match=r"\n\tdata: \(0, 4, 5, 5\)$"):
        assert _conv().infer_shape(data=(0, 4, 5, 5)) == (None, None, None)


def test_simple_bind_refuses_a_data_shape_with_a_zero_dim():
    with pytest.raises(RuntimeError, match="cannot decide shapes"):
        _conv().simple_bind(None, data=(0, 4, 5, 5))


def test_zero_in_an_explicit_kwarg_is_unknown_too():
    exe = _conv().simple_bind(None, data=(2, 4, 5, 5), w=(8, 0, 3, 3))
    assert exe.arg_dict["w"].shape == (8, 4, 3, 3)


@pytest.mark.parametrize("weight_shape, given", [((9, 0, 3, 3), {}), ((8, 0, 3, 3), {"w": (9, 4, 3, 3)})])
def test_known_dims_that_disagree_still_raise(weight_shape, given):
    with pytest.raises(ValueError, match="shape inconsistent"):
        _conv(weight_shape).infer_shape(data=(2, 4, 5, 5), **given)


def test_fully_connected_weight_zero_in_dim_is_filled_in():
    fc = mx.sym.FullyConnected(mx.sym.Variable("d"), weight=mx.sym.Variable("fc_weight", shape=(5, 0)),
                               num_hidden=5, name="fc")
    assert fc.infer_shape(d=(2, 3, 4))[0] == [(2, 3, 4), (5, 12), (5,)]
    assert fc.infer_shape_partial()[0] == [(), (5, 0), ()]


def test_lone_variable_with_a_zero_dim_stays_unknown():
    v = mx.sym.Variable("v", shape=(2, 0))
    assert v.infer_shape_partial() == ([(2, 0)], [(2, 0)], [])
    with pytest.warns(UserWarning, match=r"\n\tv: \(2, 0\)"):
        assert v.infer_shape() == (None, None, None)
    with pytest.raises(RuntimeError):
        v.simple_bind(None)
    assert v.infer_shape(v=(2, 3)) == ([(2, 3)], [(2, 3)], [])


def test_empty_shape_means_unknown_not_scalar():
    out = mx.sym.Activation(mx.sym.Variable("v", shape=()), act_type="relu")
    assert out.infer_shape_partial() == ([()], [()], [])
    with pytest.raises(RuntimeError):
        out.simple_bind(None)
    # A kwarg () is unknown, so the declared attr stays in force.
    partial = mx.sym.Activation(mx.sym.Variable("v", shape=(2, 0)), act_type="relu")
    assert partial.infer_shape_partial(v=()) == ([(2, 0)], [(2, 0)], [])


def test_reshape_zero_is_copy_this_dim_not_unknown():
    r = mx.sym.Reshape(mx.sym.Variable("d"), shape=(0, -1))
    assert r.infer_shape(d=(2, 3, 4))[1] == [(2, 12)]
    assert r.infer_shape_partial(d=(0, 3, 4))[1] == [(0, 0)]


def test_elementwise_partials_merge_dim_by_dim():
    out = mx.sym.Variable("a", shape=(0, 3)) + mx.sym.Variable("b", shape=(2, 0))
    assert out.infer_shape() == ([(2, 3), (2, 3)], [(2, 3)], [])


def test_symbol_json_keeps_zero_shape_attrs_and_binds():
    text = _conv_bn().tojson()
    shapes = {n["name"]: n.get("attrs", {}).get("__shape__")
              for n in json.loads(text)["nodes"] if n["op"] == "null"}
    assert shapes["w"] == "(8, 0, 3, 3)" and shapes["bn_gamma"] == "(0,)"
    loaded = mx.sym.load_json(text)
    assert loaded.tojson() == text
    exe = loaded.simple_bind(None, grad_req="null", data=(1, 4, 5, 5))
    assert exe.arg_dict["w"].shape == (8, 4, 3, 3) and exe.aux_dict["bn_moving_var"].shape == (8,)
    exe.aux_dict["bn_moving_var"][...] = 1
    assert np.isfinite(exe.forward()[0]).all()


def test_shape_known_only_downstream_flows_back_through_elementwise_ops():
    relu = mx.sym.Activation(mx.sym.Variable("v", shape=(2, 0)), act_type="relu", name="relu")
    out = relu * 2 + mx.sym.Variable("b", shape=(0, 3))
    assert out.infer_shape(b=(2, 3))[0] == [(2, 3), (2, 3)]


def test_softmax_does_not_take_its_shape_from_downstream_as_in_mxnet():
    out = mx.sym.softmax(mx.sym.Variable("v")) + mx.sym.Variable("b", shape=(2, 3))
    assert out.infer_shape_partial()[0] == [(), (2, 3)]


def test_l2normalization_channel_mode_raises_on_an_unknown_input_as_mxnet_does():
    norm = mx.sym.L2Normalization(mx.sym.Variable("data"), mode="channel", name="norm")
    with pytest.raises(ValueError, match="unknown shape"):
        norm.infer_shape_partial()
    assert norm.infer_shape_partial(data=(0, 4, 3, 3))[1] == [(0, 4, 3, 3)]


def test_simple_bind_error_prints_unknown_dims_as_minus_one_like_mxnet():
    with pytest.raises(RuntimeError) as info:
        _conv().simple_bind(None)
    assert str(info.value).endswith("inputs:\ndata: None, w: [8,-1,3,3], conv_bias: None")
