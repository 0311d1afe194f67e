"""Fixtures for the multibox tests: every spec case runs on the NumPy specification and the kernels."""
import numpy as np
import pytest

import ssdref


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    """Run the test body under each CPU backend (calls go through ssdref.backend.dispatch)."""
    with ssdref.use_backend(request.param):
        yield request.param


def assert_printed(actual, printed):
    """`actual` (float32) equals the spec's 7-decimal printout: within half a unit of the 7th decimal.

    Half of 1e-7 is below the float32 spacing near 1, so this pins the value to the printed bits
    (0.7500001 accepts 0.75000006 and rejects 0.75)."""
    actual = np.asarray(actual, np.float64)
    printed = np.asarray(printed, np.float64)
    assert actual.shape == printed.shape, (actual.shape, printed.shape)
    err = np.abs(actual - printed)
    assert np.all(err <= 5.01e-8), f"max deviation {err.max()}:\n{actual}\nvs printed\n{printed}"


@pytest.fixture
def printed():
    return assert_printed
