"""Random SSD-like inputs for the CUDA-vs-NumPy tests (small: the simulator is slow)."""
import numpy as np


def boxes(rng, n, dtype, lo=0.0, hi=0.8, size=(0.05, 0.5)):
    out = np.empty((n, 4), dtype)
    out[:, :2] = rng.uniform(lo, hi, (n, 2))
    out[:, 2:] = out[:, :2] + rng.uniform(*size, (n, 2))
    return out


def labels(rng, batch, rows, dtype, num_classes=3):
    """(batch, rows, 5) with a random number of gts per image, then all -1 padding rows."""
    out = np.full((batch, rows, 5), -1, dtype)
    for b in range(batch):
        k = int(rng.integers(0, rows + 1))
        out[b, :k, 0] = rng.integers(0, num_classes, k)
        out[b, :k, 1:] = boxes(rng, k, dtype)
    return out


def same_bits(a, b):
    """Equal values, shape and dtype; -0.0 == 0.0 and NaN == NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(a, b)
