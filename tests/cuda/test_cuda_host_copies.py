"""Host arrays reach the GPU through cuda_util.as_device, which hands numba no zero strides."""
import numpy as np
import pytest

from ssdref.kernels import cuda_util as cu


@pytest.mark.cuda
def test_an_added_axis_is_copied_with_real_strides(monkeypatch):
    # anchors[None] has stride 0 on its new axis; numba-cuda reads any 0 stride as a broadcast and
    # walks every element in Python (80 ms per SSD300 call on an H200, 2026-12-04)
    seen = []
    real = cu.cuda.to_device
    monkeypatch.setattr(cu.cuda, "to_device", lambda x: seen.append(x.strides) or real(x))
    anchors = np.arange(8 * 4, dtype=np.float32).reshape(8, 4)[None]
    assert 0 in anchors.strides
    device = cu.as_device(anchors)
    assert seen == [(128, 16, 4)]
    np.testing.assert_array_equal(device.copy_to_host(), anchors)
    cu.as_device(np.zeros((1,), np.float32)[None])       # one element: nothing to walk, any stride
