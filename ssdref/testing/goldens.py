"""Read-only loader for ssdref's golden cases (`golden/manifest.json` + `.npz`), for tests anywhere.

Format (schema_version 2, written by `ssdref.golden`; version 1 folders such as the
MXNet-recorded golden/mxnet-1.9.1/ still load):
    manifest.json = {"schema_version": 2, "ssdref_version": "...", "cases": [
        {"name", "kind": "op" | "graph", "op", "params", "seed", "dtype", "inputs": [names],
         "outputs": [names], "input_sha256": {name: sha}, "precision": {output: "exact" | "ulp:N"},
         "tolerances": {...}, "file", "sha256"}, ...]}
Each case's `.npz` (path relative to the manifest) holds its arrays; an array named `x` is stored
under `x`, or under `inputs/x` / `outputs/x` when an input and an output share a name.
This module only reads; generating and verifying the whole set is `ssdref.golden`'s job.
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)


class GoldenMissingError(FileNotFoundError):
    """The golden folder or its manifest is absent (the pytest plugin skips, or fails when required)."""


class GoldenCase(NamedTuple):
    """One golden case: arrays by name, the op's parameters and the tolerances to compare with."""
    name: str
    kind: str                 # "op" or "graph"
    op: str                   # MXNet operator or graph name
    params: dict
    seed: Any
    dtype: str                # "float32" / "float64"
    inputs: dict              # name -> np.ndarray, in the manifest's order
    outputs: dict             # name -> np.ndarray, in the manifest's order
    tolerances: dict          # as the manifest gives them; see tolerance()
    file: Path
    manifest: dict            # the manifest's top-level fields other than "cases"
    precision: dict = {}      # output -> "exact" | "ulp:N": ssdref's own reproducibility tier

    def tolerance(self, output_name=None) -> dict:
        """{'rtol', 'atol'} for an output: a per-output entry, the case-wide one, else the table's."""
        from ssdref.testing.compare import tolerance_for
        tol = tolerance_for(self.dtype)
        per_output = self.tolerances.get(output_name) if output_name is not None else None
        if isinstance(per_output, dict):
            tol.update({k: per_output[k] for k in ("rtol", "atol") if k in per_output})
        else:
            tol.update({k: self.tolerances[k] for k in ("rtol", "atol") if k in self.tolerances})
        return tol


def default_root() -> Path:
    """$SSDREF_GOLDEN_DIR, else the `golden/` folder of the checkout ssdref was imported from."""
    if os.environ.get("SSDREF_GOLDEN_DIR"):
        return Path(os.environ["SSDREF_GOLDEN_DIR"])
    checkout = Path(__file__).resolve().parents[2] / "golden"
    return checkout if checkout.is_dir() else Path.cwd() / "golden"


def read_manifest(root=None) -> dict:
    """The parsed manifest.json under `root` (default_root() when None)."""
    root = Path(root) if root is not None else default_root()
    path = root / "manifest.json"
    if not path.is_file():
        raise GoldenMissingError(f"load_golden: no manifest.json in {root} (generate the goldens "
                                 f"with `ssdref golden generate`, or point SSDREF_GOLDEN_DIR at them)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"load_golden: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"load_golden: {path} is not valid JSON (line {exc.lineno} column "
                         f"{exc.colno}: {exc.msg})") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version not in READABLE_SCHEMAS:
        raise ValueError(f"load_golden: manifest schema_version must be one of {READABLE_SCHEMAS}, "
                         f"got {version!r} in {path}")
    return manifest


def list_golden(root=None) -> list:
    """Names of the cases in the manifest, in manifest order."""
    return [case["name"] for case in read_manifest(root)["cases"]]


def _array(data, section, name, file):
    for key in (name, f"{section}/{name}"):
        if key in data.files:
            return data[key]
    raise ValueError(f"load_golden: {file} has no array {name!r} (nor {section}/{name}); "
                     f"it holds {sorted(data.files)}")


def load_golden(case_name, root=None, verify=True) -> GoldenCase:
    """Load one case by name; verify=True checks the file's sha256 against the manifest first."""
    import numpy as np

    root = Path(root) if root is not None else default_root()
    manifest = read_manifest(root)
    cases = {case["name"]: case for case in manifest["cases"]}
    if case_name not in cases:
        raise KeyError(f"load_golden: case_name must be one of the {len(cases)} cases in "
                       f"{root / 'manifest.json'}, got {case_name!r}")
    case = cases[case_name]
    file = root / case["file"]
    if not file.is_file():
        raise ValueError(f"load_golden: case {case_name!r} names file {case['file']!r}, "
                         f"which is missing from {root}")
    if verify:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != case["sha256"]:
            raise ValueError(f"load_golden: {file} sha256 must be {case['sha256']} (manifest), "
                             f"got {digest}: the file changed since the manifest was written")
    import zipfile
    import zlib
    try:
        with np.load(file, allow_pickle=False) as data:
            inputs = {name: _array(data, "inputs", name, file) for name in case.get("inputs", [])}
            outputs = {name: _array(data, "outputs", name, file) for name in case.get("outputs", [])}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise ValueError(f"load_golden: cannot read {file}: {type(exc).__name__}: {exc}") from None
    return GoldenCase(
        name=case["name"], kind=case.get("kind", "op"), op=case.get("op", ""),
        params=dict(case.get("params") or {}), seed=case.get("seed"),
        dtype=case.get("dtype", "float32"), inputs=inputs, outputs=outputs,
        tolerances=dict(case.get("tolerances") or {}), file=file,
        manifest={k: v for k, v in manifest.items() if k != "cases"},
        precision=dict(case.get("precision") or {}))
