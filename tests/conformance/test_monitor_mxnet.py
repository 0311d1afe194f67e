"""The executor monitor and Monitor against MXNet 1.9.1: the same names, the same statistics.

One small graph (convolution, relu, pooling, scalar and elementwise arithmetic, a fully
connected layer, SoftmaxOutput; a second one with BatchNorm and max pooling) runs in MXNet and
in ssdref with the same parameters, and the monitored names and values are compared: forward
outputs, forward inputs with monitor_all, and `Monitor.toc()` over a training step (outputs,
gradients, arguments, auxiliary states), with a pattern and sort.
MXNet runs in a child process on its default threaded engine: under the NaiveEngine the
conformance suite imports it with, a monitor_all callback reads stale pooling outputs and
corrupts the heap (checked: `corrupted size vs. prev_size`).
"""
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import ssdref
from ssdref.monitor import Monitor

SHAPE = (2, 3, 6, 6)
GRAPHS = {"plain": {}, "batchnorm_maxpool": {"batchnorm": True, "pool_type": "max"}}
TOC_PATTERN = dict(pattern=".*weight|.*backward.*", sort=True)
# What MXNet reports and ssdref does not, by design (ssdref/autograd/executor.py's docstring):
# max Pooling's MKLDNN workspace and MXNet's gradient plumbing.
MXNET_ONLY = {"pool1_workspace", "sum_grad_output", "zeros_without_dtype_output"}
# One op on one or two (2, 4, 4, 4) inputs `d`, `e`: the names its backward reports.
BACKWARD_OPS = {
    "elemwise_add": lambda m, d, e: m.sym.elemwise_add(d, e, name="n"),
    "elemwise_sub": lambda m, d, e: m.sym.elemwise_sub(d, e, name="n"),
    "elemwise_mul": lambda m, d, e: m.sym.elemwise_mul(d, e, name="n"),
    "broadcast_mul": lambda m, d, e: m.sym.broadcast_mul(d, e, name="n"),
    "Activation": lambda m, d, e: m.sym.Activation(d, act_type="relu", name="n"),
    "Flatten": lambda m, d, e: m.sym.Flatten(d, name="n"),
    "Reshape": lambda m, d, e: m.sym.Reshape(d, shape=(0, -1), name="n"),
    "Concat": lambda m, d, e: m.sym.Concat(d, e, dim=1, name="n"),
    "transpose": lambda m, d, e: m.sym.transpose(d, axes=(0, 2, 3, 1), name="n"),
    "plus_scalar": lambda m, d, e: d + 1,
    "BlockGrad": lambda m, d, e: m.sym.BlockGrad(d, name="n"),
    "MakeLoss": lambda m, d, e: m.sym.MakeLoss(d, name="n"),
    "make_loss": lambda m, d, e: m.sym.make_loss(d, name="n"),
    "softmax": lambda m, d, e: m.sym.softmax(d, name="n"),
    "L2Normalization": lambda m, d, e: m.sym.L2Normalization(d, mode="channel", name="n"),
    "slice_axis": lambda m, d, e: m.sym.slice_axis(d, axis=1, begin=0, end=2, name="n"),
    "smooth_l1": lambda m, d, e: m.sym.smooth_l1(d, scalar=1.0, name="n"),
    "Pooling": lambda m, d, e: m.sym.Pooling(d, kernel=(2, 2), pool_type="max", name="n"),
    "BatchNorm": lambda m, d, e: m.sym.BatchNorm(d, name="n"),
    "Convolution": lambda m, d, e: m.sym.Convolution(d, num_filter=2, kernel=(3, 3), name="n"),
}
# MXNet's nodes that copy the head gradient or make zeros: graph plumbing, not op gradients.
PLUMBING = ("_head_grad_", "zeros_without_dtype_output", "sum_grad_output")


def _graph(m, batchnorm=False, pool_type="avg"):
    with m.name.NameManager():  # a fresh counter: the sum is `_plus0` in every process
        x = m.sym.Convolution(m.sym.Variable("data"), num_filter=4, kernel=(3, 3), pad=(1, 1),
                              name="conv1_1")
        if batchnorm:
            x = m.sym.BatchNorm(x, name="bn1")
        x = m.sym.Activation(x, act_type="relu", name="relu1")
        x = m.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type=pool_type, name="pool1")
        x = x * 2 + x
        x = m.sym.FullyConnected(x, num_hidden=3, name="fc")
        return m.sym.SoftmaxOutput(x, name="softmax")


def _norm_graph(m):
    """The ops with hidden outputs ssdref reports: BatchNorm's mean/var, L2Normalization's norm."""
    with m.name.NameManager():
        x = m.sym.BatchNorm(m.sym.Variable("data"), fix_gamma=False, eps=1e-3, name="bn1")
        x = m.sym.L2Normalization(x, mode="channel", name="l2_channel")
        x = m.sym.L2Normalization(x, mode="spatial", name="l2_spatial")
        return m.sym.L2Normalization(x, mode="instance", name="l2_instance")


def _fill(exe, write):
    """The same parameters on both sides: write(dict, name, value) for args, then aux."""
    rng = np.random.default_rng(7)
    for name, array in exe.arg_dict.items():
        value = rng.uniform(-1, 1, array.shape).astype(np.float32)
        write(exe.arg_dict, name, np.float32([0, 2]) if name == "softmax_label" else value)
    for name, array in exe.aux_dict.items():
        write(exe.aux_dict, name, rng.uniform(0.5, 1.5, array.shape).astype(np.float32))


def _callback_log(exe, monitor_all, unwrap=None, is_train=False):
    seen = []

    def callback(name, array):
        if unwrap is not None:
            name, array = unwrap(name, array)
        seen.append((name, np.array(array)))

    exe.set_monitor_callback(callback, monitor_all)
    exe.forward(is_train=is_train)
    return seen


def _monitor_step(monitor_class, exe, **kwargs):
    monitor = monitor_class(1, **kwargs)
    monitor.install(exe)
    monitor.tic()
    exe.forward(is_train=True)
    exe.backward()
    return monitor.toc()


def _backward_names(m, op, ctx, grads_of):
    with m.name.NameManager():
        symbol = BACKWARD_OPS[op](m, m.sym.Variable("d"), m.sym.Variable("e"))
    shapes = {name: (2, 4, 4, 4) for name in symbol.list_arguments() if name in ("d", "e")}
    exe = symbol.simple_bind(ctx, grad_req={"d": "write", "e": "write"}, **shapes)
    rng = np.random.default_rng(0)
    for array in exe.arg_arrays:
        array[:] = rng.uniform(0.5, 1.5, array.shape).astype(np.float32)
    names = []
    exe.set_monitor_callback(lambda name, array: names.append(name), False)
    exe.forward(is_train=True)
    names.clear()
    exe.backward(grads_of(exe.outputs))
    return [n.decode() if isinstance(n, bytes) else n for n in names]


def _ssd_training_step(m, ctx):
    """The tiny SSD's training symbol, seeded parameters: [(name, rms)] over forward + backward."""
    from ssdref.backends.mxnet_graph import build, make_label, make_params
    from ssdref.monitor import norm_stat
    net = build(m, "tiny", 64, 3)
    rng = np.random.default_rng(0)
    label = make_label(rng, 2, num_classes=3)
    exe = net.simple_bind(ctx, data=(2, 3, 64, 64), label=label.shape)
    shapes = {name: tuple(a.shape) for name, a in exe.arg_dict.items()}
    args, aux = make_params(rng, shapes, {name: tuple(a.shape) for name, a in exe.aux_dict.items()})
    args["data"] = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    args["label"] = label
    for name, value in list(args.items()) + list(aux.items()):
        target = exe.arg_dict.get(name)
        target = exe.aux_dict[name] if target is None else target
        target[:] = value
    seen = []

    def callback(name, array):
        if isinstance(name, bytes):
            handle = m.base.ctypes.cast(array, m.base.NDArrayHandle)
            name, array = name.decode(), m.nd.NDArray(handle, writable=False).asnumpy()
        seen.append((name, float(norm_stat(np.asarray(array, np.float64))[0])))

    exe.set_monitor_callback(callback, False)
    exe.forward(is_train=True)
    exe.backward()
    return seen


def _ssdref_exe(graph):
    symbol = _norm_graph(ssdref) if graph == "norms" else _graph(ssdref, **GRAPHS[graph])
    exe = symbol.simple_bind(None, data=SHAPE)
    _fill(exe, lambda d, name, value: d[name].__setitem__(Ellipsis, value))
    return exe


def mxnet_side(path):
    """Run in the child process: every MXNet answer the tests compare with, pickled to `path`."""
    import mxnet as mx

    def bound(graph):
        symbol = _norm_graph(mx) if graph == "norms" else _graph(mx, **GRAPHS[graph])
        exe = symbol.simple_bind(mx.cpu(), data=SHAPE)
        _fill(exe, lambda d, name, value: d[name].__setitem__(slice(None), value))
        return exe

    def unwrap(name, handle):
        array = mx.nd.NDArray(mx.base.ctypes.cast(handle, mx.base.NDArrayHandle), writable=False)
        return name.decode(), array.asnumpy()

    answers = {f"callback_{flag}": _callback_log(bound("plain"), flag, unwrap) for flag in (False, True)}
    for is_train in (False, True):
        answers[f"norms_{is_train}"] = _callback_log(bound("norms"), False, unwrap, is_train)
    for graph in GRAPHS:
        answers[f"toc_{graph}"] = _monitor_step(mx.mon.Monitor, bound(graph))
    answers["ssd"] = _ssd_training_step(mx, mx.cpu())
    for op in BACKWARD_OPS:
        answers[f"backward_{op}"] = _backward_names(mx, op, mx.cpu(), lambda outs: [
            mx.nd.ones(out.shape) for out in outs])
    answers["toc_pattern"] = _monitor_step(mx.mon.Monitor, bound("plain"), **TOC_PATTERN)
    with open(path, "wb") as handle:
        pickle.dump(answers, handle)


@pytest.fixture(scope="module")
def mxnet_answers(mx, tmp_path_factory):
    path = tmp_path_factory.mktemp("monitor") / "mxnet.pkl"
    env = {k: v for k, v in os.environ.items() if k != "MXNET_ENGINE_TYPE"}
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            f"import test_monitor_mxnet as t; t.mxnet_side({str(path)!r})")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(path, "rb") as handle:
        return pickle.load(handle)


@pytest.mark.parametrize("monitor_all", [False, True])
def test_callback_reports_mxnets_names_and_values_in_order(mxnet_answers, monitor_all):
    expected = mxnet_answers[f"callback_{monitor_all}"]
    got = _callback_log(_ssdref_exe("plain"), monitor_all)
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, value), (_, reference) in zip(got, expected):
        np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("is_train", [False, True])
def test_hidden_outputs_batchnorm_mean_var_and_l2_norm_match_mxnet(mxnet_answers, is_train):
    expected = mxnet_answers[f"norms_{is_train}"]
    got = _callback_log(_ssdref_exe("norms"), False, is_train=is_train)
    assert [name for name, _ in got] == [name for name, _ in expected]
    assert "bn1_var" in dict(got) and "l2_spatial_norm" in dict(got)
    for (name, value), (_, reference) in zip(got, expected):
        assert value.shape == reference.shape, name
        np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("op", list(BACKWARD_OPS))
def test_backward_node_names_match_mxnet(mxnet_answers, op):
    expected = [n for n in mxnet_answers[f"backward_{op}"] if not n.startswith(PLUMBING)]
    got = _backward_names(ssdref, op, None, lambda outs: [np.ones_like(out) for out in outs])
    assert got == expected


def test_tiny_ssd_training_step_reports_mxnets_names_and_values(mxnet_answers):
    """Forward: MXNet's names in MXNet's order. Backward: MXNet's names, in ssdref's order (the
    reverse of the forward), less the zero gradients MXNet's no-gradient ops (MultiBox*) emit;
    MXNet prunes cls_label's MakeLoss gradient, which MultiBoxTarget never reads. Values: every
    forward output, and the gradients of the convolution layers (the parameters' and the body's):
    a gradient toward the targets or the anchors is read by nobody, and MXNet reports its
    buffer unwritten (kNullOp) where ssdref reports what its op computed."""
    expected = [(n, v) for n, v in mxnet_answers["ssd"]
                if not n.startswith(PLUMBING) and not n.endswith("_workspace")]
    got = _ssd_training_step(ssdref, None)
    forward = next(i for i, (n, _) in enumerate(got) if "_backward_" in n)
    assert [n for n, _ in got[:forward]] == [n for n, _ in expected[:forward]]
    assert "multibox_target_cls_target" in dict(got) and "_backward_" in expected[forward][0]
    zero_gradient_ops = ("detection_backward_", "multibox_target_backward_")
    expected_backward = {n for n, _ in expected[forward:]
                         if not n.startswith(zero_gradient_ops) and not n.endswith("_anchors_backward_data")}
    assert {n for n, _ in got[forward:]} - {"cls_label_backward_data"} == expected_backward
    reference = dict(expected)
    compared = [(name, value) for i, (name, value) in enumerate(got) if i < forward or "conv" in name]
    assert len(compared) > 100
    wrong = [(name, value, reference[name]) for name, value in compared
             if value != pytest.approx(reference[name], rel=1e-3, abs=1e-6)]
    assert wrong == [], "\n".join(map(str, wrong))


def _as_stats(result):
    return {name: float(text.split("\t")[0]) for _, name, text in result}


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_monitor_toc_matches_mxnet_monitor(mxnet_answers, graph):
    expected = mxnet_answers[f"toc_{graph}"]
    got = _monitor_step(Monitor, _ssdref_exe(graph))
    assert {step for step, _, _ in got} == {step for step, _, _ in expected} == {1}
    got_stats, expected_stats = _as_stats(got), _as_stats(expected)
    assert set(expected_stats) - set(got_stats) <= MXNET_ONLY
    assert set(got_stats) <= set(expected_stats)
    common = [name for _, name, _ in expected if name in got_stats]
    assert [name for _, name, _ in got if name in expected_stats] == common
    for name in common:
        assert got_stats[name] == pytest.approx(expected_stats[name], rel=1e-4, abs=1e-6), name


def test_monitor_pattern_and_sort_match_mxnet(mxnet_answers):
    expected = [(step, name) for step, name, _ in mxnet_answers["toc_pattern"]]
    got = [(step, name) for step, name, _ in _monitor_step(Monitor, _ssdref_exe("plain"), **TOC_PATTERN)]
    assert got == [item for item in expected if item[1] not in MXNET_ONLY]


def test_toc_print_logs_mxnets_line_format(mxnet_answers, caplog):
    exe = _ssdref_exe("plain")
    monitor = Monitor(1, pattern="fc_weight")
    monitor.install(exe)
    monitor.tic()
    exe.forward()
    with caplog.at_level(logging.INFO):
        monitor.toc_print()
    text = next(text for _, name, text in mxnet_answers["toc_plain"] if name == "fc_weight")
    line = caplog.records[-1].getMessage()
    # The statistic may differ in its last digit: MXNet sums scaled squares in float32.
    prefix = "Batch: {:7d} {:30s} ".format(1, "fc_weight")
    assert line.startswith(prefix) and line.endswith("\t")
    assert float(line[len(prefix):]) == pytest.approx(float(text), rel=1e-6)
