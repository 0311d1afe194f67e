"""Numba Pooling (ssdref.kernels.cpu_pooling) equals the NumPy specification bit for bit."""
import numpy as np
from hypothesis import given, strategies as st

from ssdref.kernels import cpu_pooling
from ssdref.layers import pooling

configs = st.fixed_dictionaries({
    "ndim": st.sampled_from([1, 2, 2, 2, 3]), "k": st.integers(1, 4), "s": st.integers(1, 3),
    "p": st.integers(0, 3), "extra": st.integers(0, 5), "batch": st.integers(1, 2),
    "pool_type": st.sampled_from(["max", "max", "avg", "sum", "lp"]),
    "convention": st.sampled_from(["valid", "full"]), "cip": st.sampled_from([None, True, False]),
    "global_pool": st.sampled_from([False, False, False, True]), "ties": st.booleans(),
    "float32": st.booleans(), "seed": st.integers(0, 2**16)})


@given(configs)
def test_numba_pooling_equals_numpy_exactly(c):
    rng = np.random.default_rng(c["seed"])
    size = max(c["k"] - 2 * c["p"], 1) + (min(c["extra"], 1) if c["ndim"] == 3 else c["extra"])
    x = rng.standard_normal((c["batch"], 3) + (size,) * c["ndim"])
    if c["ties"]:
        x = np.round(x)
    x = x.astype(np.float32 if c["float32"] else np.float64)
    args = dict(kernel=c["k"], stride=c["s"], pad=c["p"], pool_type=c["pool_type"], p_value=2,
                pooling_convention=c["convention"], count_include_pad=c["cip"],
                global_pool=c["global_pool"])
    y, cache = pooling.pooling_forward(x, **args)
    y_k, cache_k = cpu_pooling.pooling_forward(x, **args)
    assert y_k.dtype == y.dtype and y_k.shape == y.shape
    np.testing.assert_array_equal(y_k, y)
    if cache.argmax is not None:
        np.testing.assert_array_equal(cache_k.argmax, cache.argmax)
    g = rng.standard_normal(y.shape).astype(x.dtype)
    np.testing.assert_array_equal(cpu_pooling.pooling_backward(g, cache_k),
                                  pooling.pooling_backward(g, cache))


def test_numba_max_pool_example_from_spec():
    x = np.array([[1, 3, 3, 0], [3, 2, 3, 1], [0, 0, 5, 5], [0, 0, 5, 5]], np.float32)[None, None]
    y, cache = cpu_pooling.pooling_forward(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1))
    dx = cpu_pooling.pooling_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 4, 1, 0], [1, 0, 0, 0], [1, 0, 9, 0], [0, 0, 0, 0]])


def test_noncontiguous_input_same_result():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32).transpose(0, 1, 3, 2)
    for pool_type in ("max", "avg"):
        y, _ = cpu_pooling.pooling_forward(x, kernel=2, stride=2, pool_type=pool_type)
        np.testing.assert_array_equal(y, pooling.pooling_forward(np.ascontiguousarray(x), kernel=2,
                                                                 stride=2, pool_type=pool_type)[0])


@given(st.integers(2, 9), st.integers(2, 9), st.sampled_from(["valid", "full"]),
       st.sampled_from(["random", "ties", "special"]), st.booleans(), st.integers(0, 2**16))
def test_vgg_2x2_stride_2_fast_path_equals_numpy_exactly(height, width, convention, values,
                                                          float32, seed):
    """kernel 2 / stride 2 / no pad runs its own kernel: same maxima (bits: signed zeros, NaN,
    -inf and the dtype's lowest value) and the same first-maximum argmax as the specification."""
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, height, width)).astype(dtype)
    if values == "ties":
        x = np.round(x) * 0.0 if seed % 2 else np.round(x)     # all-zero planes: -0 against +0
    elif values == "special":
        x.flat[::3] = np.nan
        x.flat[1::5] = -np.inf
        x.flat[2::7] = np.finfo(dtype).min
    args = dict(kernel=(2, 2), stride=(2, 2), pooling_convention=convention)
    y, cache = pooling.pooling_forward(x, **args)
    y_k, cache_k = cpu_pooling.pooling_forward(x, **args)
    np.testing.assert_array_equal(y_k.view(np.uint8), y.view(np.uint8))
    np.testing.assert_array_equal(cache_k.argmax, cache.argmax)
