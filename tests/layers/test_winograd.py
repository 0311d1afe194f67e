"""Winograd F(2x2, 3x3) (ssdref.layers.winograd) and F(4x4, 3x3) (ssdref.layers.winograd43) equal
the im2col Convolution up to rounding."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssdref.layers import conv, winograd, winograd43

both = pytest.mark.parametrize("spec", [winograd, winograd43], ids=["F2x2", "F4x4"])

configs = st.fixed_dictionaries({
    "batch": st.integers(1, 3), "group": st.sampled_from([1, 2]), "cpg": st.integers(1, 4),
    "fpg": st.integers(1, 4), "ph": st.integers(0, 3), "pw": st.integers(0, 3),
    "h": st.integers(0, 7), "w": st.integers(0, 7), "bias": st.booleans(),
    "seed": st.integers(0, 2**16)})


def _draw(c, dtype=np.float64):
    rng = np.random.default_rng(c["seed"])
    # at least the 3x3 kernel's extent once padded: output sizes 1 .. 8, odd and even
    height, width = max(3 - 2 * c["ph"], 1) + c["h"], max(3 - 2 * c["pw"], 1) + c["w"]
    x = rng.standard_normal((c["batch"], c["group"] * c["cpg"], height, width)).astype(dtype)
    w = rng.standard_normal((c["group"] * c["fpg"], c["cpg"], 3, 3)).astype(dtype)
    b = rng.standard_normal(c["group"] * c["fpg"]).astype(dtype) if c["bias"] else None
    return x, w, b, dict(pad=(c["ph"], c["pw"]), num_group=c["group"])


@both
@given(configs)
def test_forward_equals_im2col_convolution(spec, c):
    x, w, b, args = _draw(c)
    y, cache = conv.conv_forward(x, w, b, **args)
    assert winograd.applies(cache.geometry)
    got = spec.winograd_forward(x, w, b, cache.geometry)
    assert got.shape == y.shape and got.dtype == y.dtype
    np.testing.assert_allclose(got, y, rtol=1e-12, atol=1e-12)


def _im2col_backward(c):
    """(x, w, args, geometry, dy, (dx, dw, db)) of the im2col specification for a drawn case."""
    x, w, b, args = _draw(c)
    y, cache = conv.conv_forward(x, w, b, **args)
    dy = np.random.default_rng(c["seed"] + 1).standard_normal(y.shape)
    return x, w, args, cache.geometry, dy, conv.conv_backward(dy, cache)


@both
@given(configs)
def test_data_grad_by_flipped_kernel_equals_col2im(spec, c):
    x, w, args, geometry, dy, (dx, _, _) = _im2col_backward(c)
    if max(args["pad"]) > 2:       # pad > dilate*(k-1): the correlation would need a crop
        assert conv.data_grad_geometry(geometry) is None
        return
    np.testing.assert_allclose(spec.winograd_data_grad(dy, w, geometry), dx,
                               rtol=1e-12, atol=1e-12)


@both
@given(configs)
def test_weight_grad_equals_im2col_weight_grad(spec, c):
    x, w, args, geometry, dy, (_, dw, _) = _im2col_backward(c)
    got = spec.winograd_weight_grad(x, dy, geometry)
    assert got.shape == dw.shape and got.dtype == dw.dtype
    np.testing.assert_allclose(got, dw, rtol=1e-12, atol=1e-12 * max(np.abs(dw).max(), 1))


def test_weight_grad_sums_over_image_chunks(monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 3, 6, 7))
    dy = rng.standard_normal((5, 4, 6, 7))
    geometry = conv.conv_forward(x, rng.standard_normal((4, 3, 3, 3)), None, pad=1)[1].geometry
    whole = winograd.winograd_weight_grad(x, dy, geometry)
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 2 * 16 * (3 + 4) * 3 * 4 * 8)
    np.testing.assert_allclose(winograd.winograd_weight_grad(x, dy, geometry), whole,
                               rtol=1e-13, atol=1e-13)


@both
@given(configs)
def test_float32_stays_within_a_few_ulps_of_float64(spec, c):
    x, w, b, args = _draw(c)
    geometry = conv.conv_forward(x, w, b, **args)[1].geometry
    want = spec.winograd_forward(x, w, b, geometry)
    got = spec.winograd_forward(x.astype(np.float32), w.astype(np.float32),
                                    None if b is None else b.astype(np.float32), geometry)
    assert got.dtype == np.float32
    scale = max(np.abs(want).max(), 1.0)
    assert np.abs(got - want).max() <= 1e-5 * scale


@both
@pytest.mark.parametrize("group", [1, 2])
def test_flip_transforms_the_flipped_kernel_exactly(spec, group):
    w = np.random.default_rng(group).standard_normal((6, 4 // group, 3, 3))
    flipped = conv.flipped_kernel(w, group)
    assert flipped.shape == (4, 6 // group, 3, 3)
    np.testing.assert_array_equal(spec.weight_transform(w, group, flip=True),
                                  spec.weight_transform(flipped, group))


def test_flipped_kernel_swaps_roles_and_reverses_taps():
    w = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)   # 2 groups: F/G=1, C/G=2
    flipped = conv.flipped_kernel(w, 2)                                   # (C=4, F/G=1, 3, 3)
    assert flipped.shape == (4, 1, 3, 3)
    np.testing.assert_array_equal(flipped[1, 0], w[0, 1, ::-1, ::-1])   # group 0, channel 1
    np.testing.assert_array_equal(flipped[2, 0], w[1, 0, ::-1, ::-1])   # group 1, channel 0
    w1 = np.arange(2 * 3 * 3 * 3, dtype=np.float64).reshape(2, 3, 3, 3)  # 1 group: F=2, C=3
    np.testing.assert_array_equal(conv.flipped_kernel(w1, 1)[2, 1], w1[1, 2, ::-1, ::-1])


def test_image_chunks_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 6, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    geometry = conv.conv_forward(x, w, None, pad=1)[1].geometry
    whole = winograd.winograd_forward(x, w, None, geometry)
    per_image = 16 * (3 + 4) * 3 * 4 * 8                                # th=3, tw=4, float64
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 2 * per_image)
    assert winograd.image_chunks(5, 3, 4, (6, 7), 8) == [(0, 2), (2, 4), (4, 5)]
    np.testing.assert_array_equal(winograd.winograd_forward(x, w, None, geometry), whole)


@pytest.mark.parametrize("kwargs, applies", [
    (dict(pad=1), True), (dict(pad=0), True), (dict(pad=1, num_group=2), True),
    (dict(pad=1, stride=2), False), (dict(pad=2, dilate=2), False)])
def test_applies_to_3x3_stride1_undilated_2d_only(kwargs, applies):
    g = conv.conv_geometry((1, 4, 9, 9), (4, 4 // kwargs.get("num_group", 1), 3, 3), kernel=None,
                           stride=kwargs.get("stride", 1), dilate=kwargs.get("dilate", 1),
                           pad=kwargs["pad"], num_group=kwargs.get("num_group", 1))
    assert winograd.applies(g) is applies


def test_applies_rejects_other_kernels_and_1d():
    g5 = conv.conv_geometry((1, 1, 9, 9), (1, 1, 5, 5), kernel=None, stride=1, dilate=1, pad=2,
                            num_group=1)
    g1d = conv.conv_geometry((1, 1, 9), (1, 1, 3), kernel=None, stride=1, dilate=1, pad=1,
                             num_group=1)
    assert not winograd.applies(g5) and not winograd.applies(g1d)


def test_data_grad_geometry_is_the_transposed_problem():
    g = conv.conv_geometry((1, 2, 19, 19), (4, 2, 3, 3), kernel=None, stride=1, dilate=6, pad=6,
                           num_group=1)
    t = conv.data_grad_geometry(g)
    assert t.pad == (6, 6) and t.in_spatial == g.out_spatial and t.out_spatial == g.in_spatial
    strided = conv.conv_geometry((1, 2, 9, 9), (4, 2, 3, 3), kernel=None, stride=2, dilate=1,
                                 pad=1, num_group=1)
    assert conv.data_grad_geometry(strided) is None


def test_f4x4_chunks_its_own_tiles(monkeypatch):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 9, 10))
    w = rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((5, 4, 9, 10))
    geometry = conv.conv_forward(x, w, None, pad=1)[1].geometry
    whole = winograd43.winograd_forward(x, w, None, geometry), \
        winograd43.winograd_weight_grad(x, dy, geometry)
    per_image = 36 * (3 + 4) * 3 * 3 * 8                                 # th=3, tw=3, float64
    monkeypatch.setattr(conv, "COLUMN_BUDGET_BYTES", 2 * per_image)
    assert winograd.image_chunks(5, 3, 4, (9, 10), 8, winograd43) == [(0, 2), (2, 4), (4, 5)]
    np.testing.assert_array_equal(winograd43.winograd_forward(x, w, None, geometry), whole[0])
    np.testing.assert_allclose(winograd43.winograd_weight_grad(x, dy, geometry), whole[1],
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("channels, size", [(64, 40), (256, 38)])
def test_f4x4_float32_error_on_vgg_like_layers(channels, size):
    """ReLU-like inputs, He-scaled weights: F(4x4, 3x3) in float32 stays within 1e-5 of the
    largest output (measured ~3e-6: ~6x F(2x2, 3x3)'s error, ~10 float32 ulps)."""
    rng = np.random.default_rng(channels)
    x = np.maximum(rng.standard_normal((1, channels, size, size)), 0)
    w = rng.standard_normal((channels, channels, 3, 3)) * np.sqrt(2 / (9 * channels))
    want, cache = conv.conv_forward(x, w, None, pad=1)
    got = winograd43.winograd_forward(x.astype(np.float32), w.astype(np.float32), None,
                                      cache.geometry)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_f4x4_matrices_multiply_to_the_correlation():
    """A single 6x6 tile by the written-out transforms equals the direct 3x3 correlation (float64,
    exact up to rounding): guards the B^T, G, A^T rows against a typo."""
    rng = np.random.default_rng(3)
    d = rng.standard_normal((1, 1, 6, 6))
    g = rng.standard_normal((1, 1, 3, 3))
    want = conv.conv_forward(d, g, None)[0]
    geometry = conv.conv_forward(d, g, None)[1].geometry
    np.testing.assert_allclose(winograd43.winograd_forward(d, g, None, geometry), want,
                               rtol=1e-13, atol=1e-13)
