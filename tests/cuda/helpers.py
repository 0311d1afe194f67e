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


def same_bits_or_ulp(a, b, maxulp=2, box_columns=None):
    """`same_bits`, except float64 on a real GPU: within `maxulp` ulps (NaN where NaN, inf where inf).

    float64 exp/log run libdevice's `exp`/`log` on a GPU (documented max error 1 ulp) where the
    specification runs glibc's, so float64 values derived from them (decoded boxes, encoded targets)
    may differ in the last bits there; everything else, and float32 (glibc's expf/logf algorithm on
    the device), stays bit for bit. Under the simulator both use glibc: exact.

    `box_columns`: the last-axis columns that hold decoded [x0, y0, x1, y1]. Decoding computes
    x0 = ox - half_w and x1 = ox + half_w, and that subtraction cancels: a 2-ulp difference in
    exp(p*v), carried into half_w (3 ulps of half_w after the product and halving), can be many ulps
    of a small x0 (16 were seen on an H200). So those columns are measured in ulps of their box's
    scale on that axis, max(|x0|, |x1|) = |ox| + |half_w|: at most 3 + 1 (the final rounding) = 4.
    The other columns stay within `maxulp` ulps of themselves."""
    import numba
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.float64 or numba.config.ENABLE_CUDASIM:
        return same_bits(a, b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    np.testing.assert_array_equal(a[np.isinf(a)], b[np.isinf(b)])

    def ordered(x):      # float64 bits -> integers in value order (-0.0 and +0.0 both 0)
        i = x.view(np.int64)
        return np.where(i < 0, np.int64(-2**63) - i, i)

    plain = np.ones(a.shape[-1], bool)
    if box_columns is not None:
        plain[list(box_columns)] = False
        l, t, r, btm = box_columns
        for low, high in ((l, r), (t, btm)):                  # the x axis, then the y axis
            with np.errstate(invalid="ignore"):
                scale = np.fmax(np.abs(b[..., low]), np.abs(b[..., high]))
                for col in (low, high):
                    want, got = b[..., col], a[..., col]
                    ok = ~np.isfinite(want) | (np.abs(got - want) <= 4 * np.spacing(scale))
                    assert ok.all(), (f"column {col}: {np.abs(got - want)[~ok][:5]} apart, more "
                                      f"than 4 ulps of the box scale {scale[~ok][:5]}")
    a, b = a[..., plain], b[..., plain]
    finite = np.isfinite(a) & np.isfinite(b)
    ulps = np.abs(ordered(a[finite]) - ordered(b[finite]))
    assert ulps.size == 0 or ulps.max() <= maxulp, (
        f"{int(ulps.max())} ulps apart (max {maxulp}) at {np.flatnonzero(ulps > maxulp)[:10]}")
