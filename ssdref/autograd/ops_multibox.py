"""OpDefs of the three multibox ops: _contrib_MultiBoxPrior, _contrib_MultiBoxTarget, _contrib_MultiBoxDetection.

Mirrors MXNet 1.9.1's operator registrations (names, arguments, defaults, outputs). None has a
gradient (backward=None: the executor passes zeros to every input, as MXNet does). Forward runs the
NumPy specification or its kernel through `ssdref.backend.dispatch`.
"""
from ssdref.autograd.registry import OpDef, Param, register
from ssdref.backend import dispatch
from ssdref.multibox.boxes import DEFAULT_VARIANCES
from ssdref.multibox.detection import multibox_detection
from ssdref.multibox.prior import multibox_prior
from ssdref.multibox.target import multibox_target


# ssdref's own argument (not MXNet's): a convention preset (ssdref.presets), MXNet's when absent.
# Only passed on when given, so an MXNet graph calls the ops exactly as before.
_PRESET = Param("preset", "optional_str", None, (None, "mxnet", "mxnet_gpu", "caffe", "torchvision", "onnx"))


def _preset(params):
    return {} if params["preset"] is None else {"preset": params["preset"]}


def _fail(op, message):
    raise ValueError(f"{op}: {message}")


# --- MultiBoxPrior ---------------------------------------------------------------------------

PRIOR = "_contrib_MultiBoxPrior"


def _prior_shape(in_shapes, params):
    (data,) = in_shapes
    if data is None:
        return list(in_shapes), [None]
    if len(data) < 4:
        _fail(PRIOR, f"data must be 4-D (batch, channel, height, width), got shape {tuple(data)}")
    per_location = len(params["sizes"]) + len(params["ratios"]) - 1
    if data[2] is None or data[3] is None:
        return list(in_shapes), [None]
    return list(in_shapes), [(1, data[2] * data[3] * per_location, 4)]


def _prior_forward(inputs, aux, params, is_train):
    (data,) = inputs
    anchors = dispatch(multibox_prior)(data, sizes=params["sizes"], ratios=params["ratios"],
                                       clip=params["clip"], steps=params["steps"],
                                       offsets=params["offsets"], **_preset(params))
    return [anchors], None


register(OpDef(
    name=PRIOR, aliases=("MultiBoxPrior",), contrib=True,
    params=(Param("sizes", "floats", (1.0,)), Param("ratios", "floats", (1.0,)),
            Param("clip", "bool", False), Param("steps", "floats", (-1.0, -1.0)),
            Param("offsets", "floats", (0.5, 0.5)), _PRESET),
    inputs=lambda params: ("data",), infer_shape=_prior_shape, forward=_prior_forward,
    backward=None, doc="Anchor boxes for a feature map (ssdref.multibox.prior.multibox_prior)."))


# --- MultiBoxTarget --------------------------------------------------------------------------

TARGET = "_contrib_MultiBoxTarget"


def _target_shape(in_shapes, params):
    anchor, label, cls_pred = in_shapes
    num_anchors = batch = None
    if anchor is not None:
        if len(anchor) != 3 or anchor[0] != 1 or anchor[2] != 4:
            _fail(TARGET, f"anchor must have shape (1, num_anchors, 4), got {tuple(anchor)}")
        num_anchors = anchor[1]
    if label is not None:
        if len(label) != 3 or (label[2] is not None and label[2] < 5):
            _fail(TARGET, f"label must have shape (batch, rows, 5 or more columns), got "
                          f"{tuple(label)}")
        batch = label[0]
    if cls_pred is not None:
        if len(cls_pred) != 3:
            _fail(TARGET, f"cls_pred must have shape (batch, num_classes, num_anchors), got "
                          f"{tuple(cls_pred)}")
        if num_anchors is not None and cls_pred[2] is not None and cls_pred[2] != num_anchors:
            _fail(TARGET, f"cls_pred must have num_anchors={num_anchors} in its last axis, got "
                          f"shape {tuple(cls_pred)}")
        num_anchors = num_anchors if num_anchors is not None else cls_pred[2]
        batch = batch if batch is not None else cls_pred[0]
    if batch is None or num_anchors is None:
        return list(in_shapes), [None, None, None]
    return list(in_shapes), [(batch, num_anchors * 4), (batch, num_anchors * 4), (batch, num_anchors)]


def _target_forward(inputs, aux, params, is_train):
    anchor, label, cls_pred = inputs
    outputs = dispatch(multibox_target)(
        anchor, label, cls_pred, overlap_threshold=params["overlap_threshold"],
        ignore_label=params["ignore_label"], negative_mining_ratio=params["negative_mining_ratio"],
        negative_mining_thresh=params["negative_mining_thresh"],
        minimum_negative_samples=params["minimum_negative_samples"],
        variances=params["variances"], **_preset(params))
    return list(outputs), None


register(OpDef(
    name=TARGET, aliases=("MultiBoxTarget",), contrib=True,
    params=(Param("overlap_threshold", "float", 0.5), Param("ignore_label", "float", -1.0),
            Param("negative_mining_ratio", "float", -1.0),
            Param("negative_mining_thresh", "float", 0.5),
            Param("minimum_negative_samples", "int", 0),
            Param("variances", "floats", DEFAULT_VARIANCES), _PRESET),
    inputs=lambda params: ("anchor", "label", "cls_pred"),
    outputs=lambda params: ("loc_target", "loc_mask", "cls_target"),
    infer_shape=_target_shape, forward=_target_forward, backward=None,
    doc="SSD training targets (ssdref.multibox.target.multibox_target)."))


# --- MultiBoxDetection -----------------------------------------------------------------------

DETECTION = "_contrib_MultiBoxDetection"


def _detection_shape(in_shapes, params):
    cls_prob, loc_pred, anchor = in_shapes
    batch = num_anchors = None
    if cls_prob is not None:
        if len(cls_prob) != 3:
            _fail(DETECTION, f"cls_prob must have shape (batch, num_classes, num_anchors), got "
                             f"{tuple(cls_prob)}")
        batch, num_anchors = cls_prob[0], cls_prob[2]
    if anchor is not None:
        if len(anchor) != 3 or anchor[2] != 4:
            _fail(DETECTION, f"anchor must have shape (1, num_anchors, 4), got {tuple(anchor)}")
        if num_anchors is not None and anchor[1] is not None and anchor[1] != num_anchors:
            _fail(DETECTION, f"anchor must hold num_anchors={num_anchors} boxes, got shape "
                             f"{tuple(anchor)}")
        num_anchors = num_anchors if num_anchors is not None else anchor[1]
    if loc_pred is not None:
        if len(loc_pred) != 2 or (num_anchors is not None and loc_pred[1] is not None
                                  and loc_pred[1] != num_anchors * 4):
            _fail(DETECTION, f"loc_pred must have shape (batch, num_anchors*4), got "
                             f"{tuple(loc_pred)}")
        batch = batch if batch is not None else loc_pred[0]
    if batch is None or num_anchors is None:
        return list(in_shapes), [None]
    return list(in_shapes), [(batch, num_anchors, 6)]


def _detection_forward(inputs, aux, params, is_train):
    cls_prob, loc_pred, anchor = inputs
    out = dispatch(multibox_detection)(
        cls_prob, loc_pred, anchor, clip=params["clip"], threshold=params["threshold"],
        background_id=params["background_id"], nms_threshold=params["nms_threshold"],
        force_suppress=params["force_suppress"], variances=params["variances"],
        nms_topk=params["nms_topk"], **_preset(params))
    return [out], None


register(OpDef(
    name=DETECTION, aliases=("MultiBoxDetection",), contrib=True,
    params=(Param("clip", "bool", True), Param("threshold", "float", 0.01),
            Param("background_id", "int", 0), Param("nms_threshold", "float", 0.5),
            Param("force_suppress", "bool", False),
            Param("variances", "floats", DEFAULT_VARIANCES), Param("nms_topk", "int", -1), _PRESET),
    inputs=lambda params: ("cls_prob", "loc_pred", "anchor"),
    infer_shape=_detection_shape, forward=_detection_forward, backward=None,
    doc="Decoded, NMS-ed detections (ssdref.multibox.detection.multibox_detection)."))
