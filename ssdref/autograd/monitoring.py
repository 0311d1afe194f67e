"""What an executor's monitor callback sees and under which names: MXNet 1.9.1's ExecuteMon*Callback.

Mirrors: src/executor/graph_executor.cc (ExecuteMonInputCallback, ExecuteMonOutputCallback) and
python/mxnet/executor.py set_monitor_callback (1.9.1). Conventions that bite (checked on MXNet):
- an output is `<node>_<output name>` as list_outputs names it (`conv1_1_output`, `n_loss`),
  followed by the hidden outputs (`bn1_mean`, `bn1_var`: the batch or moving mean and
  1 / sqrt(var + eps); `l2_norm`) that the OpDef's monitor_hidden reads from the cache;
- with monitor_all, each input is `<node>_<input name>` *before* the op runs, preceded by the
  variable's own name when the input is a variable (`data`, then `conv1_1_data`); the input
  name is the op's FListInputNames (`data`, `lhs`, `weight`), but ops that register none say
  `input0`, `input1`... (Activation, Flatten, Reshape, the scalar ops) and Concat says `arg0`...;
- a backward node reports `<node>_backward_output` (one gradient) or `_backward_output<j>`;
  MXNet's legacy operators (MakeLoss, L2Normalization, the MultiBox ops) name theirs after the
  argument (`<node>_backward_data`), and elemwise_add has no backward node at all (its gradient
  is the head gradient itself).
"""
from __future__ import annotations

import numpy as np

# MXNet ops without FListInputNames: the monitor calls their inputs input0, input1, ...
_POSITIONAL_INPUTS = frozenset({
    "Activation", "Flatten", "Reshape", "transpose", "SoftmaxActivation", "BlockGrad", "expand_dims",
    "slice_axis", "zeros_like", "ones_like", "_copy", "make_loss", "smooth_l1", "_contrib_box_nms",
    "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar", "_rdiv_scalar",
    "_power_scalar", "_rpower_scalar", "_greater_scalar", "_mod_scalar", "_rmod_scalar"})


# MXNet's legacy OperatorProperty ops: backward outputs named after the arguments.
_LEGACY_BACKWARD = frozenset({"MakeLoss", "L2Normalization", "_contrib_MultiBoxPrior",
                              "_contrib_MultiBoxTarget", "_contrib_MultiBoxDetection"})
# Ops whose gradient MXNet passes on without a backward node.
_NO_BACKWARD_NODE = frozenset({"elemwise_add"})


def input_names(node) -> list:
    """`<node>_<input name>` for every input of an op node (arguments, then auxiliary states)."""
    count = len(node.inputs)
    if node.op.name == "Concat":
        names = [f"arg{i}" for i in range(count)]
    elif node.op.name in _POSITIONAL_INPUTS:
        names = [f"input{i}" for i in range(count)]
    else:
        names = list(node.op.all_inputs(node.params))
    return [f"{node.name}_{name}" for name in names]


def output_names(node) -> list:
    return [node.output_label(j) for j in range(len(node.output_names()))]


def backward_names(node) -> list:
    """One name per argument input: the outputs of MXNet's `_backward_<op>` node ([] if none)."""
    count = node.num_args()
    if node.op.name in _NO_BACKWARD_NODE:
        return []
    if node.op.name in _LEGACY_BACKWARD:
        return [f"{node.name}_backward_{name}" for name in node.op.inputs(node.params)]
    if count == 1:
        return [f"{node.name}_backward_output"]
    return [f"{node.name}_backward_output{j}" for j in range(count)]


def report(callback, names, arrays):
    """callback(name, read-only view) for each array; None (a gradient the op skipped) is left out."""
    for name, array in zip(names, arrays):
        if array is None:
            continue
        view = np.asarray(array).view()
        view.flags.writeable = False
        callback(name, view)


def report_outputs(callback, node, outputs, cache):
    """An op node's visible outputs, then the hidden ones its OpDef reads from the cache."""
    report(callback, output_names(node), outputs)
    if node.op.monitor_hidden is not None:
        hidden = node.op.monitor_hidden(cache, node.params)
        report(callback, [f"{node.name}_{name}" for name, _ in hidden], [array for _, array in hidden])


def report_inputs(callback, node, arrays):
    """An op node's inputs before it runs, a variable input under its own name first (MXNet's order)."""
    names, shown = [], []
    for (source, _), label, array in zip(node.inputs, input_names(node), arrays):
        if source.is_variable:
            names.append(source.name)
            shown.append(array)
        names.append(label)
        shown.append(array)
    report(callback, names, shown)
