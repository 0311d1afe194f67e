"""`ssdref conformance --backend torch`: ssdref vs the PyTorch backend, op by op and on the tiny SSD.

Each op row runs `examples` random configurations (NumPy generator seeded by `seed`) as a one-op
graph in both engines:
  * float32 forward: bit-exact count, and within tolerance when max|torch - ssdref| / max|ssdref|
    <= 1e-4 (`ssdref.backends.measure.scaled_error`, ssdref the reference);
  * float64 forward + backward with random head gradients: every input gradient (and BatchNorm's
    moving statistics after the training backward) within 1e-4 relative, the same measure.
The worst error column is that relative measure over the row. The tiny SSD rows run the whole train
graph (3 classes, 64 px, shapes labels, random parameters): float64 outputs and every parameter
gradient (torch autograd through MXNet's loss-head surrogates vs ssdref's hand-written backward),
and float32 forward (cls_prob, loc_loss; detections with the tie-aware comparator).
Preset rows report where a torch-native port *differs by convention* (documented, not failures:
within_tol counts every case, the note says how many differed): Pooling 'full' vs torch's
ceil_mode, NMS `>` (torchvision) vs MXNet's `>=`, matching `>=` + low-quality matches (torchvision
Matcher) vs MXNet's bipartite + `>`.
"""
from __future__ import annotations

import numpy as np

from ssdref.backends.measure import scaled_error_as_float64
from ssdref.cases import graphs
from ssdref.cases.multibox import (matching_boundary_inputs, nms_boundary_inputs,
                                   random_detection_inputs, random_matching_inputs)
from ssdref.cases.torch_ops import OP_CASES, normal, pool_params
from ssdref.conformance import ReportRow

GRAD_TOL = 1e-4
FORWARD_TOL = 1e-4


def relative_error(reference, actual) -> float:
    """The report's error measure (`ssdref.backends.measure.scaled_error`, in float64): ssdref's
    array is the reference, PyTorch's the one measured."""
    return scaled_error_as_float64(actual, reference)


# The one-op cases (OP_CASES) are declared in the case catalogue: ssdref.cases.torch_ops.


def _symbol(op_name, params, args, aux):
    import ssdref
    from ssdref.backends.mxnet import op_function

    fn = op_function(ssdref.sym, op_name)
    variables = {k: ssdref.sym.Variable(k) for k in list(args) + list(aux)}
    if op_name == "Concat":
        return fn(*variables.values(), name="op", **params)
    return fn(name="op", **variables, **params)


def _ssdref_run(symbol, args, aux, out_grads=None, backward=True):
    executor = symbol.bind(None, {k: v.copy() for k, v in args.items()},
                           args_grad={k: np.zeros_like(v) for k, v in args.items()} if backward else None,
                           aux_states={k: v.copy() for k, v in aux.items()})
    outputs = [o.copy() for o in executor.forward(is_train=True)]
    if backward:
        executor.backward(out_grads)
    return outputs, {k: g.copy() for k, g in executor.grad_dict.items() if g is not None}, \
        {k: v.copy() for k, v in executor.aux_dict.items()}


def compare_graph(symbol, args, aux, rng=None, *, grad_names=None):
    """(bit_exact_f32, worst float32 forward error, worst float64 output/gradient/aux error)."""
    from ssdref.backends.torch import run_graph

    f32 = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in args.items()}
    a32 = {k: v.astype(np.float32) for k, v in aux.items()}
    ref32, _, _ = _ssdref_run(symbol, f32, a32, backward=False)
    got32 = run_graph(symbol, f32, a32, is_train=True)
    bit_exact = all(a.tobytes() == b.tobytes() for a, b in zip(ref32, got32.outputs))
    err32 = max(relative_error(a, b) for a, b in zip(ref32, got32.outputs))
    heads = None if rng is None else [rng.standard_normal(o.shape) for o in ref32]
    ref64, grads, aux64 = _ssdref_run(symbol, args, aux, out_grads=heads)
    got64 = run_graph(symbol, args, aux, is_train=True, backward=True, out_grads=heads,
                      grad_names=grad_names)
    errors = [relative_error(a, b) for a, b in zip(ref64, got64.outputs)]
    errors += [relative_error(grads[k], got64.grads[k]) for k in got64.grads]
    errors += [relative_error(aux64[k], got64.aux[k]) for k in aux64]
    return bit_exact, err32, max(errors, default=0.0)


def op_rows(examples, seed) -> list:
    rows = []
    for index, make_case in enumerate(OP_CASES):
        rng = np.random.default_rng([seed, index])
        exact = within = 0
        worst = 0.0
        name = None
        for _ in range(examples):
            name, params, args, aux = make_case(rng)
            bit_exact, err32, err64 = compare_graph(_symbol(name, params, args, aux), args, aux, rng)
            exact += bit_exact
            within += err32 <= FORWARD_TOL and err64 <= GRAD_TOL
            worst = max(worst, err32, err64)
        rows.append(ReportRow(name, examples, exact, within, worst,
                              "f32 fwd, f64 fwd+grad; max|diff| / max|ssdref|, tol 1e-4"))
    return rows


# ------------------------------------------------------------------------------ the tiny SSD
# (train symbol, float64 args incl. data and label) with random He-scaled parameters: the catalogue's.
tiny_ssd_case = graphs.shapes_train_case


def tiny_ssd_rows(cases, seed) -> list:
    from ssdref.backends.torch import run_graph
    from ssdref.testing.compare import assert_detections_equal

    grad_row = [0, 0, 0.0]
    f32_row = [0, 0, 0.0]
    notes = []
    for k in range(cases):
        symbol, args = tiny_ssd_case(seed + k)
        params = [n for n in args if n not in ("data", "label")]
        _, _, err64 = compare_graph(symbol, args, {}, grad_names=params)
        grad_row[1] += err64 <= GRAD_TOL
        grad_row[2] = max(grad_row[2], err64)
        f32 = {n: v.astype(np.float32) for n, v in args.items()}
        ref, _, _ = _ssdref_run(symbol, f32, {}, backward=False)
        got = run_graph(symbol, f32, {}, is_train=False).outputs
        err = max(relative_error(ref[0], got[0]), relative_error(ref[1], got[1]))
        f32_row[0] += all(a.tobytes() == b.tobytes() for a, b in zip(ref, got))
        try:
            assert_detections_equal(got[3], ref[3])
            same_detections = True
        except AssertionError as exc:
            same_detections = False
            notes.append(str(exc).splitlines()[0])
        f32_row[1] += err <= FORWARD_TOL and same_detections
        f32_row[2] = max(f32_row[2], err)
    return [
        ReportRow("tiny SSD train graph f64 (outputs + all param grads)", cases, grad_row[0], grad_row[1],
                  grad_row[2], "torch autograd vs ssdref backward, rel. tol 1e-4"),
        ReportRow("tiny SSD train graph f32 forward", cases, f32_row[0], f32_row[1], f32_row[2],
                  "cls_prob, loc_loss rel. 1e-4; det_out tie-aware" + (f"; {notes[0]}" if notes else "")),
    ]


# ------------------------------------------------------------------------- convention rows
def pooling_native_row(examples, seed) -> ReportRow:
    """MXNet Pooling vs what a direct torch port writes (ceil_mode for 'full', torch's divisor)."""
    import torch
    from ssdref.backends.torch import native_pooling
    from ssdref.layers.pooling import pooling_forward

    rng = np.random.default_rng([seed, 101])
    differ = 0
    for _ in range(examples):
        params = pool_params(rng)
        params["pooling_convention"] = "full"
        x = normal(rng, (1, 2, 7, 6)).astype(np.float32)
        ref, _ = pooling_forward(x, **params)
        try:
            got = native_pooling(torch.from_numpy(x), **params).numpy()
            same = got.shape == ref.shape and relative_error(ref, got) <= FORWARD_TOL
        except RuntimeError:  # torch refuses pad > kernel/2 and similar
            same = False
        differ += not same
    return ReportRow("Pooling 'full' vs torch ceil_mode (native port)", examples, examples - differ, examples,
                     0.0, f"documented: {differ} differ (torch drops a last window starting in the "
                          "padding; avg divisor counts the ceil overhang differently)")


def _boundary_detection_case():
    """Two boxes of one class with IoU exactly 0.5 (exact in float32): MXNet suppresses, torchvision
    keeps (the catalogue's `ssdref.cases.multibox.nms_boundary_inputs`, anchors batched)."""
    cls_prob, loc, anchors = nms_boundary_inputs()
    return cls_prob, loc, anchors[None]


def nms_preset_row(examples, seed) -> ReportRow:
    from ssdref.backends.torch import detect_torchvision
    from ssdref.multibox.detection import multibox_detection
    from ssdref.testing.compare import assert_detections_equal

    rng = np.random.default_rng([seed, 102])
    differ = 0
    for k in range(examples):
        if k == 0:
            cls_prob, loc, anchors = _boundary_detection_case()
        else:
            cls_prob, loc, anchors = random_detection_inputs(rng, 40, 3, 1, centre=(0.2, 0.6),
                                                             sizes=(0.1, 0.2, 0.3))
            anchors = anchors[None]
        ref = multibox_detection(cls_prob, loc, anchors, nms_threshold=0.5, nms_topk=20)
        got = detect_torchvision(cls_prob, loc, anchors, nms_threshold=0.5, nms_topk=20)
        try:
            assert_detections_equal(got, ref)
        except AssertionError:
            differ += 1
    return ReportRow("MultiBoxDetection NMS vs torchvision preset", examples, examples - differ, examples, 0.0,
                     f"documented: {differ} differ (IoU == threshold: torchvision keeps, MXNet suppresses); "
                     "torch output sorted, no stale topk rows")


def matching_preset_row(examples, seed) -> ReportRow:
    from ssdref.backends.torch import match_torchvision
    from ssdref.multibox.target import multibox_target

    rng = np.random.default_rng([seed, 103])
    differ = 0
    for k in range(examples):
        if k == 0:   # IoU exactly 0.5 for anchor 1: torchvision matches it, MXNet does not
            anchors, gts = matching_boundary_inputs()
        else:
            anchors, gts = random_matching_inputs(rng)
        label = gts[None]
        cls_pred = np.zeros((1, 4, anchors.shape[1]), np.float32)
        _, _, cls_target = multibox_target(anchors, label, cls_pred, overlap_threshold=0.5,
                                           negative_mining_ratio=-1)
        matches = match_torchvision(anchors[0], gts[:, 1:], 0.5)
        differ += not np.array_equal(cls_target[0] > 0, matches >= 0)
    return ReportRow("MultiBoxTarget matching vs torchvision Matcher", examples, examples - differ, examples, 0.0,
                     f"documented: {differ} differ (IoU == 0.5 positive in torchvision; low-quality "
                     "ties vs MXNet's one-to-one bipartite stage)")


def run(examples: int, seed: int) -> list:
    rows = op_rows(examples, seed)
    rows += tiny_ssd_rows(max(1, min(3, examples // 5)), seed)
    rows += [pooling_native_row(examples, seed), nms_preset_row(examples, seed),
             matching_preset_row(examples, seed)]
    return rows
