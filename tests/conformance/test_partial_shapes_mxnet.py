"""Partial shapes (0 = unknown dim) in infer_shape, infer_shape_partial and simple_bind, against MXNet 1.9.1.

Gluon exports declare weights as `(64, 0, 3, 3)` and BatchNorm's as `(0,)`: shape inference fills
the zeros in. Each case builds the same symbol in MXNet and in ssdref and compares the three
answers: the partial lists, infer_shape's lists (or its None and warning), and the shapes
simple_bind allocates (or that both refuse).
"""
import ast
import json
import warnings

import numpy as np
import pytest

import ssdref

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _conv(m, weight_shape=(8, 0, 3, 3)):
    w = m.sym.Variable("w", shape=weight_shape)
    return m.sym.Convolution(m.sym.Variable("data"), weight=w, num_filter=8, kernel=(3, 3),
                             pad=(1, 1), name="conv")


def _conv_bn(m):
    gamma = m.sym.Variable("bn_gamma", shape=(0,))
    mean = m.sym.Variable("bn_moving_mean", shape=(0,))
    return m.sym.BatchNorm(_conv(m), gamma=gamma, moving_mean=mean, name="bn")


def _gluon_like(m):
    """A Gluon export's pattern: every parameter declared with 0 for its input-side dims."""
    v = m.sym.Variable
    x = m.sym.Convolution(v("data"), weight=v("c0_weight", shape=(6, 0, 3, 3)), no_bias=True,
                          num_filter=6, kernel=(3, 3), pad=(1, 1), name="c0")
    x = m.sym.BatchNorm(x, gamma=v("bn0_gamma", shape=(0,)), beta=v("bn0_beta", shape=(0,)),
                        moving_mean=v("bn0_running_mean", shape=(0,)),
                        moving_var=v("bn0_running_var", shape=(0,)), name="bn0")
    x = m.sym.Activation(x, act_type="relu", name="relu0")
    x = m.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    x = m.sym.Flatten(x, name="flat0")
    return m.sym.FullyConnected(x, weight=v("fc_weight", shape=(4, 0)), bias=v("fc_bias", shape=(4,)),
                                num_hidden=4, name="fc")


def _fc(m):
    return m.sym.FullyConnected(m.sym.Variable("d"), weight=m.sym.Variable("fc_weight", shape=(5, 0)),
                                num_hidden=5, name="fc")


def _lone(m):
    return m.sym.Variable("v", shape=(2, 0))


def _relu(m):
    return m.sym.Activation(m.sym.Variable("v", shape=(2, 0)), act_type="relu", name="relu")


def _reshape(m):
    return m.sym.Reshape(m.sym.Variable("d"), shape=(0, -1), name="r")


def _add(m):
    return m.sym.Variable("a", shape=(0, 3)) + m.sym.Variable("b", shape=(2, 0))


def _concat(m):
    return m.sym.Concat(m.sym.Variable("a", shape=(0, 3)), m.sym.Variable("b", shape=(2, 0)),
                        dim=1, name="cat")


def _backward_fill(m):
    """The known shape of `b` reaches `v` backwards through the add and the relu."""
    relu = m.sym.Activation(m.sym.Variable("v", shape=(2, 0)), act_type="relu", name="relu")
    return relu + m.sym.Variable("b", shape=(0, 3))


# Whether an op passes a known output shape back to its inputs (MXNet's ElemwiseShape) or not.
_UNARY = {
    "Activation": lambda m, v: m.sym.Activation(v, act_type="relu"),
    "Dropout": lambda m, v: m.sym.Dropout(v),
    "BlockGrad": lambda m, v: m.sym.BlockGrad(v),
    "MakeLoss": lambda m, v: m.sym.MakeLoss(v),
    "make_loss": lambda m, v: m.sym.make_loss(v),
    "mul_scalar": lambda m, v: v * 2,
    "rdiv_scalar": lambda m, v: 2 / v,
    "power_scalar": lambda m, v: v ** 2,
    "smooth_l1": lambda m, v: m.sym.smooth_l1(v, scalar=1.0),
    "softmax": lambda m, v: m.sym.softmax(v),
    "log_softmax": lambda m, v: m.sym.log_softmax(v),
    "SoftmaxActivation": lambda m, v: m.sym.SoftmaxActivation(v),
    "elemwise_mul": lambda m, v: v * m.sym.Variable("w"),
    "broadcast_add": lambda m, v: m.sym.broadcast_add(v, m.sym.Variable("w", shape=(1,))),
    "BatchNorm": lambda m, v: m.sym.BatchNorm(v, name="bn"),
    "global_Pooling": lambda m, v: m.sym.Pooling(v, kernel=(1, 1), global_pool=True),
    "SoftmaxOutput": lambda m, v: m.sym.SoftmaxOutput(v, name="so"),
}


def _downstream(op):
    def build(m):
        return m.sym.elemwise_add(_UNARY[op](m, m.sym.Variable("v")),
                                  m.sym.Variable("b", shape=(2, 3, 4, 4)), name="sum")
    return build


def _l2norm_channel(m):
    return m.sym.L2Normalization(m.sym.Variable("data"), mode="channel", name="norm")


def _box_decode(m):
    return m.sym.contrib.box_decode(m.sym.Variable("data"), m.sym.Variable("anchors", shape=(1, 0, 4)),
                                    name="decode")


def _empty_shape_attr(m):
    return m.sym.Activation(m.sym.Variable("v", shape=()), act_type="relu", name="relu")


def _softmax(m):
    fc = m.sym.FullyConnected(m.sym.Variable("data"), weight=m.sym.Variable("fc_weight", shape=(3, 0)),
                              num_hidden=3, name="fc")
    return m.sym.SoftmaxOutput(fc, name="softmax")


CASES = [
    ("conv_weight_in_channels", _conv, {"data": (2, 4, 5, 5)}),
    ("conv_nothing_given", _conv, {}),
    ("conv_unknown_batch", _conv, {"data": (0, 4, 5, 5)}),
    ("conv_weight_zero_given_explicitly", _conv, {"data": (2, 4, 5, 5), "w": (8, 0, 3, 3)}),
    ("conv_explicit_weight_conflicts", _conv, {"data": (2, 4, 5, 5), "w": (9, 4, 3, 3)}),
    ("conv_declared_weight_conflicts", lambda m: _conv(m, (9, 0, 3, 3)), {"data": (2, 4, 5, 5)}),
    ("batchnorm_zero_channels", _conv_bn, {"data": (2, 4, 5, 5)}),
    ("batchnorm_nothing_given", _conv_bn, {}),
    ("gluon_like_chain", _gluon_like, {"data": (2, 3, 8, 8)}),
    ("gluon_like_chain_nothing_given", _gluon_like, {}),
    ("fully_connected_weight", _fc, {"d": (2, 3, 4)}),
    ("fully_connected_nothing_given", _fc, {}),
    ("lone_variable", _lone, {}),
    ("lone_variable_given_zero", _lone, {"v": (2, 0)}),
    ("lone_variable_given", _lone, {"v": (2, 3)}),
    ("relu_of_partial", _relu, {}),
    ("reshape_zero_copies_a_dim", _reshape, {"d": (2, 3, 4)}),
    ("reshape_zero_of_unknown_batch", _reshape, {"d": (0, 3, 4)}),
    ("elemwise_add_merges_partials", _add, {}),
    ("concat_of_partials", _concat, {}),
    ("softmax_output_label", _softmax, {"data": (2, 7)}),
    ("known_dims_flow_backwards", _backward_fill, {}),
    *[(f"shape_known_downstream_{op}", _downstream(op), {}) for op in _UNARY],
    ("l2norm_channel_unknown_data_raises", _l2norm_channel, {}),
    ("l2norm_channel_partial_data", _l2norm_channel, {"data": (0, 4, 3, 3)}),
    ("box_decode_unknown_data_raises", _box_decode, {}),
    ("box_decode_partial_data", _box_decode, {"data": (1, 0, 4)}),
    ("box_decode_data", _box_decode, {"data": (1, 6, 4)}),
    ("empty_shape_attr_is_unknown", _empty_shape_attr, {}),
    ("empty_shape_kwarg_is_unknown", _empty_shape_attr, {"v": ()}),
    ("empty_shape_kwarg_beside_a_partial_attr", _relu, {"v": ()}),
]


def _answers(m, symbol, kwargs):
    """(partial, full, simple_bind shapes): each a value, or the name 'raised'."""
    out = []
    for call in (lambda: symbol.infer_shape_partial(**kwargs), lambda: symbol.infer_shape(**kwargs)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = call()
            out.append(None if result[0] is None else [[tuple(s) for s in group] for group in result])
        except Exception:  # noqa: BLE001 - MXNetError vs ValueError: both refuse
            out.append("raised")
    try:
        ctx = m.cpu() if hasattr(m, "cpu") else None
        exe = symbol.simple_bind(ctx, **kwargs)
        out.append(({k: tuple(a.shape) for k, a in exe.arg_dict.items()},
                    {k: tuple(a.shape) for k, a in exe.aux_dict.items()}))
    except Exception:  # noqa: BLE001
        out.append("raised")
    return out


@pytest.mark.parametrize("name, build, kwargs", CASES, ids=[c.values[0] if hasattr(c, "values") else c[0]
                                                             for c in CASES])
def test_partial_shapes_match_mxnet(mx, name, build, kwargs):
    expected = _answers(mx, build(mx), kwargs)
    got = _answers(ssdref, build(ssdref), kwargs)
    assert got == expected


@pytest.mark.parametrize("case", CASES[:12], ids=[c[0] for c in CASES[:12]])
def test_symbol_json_with_zero_shape_attrs_matches_mxnet(mx, case):
    _, build, kwargs = case
    text = build(mx).tojson()
    shapes = [n["attrs"]["__shape__"] for n in json.loads(text)["nodes"] if "__shape__" in n.get("attrs", {})]
    assert any("0" in s for s in shapes)
    loaded = ssdref.sym.load_json(text)
    assert _answers(ssdref, loaded, kwargs) == _answers(mx, mx.sym.load_json(text), kwargs)
    assert loaded.tojson() == text


def test_gluon_like_chain_runs_after_binding_from_the_data_shape_alone(mx):
    rng = np.random.default_rng(0)
    exe_mx = _gluon_like(mx).simple_bind(mx.cpu(), grad_req="null", data=(2, 3, 8, 8))
    exe = _gluon_like(ssdref).simple_bind(None, grad_req="null", data=(2, 3, 8, 8))
    for name, array in exe.arg_dict.items():
        value = rng.uniform(0.5, 1.5, array.shape).astype(np.float32)
        array[...] = value
        exe_mx.arg_dict[name][:] = value
    for name, array in exe.aux_dict.items():
        value = rng.uniform(0.5, 1.5, array.shape).astype(np.float32)
        array[...] = value
        exe_mx.aux_dict[name][:] = value
    got = exe.forward(is_train=False)[0]
    expected = exe_mx.forward(is_train=False)[0].asnumpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, side", [("ssd_300_vgg16_atrous_voc", 300), ("ssd_512_resnet50_v1_voc", 512),
                                        ("ssd_512_mobilenet1.0_voc", 512)])
def test_gluoncv_exports_get_mxnets_shapes_from_the_data_shape_alone(mx, tmp_path, name, side):
    """GluonCV declares (C_out, 0, kh, kw) weights and (0,) BatchNorm shapes: the issue 20 case."""
    try:
        from gluoncv import model_zoo
    except ImportError as exc:
        pytest.skip(f"gluoncv not importable: {exc} (`make conformance` installs it)")
    net = model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, side, side)))
    net.export(str(tmp_path / name))
    text = (tmp_path / f"{name}-symbol.json").read_text(encoding="utf-8")
    declared = [n["attrs"]["__shape__"] for n in json.loads(text)["nodes"] if "__shape__" in n.get("attrs", {})]
    assert any(0 in ast.literal_eval(shape) for shape in declared)
    shapes = {"data": (1, 3, side, side)}
    expected = mx.sym.load_json(text).infer_shape(**shapes)
    ours = ssdref.sym.load_json(text)
    assert ours.infer_shape(**shapes) == expected
    exe = ours.simple_bind(None, grad_req="null", **shapes)
    assert [a.shape for a in exe.arg_arrays] == expected[0]
    assert [a.shape for a in exe.aux_arrays] == expected[2]
