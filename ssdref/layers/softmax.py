"""softmax, log_softmax and SoftmaxActivation: forward/backward over one axis, bit-exact in float32.

Mirrors: src/operator/nn/softmax-inl.h (`softmax`, `log_softmax`) and
src/operator/nn/softmax_activation-inl.h (`SoftmaxActivation`), MXNet 1.9.1, CPU.

Conventions that bite (spec mxnet-semantics.md §0, mxnet-layers.md §7):
- float32 is bit-exact with MXNet's CPU kernel: subtract the max over the axis, take the C library's
  `expf` (`ssdref.mathf.expf`, not `np.exp`), sum **sequentially in class order** in the
  input dtype (MXNet accumulates in DType unless MXNET_SAFE_ACCUMULATION is set), then divide.
- temperature T divides the shifted logits: y = exp((x - max)/T) / sum; T = None means 1 (no division).
- log_softmax: y = (x - max)/T - log(sum), with C `logf` in float32.
- backward: softmax dX = y*(g - sum(g*y))/T; log_softmax dX = (g - exp(y)*sum(g))/T (both sums sequential).
- SoftmaxActivation(mode='instance') is the softmax over the LAST axis (MXNet flattens to
  (prod(leading dims), last dim)); mode='channel' is softmax(axis=1) and needs ndim >= 3.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_choice, fail
from ssdref.mathf import expf, logf


class SoftmaxCache(NamedTuple):
    output: np.ndarray          # y (probabilities, or log-probabilities for log_softmax)
    axis: int                   # normalized (non-negative) axis
    temperature: float | None   # None or 1.0: no division


def normalize_axis(op: str, axis, ndim: int) -> int:
    """MXNet's CheckAxis: axis in [-ndim, ndim), negative counted from the end."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        fail(op, f"axis must be an integer, got {axis!r}", TypeError)
    if not -ndim <= axis < ndim:
        fail(op, f"axis must be in [{-ndim}, {ndim}) for an input with {ndim} dimensions, got {axis}")
    return int(axis) % ndim


def _check_logits(op: str, x: np.ndarray, axis: int):
    """Reject inputs that would give a silent NaN: NaN, +inf, or a slice that is all -inf."""
    if np.all(np.isfinite(x)):
        return
    if np.any(np.isnan(x)):
        fail(op, "data must not contain NaN")
    if np.any(np.isposinf(x)):
        fail(op, "data must not contain +inf (the softmax would be NaN)")
    if np.any(np.all(np.isneginf(x), axis=axis)):
        fail(op, f"data must not have a slice along axis {axis} that is entirely -inf (NaN softmax)")


def _check_temperature(op: str, temperature):
    if temperature is None:
        return None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating, np.integer)):
        fail(op, f"temperature must be a number or None, got {temperature!r}", TypeError)
    if temperature == 0 or not np.isfinite(temperature):
        fail(op, f"temperature must be finite and nonzero, got {temperature!r}")
    return float(temperature)


def sequential_sum(values: np.ndarray) -> np.ndarray:
    """Sum over axis 0 one slice at a time, in index order, in the array's dtype.

    Why not np.sum: NumPy sums pairwise, MXNet's CPU loop adds class after class; in float32 the
    two orders round differently."""
    total = np.zeros(values.shape[1:], dtype=values.dtype)
    for k in range(values.shape[0]):
        total = total + values[k]
    return total


def _shifted_logits(x: np.ndarray, axis: int, temperature):
    """(x - max)/T with the class axis moved to the front, as MXNet evaluates it per slice."""
    classes_first = np.moveaxis(x, axis, 0)
    shifted = classes_first - classes_first.max(axis=0)
    if temperature is not None and temperature != 1.0:
        shifted = shifted / x.dtype.type(temperature)
    return shifted


def softmax_along_axis(x: np.ndarray, axis: int, temperature=None) -> np.ndarray:
    """exp((x - max)/T) / sequential_sum(...) along `axis` (already normalized); no checks.

    The shared bit-exact kernel of softmax, SoftmaxActivation and SoftmaxOutput."""
    exps = expf(_shifted_logits(x, axis, temperature))
    probs = exps / sequential_sum(exps)
    return np.ascontiguousarray(np.moveaxis(probs, 0, axis))


def softmax_forward(x, *, axis=-1, temperature=None) -> tuple[np.ndarray, SoftmaxCache]:
    """MXNet `softmax(data, axis=-1, temperature=None)`: x (any shape, ndim >= 1) -> y, same shape/dtype."""
    x = check_array("softmax", "data", x, min_ndim=1)
    axis = normalize_axis("softmax", axis, x.ndim)
    temperature = _check_temperature("softmax", temperature)
    _check_logits("softmax", x, axis)
    y = softmax_along_axis(x, axis, temperature)
    return y, SoftmaxCache(y, axis, temperature)


def softmax_backward(dy, cache: SoftmaxCache) -> np.ndarray:
    """dX = y*(g - sum_axis(g*y))/T, the sum sequential along the axis. dy: y's shape and dtype."""
    y, axis, temperature = cache
    dy = _check_head_grad("softmax", dy, y)
    g = np.moveaxis(dy, axis, 0)
    probs = np.moveaxis(y, axis, 0)
    dot = sequential_sum(g * probs)
    dx = probs * (g - dot)
    if temperature is not None and temperature != 1.0:
        dx = dx / y.dtype.type(temperature)
    return np.ascontiguousarray(np.moveaxis(dx, 0, axis))


def log_softmax_forward(x, *, axis=-1, temperature=None) -> tuple[np.ndarray, SoftmaxCache]:
    """MXNet `log_softmax`: y = (x - max)/T - log(sum exp((x - max)/T)); same shape/dtype as x."""
    x = check_array("log_softmax", "data", x, min_ndim=1)
    axis = normalize_axis("log_softmax", axis, x.ndim)
    temperature = _check_temperature("log_softmax", temperature)
    _check_logits("log_softmax", x, axis)
    shifted = _shifted_logits(x, axis, temperature)
    y = np.ascontiguousarray(np.moveaxis(shifted - logf(sequential_sum(expf(shifted))), 0, axis))
    return y, SoftmaxCache(y, axis, temperature)


def log_softmax_backward(dy, cache: SoftmaxCache) -> np.ndarray:
    """dX = (g - exp(y)*sum_axis(g))/T (MXNet recomputes softmax as exp of the log-probabilities)."""
    y, axis, temperature = cache
    dy = _check_head_grad("log_softmax", dy, y)
    g = np.moveaxis(dy, axis, 0)
    dx = g - expf(np.moveaxis(y, axis, 0)) * sequential_sum(g)
    if temperature is not None and temperature != 1.0:
        dx = dx / y.dtype.type(temperature)
    return np.ascontiguousarray(np.moveaxis(dx, 0, axis))


def softmax_activation_forward(x, *, mode="instance") -> tuple[np.ndarray, SoftmaxCache]:
    """MXNet `SoftmaxActivation`: 'instance' = softmax over the last axis, 'channel' = over axis 1."""
    op = "SoftmaxActivation"
    check_choice(op, "mode", mode, ("instance", "channel"))
    x = check_array(op, "data", x, min_ndim=1)
    if mode == "channel" and x.ndim < 3:
        fail(op, f"data must have at least 3 dimensions when mode='channel', got shape {x.shape}")
    axis = 1 if mode == "channel" else x.ndim - 1
    _check_logits(op, x, axis)
    y = softmax_along_axis(x, axis)
    return y, SoftmaxCache(y, axis, None)


def softmax_activation_backward(dy, cache: SoftmaxCache) -> np.ndarray:
    """softmax's gradient along the mode's axis: dX = y*(g - sum(g*y)). MXNet 1.9.1 agrees for 2-D
    input only; on 3 or more dimensions its 'instance' backward is not softmax's gradient (a constant
    head gradient gives a nonzero dX): ssdref keeps the true gradient (docs/conventions.md)."""
    return softmax_backward(dy, cache)


def _check_head_grad(op: str, dy, y: np.ndarray) -> np.ndarray:
    dy = check_array(op, "head gradient", dy)
    if dy.shape != y.shape:
        fail(op, f"head gradient must have the output's shape {y.shape}, got {dy.shape}")
    if dy.dtype != y.dtype:
        fail(op, f"head gradient must have the output's dtype {y.dtype}, got {dy.dtype}", TypeError)
    return dy
