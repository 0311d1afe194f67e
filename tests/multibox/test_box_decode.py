"""_contrib_box_decode: hand-computed decodes, MXNet's double-precision steps, clip, zero gradient, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ssdref as mx
from ssdref.mathf import expf
from ssdref.multibox.box_decode import box_decode_backward, box_decode_forward

GLUON_STD = (0.1, 0.1, 0.2, 0.2)


def test_zero_offsets_give_the_anchor_as_corners():
    anchors = np.float32([[[0.5, 0.5, 0.2, 0.4], [0.25, 0.75, 0.5, 0.5]]])    # center form
    out, _ = box_decode_forward(np.zeros((1, 2, 4), np.float32), anchors, std=GLUON_STD)
    np.testing.assert_array_equal(out, np.float32([[[0.4, 0.3, 0.6, 0.7], [0.0, 0.5, 0.5, 1.0]]]))


def test_hand_computed_center_decode():
    anchors = np.float64([[[0.5, 0.5, 0.2, 0.4]]])
    data = np.float64([[[1.0, -2.0, np.log(2.0) / np.float32(0.2), 0.0]]])
    out, _ = box_decode_forward(data, anchors, std=GLUON_STD)
    std = np.float32(0.1).astype(np.float64)          # float32 parameters, as MXNet's
    ox, oy = 1.0 * std * 0.2 + 0.5, -2.0 * std * 0.4 + 0.5
    ow = np.exp(data[0, 0, 2] * np.float64(np.float32(0.2))) * 0.2 * 0.5
    expected = [ox - ow, oy - 0.2, ox + ow, oy + 0.2]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-15)


def test_corner_anchors_are_converted_to_center_first():
    corner = np.float32([[[0.1, 0.2, 0.5, 0.8]]])
    center = np.float32([[[0.3, 0.5, 0.4, 0.6]]])
    data = np.float32([[[0.3, -0.2, 0.1, 0.4]]])
    a, _ = box_decode_forward(data, corner, format="corner")
    b, _ = box_decode_forward(data, center, format="center")
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_clip_caps_the_size_offsets_before_exp_and_nan_becomes_clip():
    anchors = np.float32([[[0.0, 0.0, 1.0, 1.0]]])
    data = np.float32([[[0.0, 0.0, 10.0, np.nan]]])
    out, _ = box_decode_forward(data, anchors, clip=0.5)
    half = np.float32(np.exp(np.float64(0.5))) * np.float32(0.5)
    np.testing.assert_array_equal(out[0, 0], [-half, -half, half, half])
    unclipped, _ = box_decode_forward(data, anchors, clip=-1.0)
    assert np.isnan(unclipped[0, 0, 1]) and unclipped[0, 0, 2] > 70


def test_exp_is_the_c_double_exp_rounded_to_float32():
    """MXNet's `exp(dw)` on a float runs the double exp (issue 20: expf is 1 ulp off on ~0.1%)."""
    rng = np.random.default_rng(3)
    dw = (rng.standard_normal(20000) * 2).astype(np.float32) * np.float32(0.2)
    data = np.zeros((1, dw.size, 4), np.float32)
    data[0, :, 2] = dw / np.float32(0.2)
    anchors = np.tile(np.float32([0.0, 0.0, 2.0, 2.0]), (1, dw.size, 1))
    out, _ = box_decode_forward(data, anchors, std=GLUON_STD)
    # ow = exp(dw) * 2 * 0.5 = exp(dw) exactly, so x2 reads the exp back.
    np.testing.assert_array_equal(out[0, :, 2], expf(dw.astype(np.float64)).astype(np.float32))
    assert (expf(dw) != out[0, :, 2]).any()   # the float32 expf would differ on some of them


@given(seed=st.integers(0, 10 ** 6), n=st.integers(1, 12), fmt=st.sampled_from(("center", "corner")))
def test_anchor_layouts_of_n_times_4_values_decode_alike(seed, n, fmt):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((2, n, 4)).astype(np.float32)
    anchors = rng.uniform(0.1, 1, (1, n, 4)).astype(np.float32)
    a, _ = box_decode_forward(data, anchors, std=GLUON_STD, format=fmt)
    b, _ = box_decode_forward(data, anchors.reshape(1, 1, n, 4), std=GLUON_STD, format=fmt)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (2, n, 4)


def test_backward_is_zero_and_the_graph_passes_zeros():
    out, cache = box_decode_forward(np.ones((1, 2, 4), np.float64), np.ones((1, 2, 4), np.float64))
    ddata, danchors = box_decode_backward(np.ones_like(out), cache)
    assert not ddata.any() and not danchors.any() and danchors.shape == (1, 2, 4)
    net = mx.sym.contrib.box_decode(mx.sym.Variable("x"), mx.sym.Variable("a"), std0=0.1)
    ex = net.simple_bind(x=(1, 2, 4), a=(1, 2, 4))
    ex.forward(is_train=True)
    ex.backward([np.ones((1, 2, 4), np.float32)])
    assert not ex.grad_dict["x"].any() and not ex.grad_dict["a"].any()


@pytest.mark.parametrize("data_shape, anchor_shape, kwargs, match", [
    ((2, 3, 3), (1, 3, 4), {}, r"box_decode: data must have shape \(batch, num_boxes, 4\)"),
    ((2, 3, 4), (3, 4), {}, "box_decode: anchors must have at least 3 dimensions"),
    ((2, 3, 4), (1, 2, 4), {}, "box_decode: anchors must hold num_boxes=3 boxes"),
    ((2, 3, 4), (1, 3, 4), dict(format="xywh"), "box_decode: format must be 'corner' or 'center'"),
    ((2, 3, 4), (1, 3, 4), dict(std=(1, 1, 1)), "box_decode: std must be 4 numbers"),
])
def test_bad_inputs_raise_naming_the_argument(data_shape, anchor_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        box_decode_forward(np.zeros(data_shape, np.float32), np.zeros(anchor_shape, np.float32), **kwargs)


def test_mixed_dtypes_are_a_type_error():
    with pytest.raises(TypeError, match="box_decode: inputs must share one dtype"):
        box_decode_forward(np.zeros((1, 1, 4), np.float32), np.zeros((1, 1, 4), np.float64))
