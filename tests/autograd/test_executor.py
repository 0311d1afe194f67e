"""Executor: simple_bind/bind, forward/backward, gradient accumulation, grad_req, float64 graphs.

Gradients are checked against central differences of the executor's own forward
(`ssdref.autograd.gradcheck.numerical_gradient`) in float64 (spec mxnet-graph-formats.md §6).
"""
import numpy as np
import pytest

import graph_toy_ops  # noqa: F401  (registers the _test_* ops)
from ssdref import sym
from ssdref.autograd.gradcheck import numerical_gradient, relative_error
from ssdref.autograd.naming import NameManager


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


def _fill(exe, rng):
    for name, array in exe.arg_dict.items():
        array[...] = rng.standard_normal(array.shape)


def test_simple_bind_allocates_zeros_of_inferred_shapes_and_dtypes():
    out = sym._test_BN(sym._test_FC(sym.Variable("x"), num_hidden=4, name="fc"), name="bn")
    exe = out.simple_bind(x=(2, 5))
    assert {k: v.shape for k, v in exe.arg_dict.items()} == {
        "x": (2, 5), "fc_weight": (4, 5), "fc_bias": (4,), "bn_gamma": (4,), "bn_beta": (4,)}
    assert all(a.dtype == np.float32 and not a.any() for a in exe.arg_arrays + exe.grad_arrays + exe.aux_arrays)
    assert list(exe.aux_dict) == ["bn_moving_mean", "bn_moving_var"]
    assert exe.outputs[0].shape == (2, 4)
    exe64 = out.simple_bind(x=(2, 5), type_dict={"x": np.float64})
    assert all(a.dtype == np.float64 for a in exe64.arg_arrays + exe64.grad_arrays + exe64.aux_arrays)


def test_gradients_accumulate_where_a_variable_feeds_several_consumers():
    a, b = sym.Variable("a"), sym.Variable("b")
    exe = (a * b + a).simple_bind(a=(2, 3), b=(2, 3), type_dict={"a": np.float64, "b": np.float64})
    rng = np.random.default_rng(0)
    _fill(exe, rng)
    va, vb = exe.arg_dict["a"].copy(), exe.arg_dict["b"].copy()
    (out,) = exe.forward(is_train=True)
    np.testing.assert_allclose(out, va * vb + va)
    head = rng.standard_normal((2, 3))
    exe.backward(head)
    np.testing.assert_allclose(exe.grad_dict["a"], head * (vb + 1))
    np.testing.assert_allclose(exe.grad_dict["b"], head * va)


def test_gradients_accumulate_where_an_op_output_feeds_several_consumers():
    t = sym._test_tanh(sym.Variable("x"))
    exe = (t * t + t).simple_bind(x=(3,), type_dict={"x": np.float64})
    x = np.array([-0.5, 0.1, 2.0])
    exe.forward(is_train=True, x=x)
    exe.backward()  # default head gradient: ones
    th = np.tanh(x)
    np.testing.assert_allclose(exe.grad_dict["x"], (2 * th + 1) * (1 - th ** 2))


def test_grad_req_add_accumulates_and_null_has_no_array():
    a, b = sym.Variable("a"), sym.Variable("b")
    exe = (a * b).simple_bind(a=(2,), b=(2,), grad_req={"a": "add"})
    assert exe.grad_dict["b"] is None and exe.grad_arrays[1] is None
    exe.forward(is_train=True, a=np.array([1, 2], np.float32), b=np.array([3, 4], np.float32))
    exe.backward()
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["a"], [6, 8])
    write = (a * b).simple_bind(a=(2,), b=(2,), grad_req="write")
    for _ in range(2):
        write.forward(is_train=True, a=np.array([1, 2], np.float32), b=np.array([3, 4], np.float32))
        write.backward()
    np.testing.assert_array_equal(write.grad_dict["a"], [3, 4])
    with pytest.raises(RuntimeError, match="empty list"):
        (a * b).simple_bind(a=(2,), b=(2,), grad_req={})


def test_loss_head_ignores_head_gradient_and_update_aux_runs_in_backward():
    x = sym.Variable("x")
    loss = sym._test_sumloss(sym._test_BN(x, momentum=0.5, name="bn"), grad_scale=2.0)
    exe = loss.simple_bind(x=(4, 3), type_dict={"x": np.float64})
    rng = np.random.default_rng(1)
    _fill(exe, rng)
    exe.forward(is_train=True)
    exe.backward(out_grads=[rng.standard_normal((4, 3))])
    np.testing.assert_allclose(exe.grad_dict["bn_beta"], np.full(3, 8.0))
    np.testing.assert_allclose(exe.aux_dict["bn_moving_mean"], 0.5 * exe.arg_dict["x"].mean(axis=0))
    assert exe._caches == {}


def test_whole_graph_gradients_match_central_differences_in_float64():
    x = sym.Variable("x")
    hidden = sym._test_tanh(sym._test_BN(sym._test_FC(x, num_hidden=4, name="fc1"), name="bn"))
    halves = sym._test_split2(hidden, name="sp")
    joined = sym._test_Cat(halves[1], halves[0] * 2.0 - halves[0])
    out = sym.Group([sym._test_FC(joined, num_hidden=3, name="fc2"), halves[0]])
    exe = out.simple_bind(x=(5, 6), type_dict={"x": np.float64})
    rng = np.random.default_rng(2)
    _fill(exe, rng)
    heads = [rng.standard_normal(o.shape) for o in exe.forward(is_train=True)]
    exe.backward(heads)
    # fc1_bias is removed again by the batch-mean subtraction: its gradient is zero.
    np.testing.assert_allclose(exe.grad_dict["fc1_bias"], 0.0, atol=1e-12)
    for name in ("x", "fc1_weight", "bn_gamma", "bn_beta", "fc2_weight", "fc2_bias"):
        numeric = numerical_gradient(lambda: exe.forward(is_train=True), exe.arg_dict[name], heads)
        assert relative_error(exe.grad_dict[name], numeric) <= 1e-6, name


def test_real_layers_gradients_match_central_differences_in_float64():
    data = sym.Variable("data")
    conv = sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=2, name="conv")
    act = sym.Activation(conv, act_type="tanh", name="act")
    pool = sym.Pooling(act, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool")
    out = sym.Flatten(pool) * sym.Flatten(pool) + 1
    exe = out.simple_bind(data=(1, 1, 4, 4), type_dict={"data": np.float64})
    rng = np.random.default_rng(3)
    _fill(exe, rng)
    heads = [rng.standard_normal(exe.outputs[0].shape)]
    exe.forward(is_train=True)
    exe.backward(heads)
    for name in exe.arg_dict:
        numeric = numerical_gradient(lambda: exe.forward(is_train=False), exe.arg_dict[name], heads)
        assert relative_error(exe.grad_dict[name], numeric) <= 1e-6, name


def test_softmax_output_loss_needs_no_head_gradient():
    data, label = sym.Variable("data"), sym.Variable("label")
    out = sym.SoftmaxOutput(data, label, multi_output=True, normalization="valid", name="cls_prob")
    exe = out.simple_bind(data=(1, 3, 2), label=(1, 2), type_dict={"data": np.float64, "label": np.float64})
    logits = np.array([[[1.0, 0.0], [2.0, 0.5], [0.0, -1.0]]])
    exe.forward(is_train=True, data=logits, label=np.array([[2.0, 0.0]]))
    exe.backward()
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = prob.copy()
    expected[0, 2, 0] -= 1
    expected[0, 0, 1] -= 1
    np.testing.assert_allclose(exe.grad_dict["data"], expected / 2)


def test_bind_uses_the_given_arrays():
    a, b = sym.Variable("a"), sym.Variable("b")
    args = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    grads = [np.zeros(2), np.zeros(2)]
    exe = (a * b).bind(None, args, args_grad=grads)
    assert exe.arg_dict["a"] is args["a"]
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(grads[0], [3.0, 4.0])
    frozen = (a * b).bind(None, [args["a"], args["b"]])
    assert frozen.grad_arrays == [None, None]
    np.testing.assert_array_equal(frozen.forward()[0], [3.0, 8.0])
    with pytest.raises(ValueError, match="aux_states"):
        sym._test_BN(a).bind(None, {"a": np.zeros((2, 2)), "_test_bn0_gamma": np.ones(2),
                                    "_test_bn0_beta": np.zeros(2)})


def test_forward_and_copy_params_errors_follow_mxnet():
    exe = sym._test_FC(sym.Variable("x"), num_hidden=2, name="fc").simple_bind(x=(1, 3))
    with pytest.raises(ValueError, match="only accept keyword argument of NDArrays and numpy.ndarray"):
        exe.forward(x=[1, 2, 3])
    with pytest.raises(TypeError, match="Unknown argument y"):
        exe.forward(y=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"Shape not match! Argument x, need: \(1, 3\), received: \(2, 3\)"):
        exe.forward(x=np.zeros((2, 3)))
    exe.copy_params_from({"fc_bias": np.array([1.0, 2.0])})
    assert exe.arg_dict["fc_bias"].dtype == np.float32 and exe.arg_dict["fc_bias"][1] == 2
    with pytest.raises(ValueError, match='Find name "zzz" that is not in the arguments'):
        exe.copy_params_from({"zzz": np.zeros(1)})
    exe.copy_params_from({"zzz": np.zeros(1)}, {"q": np.zeros(1)}, allow_extra_params=True)
    with pytest.raises(ValueError, match="Find name q that is not in the auxiliary states"):
        exe.copy_params_from({}, {"q": np.zeros(1)})
    with pytest.raises(RuntimeError, match="forward"):
        exe.forward(is_train=False)
        exe.backward()
    assert list(exe.output_dict) == ["fc_output"]


def test_missing_shapes_and_duplicate_names():
    out = sym._test_FC(sym.Variable("x"), num_hidden=2)
    with pytest.raises(RuntimeError, match="simple_bind error"):
        out.simple_bind()
    group = sym.Group([sym._test_tanh(sym.Variable("a")), sym._test_tanh(sym.Variable("a"))])
    exe = group.simple_bind(a=(2,))
    with pytest.raises(ValueError, match="Duplicate names detected"):
        exe.arg_dict  # noqa: B018


def test_tiny_ssd_training_step_runs_in_float64_and_releases_its_caches():
    import ssdref.model as model
    net = model.get_symbol_train(**model.get_config("tiny", 64, num_classes=3))
    exe = net.simple_bind(data=(2, 3, 64, 64), label=(2, 4, 5),
                          type_dict={"data": np.float64, "label": np.float64})
    assert {a.dtype for a in exe.arg_arrays + exe.grad_arrays} == {np.dtype(np.float64)}
    rng = np.random.default_rng(0)
    for name, array in exe.arg_dict.items():
        if name.endswith("weight"):
            array[...] = rng.standard_normal(array.shape) * 0.1
        elif name.endswith("scale"):
            array[...] = 20.0
    exe.arg_dict["data"][...] = rng.standard_normal((2, 3, 64, 64))
    label = np.full((2, 4, 5), -1.0)
    label[:, 0] = [1, 0.1, 0.1, 0.5, 0.6]
    exe.arg_dict["label"][...] = label
    outs = exe.forward(is_train=True)
    assert [o.shape for o in outs] == [(2, 4, 1488), (2, 5952), (2, 1488), (2, 1488, 6)]
    exe.backward()
    assert exe._caches == {}
    assert not exe.grad_dict["label"].any()  # MultiBoxTarget passes zero gradient, as MXNet
    assert np.abs(exe.grad_dict["conv1_1_weight"]).max() > 0
    assert all(np.isfinite(g).all() for g in exe.grad_arrays)


def test_batchnorm_fix_gamma_writes_one_into_bound_gamma_in_a_training_forward_only():
    data = sym.Variable("data")
    exe = sym.BatchNorm(data, fix_gamma=True, name="bn").simple_bind(data=(2, 3, 2))
    exe.arg_dict["data"][...] = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    exe.arg_dict["bn_gamma"][...] = 2.0
    exe.forward(is_train=False)
    assert exe.arg_dict["bn_gamma"].tolist() == [2.0, 2.0, 2.0]   # as MXNet: inference leaves it
    exe.forward(is_train=True)
    assert exe.arg_dict["bn_gamma"].tolist() == [1.0, 1.0, 1.0]


def test_convolution_skips_the_data_gradient_when_data_needs_none(monkeypatch):
    """grad_req 'null' on the data: the executor tells Convolution (backward_needs_mask), which
    skips dx; the weight and bias gradients stay exactly those of a full backward."""
    from ssdref.autograd import ops_nn
    calls = []
    real_dispatch = ops_nn.dispatch

    def recording_dispatch(fn):
        impl = real_dispatch(fn)
        if fn.__name__ != "conv_backward":
            return impl

        def wrapped(*args, **kwargs):
            result = impl(*args, **kwargs)
            calls.append((kwargs.get("data_grad"), result[0] is None))
            return result
        return wrapped

    monkeypatch.setattr(ops_nn, "dispatch", recording_dispatch)
    net = sym.Convolution(sym.Variable("data"), num_filter=4, kernel=(3, 3), pad=(1, 1), name="c")
    head = np.random.default_rng(0).standard_normal((2, 4, 6, 6)).astype(np.float32)
    grads = {}
    for req in ("write", "null"):
        exe = net.simple_bind(data=(2, 3, 6, 6),
                              grad_req={"data": req, "c_weight": "write", "c_bias": "write"})
        for name, array in exe.arg_dict.items():
            array[...] = np.random.default_rng(len(name)).standard_normal(array.shape)
        exe.forward(is_train=True)
        exe.backward(head)
        grads[req] = {k: v.copy() for k, v in exe.grad_dict.items() if v is not None}
    assert calls == [(True, False), (False, True)]
    assert "data" in grads["write"] and "data" not in grads["null"]
    for name in ("c_weight", "c_bias"):
        np.testing.assert_array_equal(grads["null"][name], grads["write"][name])


@pytest.mark.parametrize("shape", [(-1, 3, 5, 5), (1, 3.5, 5, 5), (1, True, 5, 5)])
def test_simple_bind_rejects_negative_or_non_integer_dims_naming_the_input(shape):
    conv = sym.Convolution(sym.Variable("data"), num_filter=2, kernel=(3, 3), name="conv")
    with pytest.raises(ValueError, match=r"simple_bind: the shape of 'data' must be integers >= 0 "
                                         r"\(0: unknown\), got \("):
        conv.simple_bind(data=shape)
