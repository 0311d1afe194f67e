"""Record real MXNet 1.9.1's outputs for a fixed set of cases: `python -m ssdref.backends.record_mxnet DIR`.

Writes DIR/manifest.json + one .npz per case in the golden loader's format
(`ssdref.testing.goldens`, schema_version 1), so that `tests/test_recorded_mxnet.py` checks ssdref
against MXNet in the main environment, where MXNet is absent (`make record-mxnet` writes
`golden/mxnet-1.9.1/`). Cases: the multibox ops in several configurations (the spec's §8 cases and
a few SSD-like random ones), a few layers forward + backward, and one training step of the tiny SSD
(outputs and every parameter gradient).

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

from ssdref.backends.conformance_cases import Case

SEED = 20240519


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# ------------------------------------------------------------------------------ the cases
def _ssd_like_target(rng, batch=2):
    """SSD-like anchors (two layers of MultiBoxPrior), padded labels, rounded logits (ties)."""
    import ssdref
    anchors = np.concatenate([
        ssdref.nd.contrib.MultiBoxPrior(np.zeros((1, 1, 6, 6), np.float32), sizes=(.2, .272), ratios=(1, 2, .5)),
        ssdref.nd.contrib.MultiBoxPrior(np.zeros((1, 1, 3, 3), np.float32), sizes=(.37, .447),
                                        ratios=(1, 2, .5, 3, 1. / 3))], axis=1)
    num_anchors = anchors.shape[1]
    label = np.full((batch, 4, 5), -1.0, np.float32)
    for b in range(batch - 1):
        for r in range(3):
            x0, y0 = rng.integers(0, 20, 2) / 32
            w, h = rng.integers(4, 12, 2) / 32
            label[b, r] = [rng.integers(0, 3), x0, y0, x0 + w, y0 + h]
    logits = (np.round(rng.standard_normal((batch, 4, num_anchors)) * 2) / 2).astype(np.float32)
    return anchors, label, logits


def _ssd_like_detection(rng, batch=2):
    anchors, _, logits = _ssd_like_target(rng, batch)
    exp = np.exp(logits.astype(np.float64))
    cls_prob = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    loc = (rng.integers(-8, 9, (batch, anchors.shape[1] * 4)) * 0.25).astype(np.float32)
    return cls_prob, loc, anchors


def recorded_cases() -> dict:
    """name -> Case: the fixed set (deterministic)."""
    rng = np.random.default_rng(SEED)
    f32 = np.float32

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(f32)

    cases = {}
    spec = _spec_cases()
    cases.update(spec)
    anchors, label, logits = _ssd_like_target(rng)
    for name, params in (("ssd", dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5,
                                      minimum_negative_samples=0, variances=(.1, .1, .2, .2))),
                         ("no_mining", dict(overlap_threshold=.3)),
                         ("threshold_0.7_variances", dict(overlap_threshold=.7, negative_mining_ratio=1,
                                                         variances=(.2, .2, .5, .5)))):
        cases[f"multibox_target/{name}"] = Case(
            "_contrib_MultiBoxTarget", params, {"anchor": anchors, "label": label, "cls_pred": logits},
            {}, False, None, False)
    cls_prob, loc, anchors = _ssd_like_detection(rng)
    for name, params in (("defaults", {}), ("ssd_eval", dict(nms_threshold=.45, nms_topk=400)),
                         ("force_topk_noclip", dict(force_suppress=True, nms_topk=5, clip=False, threshold=.2))):
        cases[f"multibox_detection/{name}"] = Case(
            "_contrib_MultiBoxDetection", params, {"cls_prob": cls_prob, "loc_pred": loc, "anchor": anchors},
            {}, False, None, False)
    cases["multibox_prior/ssd300_layer0"] = Case(
        "_contrib_MultiBoxPrior", dict(sizes=(.1, .141), ratios=(1, 2, .5), steps=(8 / 300, 8 / 300)),
        {"data": np.zeros((1, 1, 38, 38), f32)}, {}, False, None, False)
    # ---- layers, forward + backward
    x = arr(2, 4, 9, 9)
    cases["layer/conv_dilated_grouped"] = Case(
        "Convolution", dict(kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=4, num_group=2),
        {"data": x, "weight": arr(4, 2, 3, 3), "bias": arr(4)}, {}, True, [arr(2, 4, 9, 9)])
    cases["layer/pool_max_full"] = Case(
        "Pooling", dict(kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full"),
        {"data": x}, {}, True, [arr(2, 4, 5, 5)])
    cases["layer/pool_avg_pad"] = Case(
        "Pooling", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", count_include_pad=False),
        {"data": x}, {}, True, [arr(2, 4, 5, 5)])
    cases["layer/batchnorm_train"] = Case(
        "BatchNorm", dict(fix_gamma=False, eps=2e-5, momentum=.9),
        {"data": x, "gamma": arr(4), "beta": arr(4)},
        {"moving_mean": arr(4), "moving_var": np.abs(arr(4)) + .5}, True, [arr(2, 4, 9, 9)])
    xz = x.copy()
    xz[0, :, 0, 0] = 0   # an all-zero location: gradient g·1e5
    cases["layer/l2norm_channel"] = Case("L2Normalization", dict(mode="channel"), {"data": xz}, {}, True,
                                         [arr(2, 4, 9, 9)])
    cls = arr(2, 4, 30, scale=2)
    cls_label = rng.integers(-1, 4, (2, 30)).astype(f32)
    cases["layer/softmax_output_ssd"] = Case(
        "SoftmaxOutput", dict(multi_output=True, use_ignore=True, ignore_label=-1, normalization="valid"),
        {"data": cls, "label": cls_label}, {}, True, [arr(2, 4, 30)])
    cases["layer/softmax_axis1"] = Case("softmax", dict(axis=1), {"data": cls}, {}, True, [arr(2, 4, 30)])
    resid = (rng.integers(-8, 9, (2, 40)) * .25).astype(f32)
    cases["layer/smooth_l1"] = Case("smooth_l1", dict(scalar=1.0), {"data": resid}, {}, True, [arr(2, 40)])
    cases["layer/make_loss_valid"] = Case("MakeLoss", dict(normalization="valid"), {"data": np.abs(resid)},
                                          {}, True, [arr(2, 40)])
    return cases


def _spec_cases() -> dict:
    """The spec's §8 multibox cases (names prefixed `spec/`), shared with the conformance tests."""
    from ssdref.backends.conformance_cases import SPEC_CASES
    return {f"spec/{name}": case for name, case in SPEC_CASES.items()}


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
            "measure": "ssdref.backends.conformance_cases.scaled_error", "reason": row.reason}


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
