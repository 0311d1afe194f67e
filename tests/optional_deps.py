"""Optional extras in tests: skipped on a developer machine without them, a failure under CI=true.

A broken install of a declared extra (torch, onnx, onnxruntime, matplotlib) must not turn its tests
into skips in CI: `require` fails there instead, naming the module and the extra.
"""
import importlib
import os

import pytest


def require(module: str, extra: str):
    """The imported module; pytest.skip without it, or pytest.fail when CI=true."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} (extra '{extra}': pip install -e '.[{extra}]') is not importable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: a declared dependency is missing, not skipped: {message}",
                        pytrace=False)
        pytest.skip(message, allow_module_level=True)
