"""Numba Convolution (ssdref.kernels.cpu_conv) equals the NumPy specification of the algorithm it
runs bit for bit: im2col (ssdref.layers.conv), or Winograd (ssdref.layers.winograd) for the forward
and dx of 3x3 stride-1 undilated 2-D layers; with Winograd off, im2col everywhere."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.backend import dispatch, use_backend, use_conv_algorithm
from ssdref.kernels import cpu_conv, cpu_winograd
from ssdref.layers import conv

configs = st.fixed_dictionaries({
    "ndim": st.sampled_from([1, 2, 2, 2, 3]), "batch": st.integers(1, 3),
    "group": st.sampled_from([1, 2]), "cpg": st.integers(1, 3), "fpg": st.integers(1, 3),
    "k": st.integers(1, 3), "s": st.integers(1, 3), "d": st.integers(1, 3), "p": st.integers(0, 3),
    "extra": st.integers(0, 5), "bias": st.booleans(), "float32": st.booleans(),
    "seed": st.integers(0, 2**16)})


def _draw(c):
    rng = np.random.default_rng(c["seed"])
    dtype = np.float32 if c["float32"] else np.float64
    need = max(c["d"] * (c["k"] - 1) + 1 - 2 * c["p"], 1)
    size = need + (min(c["extra"], 1) if c["ndim"] == 3 else c["extra"])
    x = rng.standard_normal((c["batch"], c["group"] * c["cpg"]) + (size,) * c["ndim"]).astype(dtype)
    w = rng.standard_normal((c["group"] * c["fpg"], c["cpg"]) + (c["k"],) * c["ndim"]).astype(dtype)
    b = rng.standard_normal(c["group"] * c["fpg"]).astype(dtype) if c["bias"] else None
    return x, w, b, dict(stride=c["s"], dilate=c["d"], pad=c["p"], num_group=c["group"])


@contextlib.contextmanager
def _winograd(enabled, min_channels=None):
    """Winograd on/off (the backend's contextvar); min_channels=1 lets the small test layers take it."""
    saved = cpu_winograd.MIN_CHANNELS
    if min_channels is not None:
        cpu_winograd.MIN_CHANNELS = min_channels
    try:
        with use_conv_algorithm("auto" if enabled else "im2col"):
            yield
    finally:
        cpu_winograd.MIN_CHANNELS = saved


def _reference(x, w, b, args, g):
    """(y, dx, dw, db) from the NumPy specification of the algorithms the kernel runs."""
    y, cache = conv.conv_forward(x, w, b, **args)
    dx, dw, db = conv.conv_backward(g, cache)
    geometry, (n_img, channels), num_filter = cache.geometry, x.shape[:2], w.shape[0]
    if cpu_winograd.chosen(geometry, num_filter, channels):
        y = cpu_winograd.transforms_for(geometry, n_img, num_filter, channels).SPEC \
            .winograd_forward(x, w, b, geometry)
        grad_geometry = conv.data_grad_geometry(geometry)
        if grad_geometry is not None:
            dx = cpu_winograd.transforms_for(grad_geometry, n_img, channels, num_filter).SPEC \
                .winograd_data_grad(g, w, geometry)
            dw = cpu_winograd.transforms_for(geometry, n_img, num_filter, channels).SPEC \
                .winograd_weight_grad(x, g, geometry)
    return y, dx, dw, db


def _assert_same(x, w, b, args):
    y_k, cache_k = cpu_conv.conv_forward(x, w, b, **args)
    g = np.random.default_rng(7).standard_normal(y_k.shape).astype(x.dtype)
    for got, want in zip((y_k,) + tuple(cpu_conv.conv_backward(g, cache_k)),
                         _reference(x, w, b, args, g)):
        if want is None:
            assert got is None
        else:
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


@given(configs)
def test_numba_conv_equals_numpy_exactly(c):
    _assert_same(*_draw(c))


@given(configs)
def test_numba_conv_with_winograd_on_small_layers_equals_numpy_exactly(c):
    with _winograd(True, min_channels=1):
        _assert_same(*_draw(c))


@given(configs)
def test_numba_conv_without_winograd_equals_im2col_spec_exactly(c):
    with _winograd(False):
        _assert_same(*_draw(c))


@pytest.mark.parametrize("min_tiles", [10**9, 0], ids=["F2x2", "F4x4"])
@pytest.mark.parametrize("pad", [0, 1, 2, 3])
@pytest.mark.parametrize("float32", [False, True])
def test_winograd_layers_equal_numpy_winograd_and_im2col_to_rounding(monkeypatch, min_tiles, pad,
                                                                     float32):
    """A VGG-like 3x3 layer, batch 2: the Numba Winograd path (F(2x2, 3x3) or F(4x4, 3x3)) is
    bit-identical to the NumPy Winograd, and within a few ulps of the im2col specification
    (float64: 1e-12)."""
    monkeypatch.setattr(cpu_winograd, "LARGE_TILE_MIN_TILES", min_tiles)
    with use_conv_algorithm("auto"):
        _winograd_layer_equals_numpy_winograd_and_im2col_to_rounding(pad, float32)


def _winograd_layer_equals_numpy_winograd_and_im2col_to_rounding(pad, float32):
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(pad)
    x = rng.standard_normal((2, 64, 11, 10)).astype(dtype)
    w = (rng.standard_normal((72, 64, 3, 3)) * 0.05).astype(dtype)
    b = rng.standard_normal(72).astype(dtype)
    _assert_same(x, w, b, dict(pad=pad))
    y_k, cache = cpu_conv.conv_forward(x, w, b, pad=pad)
    assert cpu_winograd.chosen(cache.geometry, 72, 64)
    g = rng.standard_normal(y_k.shape).astype(dtype)
    y, cache_s = conv.conv_forward(x, w, b, pad=pad)
    tol = 1e-5 if float32 else 1e-12
    for got, want in zip((y_k,) + tuple(cpu_conv.conv_backward(g, cache)),
                         (y,) + tuple(conv.conv_backward(g, cache_s))):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("batch", [1, 3])
def test_pointwise_conv_fast_path_equals_numpy(batch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 8, 5, 4)).astype(np.float32)
    w = rng.standard_normal((6, 8, 1, 1)).astype(np.float32)
    _assert_same(x, w, rng.standard_normal(6).astype(np.float32), dict(kernel=(1, 1)))


@pytest.mark.parametrize("channels, filters, groups, chosen", [
    (3, 64, 1, False), (63, 64, 1, False), (64, 63, 1, False), (64, 64, 1, True),
    (128, 128, 2, True), (128, 64, 2, False)])
def test_winograd_is_chosen_from_64_channels_and_filters_per_group(channels, filters, groups,
                                                                   chosen):
    g = conv.conv_geometry((1, channels, 8, 8), (filters, channels // groups, 3, 3), kernel=None,
                           stride=1, dilate=1, pad=1, num_group=groups)
    assert cpu_winograd.chosen(g, filters, channels) is chosen
    with _winograd(False):
        assert not cpu_winograd.chosen(g, filters, channels)


@pytest.mark.parametrize("min_channels", [None, 1])     # 1: the Winograd path, chunked
def test_image_chunks_give_the_same_result(monkeypatch, min_channels):
    if min_channels is not None:
        monkeypatch.setattr(cpu_winograd, "MIN_CHANNELS", min_channels)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    y_one_chunk, cache = conv.conv_forward(x, w, None, pad=1)
    grads_one_chunk = conv.conv_backward(np.ones_like(y_one_chunk), cache)
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 2 * 27 * 36 * 8)  # two images per chunk
    assert len(conv.image_chunks(x.shape, cache.geometry, 8)) == 3
    _assert_same(x, w, None, dict(pad=1))
    y, cache = cpu_conv.conv_forward(x, w, None, pad=1)
    np.testing.assert_allclose(y, y_one_chunk, rtol=1e-12)
    for a, b in zip(cpu_conv.conv_backward(np.ones_like(y), cache), grads_one_chunk):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_backend_dispatch_selects_the_kernel():
    with use_backend("numba"):
        assert dispatch(conv.conv_forward) is cpu_conv.conv_forward
    with use_backend("numpy"):
        assert dispatch(conv.conv_forward) is conv.conv_forward


def test_numba_errors_match_numpy():
    with pytest.raises(ValueError, match="kernel size exceeds input"):
        cpu_conv.conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)), None)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 17, 33), (2, 40, 16), (1, 577, 65)])
def test_blocked_transpose_is_an_exact_copy(shape):
    a = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    t = cpu_conv.transpose_last2(a)
    assert t.flags.c_contiguous
    np.testing.assert_array_equal(t, conv.transpose_last2(a))
    np.testing.assert_array_equal(t, np.swapaxes(a, 1, 2))


@pytest.mark.parametrize("min_channels", [None, 1])     # 1: the Winograd path, chunked
def test_pooled_outputs_and_chunked_backward_equal_numpy(monkeypatch, min_channels):
    """Outputs large enough for the buffer pool (>= 1 MB), several image chunks, twice over so
    the second pass runs on recycled blocks."""
    if min_channels is not None:
        monkeypatch.setattr(cpu_winograd, "MIN_CHANNELS", min_channels)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 16, 48, 48)).astype(np.float32)
    w = rng.standard_normal((40, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 2 * 16 * 9 * 48 * 48 * 4)   # 2 images per chunk
    for _ in range(2):
        _assert_same(x, w, b, dict(pad=1))


def test_col2im_writes_into_out():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 6))
    g = conv.conv_geometry(x.shape, (4, 3, 3, 3), kernel=None, stride=2, dilate=1, pad=1,
                           num_group=1)
    cols = conv.im2col(x, g)
    want = conv.col2im(cols, g, 2)
    for fn in (conv.col2im, cpu_conv.col2im):
        out = np.full(x.shape, np.nan)
        assert fn(cols, g, 2, out=out) is out
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("kernel, pad", [((3, 3), 1), ((1, 1), 0)])
def test_data_grad_false_skips_dx_only(kernel, pad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((5, 3) + kernel).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    for module in (conv, cpu_conv):
        y, cache = module.conv_forward(x, w, b, pad=pad)
        dy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
        dx, dw, db = module.conv_backward(dy, cache)
        none, dw2, db2 = module.conv_backward(dy, cache, data_grad=False)
        assert none is None and dx is not None
        np.testing.assert_array_equal(dw2, dw)
        np.testing.assert_array_equal(db2, db)
