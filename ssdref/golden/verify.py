"""Verifying a golden folder, and comparing two.

`verify` reports every problem as one line, never a traceback: manifest damage, missing, extra and
damaged files, stored inputs whose sha256 is not the manifest's, and then, for each declared case,
the outputs recomputed from the *stored* inputs in 'portable' precision, compared under each
output's precision tier (`ssdref.golden.tiers`). Re-deriving the inputs from their recipe (seed)
is a check of its own (`rederive`): it tells a changed recipe from a changed op.
"""
from __future__ import annotations

import re
from pathlib import Path

from ssdref.golden import tiers
from ssdref.golden.cases import declared_cases, parameters_sha256, run_op, ssd300_arguments
from ssdref.golden.store import (MANIFEST, GoldenReadError, array_sha256, compute, declared_fields,
                                 file_sha256, read_arrays, split_arrays)

ENTRY_FIELDS = {"name": str, "file": str, "sha256": str, "inputs": list, "outputs": list}


class GoldenMismatchError(AssertionError):
    """verify() found differences; the message lists every one, a line each."""

    def __init__(self, root, problems):
        self.problems = list(problems)
        super().__init__(f"golden verify: {root} differs in {len(self.problems)} place(s):\n  "
                         + "\n  ".join(self.problems))


def read_manifest_checked(root):
    """The manifest of `root`, or GoldenReadError with a one-line reason (missing, not JSON, not
    the schema, malformed case entries)."""
    from ssdref.testing.goldens import read_manifest
    try:
        manifest = read_manifest(root)
    except (OSError, ValueError) as exc:
        raise GoldenReadError(" ".join(str(exc).split())) from None
    cases = manifest.get("cases")
    if not isinstance(cases, list):
        raise GoldenReadError(f"{Path(root) / MANIFEST}: 'cases' must be a list, got "
                              f"{type(cases).__name__}")
    for index, entry in enumerate(cases):
        for key, kind in ENTRY_FIELDS.items():
            if not isinstance(entry, dict) or not isinstance(entry.get(key), kind):
                raise GoldenReadError(f"{Path(root) / MANIFEST}: case #{index} must have a "
                                      f"{kind.__name__} {key!r}, got {entry!r:.80}")
    return manifest


def _files_problems(root, manifest):
    """(problems, names of cases whose file is missing or damaged)."""
    problems, damaged = [], set()
    listed = {c["file"] for c in manifest["cases"]}
    present = {p.name for p in root.iterdir() if p.is_file() and p.name != MANIFEST}
    problems += [f"missing file: {f} (listed in {MANIFEST})" for f in sorted(listed - present)]
    problems += [f"extra file: {f} (not in {MANIFEST})" for f in sorted(present - listed)]
    for case in manifest["cases"]:
        path = root / case["file"]
        if not path.is_file():
            damaged.add(case["name"])
            continue
        digest = file_sha256(path)
        if digest != case["sha256"]:
            damaged.add(case["name"])
            problems.append(f"sha256 mismatch: {case['file']} is {digest[:16]}..., manifest "
                            f"says {case['sha256'][:16]}... (the file changed)")
    return problems, damaged


def verify(golden_dir=None, *, recompute=True, skip_slow=False, only=None, rederive=True,
           progress=None) -> dict:
    """Check a golden folder; raises GoldenMismatchError listing every difference.

    Hashes, missing and extra files always; with `recompute`, every declared case is computed
    again from its stored inputs and compared under its tiers; `rederive` also rebuilds the inputs
    from the recipe and requires them bit for bit. A folder that is not ssdref's own set (a
    sub-folder such as mxnet-1.9.1/ with its own manifest) gets the file and hash checks only.
    `only`: recompute just these case names; `skip_slow`: not the SSD300 one.
    Returns {'cases', 'recomputed', 'skipped'} on success."""
    from ssdref.testing.goldens import default_root
    root = Path(golden_dir) if golden_dir is not None else default_root()
    try:
        manifest = read_manifest_checked(root)
    except GoldenReadError as exc:
        raise GoldenMismatchError(root, [str(exc)]) from None
    problems, damaged = _files_problems(root, manifest)
    declared = {c.name: c for c in declared_cases()}
    stored = {c["name"]: c for c in manifest["cases"]}
    own_set = bool(set(stored) & set(declared))
    recomputed, skipped = 0, []
    if own_set:
        problems += [f"case {n!r} is declared but missing from {MANIFEST}"
                     for n in declared if n not in stored]
        problems += [f"case {n!r} is in {MANIFEST} but not declared in ssdref.golden"
                     for n in stored if n not in declared]
    if own_set and recompute:
        todo = [declared[n] for n in stored if n in declared]
        for index, case in enumerate(todo):
            if progress:
                progress(index, len(todo), case.name)
            if (skip_slow and case.extra.get("slow")) or (only is not None and case.name not in only):
                skipped.append(case.name)
                continue
            if case.name in damaged:
                problems.append(f"case {case.name!r}: not recomputed, its file is missing or damaged")
                continue
            problems += [f"case {case.name!r}: {p}"
                         for p in verify_case(root, case, stored[case.name], rederive=rederive)]
            recomputed += 1
        if progress:
            progress(len(todo), len(todo), "")
    if problems:
        raise GoldenMismatchError(root, problems)
    return {"cases": len(stored), "recomputed": recomputed, "skipped": skipped}


def _check_error(case, inputs):
    """The declared error must still be raised on the stored inputs: None if so, else a line."""
    try:
        run_op(case.op, case.params, inputs, is_train=False)
    except Exception as exc:  # noqa: BLE001 - the type is compared below
        if type(exc).__name__ != case.extra["error"]["type"] or \
                not re.search(case.extra["error"]["match"], str(exc)):
            return f"raised {type(exc).__name__}: {exc}, expected {case.extra['error']}"
        return None
    return f"did not raise, expected {case.extra['error']}"


def verify_case(root, case, entry, *, rederive=True) -> list:
    """Problems (one line each) of one declared case against its stored entry and file."""
    problems = []
    for key, value in declared_fields(case).items():
        if entry.get(key) != value:
            problems.append(f"manifest field {key!r} is {entry.get(key)!r:.100}, declared {value!r:.100}")
    try:
        arrays = read_arrays(root / entry["file"])
    except GoldenReadError as exc:
        return problems + [str(exc)]
    inputs, outputs = split_arrays(arrays, entry["inputs"], entry["outputs"])
    missing = [n for n, v in {**inputs, **outputs}.items() if v is None]
    if missing:
        return problems + [f"arrays {missing} named in {MANIFEST} are not in {entry['file']}"]
    hashes = entry.get("input_sha256") or {}
    for name, value in inputs.items():
        if hashes.get(name) != array_sha256(value):
            problems.append(f"stored input {name!r} does not match its sha256 in {MANIFEST}")
    if problems:
        return problems                 # the inputs are not the truth the manifest recorded
    if "error" in case.extra:
        message = _check_error(case, inputs)
        return problems + ([message] if message else [])
    if "parameters_sha256" in entry:
        digest = parameters_sha256(ssd300_arguments(case.params)[1])
        if digest != entry["parameters_sha256"]:
            problems.append("the parameter recipe (params.init) no longer reproduces the "
                            f"parameters: sha256 {digest[:16]}..., manifest "
                            f"{entry['parameters_sha256'][:16]}...")
    _, fresh = compute(case, inputs)
    if list(fresh) != entry["outputs"]:
        problems.append(f"output names changed: {list(fresh)}, manifest has {entry['outputs']}")
    declared_tiers = tiers.declared_tiers(case, fresh)
    if entry.get("precision") != declared_tiers:
        problems.append(f"manifest field 'precision' is {entry.get('precision')!r:.100}, "
                        f"declared {declared_tiers!r:.100}")
    for name in (n for n in fresh if n in outputs):
        message = tiers.tier_problem(name, outputs[name], fresh[name], declared_tiers[name])
        if message:
            problems.append(message)
    if rederive:
        derived = _derive(case)
        for name, value in derived.items():
            if name not in inputs:
                problems.append(f"re-derived input {name!r} is not stored")
                continue
            message = tiers.tier_problem(name, inputs[name], value, tiers.EXACT)
            if message:
                problems.append(f"re-derived input (recipe, seed {case.seed}) {message}")
    return problems


def _derive(case):
    from ssdref.backend import use_precision
    with use_precision("portable"):
        return case.make_inputs(case)


def diff(dir_a, dir_b) -> list:
    """Differences between two golden folders, one line each (empty list: identical content).

    Compares the manifests' fields and every array of every common case, read from the files
    themselves (a file edited without its manifest is found too)."""
    a, b = Path(dir_a), Path(dir_b)
    manifests = []
    for root in (a, b):
        try:
            manifests.append({c["name"]: c for c in read_manifest_checked(root)["cases"]})
        except GoldenReadError as exc:
            return [str(exc)]
    cases_a, cases_b = manifests
    lines = [f"only in {a}: {n}" for n in cases_a if n not in cases_b]
    lines += [f"only in {b}: {n}" for n in cases_b if n not in cases_a]
    for name in (n for n in cases_a if n in cases_b):
        ca, cb = cases_a[name], cases_b[name]
        for key in sorted((set(ca) | set(cb)) - {"sha256", "file"}):
            if ca.get(key) != cb.get(key):
                lines.append(f"{name}: {key} {ca.get(key)!r:.100} -> {cb.get(key)!r:.100}")
        try:
            arrays_a, arrays_b = read_arrays(a / ca["file"]), read_arrays(b / cb["file"])
        except GoldenReadError as exc:
            lines.append(f"{name}: {exc}")
            continue
        for key in sorted(set(arrays_a) ^ set(arrays_b)):
            lines.append(f"{name}: array {key} only in {a if key in arrays_a else b}")
        for key in (k for k in arrays_a if k in arrays_b):
            message = tiers.tier_problem(key, arrays_a[key], arrays_b[key], tiers.EXACT)
            if message:
                lines.append(f"{name}: {message}")
    return lines
