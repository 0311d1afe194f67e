"""cuda_boxes (IoU, encode, decode, clip) equals ssdref.multibox.boxes bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import cuda

from ssdref.kernels import cuda_boxes as gpu
from ssdref.multibox import boxes as spec
from tests.cuda.helpers import boxes, same_bits, same_bits_or_ulp

DTYPES = st.sampled_from([np.float32, np.float64])


@pytest.mark.cuda
@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), m=st.integers(1, 6), dtype=DTYPES,
       nonpositive=st.booleans())
def test_iou_matrix_equals_numpy(seed, n, m, dtype, nonpositive):
    rng = np.random.default_rng(seed)
    a, b = boxes(rng, n, dtype, lo=-0.2), boxes(rng, m, dtype, size=(-0.1, 0.5))
    b[0] = a[0]                                   # an exact IoU of 1
    same_bits(gpu.iou_matrix(a, b, nonpositive), spec.iou_matrix(a, b, nonpositive))


@pytest.mark.cuda
@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), dtype=DTYPES)
def test_encode_decode_clip_equal_numpy(seed, n, dtype):
    rng = np.random.default_rng(seed)
    anchors, gt = boxes(rng, n, dtype, lo=-0.2), boxes(rng, n, dtype)
    loc = (rng.standard_normal((n, 4)) * 2).astype(dtype)
    variances = (0.1, 0.1, 0.2, 0.2) if seed % 2 else (0.3, 0.2, 0.1, 0.5)
    # float64 log/exp are libdevice's on a GPU (1 ulp): same_bits_or_ulp; float32 bit for bit
    same_bits_or_ulp(gpu.encode(anchors, gt, variances), spec.encode(anchors, gt, variances))
    decoded = gpu.decode(anchors, loc, variances)
    same_bits_or_ulp(decoded, spec.decode(anchors, loc, variances), box_columns=(0, 1, 2, 3))
    same_bits(gpu.clip_boxes(decoded), spec.clip_boxes(decoded))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_of_special_values_matches_the_specification_bit_for_bit(dtype):
    # NaN -> 1 and -0.0 -> +0.0 as C++'s std::max(0, std::min(1, x)); on an H200 the comparison
    # form compiled to a saturating instruction that gave 0 for NaN (hence the bit-pattern clip)
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([np.nan, -np.nan, -0.0, 0.0, -np.inf, np.inf, 1.0, np.nextafter(1, 2), 0.5,
                  -tiny, tiny, np.nextafter(1, 0), -3.0, 7.0], dtype).reshape(-1, 2)
    got, want = gpu.clip_boxes(x), spec.clip_boxes(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(f"u{x.itemsize}"), want.view(f"u{x.itemsize}"))


@pytest.mark.cuda
def test_decode_spec_case_d8():
    anchor = np.array([[.2, .2, .4, .4]], np.float32)
    loc = np.array([[1, -1, .5, -.5]], np.float32)
    np.testing.assert_allclose(gpu.decode(anchor, loc)[0],
                               [0.2094829, 0.1895162, 0.4305171, 0.3704838], rtol=1e-6)


@pytest.mark.cuda
def test_device_arrays_in_give_device_arrays_out(rng):
    a, b = boxes(rng, 5, np.float32), boxes(rng, 3, np.float32)
    out = gpu.iou_matrix(cuda.to_device(a), cuda.to_device(b))
    assert hasattr(out, "copy_to_host")
    same_bits(out.copy_to_host(), spec.iou_matrix(a, b))


@pytest.mark.cuda
def test_bad_inputs_raise_the_specification_errors():
    with pytest.raises(TypeError, match="iou_matrix"):
        gpu.iou_matrix(np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float64))
    with pytest.raises(ValueError, match="4 coordinates"):
        gpu.iou_matrix(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))
