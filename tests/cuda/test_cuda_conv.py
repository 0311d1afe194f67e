"""cuda_conv.conv_forward equals ssdref.layers.conv.conv_forward within the GEMM's rounding."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.kernels import cuda_conv as gpu
from ssdref.layers import conv as spec


@pytest.mark.cuda
@settings(max_examples=4)
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       groups=st.sampled_from([1, 2]), stride=st.integers(1, 2), pad=st.integers(0, 2),
       dilate=st.integers(1, 2), use_bias=st.booleans())
def test_conv_forward_matches_numpy(seed, dtype, groups, stride, pad, dilate, use_bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 6, 5)).astype(dtype)
    w = rng.standard_normal((4, 4 // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype) if use_bias else None
    kw = dict(stride=stride, pad=pad, dilate=dilate, num_group=groups)
    got, cache = gpu.conv_forward(x, w, b, **kw)
    want, want_cache = spec.conv_forward(x, w, b, **kw)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert cache.geometry == want_cache.geometry and cache.has_bias == want_cache.has_bias
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)
