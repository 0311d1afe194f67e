"""TVM (apache-tvm 0.27) tests: run by `make conformance-tvm` in .venv-tvm.

In the main environment (no TVM) every test here is skipped with the reason. Under
`make conformance-tvm` (SSDREF_REQUIRE_TVM=1) a missing TVM is a failure, never a skip. (This
folder, on sys.path as `tests/tvm`, is a namespace package named tvm where TVM is absent:
`ssdref.backends.tvm.importable` does not count it.)
"""
import os

import pytest

from ssdref.backends import tvm

REQUIRE = os.environ.get("SSDREF_REQUIRE_TVM") == "1"


@pytest.fixture(autouse=True)
def _tvm_present():
    if tvm.importable():
        return
    if REQUIRE:
        pytest.fail("SSDREF_REQUIRE_TVM=1 but the tvm package (apache-tvm) is not importable: "
                    "`make conformance-tvm` installs it in .venv-tvm", pytrace=False)
    pytest.skip("TVM tests need apache-tvm (not importable here); run `make conformance-tvm`")
