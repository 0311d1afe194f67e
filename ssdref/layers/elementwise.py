"""Elementwise arithmetic: same-shape binary ops, broadcast binary ops, scalar ops, identity (`_copy`).

Mirrors: src/operator/tensor/elemwise_binary_op_basic.cc (elemwise_add/sub/mul/div),
elemwise_binary_op_extended.cc (`_power`), elemwise_binary_broadcast_op_basic.cc (broadcast_*),
elemwise_binary_scalar_op_basic.cc / _extended.cc (`_plus_scalar` ... `_rpower_scalar`),
elemwise_unary_op_basic.cc (`_copy` = identity), MXNet 1.9.1. Spec: mxnet-layers.md §9,
mxnet-graph-formats.md §1.2 (Python operators on symbols -> these ops).

Conventions that bite:
- elemwise_* require equal shapes (symbol `a + b` never broadcasts); broadcast_* follow NumPy's rule
  (align from the right, size-1 or missing dims stretch) and their backward SUMS the gradient over
  every stretched axis back to each input's shape.
- Gradients use MXNet's formulas in its order: div: (g*(1/b), g*(-a/(b*b))); power:
  (g*(b*a**(b-1)), g*(a**b*log a)); rdiv_scalar: g*(-s/(x*x)); rpower_scalar: g*(y*log s).
- power and log are the C library's powf/logf (ssdref.mathf), as mshadow calls them, not NumPy's
  CPU-dispatched SIMD versions.
- The scalar is cast to the data's dtype first (MXNet's DType(scalar)); output dtype = input dtype.
- Division by zero gives +-inf/NaN without an error, as in MXNet (IEEE arithmetic, not bad input);
  so does log of a negative base in power's rhs gradient.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_choice, check_float, fail
from ssdref.mathf import logf, powf

BINARY_OPS = ("add", "sub", "mul", "div", "power")
SCALAR_OPS = ("plus", "minus", "rminus", "mul", "div", "rdiv", "power", "rpower")
_IEEE = dict(divide="ignore", invalid="ignore", over="ignore")


class BinaryCache(NamedTuple):
    op: str
    lhs: np.ndarray
    rhs: np.ndarray
    out: np.ndarray


class ScalarCache(NamedTuple):
    op: str
    x: np.ndarray
    scalar: float
    out: np.ndarray


class IdentityCache(NamedTuple):
    shape: tuple
    dtype: np.dtype


def _binary_values(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(**_IEEE):
        if op == "add":
            out = a + b
        elif op == "sub":
            out = a - b
        elif op == "mul":
            out = a * b
        elif op == "div":
            out = a / b
        else:
            out = powf(a, b)
    return np.asarray(out, dtype=a.dtype)  # 0-d inputs would otherwise give NumPy scalars


def _binary_grads(op: str, g, a, b, out):
    """(dlhs, drhs) at the output's shape, MXNet's formulas."""
    with np.errstate(**_IEEE):
        if op == "add":
            return g, g
        if op == "sub":
            return g, -g
        if op == "mul":
            return g * b, g * a
        if op == "div":
            one = a.dtype.type(1)
            return g * (one / b), g * (-a / (b * b))
        one = a.dtype.type(1)
        return g * (b * powf(a, b - one)), g * (powf(a, b) * logf(a))


def _check_pair(op_name: str, lhs, rhs):
    lhs = check_array(op_name, "lhs", lhs)
    rhs = check_array(op_name, "rhs", rhs)
    if lhs.dtype != rhs.dtype:
        fail(op_name, f"inputs must share one dtype, got lhs={lhs.dtype}, rhs={rhs.dtype}", TypeError)
    return lhs, rhs


def _check_grad(op_name: str, dy, out: np.ndarray) -> np.ndarray:
    dy = check_array(op_name, "head gradient", dy)
    if dy.shape != out.shape or dy.dtype != out.dtype:
        fail(op_name, f"head gradient must have shape {out.shape} and dtype {out.dtype}, "
                      f"got shape {dy.shape}, dtype {dy.dtype}")
    return dy


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


# ------------------------------------------------------------------------- elemwise (same shapes)
def elemwise_binary_forward(lhs, rhs, *, op) -> tuple[np.ndarray, BinaryCache]:
    """elemwise_<op>(lhs, rhs) for op in add, sub, mul, div, power (`_power`): equal shapes only."""
    check_choice("elemwise", "op", op, BINARY_OPS)
    name = "_power" if op == "power" else f"elemwise_{op}"
    lhs, rhs = _check_pair(name, lhs, rhs)
    if lhs.shape != rhs.shape:
        fail(name, f"rhs must have lhs's shape {_shape_text(lhs.shape)} (no broadcasting), "
                   f"got {_shape_text(rhs.shape)}")
    out = _binary_values(op, lhs, rhs)
    return out, BinaryCache(op, lhs, rhs, out)


def elemwise_binary_backward(dy, cache: BinaryCache) -> tuple[np.ndarray, np.ndarray]:
    dy = _check_grad(f"elemwise_{cache.op}", dy, cache.out)
    dlhs, drhs = _binary_grads(cache.op, dy, cache.lhs, cache.rhs, cache.out)
    return np.array(dlhs, copy=True), np.array(drhs, copy=True)


# ---------------------------------------------------------------------------- broadcast_<op>
def broadcast_shape(op_name: str, lhs_shape: tuple, rhs_shape: tuple) -> tuple:
    """NumPy broadcasting of two shapes; MXNet's error text on a mismatch."""
    try:
        return tuple(np.broadcast_shapes(tuple(lhs_shape), tuple(rhs_shape)))
    except ValueError:
        fail(op_name, f"operands could not be broadcast together with shapes "
                      f"{_shape_text(lhs_shape)} {_shape_text(rhs_shape)}")


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` (the broadcast output's shape) over the axes that broadcasting stretched."""
    leading = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(leading))) if leading else grad
    stretched = tuple(k for k, d in enumerate(shape) if d == 1 and summed.shape[k] != 1)
    if stretched:
        summed = summed.sum(axis=stretched, keepdims=True)
    return np.array(summed.reshape(shape), copy=True)


def broadcast_binary_forward(lhs, rhs, *, op) -> tuple[np.ndarray, BinaryCache]:
    """broadcast_<op>(lhs, rhs), op in add, sub, mul, div, power: NumPy broadcasting."""
    check_choice("broadcast", "op", op, BINARY_OPS)
    name = f"broadcast_{op}"
    lhs, rhs = _check_pair(name, lhs, rhs)
    broadcast_shape(name, lhs.shape, rhs.shape)
    out = _binary_values(op, lhs, rhs)
    return out, BinaryCache(op, lhs, rhs, out)


def broadcast_binary_backward(dy, cache: BinaryCache) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise gradients at the output's shape, then summed back to each input's shape."""
    dy = _check_grad(f"broadcast_{cache.op}", dy, cache.out)
    dlhs, drhs = _binary_grads(cache.op, dy, cache.lhs, cache.rhs, cache.out)
    dlhs = np.broadcast_to(dlhs, cache.out.shape)
    drhs = np.broadcast_to(drhs, cache.out.shape)
    return sum_to_shape(dlhs, cache.lhs.shape), sum_to_shape(drhs, cache.rhs.shape)


# ------------------------------------------------------------------------------- scalar ops
def scalar_forward(x, *, op, scalar) -> tuple[np.ndarray, ScalarCache]:
    """_<op>_scalar(x, scalar): plus x+s, minus x-s, rminus s-x, mul x*s, div x/s, rdiv s/x,
    power x**s, rpower s**x; the scalar cast to x's dtype first."""
    check_choice("scalar op", "op", op, SCALAR_OPS)
    name = f"_{op}_scalar"
    x = check_array(name, "data", x)
    scalar = check_float(name, "scalar", scalar, allow_nan=True)   # MXNet computes with a NaN scalar
    s = x.dtype.type(scalar)
    with np.errstate(**_IEEE):
        out = {
            "plus": lambda: x + s, "minus": lambda: x - s, "rminus": lambda: s - x,
            "mul": lambda: x * s, "div": lambda: x / s, "rdiv": lambda: s / x,
            "power": lambda: powf(x, s), "rpower": lambda: powf(s, x),
        }[op]()
    out = np.asarray(out, dtype=x.dtype)
    if out.ndim != x.ndim:  # 0-d inputs come back as NumPy scalars
        out = out.reshape(x.shape)
    return out, ScalarCache(op, x, scalar, out)


def scalar_backward(dy, cache: ScalarCache) -> np.ndarray:
    op, x, scalar, out = cache
    dy = _check_grad(f"_{op}_scalar", dy, out)
    s = x.dtype.type(scalar)
    with np.errstate(**_IEEE):
        if op in ("plus", "minus"):
            dx = dy
        elif op == "rminus":
            dx = -dy
        elif op == "mul":
            dx = dy * s
        elif op == "div":
            dx = dy / s
        elif op == "rdiv":
            dx = dy * (-s / (x * x))
        elif op == "power":
            dx = dy * (s * powf(x, s - x.dtype.type(1)))
        else:
            dx = dy * (out * logf(s))
    return np.array(dx, dtype=x.dtype, copy=True).reshape(x.shape)


# ------------------------------------------------------------------------ identity (`_copy`)
def identity_forward(x) -> tuple[np.ndarray, IdentityCache]:
    """`_copy` / `identity`: a copy of x; the gradient passes through unchanged."""
    x = check_array("_copy", "data", x)
    return x.copy(), IdentityCache(x.shape, x.dtype)


def identity_backward(dy, cache: IdentityCache) -> np.ndarray:
    dy = check_array("_copy", "head gradient", dy)
    if dy.shape != cache.shape or dy.dtype != cache.dtype:
        fail("_copy", f"head gradient must have shape {cache.shape} and dtype {cache.dtype}, "
                      f"got shape {dy.shape}, dtype {dy.dtype}")
    return dy.copy()
