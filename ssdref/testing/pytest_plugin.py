"""pytest plugin `ssdref` (entry point in pyproject's `pytest11`): fixtures for golden cases and comparators.

Installed with ssdref, it is loaded by every pytest run in an environment that has ssdref, so it
imports nothing heavy at load time (no NumPy, no hypothesis, no Numba): the fixtures import their
modules on first use. A missing `golden/` folder never breaks collection; a test that asks for a
golden case is skipped with the reason, or fails when `--ssdref-require-golden` (or the environment
variable SSDREF_REQUIRE_GOLDEN=1) says the goldens must be there, as in CI.

Fixtures:
    ssdref_tolerances        the per-dtype tolerance table (a copy of compare.TOLERANCES)
    golden_case              a loader: golden_case("multibox_target_basic") -> GoldenCase
                             (.inputs, .outputs, .params, .tolerances, ...); root= overrides the folder
    assert_detections_equal  ssdref.testing.compare.assert_detections_equal
    assert_targets_equal     ssdref.testing.compare.assert_targets_equal
    assert_allclose_dtype    ssdref.testing.compare.assert_allclose_dtype

Options: --ssdref-golden-dir DIR (default: $SSDREF_GOLDEN_DIR, else the checkout's golden/),
--ssdref-require-golden.
"""
import os

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("ssdref", "ssdref reference-implementation fixtures")
    group.addoption("--ssdref-golden-dir", default=None, metavar="DIR",
                    help="folder holding ssdref's golden manifest.json and .npz files")
    group.addoption("--ssdref-require-golden", action="store_true", default=False,
                    help="fail (rather than skip) tests whose golden files are missing")


def _require_golden(config) -> bool:
    return bool(config.getoption("--ssdref-require-golden", default=False)) or \
        os.environ.get("SSDREF_REQUIRE_GOLDEN", "") not in ("", "0")


@pytest.fixture
def ssdref_tolerances():
    """{np.float32: {'rtol', 'atol'}, np.float64: {...}}; a copy, so a test may change it freely."""
    from ssdref.testing.compare import TOLERANCES
    return {dtype: dict(tol) for dtype, tol in TOLERANCES.items()}


@pytest.fixture
def golden_case(request):
    """Factory `load(case_name, root=None, verify=True) -> GoldenCase` for ssdref's golden files."""
    from ssdref.testing import goldens

    default_root = request.config.getoption("--ssdref-golden-dir", default=None)

    def load(case_name, root=None, verify=True):
        folder = root if root is not None else default_root
        try:
            return goldens.load_golden(case_name, root=folder, verify=verify)
        except goldens.GoldenMissingError as exc:
            if _require_golden(request.config):
                pytest.fail(str(exc), pytrace=False)
            pytest.skip(f"ssdref golden files not available: {exc}")

    return load


@pytest.fixture
def assert_detections_equal():
    from ssdref.testing.compare import assert_detections_equal as compare
    return compare


@pytest.fixture
def assert_targets_equal():
    from ssdref.testing.compare import assert_targets_equal as compare
    return compare


@pytest.fixture
def assert_allclose_dtype():
    from ssdref.testing.compare import assert_allclose_dtype as compare
    return compare
