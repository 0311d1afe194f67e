"""tests/optional_deps.require: a missing declared extra skips locally and fails under CI=true."""
import pytest

from tests.optional_deps import require


def test_missing_extra_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz .*extra 'interop'"):
        require("no_such_module_xyz", "interop")


def test_missing_extra_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a declared dependency is missing"):
        require("no_such_module_xyz", "interop")


def test_present_module_is_returned():
    assert require("json", "none").dumps([1]) == "[1]"
