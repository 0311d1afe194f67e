"""cuda_prior.multibox_prior equals ssdref.multibox.prior.multibox_prior bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssdref.kernels import cuda_prior as gpu
from ssdref.multibox import prior as spec


@pytest.mark.cuda
def test_spec_cases_t1_t2():
    data = np.zeros((1, 1, 2, 3), np.float32)
    t1 = gpu.multibox_prior(data, sizes=(0.5, 0.25), ratios=(1, 2, 0.5))
    assert t1.shape == (1, 24, 4)
    np.testing.assert_allclose(t1[0, 0], [0, 0, .3333333, .5], atol=1e-7)
    np.testing.assert_array_equal(t1, spec.multibox_prior(data, sizes=(0.5, 0.25), ratios=(1, 2, 0.5)))
    data = np.zeros((1, 1, 2, 2), np.float32)
    kw = dict(sizes=(0.6,), ratios=(1, 3), steps=(0.3, 0.2), offsets=(0.2, 0.7), clip=True)
    np.testing.assert_array_equal(gpu.multibox_prior(data, **kw), spec.multibox_prior(data, **kw))


@pytest.mark.cuda
@settings(max_examples=12)
@given(h=st.integers(1, 5), w=st.integers(1, 5), dtype=st.sampled_from([np.float32, np.float64]),
       sizes=st.lists(st.floats(0.05, 1.5), min_size=1, max_size=3),
       ratios=st.lists(st.floats(0.2, 4.0), min_size=1, max_size=3), clip=st.booleans(),
       steps=st.sampled_from([(-1.0, -1.0), (0.1, 0.3)]))
def test_prior_equals_numpy(h, w, dtype, sizes, ratios, clip, steps):
    data = np.zeros((2, 3, h, w), dtype)
    want = spec.multibox_prior(data, sizes, ratios, clip, steps)
    got = gpu.multibox_prior(data, sizes, ratios, clip, steps)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))   # -0.0 kept too


def test_a_foreign_prior_layout_is_refused_like_the_specification():
    import pytest
    from ssdref.kernels import cuda_prior
    with pytest.raises(ValueError, match="prior_presets.torchvision_default_boxes"):
        cuda_prior.multibox_prior(np.zeros((1, 1, 2, 2), np.float32), preset="torchvision")
