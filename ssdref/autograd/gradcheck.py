"""Float64 central-difference gradient checks (CS231n `gradient_check.py`, with a relative error).

The check of every backward in ssdref: for an op y = f(x1, x2, ...) and a random head gradient g,
the analytic gradient dL/dxi of L = <g, f(x)> is compared with the numerical one,

    dL/dxi[k] ~= (L(xi + h e_k) - L(xi - h e_k)) / (2h)

The relative error of two gradient arrays a (analytic) and n (numerical) is

    max_k |a_k - n_k| / max(max_k |a_k|, max_k |n_k|, tiny)

i.e. the worst absolute difference measured against the array's own scale: robust where single
entries are near zero, strict where the gradient is large. Everything runs in float64.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

TINY = 1e-30


class GradcheckResult(NamedTuple):
    name: str            # which input
    relative_error: float
    analytic: np.ndarray
    numerical: np.ndarray


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """max |a - n| / max(max|a|, max|n|, tiny); 0.0 when both are all zero."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    if analytic.shape != numerical.shape:
        raise ValueError(f"gradcheck: shapes differ, analytic {analytic.shape} vs numerical {numerical.shape}")
    if analytic.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numerical))), TINY)
    return float(np.max(np.abs(analytic - numerical)) / scale)


def numerical_gradient_of(objective: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d objective()/dx by central differences; `objective` reads `x`, perturbed in place and restored."""
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck: x must be float64, got dtype {x.dtype}")
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for k in range(flat_x.size):
        saved = flat_x[k]
        flat_x[k] = saved + h
        plus = objective()
        flat_x[k] = saved - h
        minus = objective()
        flat_x[k] = saved
        flat_grad[k] = (plus - minus) / (2.0 * h)
    return grad


def numerical_gradient(f: Callable[[], np.ndarray | Sequence[np.ndarray]], x: np.ndarray,
                       head_grads: np.ndarray | Sequence[np.ndarray], h: float = 1e-6) -> np.ndarray:
    """d<g, f()>/dx by central differences; `f` reads `x`, which is perturbed in place and restored.

    `f` may return one array or a list of arrays (one head gradient each)."""
    heads = head_grads if isinstance(head_grads, (list, tuple)) else [head_grads]

    def objective():
        out = f()
        outs = out if isinstance(out, (list, tuple)) else [out]
        return sum(float(np.sum(o * g)) for o, g in zip(outs, heads) if g is not None)

    return numerical_gradient_of(objective, x, h)


def check_gradients(forward: Callable[..., np.ndarray | Sequence[np.ndarray]],
                    backward: Callable[..., Sequence[np.ndarray | None]],
                    inputs: dict[str, np.ndarray], *, wrt: Sequence[str] | None = None,
                    seed: int = 0, h: float = 1e-6,
                    head_grads: Sequence[np.ndarray] | np.ndarray | None = None) -> list[GradcheckResult]:
    """Compare `backward` with central differences of `forward` for the inputs named in `wrt`.

    forward(**inputs) -> output or list of outputs;
    backward(head_grads, **inputs) -> dict name -> gradient (or list in `inputs` order).
    Returns one GradcheckResult per checked input.
    """
    inputs = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}
    wrt = list(inputs) if wrt is None else list(wrt)
    out = forward(**inputs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if head_grads is None:
        # seed + 1: a test that drew its inputs from `seed` must not get head gradients equal to them
        rng = np.random.default_rng(seed + 1)
        head_grads = [rng.standard_normal(o.shape) for o in outs]
    elif not isinstance(head_grads, (list, tuple)):
        head_grads = [head_grads]
    analytic = backward(list(head_grads), **inputs)
    if not isinstance(analytic, dict):
        analytic = dict(zip(inputs, analytic))
    results = []
    for name in wrt:
        x = inputs[name]
        numerical = numerical_gradient(lambda: forward(**inputs), x, list(head_grads), h=h)
        a = analytic.get(name)
        a = np.zeros_like(x) if a is None else np.asarray(a, dtype=np.float64)
        results.append(GradcheckResult(name, relative_error(a, numerical), a, numerical))
    return results
