"""`ssdref conformance --backend onnxruntime`: ssdref's detections vs the ONNX export run in ONNX Runtime.

Rows (every comparison uses the tie-aware `assert_detections_equal`; float32 throughout):
  * "MultiBoxDetection ONNX vs ssdref onnx preset": random detection inputs (thresholds, nms_topk,
    force_suppress, clip drawn per case; case 0 a pair of boxes with IoU exactly 0.5) through the
    exported detection graph vs `onnx_export.reference_detections` (ssdref's decode and class pick,
    NMS with `>`). Must match: a mismatch fails the command.
  * "MultiBoxDetection ONNX vs MXNet semantics": the same ORT outputs vs ssdref's MultiBoxDetection
    (MXNet 1.9.1). A case that differs but matches the onnx preset differs only by the documented
    conventions (IoU == threshold suppressed by MXNet's `>=`, kept by NonMaxSuppression's `>`);
    it counts as within tolerance and the note says how many. Output order (ONNX: by class, then
    score) and MXNet's suppressed / stale topk rows are ignored by the comparator (class_id -1).
  * "tiny SSD export": the whole deploy graph (random parameters, shapes images: the catalogue's
    `ssdref.cases.graphs.shapes_deploy_case`) vs ssdref's
    executor: detections (onnx preset on ssdref's own cls_prob/loc_preds, and MXNet semantics as above).
"""
from __future__ import annotations

import numpy as np

from ssdref.backends.measure import scaled_error_as_float64
from ssdref.cases.multibox import nms_boundary_inputs, random_detection_inputs
from ssdref.conformance import ReportRow


def _session(model):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1      # deterministic and polite on a shared machine
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _same(actual, expected, box_tol=None, score_tol=None) -> tuple[bool, bool, float]:
    """(bit-exact valid rows as sets, equal under the tie-aware comparator, worst error of the valid
    rows, `ssdref.backends.measure.scaled_error`);
    box_tol / score_tol: None for the float32 table's."""
    from ssdref.testing.compare import assert_detections_equal

    def valid(x):
        rows = x.reshape(-1, 6)
        rows = rows[rows[:, 0] >= 0]
        return rows[np.lexsort(rows.T[::-1])]

    a, e = valid(actual), valid(expected)
    worst = scaled_error_as_float64(a, e)  # over the valid rows, sorted
    exact = a.shape == e.shape and a.tobytes() == e.tobytes()
    try:
        assert_detections_equal(actual, expected, box_tol=box_tol, score_tol=score_tol)
        return exact, True, worst
    except AssertionError:
        return exact, False, worst


def boundary_case():
    """Two class-1 boxes with IoU exactly 0.5 in float32, a third far away (the catalogue's
    `ssdref.cases.multibox.nms_boundary_inputs`), with MXNet's default detection parameters."""
    cls_prob, loc, anchors = nms_boundary_inputs()
    params = dict(threshold=0.01, nms_threshold=0.5, nms_topk=-1, force_suppress=False, clip=True)
    return cls_prob, loc, anchors, params


def random_case(rng, num_anchors=60, num_classes=4, batch=2):
    cls_prob, loc, anchors = random_detection_inputs(rng, num_anchors, num_classes, batch,
                                                     centre=(0.1, 0.8), sizes=(0.1, 0.2, 0.3, 0.5),
                                                     logit_scale=2)
    params = dict(threshold=float(rng.choice([0.01, 0.2, 0.4])), nms_threshold=float(rng.choice([0.3, 0.45, 0.5, 0.7])),
                  nms_topk=int(rng.choice([-1, 10, 30])), force_suppress=bool(rng.integers(0, 2)),
                  clip=bool(rng.integers(0, 2)))
    return cls_prob, loc, anchors, params


def detection_rows(examples, seed) -> list:
    from ssdref.multibox.detection import multibox_detection
    from ssdref.onnx_export import detection_model, reference_detections, to_mxnet_rows

    rng = np.random.default_rng([seed, 201])
    preset = [0, 0, 0.0]
    mxnet = [0, 0, 0.0]
    knob = [0, 0, 0.0]
    documented = 0
    for k in range(examples):
        cls_prob, loc, anchors, params = boundary_case() if k == 0 else random_case(rng)
        batch, num_classes, num_anchors = cls_prob.shape
        session = _session(detection_model(anchors, num_classes, batch=batch, **params))
        got = to_mxnet_rows(session.run(None, {"cls_prob": cls_prob, "loc_pred": loc})[0], batch, num_anchors)
        onnx_ref = reference_detections(cls_prob, loc, anchors[None], **params)
        exact, ok, worst = _same(got, onnx_ref)
        preset[0] += exact
        preset[1] += ok
        preset[2] = max(preset[2], worst)
        try:   # ssdref's own MultiBoxDetection with the ONNX comparator, where it has the knob
            knob_ref = multibox_detection(cls_prob, loc, anchors[None], nms_comparator=">", **params)
            exact, ok_knob, worst = _same(got, knob_ref)
            knob[0] += exact
            knob[1] += ok_knob
            knob[2] = max(knob[2], worst)
        except TypeError:
            knob = None
        mx_ref = multibox_detection(cls_prob, loc, anchors[None], **params)
        exact, same_as_mxnet, worst = _same(got, mx_ref)
        mxnet[0] += exact
        mxnet[1] += same_as_mxnet or ok
        documented += ok and not same_as_mxnet
        if same_as_mxnet:
            mxnet[2] = max(mxnet[2], worst)
    rows = []
    if knob is not None:
        rows.append(ReportRow("MultiBoxDetection ONNX vs ssdref nms_comparator='>'", examples, *knob,
                              "ssdref's MultiBoxDetection with the ONNX comparator, tie-aware"))
    return rows + [
        ReportRow("MultiBoxDetection ONNX vs ssdref onnx preset", examples, *preset,
                  "ORT NonMaxSuppression vs ssdref decode + NMS(IoU >), tie-aware; error = max |diff|"),
        ReportRow("MultiBoxDetection ONNX vs MXNet semantics", examples, *mxnet,
                  f"documented: {documented} case(s) differ only by IoU == threshold (MXNet >= suppresses, "
                  "ONNX > keeps); ONNX order by class then score, no -1 suppressed/stale topk rows"),
    ]


def tiny_ssd_row(cases, seed) -> ReportRow:
    from ssdref.autograd.symbol import Symbol
    from ssdref.cases.graphs import shapes_deploy_case
    from ssdref.multibox.detection import multibox_detection
    from ssdref.onnx_export import export_symbol, reference_detections, to_mxnet_rows

    exact = within = documented = 0
    worst = 0.0
    for k in range(cases):
        symbol, args, aux, data = shapes_deploy_case(seed + k)
        session = _session(export_symbol(symbol, args, aux, data.shape[-1]))
        got = to_mxnet_rows(session.run(None, {"data": data})[0], 1, 1488)
        detection = next(n for n in symbol._nodes() if n.name == "detection")
        heads = Symbol(list(detection.inputs[:3]))     # cls_prob, loc_preds, anchors of ssdref
        executor = heads.simple_bind(grad_req="null", data=data.shape)
        executor.copy_params_from(args, aux, allow_extra_params=True)
        cls_prob, loc, anchors = executor.forward(is_train=False, data=data)
        p = detection.params
        params = dict(threshold=p["threshold"], nms_threshold=p["nms_threshold"], nms_topk=p["nms_topk"],
                      force_suppress=p["force_suppress"], clip=p["clip"], variances=p["variances"])
        bit, ok, err = _same(got, reference_detections(cls_prob, loc, anchors, **params))
        _, same_as_mxnet, _ = _same(got, multibox_detection(cls_prob, loc, anchors, **params))
        exact += bit
        within += ok
        documented += ok and not same_as_mxnet
        worst = max(worst, err)
    return ReportRow("tiny SSD export (random params) in ORT", cases, exact, within, worst,
                     f"vs ssdref executor + onnx preset; {documented} differ from MXNet semantics as documented")


def run(examples: int, seed: int) -> list:
    rows = detection_rows(examples, seed)
    rows.append(tiny_ssd_row(max(1, min(3, examples // 5)), seed))
    return rows
