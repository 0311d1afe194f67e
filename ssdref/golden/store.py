"""Writing and reading golden folders: deterministic .npz files, array hashes, the manifest.

An .npz is written with fixed zip timestamps and the declared array order, so the same arrays give
the same bytes. Reading never lets a raw zipfile/zlib/NumPy exception escape: a damaged file is a
`GoldenReadError` with a one-line reason. `generate` computes every case in 'portable' precision
(`ssdref.use_precision`), inputs first from the recipe, outputs from those inputs.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ssdref.golden import tiers
from ssdref.golden.cases import declared_cases, parameters_sha256, ssd300_arguments
from ssdref.testing.goldens import SCHEMA_VERSION

MANIFEST = "manifest.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # the earliest zip timestamp: no wall clock in the bytes


class GoldenReadError(ValueError):
    """A golden file or manifest cannot be read; the message is one line naming it."""


def npz_bytes(arrays: dict) -> bytes:
    """An .npz (np.load-able) of `arrays` in the given order, with fixed timestamps: byte-stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            body = io.BytesIO()
            np.lib.format.write_array(body, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                       # fixed, whatever the host OS
            info.external_attr = 0o644 << 16
            archive.writestr(info, body.getvalue(), compresslevel=6)
    return buffer.getvalue()


def read_arrays(path) -> dict:
    """{key: array} of an .npz; a damaged or unreadable file raises GoldenReadError (one line)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError,
            NotImplementedError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GoldenReadError(f"cannot read {path.name}: {type(exc).__name__}: {reason}") from None


def array_sha256(array) -> str:
    """sha256 of one array: its dtype, shape and C-order bytes (independent of the zip container)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stored_arrays(inputs, outputs):
    """The npz keys: the plain name, or inputs/x and outputs/x where a name is both."""
    shared = set(inputs) & set(outputs)
    arrays = {(f"inputs/{n}" if n in shared else n): v for n, v in inputs.items()}
    arrays.update({(f"outputs/{n}" if n in shared else n): v for n, v in outputs.items()})
    return arrays


def split_arrays(arrays, input_names, output_names):
    """(inputs, outputs) dicts by name from an npz's keys (the inverse of stored_arrays)."""
    def pick(section, name):
        for key in (f"{section}/{name}", name):
            if key in arrays:
                return arrays[key]
        return None
    inputs = {n: pick("inputs", n) for n in input_names}
    outputs = {n: pick("outputs", n) for n in output_names}
    return inputs, outputs


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def consumer_tolerances(case):
    """The case's tolerances for other backends: the dtype table plus per-output overrides."""
    from ssdref.testing.compare import tolerance_for
    return {**tolerance_for(np.dtype(case.dtype)), **case.tolerances}


def declared_fields(case) -> dict:
    """The manifest fields a declared case fixes (everything but array names, hashes and tiers)."""
    entry = {"name": case.name, "kind": case.kind, "op": case.op, "params": _jsonable(case.params),
             "seed": case.seed, "dtype": case.dtype,
             "tolerances": _jsonable(consumer_tolerances(case)), "file": f"{case.name}.npz"}
    for key in ("is_train", "error", "description"):
        if key in case.extra:
            entry[key] = _jsonable(case.extra[key])
    return entry


def manifest_entry(case, inputs, outputs, digest):
    entry = declared_fields(case)
    entry.update({"inputs": list(inputs), "outputs": list(outputs),
                  "input_sha256": {n: array_sha256(v) for n, v in inputs.items()},
                  "precision": tiers.declared_tiers(case, outputs), "sha256": digest})
    if "init" in case.params:
        entry["parameters_sha256"] = parameters_sha256(ssd300_arguments(case.params)[1])
    return entry


def compute(case, inputs=None):
    """(inputs, outputs) of a case in 'portable' precision: inputs from the recipe unless given."""
    from ssdref.backend import use_precision
    with use_precision("portable"):
        if inputs is None:
            inputs = case.make_inputs(case)
        return inputs, case.run(case, inputs)


def manifest_header():
    import ssdref
    from ssdref.backend import get_backend
    return {"schema_version": SCHEMA_VERSION, "ssdref_version": ssdref.__version__,
            "numpy_version": np.__version__, "backend": get_backend(), "precision": "portable"}


def select(names):
    cases = declared_cases()
    if names is None:
        return cases
    known = {c.name: c for c in cases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"golden: cases must be declared cases, got unknown {unknown}")
    return [known[n] for n in names]


def generate(out_dir="golden", cases=None, *, progress=None) -> list:
    """Write every declared case (or the named `cases`) and the manifest; returns changed files.

    With `cases`, the other entries of an existing manifest are kept. Stale top-level .npz files of
    no case are removed (and reported); sub-folders are left alone."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = select(cases)
    entries, changed = {}, []
    if cases is not None and (out / MANIFEST).is_file():
        entries = {c["name"]: c for c in json.loads((out / MANIFEST).read_text())["cases"]}
    for index, case in enumerate(selected):
        if progress:
            progress(index, len(selected), case.name)
        inputs, outputs = compute(case)
        blob = npz_bytes(stored_arrays(inputs, outputs))
        path = out / f"{case.name}.npz"
        if not path.is_file() or path.read_bytes() != blob:
            changed.append(path.name)
            path.write_bytes(blob)
        entries[case.name] = manifest_entry(case, inputs, outputs, hashlib.sha256(blob).hexdigest())
    if progress:
        progress(len(selected), len(selected), "")
    order = [c.name for c in declared_cases()]
    ordered = [entries[n] for n in order if n in entries]
    for stale in sorted(set(p.name for p in out.glob("*.npz")) - {e["file"] for e in ordered}):
        (out / stale).unlink()
        changed.append(f"{stale} (removed)")
    text = json.dumps({**manifest_header(), "cases": ordered}, indent=1) + "\n"
    if not (out / MANIFEST).is_file() or (out / MANIFEST).read_text(encoding="utf-8") != text:
        (out / MANIFEST).write_text(text, encoding="utf-8")
        changed.append(MANIFEST)
    return changed
