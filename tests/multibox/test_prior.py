"""MultiBoxPrior: spec §8 cases T1/T2 bit-exact on both backends, properties, bad inputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdref.backend import dispatch
from ssdref.multibox.prior import multibox_prior


def prior(data, **kwargs):
    return dispatch(multibox_prior)(data, **kwargs)


def test_t1_sizes_use_first_ratio_then_ratios_use_first_size(backend, printed):
    anchors = prior(np.zeros((1, 1, 2, 3), np.float32), sizes=(0.5, 0.25), ratios=(1, 2, 0.5))
    assert anchors.shape == (1, 24, 4) and anchors.dtype == np.float32
    printed(anchors[0, :4], [[0, 0, .3333333, .5],
                             [.0833333, .125, .25, .375],
                             [-.0690356, .0732233, .4023689, .4267767],
                             [.0488155, -.1035534, .2845178, .6035534]])
    printed(anchors[0, 9], [0.7500001, 0.125, 0.9166667, 0.375])
    assert anchors[0, 9, 0] == np.float32(0.75) + np.spacing(np.float32(0.75))


def test_t2_steps_offsets_are_y_then_x_and_clip_clamps(backend, printed):
    anchors = prior(np.zeros((1, 1, 2, 2), np.float32), sizes=(0.6,), ratios=(1, 3),
                    steps=(0.3, 0.2), offsets=(0.2, 0.7), clip=True)
    printed(anchors[0], [[0, 0, .44, .36], [0, 0, .6596152, .2332051], [.04, 0, .64, .36],
                         [0, 0, .8596152, .2332051], [0, .06, .44, .66],
                         [0, .1867949, .6596152, .5332051], [.04, .06, .64, .66],
                         [0, .1867949, .8596152, .5332051]])


def test_unclipped_anchors_extend_outside_unit_square(backend):
    anchors = prior(np.zeros((1, 1, 2, 3), np.float32), sizes=(0.5, 0.25), ratios=(1, 2, 0.5))
    assert anchors.min() < 0 and anchors.max() > 1


def test_non_square_map_scales_width_by_height_over_width(backend):
    anchors = prior(np.zeros((1, 1, 4, 2), np.float32), sizes=(0.5,))[0]
    width = anchors[:, 2] - anchors[:, 0]
    height = anchors[:, 3] - anchors[:, 1]
    np.testing.assert_allclose(width, 0.5 * 4 / 2, rtol=1e-6)
    np.testing.assert_allclose(height, 0.5, rtol=1e-6)


def test_one_nonpositive_step_means_default_steps(backend):
    data = np.zeros((1, 1, 3, 5), np.float32)
    assert np.array_equal(prior(data, steps=(0.0, 0.5)), prior(data))
    assert np.array_equal(prior(data, steps=(1 / 3, 0.2)), prior(data))


def test_output_does_not_depend_on_batch_or_values(backend):
    one = prior(np.zeros((1, 3, 4, 5), np.float32), sizes=(0.2, 0.3), ratios=(1, 2))
    many = prior(np.random.RandomState(0).randn(4, 3, 4, 5).astype(np.float32),
                 sizes=(0.2, 0.3), ratios=(1, 2))
    assert np.array_equal(one, many)


@given(height=st.integers(1, 6), width=st.integers(1, 6),
       sizes=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=3),
       ratios=st.lists(st.floats(0.25, 4.0), min_size=1, max_size=3))
def test_prior_count_is_hw_times_sizes_plus_ratios_minus_one(height, width, sizes, ratios):
    anchors = multibox_prior(np.zeros((1, 1, height, width), np.float32), sizes=sizes,
                             ratios=ratios)
    assert anchors.shape == (1, height * width * (len(sizes) + len(ratios) - 1), 4)


def test_float64_runs_the_same_formulas(backend):
    kwargs = dict(sizes=(0.5, 0.25), ratios=(1, 2, 0.5), steps=(0.3, 0.25), offsets=(0.5, 0.4))
    single = prior(np.zeros((1, 1, 3, 4), np.float32), **kwargs)
    double = prior(np.zeros((1, 1, 3, 4), np.float64), **kwargs)
    assert double.dtype == np.float64
    np.testing.assert_allclose(single, double, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=(0.1, -1.0)), "steps must both be > 0 or both be <= 0"),
    (dict(offsets=(0.5, 1.5)), "offsets must be 2 numbers"),
    (dict(offsets=(0.5,)), "offsets must be 2 numbers"),
    (dict(steps=(0.1,)), "steps must be 2 numbers"),
    (dict(sizes=()), "sizes and ratios must each hold at least one number"),
    (dict(ratios=(1.0, 0.0)), "sizes and ratios must be > 0"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(backend, kwargs, match):
    with pytest.raises(ValueError, match=f"MultiBoxPrior: {match}"):
        prior(np.zeros((1, 1, 2, 2), np.float32), **kwargs)


def test_bad_data_raises(backend):
    with pytest.raises(ValueError, match="MultiBoxPrior: data must have at least 4 dimensions"):
        prior(np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="MultiBoxPrior: data must be float32 or float64"):
        prior(np.zeros((1, 1, 2, 2), np.int32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, value", [("sizes", (1e39,)), ("ratios", (1.0, -1e39)),
                                         ("steps", (1e39, 1e39)), ("sizes", (float("inf"),))])
def test_arguments_beyond_float32_are_rejected_as_mxnet_does(backend, dtype, name, value):
    # MXNet's float parameters cannot hold 1e39; before, sizes=(1e39,) gave all +-inf anchors.
    with pytest.raises(ValueError, match=f"MultiBoxPrior: {name} must be finite float32 numbers"):
        prior(np.zeros((1, 1, 2, 2), dtype), **{name: value})
