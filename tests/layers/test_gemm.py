"""Portable matrix products (ssdref.layers.gemm): a fixed float64 summation order, the Numba kernel
bit-identical to the NumPy specification, the same bits on every thread count; 'fast' is BLAS."""
import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ssdref
from ssdref.backend import get_precision, use_backend, use_precision
from ssdref.kernels import cpu_gemm, cpu_winograd
from ssdref.layers import conv, gemm

shapes = st.fixed_dictionaries({
    "batch": st.sampled_from([(), (1,), (3,), (2, 2)]), "m": st.integers(1, 9),
    "k": st.integers(1, 40), "n": st.integers(1, 300), "float32": st.booleans(),
    "transpose_b": st.booleans(), "broadcast_a": st.booleans(), "seed": st.integers(0, 2**16)})


def _operands(c):
    rng = np.random.default_rng(c["seed"])
    dtype = np.float32 if c["float32"] else np.float64
    a = rng.standard_normal(((() if c["broadcast_a"] else c["batch"]) + (c["m"], c["k"]))).astype(dtype)
    b = rng.standard_normal(c["batch"] + (c["k"], c["n"])).astype(dtype)
    if c["transpose_b"]:                      # a strided view, as conv's dy_g.transpose(...)
        b = np.ascontiguousarray(np.swapaxes(b, -1, -2)).swapaxes(-1, -2)
    return a, b


@given(shapes)
def test_numba_portable_matmul_equals_the_numpy_specification_bit_for_bit(c):
    a, b = _operands(c)
    spec = gemm.portable_matmul(a, b)
    kernel = cpu_gemm.portable_matmul(a, b)
    assert spec.dtype == kernel.dtype == a.dtype and spec.shape == np.matmul(a, b).shape
    assert spec.tobytes() == kernel.tobytes()


def test_portable_sum_runs_in_ascending_k_in_float64():
    # ((0 + 1e16) + 1) - 1e16 = 0 in float64 (1e16 + 1 rounds to 1e16); another order gives 1
    a = np.array([[1e16, 1.0, -1e16]])
    b = np.ones((3, 1))
    for fn in (gemm.portable_matmul, cpu_gemm.portable_matmul):
        assert fn(a, b)[0, 0] == 0.0
        assert fn(a[:, [0, 2, 1]].copy(), b)[0, 0] == 1.0    # (1e16 - 1e16) + 1
    # float32 products are exact in float64 and rounded once: 1 + 2^-30 - 1 keeps the 2^-30
    a32 = np.array([[1.0, 2.0 ** -30, -1.0]], np.float32)
    assert gemm.portable_matmul(a32, np.ones((3, 1), np.float32))[0, 0] == np.float32(2.0 ** -30)


def test_portable_matmul_is_the_same_bits_on_one_and_two_threads():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 37, 300)).astype(np.float32)
    b = rng.standard_normal((2, 300, 513)).astype(np.float32)
    saved = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = cpu_gemm.portable_matmul(a, b)
        numba.set_num_threads(max(saved, 2) if numba.config.NUMBA_NUM_THREADS >= 2 else 1)
        two = cpu_gemm.portable_matmul(a, b)
    finally:
        numba.set_num_threads(saved)
    assert one.tobytes() == two.tobytes()


def test_out_argument_is_written_and_returned():
    a, b = np.eye(3, dtype=np.float32), np.arange(9, dtype=np.float32).reshape(3, 3)
    out = np.empty((3, 3), np.float32)
    for fn in (gemm.portable_matmul, cpu_gemm.portable_matmul):
        assert fn(a, b, out=out) is out
        np.testing.assert_array_equal(out, b)


def test_fast_precision_is_blas_and_portable_is_the_fixed_order():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 70)).astype(np.float32)
    b = rng.standard_normal((70, 9)).astype(np.float32)
    assert get_precision() == "fast"
    assert gemm.matmul(a, b).tobytes() == np.matmul(a, b).tobytes()
    with use_precision("portable"):
        assert get_precision() == "portable"
        assert gemm.matmul(a, b).tobytes() == gemm.portable_matmul(a, b).tobytes()
        with use_backend("numpy"):
            assert gemm.matmul(a, b).tobytes() == gemm.portable_matmul(a, b).tobytes()
    np.testing.assert_allclose(gemm.portable_matmul(a, b), np.matmul(a, b), rtol=1e-5, atol=1e-5)


def test_use_precision_names_the_choices():
    with pytest.raises(ValueError, match=r"use_precision: precision must be one of \('fast', 'portable'\), got 'exact'"):
        with ssdref.backend.use_precision("exact"):
            pass


def test_portable_convolution_takes_im2col_and_both_backends_agree_bit_for_bit():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 64, 9, 9)).astype(np.float32)          # a Winograd-shaped layer
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    dy = rng.standard_normal((2, 64, 9, 9)).astype(np.float32)
    geometry = conv.conv_geometry(x.shape, w.shape, kernel=(3, 3), stride=1, dilate=1, pad=1, num_group=1)
    with use_precision("portable"):
        assert not cpu_winograd.chosen(geometry, 64, 64)
        results = []
        for backend in ("numpy", "numba"):
            with use_backend(backend):
                y, cache = ssdref.backend.dispatch(conv.conv_forward)(x, w, b, kernel=(3, 3), pad=1)
                grads = ssdref.backend.dispatch(conv.conv_backward)(dy, cache)
                results.append([y, *grads])
    for spec, kernel in zip(*results):
        assert spec.tobytes() == kernel.tobytes()
