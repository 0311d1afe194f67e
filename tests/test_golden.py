"""ssdref.golden: the committed golden set verifies from its stored inputs under the precision tiers,
tampering and damage fail with one line each, regeneration is byte-identical."""
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
    with pytest.raises(golden.GoldenMismatchError, match="(?s)MultiBoxDetection_D1.*output: 1 of 30 "
                                                          "values differ beyond tier exact"):
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
    assert manifest["schema_version"] == 2 and sum(p.stat().st_size for p in GOLDEN.iterdir()) < 5e6
    assert manifest["precision"] == "portable"
    assert set(step["precision"]) == set(step["outputs"]) and set(step["input_sha256"]) == set(step["inputs"])


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


# ---------------------------------------------------------------------------------------------
# Stored inputs are the truth; precision tiers; damage reported one line per problem

def _rewrite(root, name, arrays=None, *, fix_file_hash=True, fix_input_hashes=False):
    """Write a case's npz with replaced arrays and update the manifest's hashes as asked."""
    import hashlib
    manifest = json.loads((root / "manifest.json").read_text())
    entry = next(c for c in manifest["cases"] if c["name"] == name)
    stored = golden.read_arrays(root / entry["file"])
    stored.update(arrays or {})
    blob = golden.npz_bytes(stored)
    (root / entry["file"]).write_bytes(blob)
    if fix_file_hash:
        entry["sha256"] = hashlib.sha256(blob).hexdigest()
    if fix_input_hashes:
        entry["input_sha256"] = {n: golden.array_sha256(stored[n]) for n in entry["inputs"]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return entry, stored


def _one_ulp(value, steps=1):
    value = np.array(value)
    flat = value.reshape(-1)
    flat[0] = flat[0] + steps * np.spacing(flat[0])          # `steps` ulps away from the stored value
    return value


def test_a_one_ulp_change_to_an_exact_output_is_reported(golden_copy):
    name = "Convolution_pad1_float32"
    assert read_manifest(golden_copy)["cases"][[c["name"] for c in read_manifest(golden_copy)["cases"]].index(name)]["precision"]["output"] == "exact"
    stored = golden.read_arrays(golden_copy / f"{name}.npz")
    _rewrite(golden_copy, name, {"output": _one_ulp(stored["output"])})
    with pytest.raises(golden.GoldenMismatchError,
                       match=r"output: 1 of 150 values differ beyond tier exact, max ulp distance 1"):
        golden.verify(golden_copy, only={name})


def test_an_ulp_tier_output_passes_within_n_and_fails_beyond(golden_copy):
    name = "Activation_tanh_float64"
    entry = next(c for c in read_manifest(golden_copy)["cases"] if c["name"] == name)
    assert entry["precision"] == {"output": "ulp:2", "grad_data": "ulp:2"}
    stored = golden.read_arrays(golden_copy / f"{name}.npz")
    _rewrite(golden_copy, name, {"output": _one_ulp(stored["output"], 2)})
    golden.verify(golden_copy, only={name})                    # 2 ulp: within ulp:2
    _rewrite(golden_copy, name, {"output": _one_ulp(stored["output"], 3)})
    with pytest.raises(golden.GoldenMismatchError, match=r"beyond tier ulp:2, max ulp distance 3"):
        golden.verify(golden_copy, only={name})


def test_tiers_follow_one_rule():
    by_name = {c.name: c for c in golden.declared_cases()}
    manifest = {c["name"]: c for c in read_manifest(GOLDEN)["cases"]}
    assert all(t == "exact" for c in manifest.values() if c["dtype"] == "float32"
               for t in c["precision"].values())
    assert manifest["MultiBoxTarget_random_ssd_float64"]["precision"] == {
        "loc_target": "ulp:2", "loc_mask": "exact", "cls_target": "exact"}
    assert set(manifest["Convolution_pad1_float64"]["precision"].values()) == {"exact"}
    assert manifest["tiny_ssd_train_step_float64"]["precision"]["cls_label_output"] == "exact"
    assert golden.parse_tier("ulp:7") == 7 and golden.parse_tier("exact") == 0
    with pytest.raises(ValueError, match="precision tier must be 'exact' or 'ulp:N'"):
        golden.parse_tier("ulp:0")
    assert by_name


def test_outputs_are_recomputed_from_the_stored_inputs(golden_copy):
    name = "MultiBoxPrior_T1"
    # a different stored input (with its hashes updated) gives different outputs: recomputation
    # used the stored input, and re-deriving from the seed names the input as the difference
    stored = golden.read_arrays(golden_copy / f"{name}.npz")
    _rewrite(golden_copy, name, {"data": np.zeros((1, 1, 3, 3), np.float32)}, fix_input_hashes=True)
    with pytest.raises(golden.GoldenMismatchError) as err:
        golden.verify(golden_copy, only={name})
    text = str(err.value)
    assert "output: shape/dtype (1, 36, 4)" in text and "re-derived input (recipe, seed 0) data" in text
    assert stored["data"].shape == (1, 1, 2, 3)


def test_a_stored_input_that_is_not_its_recorded_hash_is_reported(golden_copy):
    name = "MultiBoxTarget_T5"
    stored = golden.read_arrays(golden_copy / f"{name}.npz")
    _rewrite(golden_copy, name, {"cls_pred": stored["cls_pred"] + np.float32(1)})
    with pytest.raises(golden.GoldenMismatchError,
                       match=r"stored input 'cls_pred' does not match its sha256 in manifest.json"):
        golden.verify(golden_copy, only={name})


def _cli_verify(root, capsys, *extra):
    code = main(["golden", "verify", str(root), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out


def test_damaged_files_give_exit_1_and_one_line_each(golden_copy, capsys):
    # a flipped byte inside the compressed data, with the manifest's hash made to match it
    name = "MultiBoxTarget_T5"
    path = golden_copy / f"{name}.npz"
    blob = bytearray(path.read_bytes())
    blob[60] ^= 0xFF
    path.write_bytes(bytes(blob))
    manifest = json.loads((golden_copy / "manifest.json").read_text())
    import hashlib
    next(c for c in manifest["cases"] if c["name"] == name)["sha256"] = hashlib.sha256(blob).hexdigest()
    (golden_copy / "manifest.json").write_text(json.dumps(manifest))
    # a truncated file, a missing file, an extra file
    (golden_copy / "MultiBoxPrior_T2.npz").write_bytes((golden_copy / "MultiBoxPrior_T2.npz").read_bytes()[:100])
    (golden_copy / "MultiBoxTarget_T3.npz").unlink()
    (golden_copy / "stray.npz").write_bytes(b"x")
    code, out = _cli_verify(golden_copy, capsys, "--quick")
    assert code == 1
    assert f"case '{name}': cannot read {name}.npz: BadZipFile" in out
    assert "sha256 mismatch: MultiBoxPrior_T2.npz" in out
    assert "missing file: MultiBoxTarget_T3.npz" in out and "extra file: stray.npz" in out
    assert all(len(line) < 400 for line in out.splitlines())


@pytest.mark.parametrize("edit,expected", [
    (lambda text: text[: len(text) // 2], "is not valid JSON (line"),
    (lambda text: text.replace('"schema_version": 2', '"schema_version": 9'), "schema_version must be one of (1, 2), got 9"),
    (lambda text: text.replace('"name": "MultiBoxPrior_T1"', '"nome": "MultiBoxPrior_T1"'), "case #0 must have a str 'name'"),
    (lambda text: text.replace('"overlap_threshold": 0.5', '"overlap_threshold": 0.6', 1), "manifest field 'params'"),
    (lambda text: text.replace('"loc_target": "ulp:2"', '"loc_target": "exact"', 1), "manifest field 'precision'"),
])
def test_an_edited_manifest_gives_exit_1_and_one_line(golden_copy, capsys, edit, expected):
    path = golden_copy / "manifest.json"
    path.write_text(edit(path.read_text()))
    code, out = _cli_verify(golden_copy, capsys, "--quick")
    assert code == 1 and expected in out


def test_diff_reads_the_arrays_not_the_manifest_hashes(golden_copy, tmp_path, capsys):
    other = Path(shutil.copytree(golden_copy, tmp_path / "other"))
    name = "MultiBoxPrior_T1"
    stored = golden.read_arrays(other / f"{name}.npz")
    _rewrite(other, name, {"output": _one_ulp(stored["output"])}, fix_file_hash=False)
    lines = golden.diff(golden_copy, other)
    assert any(f"{name}: output: 1 of 96 values differ beyond tier exact" in line for line in lines)
    assert main(["golden", "diff", str(golden_copy), str(other)]) == 1
    (other / f"{name}.npz").write_bytes(b"garbage")
    assert any("cannot read MultiBoxPrior_T1.npz" in line for line in golden.diff(golden_copy, other))


def test_inputs_of_random_cases_use_no_cpu_dispatched_transcendentals(monkeypatch):
    """Input recipes must be portable: np.exp/np.log/np.tanh/np.power are CPU-dispatched SIMD."""
    def refuse(*args, **kwargs):
        raise AssertionError("an input recipe called a CPU-dispatched NumPy transcendental")
    for fn in ("exp", "log", "log1p", "tanh", "power", "expm1"):
        monkeypatch.setattr(np, fn, refuse)
    for case in golden.declared_cases():
        if case.kind == "op" and "random" in case.name:
            case.make_inputs(case)


def test_progress_is_a_bar_or_a_status_line_on_stderr(monkeypatch, capsys):
    from ssdref.golden.cli import _Progress
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)     # no tqdm installed
    progress = _Progress("golden verify")
    for index in range(12):
        progress(index, 12, f"case{index}")
    progress(12, 12, "")
    err = capsys.readouterr().err.splitlines()
    assert err == ["golden verify: 0/12 done, now case0", "golden verify: 10/12 done, now case10",
                   "golden verify: 12/12 done"]
