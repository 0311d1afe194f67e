"""ssdref.testing: the kit other projects import to test their SSD against ssdref.

    strategies     hypothesis strategies for boxes, labels, priors, logits, whole SSD configs
                   and MultiBoxTarget / MultiBoxDetection input bundles (needs hypothesis)
    compare        TOLERANCES, assert_detections_equal, assert_targets_equal, assert_allclose_dtype
    goldens        load_golden(case_name, root=None): read golden/manifest.json + .npz
    pytest_plugin  fixtures (ssdref_tolerances, golden_case, assert_detections_equal, ...),
                   registered through the `pytest11` entry point

Submodules and the names below load on first use, so `import ssdref.testing` (which the pytest
plugin does in every test run) costs nothing and needs no hypothesis.
"""
import importlib

_EXPORTS = {
    "TOLERANCES": "ssdref.testing.compare",
    "tolerance_for": "ssdref.testing.compare",
    "assert_detections_equal": "ssdref.testing.compare",
    "assert_targets_equal": "ssdref.testing.compare",
    "assert_allclose_dtype": "ssdref.testing.compare",
    "load_golden": "ssdref.testing.goldens",
    "list_golden": "ssdref.testing.goldens",
    "GoldenCase": "ssdref.testing.goldens",
}
_SUBMODULES = ("strategies", "compare", "goldens", "pytest_plugin")


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"ssdref.testing.{name}")
    elif name in _EXPORTS:
        module = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'ssdref.testing' has no attribute {name!r}")
    globals()[name] = module
    return module


__all__ = [*_SUBMODULES, *_EXPORTS]
