"""The `ssdref` pytest plugin (loaded through the pytest11 entry point) and the golden loader."""
import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ssdref.testing import compare, goldens


def _write_goldens(root, *, with_tolerances=True):
    """A one-case golden folder in the manifest format ssdref.golden writes."""
    root.mkdir(parents=True, exist_ok=True)
    arrays = {"data": np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3),
              "inputs/label": np.full((1, 2, 5), -1, np.float32),
              "outputs/label": np.zeros((1, 2), np.float32),
              "anchors": np.zeros((1, 24, 4), np.float32)}
    np.savez(root / "prior_basic.npz", **arrays)
    case = {"name": "prior_basic", "kind": "op", "op": "_contrib_MultiBoxPrior",
            "params": {"sizes": [0.5, 0.25], "ratios": [1, 2, 0.5]}, "seed": 0, "dtype": "float32",
            "inputs": ["data", "label"], "outputs": ["anchors", "label"],
            "tolerances": {"rtol": 1e-6, "anchors": {"atol": 0.0}} if with_tolerances else {},
            "file": "prior_basic.npz",
            "sha256": hashlib.sha256((root / "prior_basic.npz").read_bytes()).hexdigest()}
    manifest = {"schema_version": 1, "ssdref_version": "0.1.0", "cases": [case]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_fixtures_come_from_the_entry_point(ssdref_tolerances, assert_detections_equal,
                                            assert_targets_equal, assert_allclose_dtype, request):
    assert ssdref_tolerances == compare.TOLERANCES and ssdref_tolerances is not compare.TOLERANCES
    assert assert_detections_equal is compare.assert_detections_equal
    assert assert_targets_equal is compare.assert_targets_equal
    assert assert_allclose_dtype is compare.assert_allclose_dtype
    assert request.config.getoption("--ssdref-require-golden") in (False, True)
    assert request.config.pluginmanager.has_plugin("ssdref")


def test_golden_case_loads_arrays_params_and_tolerances(golden_case, tmp_path):
    case = golden_case("prior_basic", root=_write_goldens(tmp_path / "golden"))
    assert list(case.inputs) == ["data", "label"] and list(case.outputs) == ["anchors", "label"]
    assert case.inputs["label"].shape == (1, 2, 5) and case.outputs["label"].shape == (1, 2)
    np.testing.assert_array_equal(case.inputs["data"].ravel(), np.arange(6))
    assert case.params["sizes"] == [0.5, 0.25] and case.kind == "op" and case.dtype == "float32"
    assert case.manifest == {"schema_version": 1, "ssdref_version": "0.1.0"}
    assert case.tolerance() == {"rtol": 1e-6, "atol": compare.TOLERANCES[np.float32]["atol"]}
    assert case.tolerance("anchors") == {"rtol": compare.TOLERANCES[np.float32]["rtol"], "atol": 0.0}
    assert goldens.list_golden(tmp_path / "golden") == ["prior_basic"]


def test_a_changed_golden_file_fails_its_hash_check(tmp_path):
    root = _write_goldens(tmp_path, with_tolerances=False)
    blob = bytearray((root / "prior_basic.npz").read_bytes())
    blob[-30] ^= 0xFF
    (root / "prior_basic.npz").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="sha256 must be .* the file changed"):
        goldens.load_golden("prior_basic", root=root)


def test_unknown_case_names_and_schema_versions_are_errors(tmp_path):
    root = _write_goldens(tmp_path)
    with pytest.raises(KeyError, match="case_name must be one of the 1 cases"):
        goldens.load_golden("nope", root=root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["schema_version"] = 3
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"schema_version must be one of \(1, 2\), got 3"):
        goldens.load_golden("prior_basic", root=root)


def test_missing_goldens_skip_unless_required(golden_case, tmp_path, monkeypatch):
    with pytest.raises(pytest.skip.Exception, match="golden files not available"):
        golden_case("prior_basic", root=tmp_path / "absent")
    with pytest.raises(goldens.GoldenMissingError, match="no manifest.json"):
        goldens.load_golden("prior_basic", root=tmp_path / "absent")
    monkeypatch.setenv("SSDREF_REQUIRE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="no manifest.json"):
        golden_case("prior_basic", root=tmp_path / "absent")


def test_importing_the_plugin_loads_neither_numpy_nor_hypothesis():
    code = ("import sys, ssdref.testing.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'hypothesis', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_fresh_pytest_run_without_goldens_still_collects_and_skips(tmp_path):
    (tmp_path / "test_uses_golden.py").write_text(textwrap.dedent("""
        def test_golden(golden_case, tmp_path):
            golden_case("anything", root=tmp_path / "absent")

        def test_detections(assert_detections_equal):
            assert_detections_equal([[0, 0.5, 0, 0, 1, 1]], [[0, 0.5, 0, 0, 1, 1]])
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                          str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout and "golden files not available" in run.stdout


def test_fixtures_work_inside_given_and_the_marker_parametrizes_golden_cases(tmp_path):
    root = _write_goldens(tmp_path / "golden")
    (tmp_path / "test_kit_user.py").write_text(textwrap.dedent("""
        import numpy as np
        import pytest
        from hypothesis import given, strategies as st

        @given(st.floats(0, 1))
        def test_inside_given(assert_allclose_dtype, ssdref_tolerances, golden_case, x):
            assert_allclose_dtype(np.float32([x]), np.float32([x]))
            assert ssdref_tolerances[np.float32]["rtol"] == 1e-5

        @pytest.mark.ssdref_golden("prior_basic")
        def test_marked(ssdref_golden_case):
            assert ssdref_golden_case.name == "prior_basic"
            assert list(ssdref_golden_case.outputs) == ["anchors", "label"]

        def test_tolerances_are_read_only(ssdref_tolerances):
            with pytest.raises(TypeError):
                ssdref_tolerances[np.float32]["rtol"] = 1.0
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--strict-markers", f"--ssdref-golden-dir={root}", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
