"""Record real MXNet 1.9.1's outputs for a fixed set of cases: `python -m ssdref.backends.record_mxnet DIR`.

Writes DIR/manifest.json + one .npz per case in the golden loader's format
(`ssdref.testing.goldens`, schema_version 1), so that `tests/test_recorded_mxnet.py` checks ssdref
against MXNet in the main environment, where MXNet is absent (`make record-mxnet` writes
`golden/mxnet-1.9.1/`). Cases: the catalogue's `ssdref.cases.recorded` (the spec's §8 cases, a few
SSD-like multibox configurations, a few layers forward + backward), and one training step of the
tiny SSD (outputs and every parameter gradient).

Per case, besides the loader's fields, `run` says how to replay it: `is_train`, `backward`, which
inputs are arguments / aux states / head gradients, and `outputs_kind` (output, grad, aux).
Array names: inputs under their op input names (`head_grad<i>` for head gradients), outputs as
`output<i>`, `grad_<input>`, `aux_<name>`.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ssdref.cases.recorded import SEED, recorded_cases, spec_cases

# The recording reads the case catalogue (ssdref.cases.recorded); `_spec_cases` is its §8 part.
_spec_cases = spec_cases


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# ------------------------------------------------------------------------------ writing
def _write_case(out_dir, name, kind, op, params, arrays_in, arrays_out, tol, run, seed=SEED):
    file = name.replace("/", "__").replace(" ", "_") + ".npz"
    np.savez_compressed(out_dir / file, **arrays_in, **arrays_out)
    digest = hashlib.sha256((out_dir / file).read_bytes()).hexdigest()
    return {"name": name, "kind": kind, "op": op, "params": _jsonable(params), "seed": seed,
            "dtype": "float32", "inputs": list(arrays_in), "outputs": list(arrays_out),
            "tolerances": tol, "file": file, "sha256": digest, "run": run}


def _tol_entry(tolerances, op):
    row = tolerances.TOLERANCES[op]
    return {"rtol": row.forward, "atol": 0.0, "forward": row.forward, "backward": row.backward,
            "measure": "ssdref.backends.measure.scaled_error", "reason": row.reason}


def record(out_dir) -> list:
    import ssdref
    from ssdref.backends.conformance_cases import compare_case
    from ssdref.backends.mxnet import import_mxnet, run_op
    from ssdref.backends.mxnet_conformance import load_tolerances
    from ssdref.backends.mxnet_graph import compare_ssd

    mx = import_mxnet()
    tolerances = load_tolerances()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.npz"):
        old.unlink()
    entries, report = [], []
    for name, case in recorded_cases().items():
        try:
            result = run_op(mx, case.op, case.params, case.inputs, case.aux, is_train=case.is_train,
                            out_grads=case.out_grads, backward=case.backward)
        except Exception as exc:   # recorded as an expected error (spec T9b, T17b)
            error = str(exc).strip().splitlines()
            message = next((line for line in error if "Check failed" in line), error[-1] if error else "")
            result = None
        arrays_in = {**case.inputs, **case.aux}
        for i, g in enumerate(case.out_grads or []):
            arrays_in[f"head_grad{i}"] = g
        arrays_out = {}
        if result is not None:
            arrays_out.update({f"output{i}": o for i, o in enumerate(result.outputs)})
            arrays_out.update({f"grad_{k}": v for k, v in result.grads.items()})
            arrays_out.update({f"aux_{k}": v for k, v in result.aux.items()})
        run = {"is_train": case.is_train, "backward": case.backward, "args": list(case.inputs),
               "aux": list(case.aux), "head_grads": len(case.out_grads or []),
               "expect_error": None if result is not None else message}
        entries.append(_write_case(out_dir, name, "op", case.op, case.params, arrays_in, arrays_out,
                                   _tol_entry(tolerances, case.op), run))
        outcome = compare_case(case, mx, tolerances.tolerance(case.op, np.float32))
        report.append((name, outcome))
    # ---- the tiny SSD's training step
    graph = compare_ssd(mx, "tiny", batch=2, seed=0)
    arrays_in = {**graph.args, **{f"aux_{k}": v for k, v in graph.aux.items()}}
    arrays_out = {name: theirs for name, (_, theirs) in graph.outputs.items()}
    arrays_out.update({f"grad_{name}": theirs for name, (_, theirs) in graph.grads.items()})
    run = {"network": "tiny", "data_shape": 64, "num_classes": 3, "batch": 2, "is_train": True,
           "exact": ["cls_label_output"], "deploy_output": "deploy_detection"}
    entries.append(_write_case(out_dir, "graph/tiny_ssd_train_step", "graph", "ssd:tiny",
                               {"network": "tiny", "data_shape": 64, "num_classes": 3}, arrays_in,
                               arrays_out, _tol_entry(tolerances, "ssd:tiny"), run, seed=0))
    manifest = {"schema_version": 1, "ssdref_version": getattr(ssdref, "__version__", "?"),
                "recorded_with": {"mxnet": mx.__version__, "numpy": np.__version__,
                                  "engine": "NaiveEngine, CPU (oneDNN)"},
                "cases": entries}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else "golden/mxnet-1.9.1"
    report = record(out_dir)
    size = sum(p.stat().st_size for p in Path(out_dir).iterdir())
    exact = sum(o.bit_exact for _, o in report)
    print(f"recorded {len(report) + 1} cases into {out_dir} ({size / 1e6:.2f} MB); ssdref today: "
          f"{exact}/{len(report)} op cases bit-exact, "
          f"{sum(o.within_tol for _, o in report)} within tolerance")
    for name, outcome in report:
        if not outcome.within_tol:
            print(f"  MISMATCH {name}: {outcome.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
