"""Executor.set_monitor_callback and ssdref.monitor.Monitor (MXNet 1.9.1's executor monitor and
python/mxnet/monitor.py); the same names and values are checked against MXNet in
tests/conformance/test_monitor_mxnet.py."""
import logging

import numpy as np
import pytest

import ssdref as mx
from ssdref.monitor import Monitor, norm_stat


def _net():
    with mx.name.NameManager():
        data = mx.sym.Variable("data")
        x = mx.sym.Convolution(data, num_filter=2, kernel=(3, 3), pad=(1, 1), name="conv1_1")
        x = mx.sym.Activation(x, act_type="relu", name="relu1_1")
        x = mx.sym.Concat(x, data, dim=1, name="cat")
        x = x * 2
        x = mx.sym.FullyConnected(x, num_hidden=3, name="fc")
        return mx.sym.SoftmaxOutput(x, name="softmax")


def _exe():
    exe = _net().simple_bind(None, data=(2, 1, 4, 4))
    rng = np.random.default_rng(0)
    for name, array in exe.arg_dict.items():
        array[...] = rng.uniform(-1, 1, array.shape) if name != "softmax_label" else [0, 2]
    return exe


def _record(exe, monitor_all=False, is_train=False):
    seen = []
    exe.set_monitor_callback(lambda name, array: seen.append((name, np.array(array))), monitor_all)
    exe.forward(is_train=is_train)
    return seen


def test_callback_sees_every_op_output_under_mxnets_name_in_execution_order():
    exe = _exe()
    seen = _record(exe)
    assert [name for name, _ in seen] == ["conv1_1_output", "relu1_1_output", "cat_output",
                                          "_mulscalar0_output", "fc_output", "softmax_output"]
    np.testing.assert_array_equal(seen[-1][1], exe.outputs[0])
    np.testing.assert_array_equal(seen[1][1], np.maximum(seen[0][1], 0))


def test_monitor_all_adds_inputs_before_the_op_variables_under_both_names():
    seen = [name for name, _ in _record(_exe(), monitor_all=True)]
    assert seen[:7] == ["data", "conv1_1_data", "conv1_1_weight", "conv1_1_weight", "conv1_1_bias",
                        "conv1_1_bias", "conv1_1_output"]
    # Ops without MXNet input names say input<i>; Concat says arg<i>.
    assert seen[7:9] == ["relu1_1_input0", "relu1_1_output"]
    assert seen[9:13] == ["cat_arg0", "data", "cat_arg1", "cat_output"]
    assert seen[13:15] == ["_mulscalar0_input0", "_mulscalar0_output"]


def test_backward_reports_each_ops_gradients_as_its_backward_node_outputs():
    exe = _exe()
    seen = _record(exe, is_train=True)
    seen.clear()
    exe.backward()
    names = [name for name, _ in seen]
    assert names[:4] == ["softmax_backward_output0", "softmax_backward_output1",  # the label's: zeros
                         "fc_backward_output0", "fc_backward_output1"]
    assert not dict(seen)["softmax_backward_output1"].any()
    assert "relu1_1_backward_output" in names and "conv1_1_backward_output1" in names
    np.testing.assert_array_equal(dict(seen)["conv1_1_backward_output1"], exe.grad_dict["conv1_1_weight"])


def test_callback_arrays_are_read_only():
    def callback(name, array):
        with pytest.raises(ValueError):
            array[...] = 0

    exe = _exe()
    exe.set_monitor_callback(callback, True)
    before = exe.forward()[0].copy()
    assert np.array_equal(exe.forward()[0], before)


def test_set_monitor_callback_rejects_a_non_callable():
    with pytest.raises(TypeError, match="callback must be callable"):
        _exe().set_monitor_callback("print")


def test_default_stat_is_norm_over_sqrt_size_in_the_arrays_dtype():
    array = np.float32([[3, 4], [0, 0]])
    stat = norm_stat(array)
    assert stat.shape == (1,) and stat.dtype == np.float32 and stat[0] == np.float32(2.5)
    assert norm_stat(np.float64([1, -1])).dtype == np.float64


def test_tic_arms_every_interval_batches_and_counts_steps():
    exe = _exe()
    monitor = Monitor(2, pattern="fc_output")
    monitor.install(exe)
    results = []
    for _ in range(4):
        monitor.tic()
        exe.forward()
        results.append(monitor.toc())
    assert [[(step, name) for step, name, _ in r] for r in results] == [
        [(1, "fc_output")], [], [(3, "fc_output")], []]


def test_toc_appends_arguments_then_aux_and_formats_scalars_with_a_tab():
    exe = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn").simple_bind(None, data=(2, 3, 4, 4))
    exe.aux_dict["bn_moving_var"][...] = 4
    monitor = Monitor(1, pattern="bn_(gamma|moving_var)$")
    monitor.install(exe)
    monitor.tic()
    exe.forward()
    assert monitor.toc() == [(1, "bn_gamma", "0.0\t"), (1, "bn_moving_var", "4.0\t")]


def test_pattern_is_matched_at_the_start_only_and_sort_orders_by_name():
    exe = _exe()
    monitor = Monitor(1, pattern=".*weight|conv", sort=True)
    monitor.install(exe)
    monitor.tic()
    exe.forward()
    names = [name for _, name, _ in monitor.toc()]
    assert names == ["conv1_1_bias", "conv1_1_output", "conv1_1_weight", "fc_weight"]


def test_custom_stat_func_returning_a_list_and_a_vector():
    exe = _exe()
    monitor = Monitor(1, stat_func=lambda a: [np.float32([a.min()]), np.float32([1, 2])], pattern="relu")
    monitor.install(exe)
    monitor.tic()
    exe.forward()
    ((step, name, text),) = monitor.toc()
    assert (step, name) == (1, "relu1_1_output") and text == "0.0\t[1. 2.]\t"


def test_toc_without_tic_is_empty_and_toc_print_logs_mxnets_lines(caplog):
    exe = _exe()
    monitor = Monitor(1, pattern="softmax_output")
    monitor.install(exe)
    assert monitor.toc() == []
    monitor.tic()
    exe.forward()
    with caplog.at_level(logging.INFO):
        monitor.toc_print()
    (record,) = caplog.records
    assert record.getMessage() == "Batch: {:7d} {:30s} {:s}".format(
        1, "softmax_output", str(norm_stat(exe.outputs[0])[0]) + "\t")


def test_one_monitor_on_two_executors():
    first, second = _exe(), _exe()
    monitor = Monitor(1, pattern="fc_output")
    monitor.install(first)
    monitor.install(second)
    monitor.tic()
    first.forward()
    second.forward()
    assert [name for _, name, _ in monitor.toc()] == ["fc_output", "fc_output"]


@pytest.mark.parametrize("is_train", [False, True])
def test_hidden_outputs_follow_the_visible_ones_batchnorm_var_as_invstd(is_train):
    x = mx.sym.BatchNorm(mx.sym.Variable("data"), eps=1e-3, fix_gamma=False, name="bn")
    net = mx.sym.L2Normalization(x, mode="instance", name="l2")
    exe = net.simple_bind(None, data=(2, 3, 2, 2))
    data = np.random.default_rng(1).uniform(-1, 1, (2, 3, 2, 2)).astype(np.float32)
    exe.arg_dict["data"][...] = data
    exe.aux_dict["bn_moving_mean"][...] = 0.5
    exe.aux_dict["bn_moving_var"][...] = 2
    seen = _record(exe, is_train=is_train)
    assert [name for name, _ in seen] == ["bn_output", "bn_mean", "bn_var", "l2_output", "l2_norm"]
    stats = dict(seen)
    mean, var = (data.mean(axis=(0, 2, 3)), data.var(axis=(0, 2, 3))) if is_train else (0.5, 2.0)
    np.testing.assert_allclose(stats["bn_mean"], np.broadcast_to(mean, (3,)), rtol=1e-5)
    np.testing.assert_allclose(stats["bn_var"], 1 / np.sqrt(np.broadcast_to(var, (3,)) + 1e-3), rtol=1e-5)
    bn_out = stats["bn_output"].reshape(2, -1)
    np.testing.assert_allclose(stats["l2_norm"], np.sqrt((bn_out ** 2).sum(axis=1) + 1e-10), rtol=1e-5)


def test_backward_names_follow_mxnets_nodes_legacy_ops_by_argument_and_no_node_for_add():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    with mx.name.NameManager():
        net = mx.sym.MakeLoss(mx.sym.L2Normalization(a + b, mode="channel", name="l2"), name="loss")
    exe = net.simple_bind(None, a=(1, 2, 3, 3), b=(1, 2, 3, 3))
    exe.arg_dict["a"][...] = 1
    seen = _record(exe, is_train=True)
    seen.clear()
    exe.backward()
    assert [name for name, _ in seen] == ["loss_backward_data", "l2_backward_data"]


def test_monitor_all_passes_through_install_to_the_executor():
    exe = _exe()
    monitor = Monitor(1, pattern="conv1_1_data|relu1_1_input0", monitor_all=True)
    monitor.install(exe)
    monitor.tic()
    exe.forward()
    assert [name for _, name, _ in monitor.toc()] == ["conv1_1_data", "relu1_1_input0"]
