"""The generated namespaces: `ssdref.sym`, `ssdref.nd`, `ssdref.contrib.*`, `ssdref.cpu/gpu`."""
import numpy as np
import pytest

import ssdref as mx
from ssdref.autograd.naming import NameManager


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


def test_nd_convolution_runs_the_op_forward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    w = rng.standard_normal((5, 3, 1, 1)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    y = mx.nd.Convolution(data=x, weight=w, bias=b, kernel=(1, 1), num_filter=5)
    expected = np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b[None, :, None, None]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    positional = mx.nd.Convolution(x, w, b, kernel=(1, 1), num_filter=5)
    np.testing.assert_array_equal(positional, y)


def test_nd_matches_the_bound_symbol():
    x = np.linspace(-1, 1, 24).reshape(2, 3, 4)
    data = mx.sym.Variable("data")
    exe = mx.sym.Activation(data, act_type="relu").simple_bind(data=x.shape, type_dict={"data": np.float64})
    np.testing.assert_array_equal(mx.nd.Activation(x, act_type="relu"), exe.forward(data=x)[0])
    np.testing.assert_array_equal(mx.nd.Activation(x, act_type="relu"), np.maximum(x, 0))


def test_nd_several_outputs_and_variadic_inputs():
    a, b = np.ones((2, 1)), np.zeros((2, 2))
    assert mx.nd.Concat(a, b, dim=1).shape == (2, 3)
    assert mx.nd.concat(a, b, a, dim=1).shape == (2, 4)


def test_nd_input_errors_are_clear():
    x32, w64 = np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 1, 1))
    with pytest.raises(TypeError, match="Convolution"):
        mx.nd.Convolution(x32, w64, kernel=(1, 1), num_filter=1, no_bias=True)
    with pytest.raises(ValueError, match="input 'weight' is required"):
        mx.nd.Convolution(x32, kernel=(1, 1), num_filter=1, no_bias=True)
    with pytest.raises(TypeError, match="must be a numpy array"):
        mx.nd.Convolution([[1.0]], w64, kernel=(1, 1), num_filter=1, no_bias=True)
    with pytest.raises(AttributeError):
        mx.nd.NoSuchOperator  # noqa: B018


def test_nd_helpers_follow_mxnet_defaults():
    assert mx.nd.array([1, 2]).dtype == np.float32
    assert mx.nd.array(np.arange(3.0)).dtype == np.float64
    assert mx.nd.zeros((2, 3)).dtype == np.float32 and not mx.nd.zeros((2, 3)).any()
    assert mx.nd.ones((2,), dtype=np.float64).tolist() == [1.0, 1.0]


def test_contrib_ops_are_reachable_from_every_namespace():
    assert mx.contrib.symbol.MultiBoxPrior is mx.sym.contrib.MultiBoxPrior
    assert mx.contrib.ndarray is mx.nd.contrib
    data = mx.sym.Variable("data")
    prior = mx.sym.contrib.MultiBoxPrior(data, sizes=[0.2], ratios=[1, 2])
    assert prior.name == "multiboxprior0"
    assert prior._outputs[0][0].op.name == "_contrib_MultiBoxPrior"
    assert prior.infer_shape(data=(1, 3, 4, 5))[1] == [(1, 40, 4)]
    anchors = mx.nd.contrib.MultiBoxPrior(np.zeros((1, 3, 4, 5), np.float32), sizes=[0.2], ratios=[1, 2])
    assert anchors.shape == (1, 40, 4)
    target = mx.contrib.symbol.MultiBoxTarget(prior, mx.sym.Variable("label"), mx.sym.Variable("cls"),
                                              name="mt")
    assert target.list_outputs() == ["mt_loc_target", "mt_loc_mask", "mt_cls_target"]
    assert "MultiBoxPrior" not in dir(mx.sym) and "MultiBoxPrior" in dir(mx.sym.contrib)
    with pytest.raises(AttributeError):
        mx.sym.MultiBoxPrior  # noqa: B018


def test_sym_namespace_exports_and_hints():
    assert mx.sym is mx.symbol and mx.nd is mx.ndarray
    data = mx.sym.var("data")
    names = [mx.sym.Concat(data, data).name, mx.sym.concat(data, data).name, mx.sym.Flatten(data).name,
             mx.sym.flatten(data).name, mx.sym.BlockGrad(data).name, mx.sym.stop_gradient(data).name,
             mx.sym.smooth_l1(data).name]
    assert names == ["concat0", "concat1", "flatten0", "flatten1", "blockgrad0", "stop_gradient0",
                     "smooth_l10"]


def test_contexts_are_recorded():
    assert mx.cpu() == mx.Context("cpu", 0) and repr(mx.gpu(1)) == "gpu(1)"
    assert mx.gpu(2).device_typeid == 2
    with pytest.raises(ValueError, match="device_type"):
        mx.Context("tpu")
