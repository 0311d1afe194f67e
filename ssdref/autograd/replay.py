"""The exact backward of a float32 forward: an executor's caches widened to float64, then backward.

Why: a float32 training step can be *chaotic*. A forward value that lands within rounding of a
decision (a max-pool's two largest inputs, a ReLU input near 0, an anchor's score at the hard-
negative-mining cut) takes one branch in float32 and the other in float64, and the sparse SSD loss
gradient carries that flip down to every layer below it. Measured on the VGG16-reduced SSD300 train
step (batch 2, tests/conformance/test_graph_mxnet.py's draw): depending on the seed and on the
convolution's rounding, 0 to 25 of the 71 float32 parameter gradients land 1e-4 ... 4.5e-3 from the
float64 run (im2col as well as Winograd), and MXNet's oneDNN float32 moves as far (2e-3) on the same
inputs. Traced at seed 3: 5 ReLU sign flips among ~3e7 activations (pre-activations of +-1e-8) and 6
max-pool argmax flips (two inputs a few float32 ulps apart); the ones in the image that has objects,
where the incoming gradient is not 0, each move one pixel's gradient (10-18% of max|dy|), and a
weight gradient, a sum over ~1e5 mostly cancelling terms, moves by ~2e-3 of its largest value.
Forcing float32's ReLU masks and argmax into the float64 run brings it to 1.2e-6. A float64 run of
the whole step therefore cannot referee float32 gradients; this can: it keeps every value and
decision of the float32 forward and computes the backward from them in float64. What is left between
the two is the float32 backward's own rounding (measured <= 2.9e-6 of each gradient's largest
value).

    exe = symbol.simple_bind(...); exe.forward(is_train=True)
    grads = float64_backward(exe)        # {argument name: float64 gradient}; exe is left as it was

It reads the executor's private state (its caches, outputs and gradient arrays), so it lives beside
the executor; no MXNet counterpart exists.
"""
from __future__ import annotations

import dataclasses

import numpy as np


def widen(value):
    """`value` with every float32 array, scalar and dtype inside it made float64: arrays,
    NamedTuples, dataclasses, tuples, lists and dicts are walked; anything else is returned as it
    is."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype == np.float32 else value
    if isinstance(value, np.dtype):
        return np.dtype(np.float64) if value == np.float32 else value
    if isinstance(value, np.float32):
        return np.float64(value)
    if value is np.float32:
        return np.float64
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)._make(widen(v) for v in value)
    if isinstance(value, (tuple, list)):
        return type(value)(widen(v) for v in value)
    if isinstance(value, dict):
        return {k: widen(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: widen(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


def float64_backward(executor, out_grads=None) -> dict:
    """The gradients (float64, by argument name) of the forward `executor` just ran with
    is_train=True, computed in float64 from that forward's own values. The executor's caches,
    outputs, gradient arrays and aux states (BatchNorm's backward updates its moving statistics)
    are restored afterwards, so its own backward can still follow."""
    if not executor._caches:
        raise RuntimeError("float64_backward: needs a preceding forward(is_train=True)")
    saved = executor._caches, executor.outputs, executor.grad_arrays
    aux_before = [a.copy() for a in executor.aux_arrays]
    try:
        executor._caches = {node: widen(cache) for node, cache in executor._caches.items()}
        executor.outputs = [widen(out) for out in executor.outputs]
        executor.grad_arrays = [None if a is None else np.zeros(a.shape, np.float64)
                                for a in executor.grad_arrays]
        executor.backward(widen(out_grads))
        return dict(zip(executor._arg_names, executor.grad_arrays))
    finally:
        executor._caches, executor.outputs, executor.grad_arrays = saved
        for array, before in zip(executor.aux_arrays, aux_before):
            array[...] = before
