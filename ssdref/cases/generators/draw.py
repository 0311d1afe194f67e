"""Drawing helpers shared by the generators: seeded values, dtypes, shapes, one-output cases."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ssdref.cases.case import Case

F32, F64 = np.float32, np.float64


def draw_seed(draw):
    return draw(st.integers(0, 2 ** 31 - 1))


def values(draw, shape, dtype=F32, *, ties=None, positive=False, away_from_zero=False, scale=1.0):
    """An array of `shape`: N(0, scale²) values, or multiples of 0.5 in [-3, 3] when `ties`."""
    if ties is None:
        ties = draw(st.booleans())
    rng = np.random.default_rng(draw_seed(draw))
    if ties:
        x = rng.integers(-6, 7, size=shape) * 0.5
    else:
        x = rng.standard_normal(shape) * scale
    if positive:
        x = np.abs(x) + 0.5
    elif away_from_zero:
        x = np.where(x >= 0, x + 0.5, x - 0.5)
    return np.asarray(x, dtype=dtype)


def draw_dtype(draw):
    # float32 is MXNet's oneDNN path (what users run); float64 never uses oneDNN.
    return draw(st.sampled_from((F32, F32, F32, F64)))


def draw_shape(draw, min_dims=1, max_dims=4, min_side=1, max_side=4):
    ndim = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(min_side, max_side)) for _ in range(ndim))


def head_gradient(draw, shape, dtype):
    return values(draw, shape, dtype, ties=False)


def simple_case(draw, op, params, inputs, dtype, out_shape=None, is_train=True, backward=True):
    first = next(iter(inputs.values()))
    out_shape = first.shape if out_shape is None else out_shape
    # ssdref's executor refuses backward after an inference forward (MXNet allows it), so the
    # backward is compared after training forwards only.
    return Case(op, params, inputs, {}, is_train, [head_gradient(draw, out_shape, dtype)], backward and is_train)

