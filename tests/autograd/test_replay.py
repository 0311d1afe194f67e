"""ssdref.autograd.replay: the float64 backward of a float32 forward keeps the forward's decisions,
is the executor's own backward where the forward is already float64, and leaves the executor as it
was."""
import numpy as np
import pytest

from ssdref import sym
from ssdref.autograd.naming import NameManager
from ssdref.autograd.replay import float64_backward, widen


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


def _pool_net():
    x = sym.Variable("x")
    w = sym.Variable("w")
    return sym.Pooling(x * w, kernel=(1, 2), stride=(1, 2), pool_type="max", name="pool")


def test_a_float32_near_tie_keeps_its_float32_branch():
    """1 and 1 + 1e-9 tie in float32 (the first of equal values wins the max-pool) but not in
    float64: a float64 run sends the gradient to the second cell, the replay to the first, as
    the float32 backward does."""
    net = _pool_net()
    x = np.array([[[[1.0, 1.0 + 1e-9]]]])
    w = np.ones_like(x)
    exe32 = net.simple_bind(x=x.shape, w=x.shape)
    exe32.forward(is_train=True, x=x.astype(np.float32), w=w.astype(np.float32))
    replay = float64_backward(exe32)
    exe32.backward()
    exe64 = net.simple_bind(x=x.shape, w=x.shape, type_dict={"x": np.float64, "w": np.float64})
    exe64.forward(is_train=True, x=x, w=w)
    exe64.backward()
    assert replay["x"].dtype == np.float64
    np.testing.assert_array_equal(exe32.grad_dict["x"], [[[[1, 0]]]])
    np.testing.assert_array_equal(replay["x"], [[[[1, 0]]]])
    np.testing.assert_array_equal(exe64.grad_dict["x"], [[[[0, 1]]]])


def _conv_bn_net():
    x = sym.Variable("x")
    y = sym.Convolution(x, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
    y = sym.BatchNorm(y, fix_gamma=False, name="bn")
    y = sym.Activation(y, act_type="relu", name="relu")
    return sym.MakeLoss(y, name="loss")


def _bound(dtype, rng):
    exe = _conv_bn_net().simple_bind(x=(2, 3, 5, 5), type_dict={"x": dtype})
    for name, array in exe.arg_dict.items():
        array[...] = rng.standard_normal(array.shape)
    exe.aux_dict["bn_moving_var"][...] = 1.0
    return exe


def test_on_a_float64_forward_it_is_the_executors_own_backward():
    exe = _bound(np.float64, np.random.default_rng(0))
    exe.forward(is_train=True)
    replay = float64_backward(exe)
    exe.backward()
    for name, grad in exe.grad_dict.items():
        np.testing.assert_array_equal(replay[name], grad, err_msg=name)


def test_float32_backward_is_within_rounding_of_the_replay_and_the_executor_is_restored():
    exe = _bound(np.float32, np.random.default_rng(1))
    exe.forward(is_train=True)
    aux_before = {k: v.copy() for k, v in exe.aux_dict.items()}
    outputs_before = [o.copy() for o in exe.outputs]
    replay = float64_backward(exe)
    for name, value in exe.aux_dict.items():          # BatchNorm's backward updates these
        np.testing.assert_array_equal(value, aux_before[name], err_msg=name)
    assert all(o.dtype == np.float32 for o in exe.outputs + exe.grad_arrays)
    np.testing.assert_array_equal(exe.outputs[0], outputs_before[0])
    exe.backward()                                     # the executor's own backward still runs
    assert not np.array_equal(exe.aux_dict["bn_moving_mean"], aux_before["bn_moving_mean"])
    for name, grad in exe.grad_dict.items():
        assert grad.dtype == np.float32
        if name == "conv_bias":     # exactly 0 (BatchNorm subtracts the batch mean): rounding only
            assert np.abs(grad).max() <= 1e-5 * np.abs(exe.grad_dict["conv_weight"]).max()
            continue
        scale = np.abs(replay[name]).max()
        assert np.abs(grad - replay[name]).max() <= 1e-5 * scale, name


def test_widen_walks_named_tuples_dataclasses_and_dtypes():
    import dataclasses
    from typing import NamedTuple

    class Cache(NamedTuple):
        x: np.ndarray
        dtype: np.dtype
        scale: np.float32
        index: np.ndarray

    @dataclasses.dataclass
    class Holder:
        caches: list
        kind: str = "max"

    held = Holder([Cache(np.ones(2, np.float32), np.dtype(np.float32), np.float32(0.5),
                         np.arange(2))])
    wide = widen(held)
    cache = wide.caches[0]
    assert cache.x.dtype == np.float64 and cache.dtype == np.float64
    assert isinstance(cache.scale, np.float64) and cache.index.dtype == np.arange(2).dtype
    assert wide.kind == "max" and held.caches[0].x.dtype == np.float32   # the original is kept


def test_it_needs_a_training_forward():
    exe = _bound(np.float32, np.random.default_rng(2))
    with pytest.raises(RuntimeError, match="float64_backward: needs a preceding forward"):
        float64_backward(exe)


def test_the_tiny_ssd_training_step_replays_every_cache_within_float32_rounding():
    """The whole SSD (MultiBoxPrior/Target, SoftmaxOutput, smooth L1, MakeLoss, L2Normalization,
    BlockGrad ...): every cache widens, and each float32 parameter gradient is within 1e-5 of the
    exact backward of its own forward (the SSD300 conformance test's referee)."""
    from ssdref.cases.graphs import shapes_train_case
    symbol, args = shapes_train_case(seed=0)
    names = symbol.list_arguments()
    exe = symbol.simple_bind(**{n: args[n].shape for n in ("data", "label")})
    for name in names:
        exe.arg_dict[name][...] = args[name]
    exe.forward(is_train=True)
    exact = float64_backward(exe)
    exe.backward()
    checked = 0
    for name in names:
        if name in ("data", "label"):
            continue
        grad, want = exe.grad_dict[name], exact[name]
        assert grad.dtype == np.float32 and want.dtype == np.float64
        scale = np.abs(want).max()
        if scale == 0:
            assert not grad.any(), name
            continue
        assert np.abs(grad - want).max() <= 1e-5 * scale, name
        checked += 1
    assert checked > 10
