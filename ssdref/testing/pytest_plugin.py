"""pytest plugin `ssdref` (entry point in pyproject's `pytest11`): fixtures for golden cases and comparators.

Installed with ssdref, it is loaded by every pytest run in an environment that has ssdref, so it
imports nothing heavy at load time (no NumPy, no hypothesis, no Numba): the fixtures import their
modules on first use. A missing `golden/` folder never breaks collection; a test that asks for a
golden case is skipped with the reason, or fails when `--ssdref-require-golden` (or the environment
variable SSDREF_REQUIRE_GOLDEN=1) says the goldens must be there, as in CI.

Fixtures (all session-scoped, so they work inside hypothesis's @given; each is also a plain
importable function, named in brackets, for code outside pytest):
    ssdref_tolerances        the per-dtype tolerance table, read-only (compare.TOLERANCES)
    golden_case              a loader: golden_case("MultiBoxTarget_T3") -> GoldenCase
                             (.inputs, .outputs, .params, .tolerances, .precision, ...); root=
                             overrides the folder  [ssdref.testing.load_golden]
    assert_detections_equal  [ssdref.testing.compare.assert_detections_equal]
    assert_targets_equal     [ssdref.testing.compare.assert_targets_equal]
    assert_allclose_dtype    [ssdref.testing.compare.assert_allclose_dtype]
    ssdref_golden_case       the GoldenCase of a test marked @pytest.mark.ssdref_golden(...)

Marker: @pytest.mark.ssdref_golden("MultiBoxTarget_T3", "MultiBoxTarget_T4") runs the test once
per named golden case, handing it as the `ssdref_golden_case` fixture (skipped, or failed when
the goldens are required, if the folder is missing).

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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ssdref_golden(*case_names): run the test once per named ssdref golden case, "
                   "given as the ssdref_golden_case fixture")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("ssdref_golden")
    if marker is None:
        return
    if "ssdref_golden_case" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.ssdref_golden needs "
                                f"the test to take the ssdref_golden_case fixture")
    names = list(marker.args)
    if not names or not all(isinstance(n, str) for n in names):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.ssdref_golden needs "
                                f"one or more case names (str), got {marker.args!r}")
    metafunc.parametrize("ssdref_golden_case", names, indirect=True, ids=names)


def _require_golden(config) -> bool:
    return bool(config.getoption("--ssdref-require-golden", default=False)) or \
        os.environ.get("SSDREF_REQUIRE_GOLDEN", "") not in ("", "0")


@pytest.fixture(scope="session")
def ssdref_tolerances():
    """{np.float32: {'rtol', 'atol'}, np.float64: {...}}, read-only (shared by the session)."""
    from types import MappingProxyType

    from ssdref.testing.compare import TOLERANCES
    return MappingProxyType({dtype: MappingProxyType(dict(tol)) for dtype, tol in TOLERANCES.items()})


@pytest.fixture(scope="session")
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
def ssdref_golden_case(request, golden_case):
    """The GoldenCase named by the test's @pytest.mark.ssdref_golden parameter."""
    if not hasattr(request, "param"):
        raise pytest.UsageError("ssdref_golden_case: mark the test @pytest.mark.ssdref_golden(NAME, ...)")
    return golden_case(request.param)


@pytest.fixture(scope="session")
def assert_detections_equal():
    from ssdref.testing.compare import assert_detections_equal as compare
    return compare


@pytest.fixture(scope="session")
def assert_targets_equal():
    from ssdref.testing.compare import assert_targets_equal as compare
    return compare


@pytest.fixture(scope="session")
def assert_allclose_dtype():
    from ssdref.testing.compare import assert_allclose_dtype as compare
    return compare
