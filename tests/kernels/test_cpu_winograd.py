"""Numba Winograd transforms (ssdref.kernels.cpu_winograd: F(2x2, 3x3), cpu_winograd43: F(4x4, 3x3))
equal the NumPy ones bit for bit, and the Numba Convolution that uses them passes the float64
gradient check."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.autograd.gradcheck import check_gradients
from ssdref.backend import conv_algorithm_from_env, use_conv_algorithm
from ssdref.kernels import cpu_conv, cpu_winograd, cpu_winograd43
from ssdref.layers import conv, winograd, winograd43

# (NumPy transforms, Numba transforms)
pairs = pytest.mark.parametrize("spec, kernels", [(winograd, cpu_winograd),
                                                  (winograd43, cpu_winograd43)],
                                ids=["F2x2", "F4x4"])

shapes = st.fixed_dictionaries({
    "n": st.integers(1, 3), "c": st.integers(1, 5), "h": st.integers(1, 12),
    "w": st.integers(1, 12), "ph": st.integers(0, 3), "pw": st.integers(0, 3),
    "float32": st.booleans(), "seed": st.integers(0, 2**16)})


def _dtype(s):
    return np.float32 if s["float32"] else np.float64


@pairs
@given(shapes)
def test_input_transform_is_bit_identical(spec, kernels, s):
    rng = np.random.default_rng(s["seed"])
    x = rng.standard_normal((s["n"], s["c"], s["h"], s["w"])).astype(_dtype(s))
    out = (s["h"] + 2 * s["ph"] - 2, s["w"] + 2 * s["pw"] - 2)
    if min(out) < 1:
        return
    th, tw = spec.tile_counts(out)
    want = spec.input_transform(x, (s["ph"], s["pw"]), th, tw,
                                np.full((spec.POINTS, s["c"], s["n"] * th * tw), np.nan, x.dtype))
    got = kernels.input_transform(x, (s["ph"], s["pw"]), th, tw,
                                  np.full(want.shape, np.nan, x.dtype))
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))   # signed zeros too


@pairs
@given(shapes, st.booleans())
def test_output_transform_is_bit_identical(spec, kernels, s, with_bias):
    rng = np.random.default_rng(s["seed"])
    out = (s["h"], s["w"])
    th, tw = spec.tile_counts(out)
    m = rng.standard_normal((spec.POINTS, s["c"], s["n"] * th * tw)).astype(_dtype(s))
    bias = rng.standard_normal(s["c"]).astype(m.dtype) if with_bias else None
    want = spec.output_transform(m, bias, s["n"], out,
                                 np.full((s["n"], s["c"]) + out, np.nan, m.dtype))
    got = kernels.output_transform(m, bias, s["n"], out, np.full(want.shape, np.nan, m.dtype))
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pairs
@given(shapes)
def test_grad_transform_is_bit_identical(spec, kernels, s):
    rng = np.random.default_rng(s["seed"])
    dy = rng.standard_normal((s["n"], s["c"], s["h"], s["w"])).astype(_dtype(s))
    th, tw = spec.tile_counts(dy.shape[2:])
    want = spec.grad_transform(dy, th, tw, np.full((spec.POINTS, s["c"], s["n"] * th * tw),
                                                   np.nan, dy.dtype))
    got = kernels.grad_transform(dy, th, tw, np.full(want.shape, np.nan, dy.dtype))
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pairs
@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_grad_transform_is_bit_identical(spec, kernels, group, dtype):
    du = np.random.default_rng(group).standard_normal((spec.POINTS, group, 3, 5)).astype(dtype)
    want = spec.weight_grad_transform(du)
    got = kernels.weight_grad_transform(du)
    assert got.dtype == dtype and got.shape == want.shape == (3 * group, 5, 3, 3)
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pairs
@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_transform_is_bit_identical(spec, kernels, group, flip, dtype):
    w = np.random.default_rng(group).standard_normal((6, 4 // group, 3, 3)).astype(dtype)
    want = spec.weight_transform(w, group, flip)
    got = kernels.weight_transform(w, group, flip)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("min_tiles, kernels", [(10**9, cpu_winograd), (0, cpu_winograd43)],
                         ids=["F2x2", "F4x4"])
@settings(max_examples=15)
@given(st.integers(0, 2), st.sampled_from([1, 2]), st.integers(0, 2**16))
def test_numba_winograd_conv_gradients_match_central_differences(min_tiles, kernels, pad, group,
                                                                 seed):
    saved = cpu_winograd.MIN_CHANNELS, cpu_winograd.LARGE_TILE_MIN_TILES
    cpu_winograd.MIN_CHANNELS = 1                                       # small layers take it
    cpu_winograd.LARGE_TILE_MIN_TILES = min_tiles                       # and this algorithm
    try:
        with use_conv_algorithm("auto"):
            _gradient_check(pad, group, seed, kernels)
    finally:
        cpu_winograd.MIN_CHANNELS, cpu_winograd.LARGE_TILE_MIN_TILES = saved


def _gradient_check(pad, group, seed, kernels):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2 * group, 5, 6))
    w = rng.standard_normal((3 * group, 2, 3, 3))
    b = rng.standard_normal(3 * group)
    args = dict(pad=pad, num_group=group)
    geometry = cpu_conv.conv_forward(x, w, b, **args)[1].geometry
    assert cpu_winograd.chosen(geometry, 3 * group, 2 * group)
    assert cpu_winograd.transforms_for(geometry, 2, 3 * group, 2 * group) is kernels

    def forward(x, w, b):
        return cpu_conv.conv_forward(x, w, b, **args)[0]

    def backward(heads, x, w, b):
        dx, dw, db = cpu_conv.conv_backward(heads[0], cpu_conv.conv_forward(x, w, b, **args)[1])
        return {"x": dx, "w": dw, "b": db}

    for result in check_gradients(forward, backward, {"x": x, "w": w, "b": b}, seed=seed + 1):
        assert result.relative_error <= 1e-6, result.name


def test_winograd_switch_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SSDREF_WINOGRAD", "0")
    assert cpu_winograd._enabled_from_env() is False
    monkeypatch.setenv("SSDREF_WINOGRAD", "1")
    assert cpu_winograd._enabled_from_env() is True
    assert conv_algorithm_from_env() == "auto"
    monkeypatch.setenv("SSDREF_WINOGRAD", "2")
    assert cpu_winograd._enabled_from_env() is True
    assert conv_algorithm_from_env() == "f2x2"
    monkeypatch.delenv("SSDREF_WINOGRAD")
    assert conv_algorithm_from_env() == "auto"
    monkeypatch.setenv("SSDREF_WINOGRAD", "yes")
    with pytest.raises(ValueError, match="SSDREF_WINOGRAD must be 0 .*, 1 .* or 2 .*got 'yes'"):
        cpu_winograd._enabled_from_env()


def test_switched_off_the_kernel_runs_im2col(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    with use_conv_algorithm("im2col"):
        assert not cpu_winograd.ENABLED
        y, cache = cpu_conv.conv_forward(x, w, None, pad=1)
        dx = cpu_conv.conv_backward(np.ones_like(y), cache)[0]
    np.testing.assert_array_equal(y, conv.conv_forward(x, w, None, pad=1)[0])
    np.testing.assert_array_equal(dx, conv.conv_backward(np.ones_like(y), conv.conv_forward(x, w, None, pad=1)[1])[0])


def test_the_algorithm_switch_is_context_local_and_checked():
    import threading
    seen = {}
    with use_conv_algorithm("im2col"):
        thread = threading.Thread(target=lambda: seen.update(other=cpu_winograd.ENABLED))
        thread.start()
        thread.join()
        assert not cpu_winograd.ENABLED
    assert seen["other"] == cpu_winograd.ENABLED       # another thread keeps its own choice
    with pytest.raises(ValueError, match="use_conv_algorithm: algorithm must be one of"):
        with use_conv_algorithm("winograd"):
            pass


@pytest.mark.parametrize("n_img, size, channels, filters, kernels", [
    (1, 300, 64, 64, cpu_winograd43), (1, 75, 256, 256, cpu_winograd43),
    (1, 38, 256, 512, cpu_winograd), (8, 38, 256, 512, cpu_winograd43),
    (1, 19, 512, 512, cpu_winograd), (8, 19, 512, 512, cpu_winograd), (1, 12, 64, 64, cpu_winograd)])
def test_f4x4_is_taken_for_many_tiles_per_weight_unless_f2x2_is_asked(n_img, size, channels,
                                                                      filters, kernels):
    """'auto' (the default) takes F(4x4) where a call has many tiles per weight; 'f2x2' never."""
    g = conv.conv_geometry((n_img, channels, size, size), (filters, channels, 3, 3), kernel=None,
                           stride=1, dilate=1, pad=1, num_group=1)
    with use_conv_algorithm("auto"):
        assert cpu_winograd.transforms_for(g, n_img, filters, channels) is kernels
    assert kernels.SPEC is (winograd43 if kernels is cpu_winograd43 else winograd)
    with use_conv_algorithm("f2x2"):
        assert cpu_winograd.chosen(g, filters, channels)
        assert cpu_winograd.transforms_for(g, n_img, filters, channels) is cpu_winograd
