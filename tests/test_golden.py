"""ssdref.golden: the committed golden set verifies, tampering fails clearly, regeneration is byte-identical."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ssdref import golden
from ssdref.autograd import registry
from ssdref.cli import main
from ssdref.testing.goldens import load_golden, read_manifest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FAST = [c.name for c in golden.declared_cases() if c.kind == "op"]
# A subset regenerated in the byte-identity test: spec cases, a random bundle, layers, 2 dtypes.
SUBSET = ["MultiBoxPrior_T1", "MultiBoxTarget_T5", "MultiBoxTarget_random_ssd_float64",
          "MultiBoxDetection_D3b_topk_stale", "MultiBoxDetection_random_float32",
          "Convolution_pad1_float32", "BatchNorm_train_float64", "SoftmaxOutput_ssd_float32"]


@pytest.fixture
def golden_copy(tmp_path):
    return Path(shutil.copytree(GOLDEN, tmp_path / "golden"))


def test_committed_goldens_match_their_hashes_files_and_declared_list():
    report = golden.verify(GOLDEN, recompute=False)
    assert report["cases"] == len(golden.declared_cases())


def test_committed_op_cases_recompute_to_the_stored_arrays():
    report = golden.verify(GOLDEN, only=set(FAST))
    assert report["recomputed"] == len(FAST)


@pytest.mark.slow
def test_committed_graph_cases_recompute_to_the_stored_arrays():
    golden.verify(GOLDEN)


def test_regenerating_cases_is_byte_identical(tmp_path):
    golden.generate(tmp_path, cases=SUBSET)
    for name in SUBSET:
        assert (tmp_path / f"{name}.npz").read_bytes() == (GOLDEN / f"{name}.npz").read_bytes(), name
    assert golden.generate(tmp_path, cases=SUBSET) == []          # a second run changes nothing


def test_npz_bytes_do_not_depend_on_the_clock_and_load_with_numpy(tmp_path, monkeypatch):
    arrays = {"a": np.arange(3, dtype=np.float32), "inputs/b": np.eye(2)}
    first = golden.npz_bytes(arrays)
    monkeypatch.setattr("time.time", lambda: 2e9)
    assert golden.npz_bytes(arrays) == first
    (tmp_path / "x.npz").write_bytes(first)
    with np.load(tmp_path / "x.npz") as data:
        assert data.files == ["a", "inputs/b"]
        np.testing.assert_array_equal(data["inputs/b"], np.eye(2))


def test_a_flipped_byte_fails_with_the_file_named(golden_copy):
    path = golden_copy / "MultiBoxTarget_T5.npz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(golden.GoldenMismatchError, match=r"sha256 mismatch: MultiBoxTarget_T5\.npz"):
        golden.verify(golden_copy, recompute=False)


def test_a_deleted_or_extra_file_fails_with_the_file_named(golden_copy):
    (golden_copy / "MultiBoxPrior_T1.npz").unlink()
    (golden_copy / "stray.npz").write_bytes(b"")
    with pytest.raises(golden.GoldenMismatchError) as err:
        golden.verify(golden_copy, recompute=False)
    assert "missing file: MultiBoxPrior_T1.npz" in str(err.value)
    assert "extra file: stray.npz" in str(err.value)


def test_a_changed_value_with_a_matching_hash_fails_the_recomputation(golden_copy):
    manifest = json.loads((golden_copy / "manifest.json").read_text())
    entry = next(c for c in manifest["cases"] if c["name"] == "MultiBoxDetection_D1")
    case = load_golden("MultiBoxDetection_D1", root=golden_copy)
    out = case.outputs["output"].copy()
    out[0, 0, 1] += 0.25                                          # a score moves
    blob = golden.npz_bytes({**case.inputs, "output": out})
    (golden_copy / entry["file"]).write_bytes(blob)
    import hashlib
    entry["sha256"] = hashlib.sha256(blob).hexdigest()
    (golden_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(golden.GoldenMismatchError, match="(?s)MultiBoxDetection_D1.*score differs"):
        golden.verify(golden_copy, only={"MultiBoxDetection_D1"})


def test_an_mxnet_recorded_subfolder_is_a_separate_set(golden_copy):
    sub = golden_copy / "mxnet-recorded-copy"
    sub.mkdir()
    blob = golden.npz_bytes({"data": np.zeros((1, 1, 2, 2), np.float32)})
    (sub / "prior.npz").write_bytes(blob)
    import hashlib
    (sub / "manifest.json").write_text(json.dumps({"schema_version": 1, "ssdref_version": "x", "cases": [
        {"name": "prior", "kind": "op", "op": "_contrib_MultiBoxPrior", "params": {}, "seed": 0,
         "dtype": "float32", "inputs": ["data"], "outputs": [], "tolerances": {},
         "file": "prior.npz", "sha256": hashlib.sha256(blob).hexdigest()}]}))
    golden.verify(golden_copy, recompute=False)                  # the parent ignores it
    assert golden.verify(sub)["recomputed"] == 0                  # its own hashes are checked
    (sub / "prior.npz").write_bytes(blob + b"x")
    with pytest.raises(golden.GoldenMismatchError, match="sha256 mismatch: prior.npz"):
        golden.verify(sub)


def test_every_registered_op_has_a_golden_case():
    covered = {c.op for c in golden.declared_cases()}
    # ops named _test_* are registered by the graph tests' toy op module, not by ssdref
    missing = sorted(op for op in set(registry.all_ops()) - covered if not op.startswith("_test_"))
    assert not missing, f"ops without a golden case (add them to ssdref.golden.LAYERS): {missing}"


def test_cases_cover_both_dtypes_graphs_and_the_spec_error_cases():
    manifest = read_manifest(GOLDEN)
    by_name = {c["name"]: c for c in manifest["cases"]}
    assert {"tiny_ssd_train_step_float32", "tiny_ssd_train_step_float64",
            "ssd300_vgg16_reduced_detect"} <= set(by_name)
    step = by_name["tiny_ssd_train_step_float64"]
    params = [n for n in step["inputs"] if n not in ("data", "label")]
    assert all(f"grad_{n}" in step["outputs"] for n in params)
    assert by_name["MultiBoxTarget_T9b_too_few_candidates"]["error"]["type"] == "ValueError"
    t5 = load_golden("MultiBoxTarget_T5", root=GOLDEN)
    np.testing.assert_array_equal(t5.outputs["cls_target"], [[-1, 0, 0, 1, -1, 0]])
    assert manifest["schema_version"] == 1 and sum(p.stat().st_size for p in GOLDEN.iterdir()) < 5e6


def test_diff_reports_changed_arrays_and_cases(golden_copy, tmp_path):
    other = Path(shutil.copytree(golden_copy, tmp_path / "other"))
    assert golden.diff(golden_copy, other) == []
    case = load_golden("MultiBoxPrior_T1", root=other)
    out = case.outputs["output"].copy()
    out[0, 9, 0] = 0.75
    (other / "MultiBoxPrior_T1.npz").write_bytes(golden.npz_bytes({**case.inputs, "output": out}))
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["cases"][0]["sha256"] = "0" * 64
    manifest["cases"] = manifest["cases"][:-1]
    (other / "manifest.json").write_text(json.dumps(manifest))
    lines = golden.diff(golden_copy, other)
    assert any("MultiBoxPrior_T1: output: 1 of 96 values differ" in line for line in lines)
    assert any(line.startswith(f"only in {golden_copy}: ssd300") for line in lines)


def test_cli_verify_and_diff_exit_codes(golden_copy, capsys):
    assert main(["golden", "verify", str(golden_copy), "--hashes-only"]) == 0
    assert main(["golden", "diff", str(GOLDEN), str(golden_copy)]) == 0
    (golden_copy / "MultiBoxPrior_T2.npz").unlink()
    assert main(["golden", "verify", str(golden_copy), "--hashes-only"]) == 1
    assert "missing file: MultiBoxPrior_T2.npz" in capsys.readouterr().out
