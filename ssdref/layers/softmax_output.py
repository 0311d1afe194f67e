"""SoftmaxOutput: softmax forward and MXNet's own cross-entropy gradient (ignores the head gradient).

Mirrors: src/operator/softmax_output-inl.h / softmax_output.cc, MXNet 1.9.1, CPU.
Spec: mxnet-semantics.md §4.1 (SSD's call), §8 case S; mxnet-layers.md §12 (the other options).

Forward: the probabilities only (the loss value is never computed), bit-exact in float32
(max, C `expf`, sequential class-order sum, divide). Layouts of `data` and `label`:
- multi_output=True: data (N, C, S...) viewed as (N, C, S), softmax over axis 1; label (N, S),
  (N, S...) or (N, 1, S...).
- preserve_shape=True: softmax over the last axis; label data.shape[:-1].
- neither: data viewed as (N, K) with K = size/N (softmax over everything but the batch axis);
  label (N,) (MXNet's shape inference asks for data.shape[:-1], also accepted: the one-hot then
  uses the first N labels, the counts use them all, exactly as MXNet's kernel reads them).
- label.shape == data.shape: the label is a probability target: grad = grad_scale*(p - label).

Backward, with k = int(label) (truncation; labels outside [0, C) subtract nothing):
    grad = p - onehot(k)    (smooth_alpha: p - (1 - alpha at k, alpha/(C-1) elsewhere), honoured
                             on the rows / preserve_shape paths only: MXNet 1.9.1's multi_output and
                             probability-label backwards ignore smooth_alpha)
    grad = 0 on positions with int(label) == int(ignore_label) when use_ignore
    grad *= grad_scale / normalizer
| normalization | multi_output normalizer            | otherwise             |
| 'null'        | S (the spatial size: a surprise)    | 1                     |
| 'batch'       | S * N                               | number of labels      |
| 'valid'       | max(1, #labels over the WHOLE batch with int(label) != int(ignore_label)) (both) |
'valid' excludes ignore_label entries even when use_ignore is False. The scale is computed in the
data's dtype (float32: MXNet's float arithmetic bit for bit; float64: exact, MXNet rounds the scale
to float32). out_grad=True multiplies by the softmax output p, not by the head gradient: in 1.9.1
the gradient node's out_grad slot is wired to the output (spec §12). The label gets zero gradient.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_choice, check_float, check_same_dtype, fail
from ssdref.layers.softmax import _check_logits, softmax_along_axis

OP = "SoftmaxOutput"
NORMALIZATIONS = ("null", "batch", "valid")


class SoftmaxOutputCache(NamedTuple):
    prob: np.ndarray          # the forward output, data's shape
    label: np.ndarray         # as given
    layout: str               # 'multi_output' | 'rows' | 'prob_label'
    view_shape: tuple         # (N, C, S) for multi_output, (rows, classes) otherwise
    grad_scale: float
    ignore_label: float
    use_ignore: bool
    normalization: str
    out_grad: bool
    smooth_alpha: float


def _view_shape(data: np.ndarray, multi_output: bool, preserve_shape: bool) -> tuple:
    if multi_output:
        n, c = data.shape[:2]
        return (n, c, int(np.prod(data.shape[2:], dtype=np.int64)))
    if preserve_shape:
        return (int(np.prod(data.shape[:-1], dtype=np.int64)), data.shape[-1])
    return (data.shape[0], int(np.prod(data.shape[1:], dtype=np.int64)))


def label_shapes(data_shape: tuple, multi_output: bool, preserve_shape: bool) -> list[tuple]:
    """The label shapes SoftmaxOutput accepts for `data_shape`, MXNet's inferred one first
    (besides data_shape itself, the probability-label form)."""
    n = data_shape[0]
    if multi_output:
        spatial = data_shape[2:]
        flat = (n, int(np.prod(spatial, dtype=np.int64)))
        shapes = [flat, (n,) + tuple(spatial), (n, 1) + tuple(spatial)]
    elif preserve_shape or len(data_shape) == 2:
        shapes = [tuple(data_shape[:-1])]
    else:
        shapes = [tuple(data_shape[:-1]), (n,)]
    unique = []
    for s in shapes:
        if s not in unique:
            unique.append(s)
    return unique


def softmax_output_forward(data, label, *, grad_scale=1.0, ignore_label=-1.0, multi_output=False,
                           use_ignore=False, preserve_shape=False, normalization="null",
                           out_grad=False, smooth_alpha=0.0) -> tuple[np.ndarray, SoftmaxOutputCache]:
    """SoftmaxOutput forward: data (N, C, ...) float32/float64, label per the module docstring
    (same dtype) -> probabilities with data's shape and dtype, and the cache for the backward."""
    data = check_array(OP, "data", data, min_ndim=2)
    label = check_array(OP, "label", label)
    check_same_dtype(OP, data=data, label=label)
    if not np.all(np.isfinite(label)):
        fail(OP, "label must be finite, got NaN/inf")
    grad_scale = check_float(OP, "grad_scale", grad_scale)
    ignore_label = check_float(OP, "ignore_label", ignore_label)
    smooth_alpha = check_float(OP, "smooth_alpha", smooth_alpha, minimum=0.0, maximum=1.0)
    check_choice(OP, "normalization", normalization, NORMALIZATIONS)
    if data.size == 0:
        fail(OP, f"data must not be empty, got shape {data.shape}")

    view_shape = _view_shape(data, bool(multi_output), bool(preserve_shape))
    if label.shape == data.shape:
        layout = "prob_label"
    else:
        allowed = label_shapes(data.shape, bool(multi_output), bool(preserve_shape))
        if label.shape not in allowed:
            fail(OP, f"label must have shape {' or '.join(map(str, allowed))} for data {data.shape}, "
                     f"got {label.shape}")
        layout = "multi_output" if multi_output else "rows"
    num_classes = view_shape[1]
    if smooth_alpha > 0 and num_classes < 2 and layout == "rows":
        fail(OP, f"smooth_alpha > 0 needs at least 2 classes, got {num_classes}")

    logits = data.reshape(view_shape)
    _check_logits(OP, logits, 1)
    prob = softmax_along_axis(logits, 1).reshape(data.shape)
    cache = SoftmaxOutputCache(prob, label, layout, view_shape, grad_scale, ignore_label,
                               bool(use_ignore), normalization, bool(out_grad), smooth_alpha)
    return prob, cache


def softmax_output_backward(dout, cache: SoftmaxOutputCache) -> tuple[np.ndarray, np.ndarray]:
    """MXNet's custom gradient: (ddata, dlabel); `dout` (the head gradient) is ignored, may be None."""
    prob, label, layout, view_shape = cache[:4]
    dtype = prob.dtype.type
    if layout == "prob_label":
        grad = (prob - label) * dtype(cache.grad_scale)
        if cache.out_grad:
            grad = grad * prob
        return grad, np.zeros_like(label)

    p = prob.reshape(view_shape)
    num_classes = view_shape[1]
    if layout == "multi_output":
        k = np.trunc(label.reshape(view_shape[0], view_shape[2]))[:, None, :]    # (N, 1, S)
        classes = np.arange(num_classes)[None, :, None]
    else:
        # MXNet reads the label as one flat vector and uses one entry per row.
        k = np.trunc(label.reshape(-1)[: view_shape[0]])[:, None]                 # (rows, 1)
        classes = np.arange(num_classes)[None, :]
    is_target = classes == k
    if cache.smooth_alpha > 0 and layout == "rows":  # multi_output: MXNet ignores smooth_alpha
        alpha = dtype(cache.smooth_alpha)
        target = np.where(is_target, dtype(1) - alpha, alpha / dtype(num_classes - 1))
        grad = p - target.astype(prob.dtype)
    else:
        grad = p - is_target.astype(prob.dtype)
    if cache.use_ignore:
        grad = np.where(k == np.trunc(cache.ignore_label), dtype(0), grad)

    grad = grad * _gradient_scale(cache, label, dtype)
    if cache.out_grad:
        grad = grad * p
    return grad.reshape(prob.shape).astype(prob.dtype, copy=False), np.zeros_like(label)


def _gradient_scale(cache: SoftmaxOutputCache, label: np.ndarray, dtype):
    """grad_scale / normalizer, evaluated left to right in the data's dtype as MXNet does."""
    scale = dtype(cache.grad_scale)
    if cache.normalization == "valid":
        # Counted over the whole label tensor (all images), whether or not use_ignore is set.
        num_valid = int(np.count_nonzero(np.trunc(label) != np.trunc(cache.ignore_label)))
        return scale / dtype(max(1, num_valid))
    if cache.layout == "multi_output":
        spatial = dtype(cache.view_shape[2])
        if cache.normalization == "batch":
            return scale / spatial / dtype(cache.view_shape[0])
        return scale / spatial
    if cache.normalization == "batch":
        return scale / dtype(label.size)
    return scale
