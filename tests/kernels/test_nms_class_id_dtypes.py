"""ops.nms / the Numba NMS compile once per class-id kind, not once per caller dtype (issue 21:
a user's hypothesis test hit its deadline on the ~2.5 s compile of each new dtype)."""
import numpy as np

from ssdref import ops
from ssdref.kernels import cpu_nms


def test_class_ids_of_every_integer_dtype_reach_one_int64_kernel():
    before = set(cpu_nms.greedy_nms.signatures)       # other tests may call the kernel directly
    boxes = np.float32([[0, 0, 1, 1], [0, 0, .9, 1], [.5, .5, 1, 1]])
    scores = np.float32([.9, .8, .7])
    for dtype in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float16,
                  np.float32, np.float64):
        keep = ops.nms(boxes, scores, np.array([0, 0, 1], dtype), 0.5, preset="mxnet")
        assert keep.tolist() == [0, 2]
    class_id_types = {str(sig[1].dtype) for sig in set(cpu_nms.greedy_nms.signatures) - before}
    assert class_id_types <= {"int64", "float64"}, class_id_types
