"""Run an MXNet SSD checkpoint (`<prefix>-symbol.json` + `<prefix>-<epoch:04d>.params`) in ssdref.

Mirrors: python/mxnet/model.py `load_checkpoint` and example/ssd/detect/detector.py (tag 1.9.1): the
deploy graph is built from the symbol as example/ssd/deploy.py does, the images are fed the way the
example's `Detector` feeds them (ssdref.io.images), and detections print and draw as `demo.py`
shows them (ssdref.io.checkpoint_cli).
Conventions that bite:
  * A *train* symbol (outputs cls_prob, loc_loss, cls_label, det_out) is turned into the deploy
    graph: its MultiBoxDetection node (`detection`) is rebuilt over `softmax(axis=1)` of the
    SoftmaxOutput's input (SoftmaxOutput's forward is that softmax, bit for bit, spec §4.1), so no
    `label` input is needed. A deploy symbol (head = MultiBoxDetection) runs as it is.
  * nms_threshold / force_suppress / nms_topk given: the MultiBoxDetection node is rebuilt with them
    (demo.py's `--nms` and `--force`, which it passes to get_symbol); None keeps the symbol's.
  * The data shape: given, else the symbol's `data` `__shape__` attribute, else the prefix's
    `_<size>` suffix (demo.py loads `prefix + "_" + str(data_shape)`), else the images' own size
    when all are square and alike; otherwise a ValueError asks for it. Never a silent 300.
  * Detections are the raw (B, A, 6) MultiBoxDetection rows, one image per batch row.
  * A GluonCV export (no MultiBoxDetection; `_contrib_box_nms` and three outputs: class ids,
    scores, boxes in input pixels) runs as it is, fed GluonCV's way (ImageNet mean and std) unless
    mean_pixels is given; its rows are [id, score, box / input size] in the same (B, K, 6) layout
    (-1 rows where box_nms filled them). Its NMS is box_nms: the MultiBoxDetection overrides are
    refused.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ssdref.io.images import (GLUONCV_MEAN_PIXELS, GLUONCV_STD_PIXELS, MEAN_PIXELS,  # noqa: F401
                              check_image, preprocess, read_image, resize_bilinear)
from ssdref.io.mxnet_params import checkpoint_params_path, load_params

DETECTION_OP = "_contrib_MultiBoxDetection"
GLUONCV_NMS_OP = "_contrib_box_nms"
NMS_OVERRIDES = ("nms_threshold", "force_suppress", "nms_topk")
_OP = "run-checkpoint"


# ---------------------------------------------------------------------------- the graph
def deploy_symbol(symbol, **overrides):
    """The deploy graph of an SSD symbol: the MultiBoxDetection head over a channel softmax.

    A train symbol's `detection` node reads SoftmaxOutput 'cls_prob'; it is rebuilt over
    softmax(cls_preds, axis=1) named 'cls_prob', with the same loc_preds, anchors and attributes.
    overrides: MultiBoxDetection parameters (nms_threshold, force_suppress, nms_topk) replacing the
    symbol's; None values keep them.
    """
    from ssdref import sym
    from ssdref.autograd.symbol import Symbol

    unknown = set(overrides) - set(NMS_OVERRIDES)
    if unknown:
        raise TypeError(f"{_OP}: overrides must be among {NMS_OVERRIDES}, got {sorted(unknown)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    nodes = [n for n in symbol._nodes() if n.op is not None and n.op.name == DETECTION_OP]
    if not nodes and is_gluoncv(symbol):
        if overrides:
            raise ValueError(f"{_OP}: {sorted(overrides)} are MultiBoxDetection's parameters; a "
                             f"GluonCV export's NMS is its {GLUONCV_NMS_OP} node, got {overrides}")
        return symbol
    if not nodes:
        raise ValueError(f"{_OP}: symbol must contain a {DETECTION_OP} node (an SSD train or deploy "
                         f"symbol), got outputs {symbol.list_outputs()}")
    named = [n for n in nodes if n.name == "detection"]
    detection = (named or nodes)[-1]
    cls_entry, loc_entry, anchor_entry = detection.inputs[:3]
    source = cls_entry[0]
    if source.op is not None and source.op.name == "SoftmaxOutput":
        cls_prob = sym.softmax(Symbol([source.inputs[0]]), axis=1, name=source.name)
    elif len(symbol._outputs) == 1 and symbol._outputs[0][0] is detection and not overrides:
        return symbol
    else:
        cls_prob = Symbol([cls_entry])
    attrs = {k: v for k, v in detection.attrs.items() if not (k.startswith("__") and k.endswith("__"))}
    attrs.update(overrides)
    return sym.contrib.MultiBoxDetection(cls_prob, Symbol([loc_entry]), Symbol([anchor_entry]),
                                         name=detection.name, **attrs)


def is_gluoncv(symbol) -> bool:
    """A GluonCV SSD export: a box_nms node, no MultiBoxDetection, outputs (ids, scores, boxes)."""
    ops = {n.op.name for n in symbol._nodes() if n.op is not None}
    return GLUONCV_NMS_OP in ops and DETECTION_OP not in ops and len(symbol.list_outputs()) == 3


def gluoncv_rows(ids, scores, boxes, data_shape) -> np.ndarray:
    """GluonCV's (B, K, 1) ids, (B, K, 1) scores and (B, K, 4) pixel boxes as (B, K, 6) rows with
    boxes over the input size (MultiBoxDetection's normalized corners)."""
    height, width = (data_shape if isinstance(data_shape, (tuple, list)) else (data_shape, data_shape))
    size = np.array([width, height, width, height], np.float32)
    rows = np.concatenate([np.asarray(ids), np.asarray(scores), np.asarray(boxes) / size], axis=2)
    rows[np.asarray(ids)[..., 0] < 0] = -1               # box_nms's -1 fill stays a -1 row
    return rows.astype(np.float32)


def checkpoint_paths(prefix, epoch) -> tuple:
    """(`<prefix>-symbol.json`, `<prefix>-<epoch:04d>.params`); FileNotFoundError unless both exist."""
    json_path = f"{prefix}-symbol.json"
    params_path = checkpoint_params_path(prefix, epoch)
    for path in (json_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{_OP}: checkpoint file {path} does not exist")
    return json_path, params_path


def load_checkpoint(prefix, epoch, **overrides):
    """(deploy symbol, arg_params, aux_params) of `<prefix>-symbol.json` + `<prefix>-<epoch>.params`;
    overrides: MultiBoxDetection's nms_threshold, force_suppress, nms_topk (deploy_symbol)."""
    from ssdref import sym

    json_path, params_path = checkpoint_paths(prefix, epoch)
    arg_params, aux_params = load_params(params_path)
    return deploy_symbol(sym.load(json_path), **overrides), arg_params, aux_params


def checkpoint_data_shape(prefix, symbol=None):
    """(data shape, where it was read) from the checkpoint, or (None, None) when it records none.

    The data shape is the symbol's `data` `__shape__` attribute (H, W; an int when square), else the
    `_<size>` suffix of the prefix's name (example/ssd's `ssd_vgg16_reduced_300`)."""
    if symbol is None and os.path.isfile(f"{prefix}-symbol.json"):
        from ssdref import sym
        symbol = sym.load(f"{prefix}-symbol.json")
    if symbol is not None:
        text = symbol.attr_dict().get("data", {}).get("__shape__")
        dims = [int(d) for d in re.findall(r"\d+", text or "")]
        if len(dims) >= 2 and min(dims[-2:]) > 0:
            height, width = dims[-2:]
            return (height if height == width else (height, width)), "the symbol's data __shape__"
    match = re.search(r"_(\d+)$", os.path.basename(str(prefix)))
    if match and int(match.group(1)) > 0:
        return int(match.group(1)), f"the prefix's _{match.group(1)} suffix"
    return None, None


def resolve_data_shape(prefix, symbol, images, data_shape=None):
    """(data shape, source): given, else the checkpoint's, else the images' common square size."""
    if data_shape is not None:
        sizes = data_shape if isinstance(data_shape, (tuple, list)) else (data_shape,)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
            raise ValueError(f"{_OP}: data_shape must be an integer > 0, got {data_shape!r}")
        return data_shape, "given"
    found, source = checkpoint_data_shape(prefix, symbol)
    if found is not None:
        return found, source
    shapes = {image.shape[1:] for image in images}
    if len(shapes) == 1 and next(iter(shapes))[0] == next(iter(shapes))[1]:
        return int(next(iter(shapes))[0]), "the image's size: the checkpoint records none"
    raise ValueError(f"{_OP}: data_shape must be given (--data-shape): the checkpoint records none "
                     f"(no data __shape__ in the symbol, no _<size> suffix on the prefix) and the "
                     f"images are not all one square size, got {sorted(shapes)}")


# ---------------------------------------------------------------------------- running
def missing_params(executor, arg_params, aux_params) -> list:
    """Names of the executor's parameters (arguments but `data`, auxiliary states) given no value."""
    return ([name for name in executor.arg_dict if name != "data" and name not in arg_params]
            + [name for name in executor.aux_dict if name not in aux_params])


def as_images(image, resize="bilinear") -> list:
    """A list of (3, H, W) float32 images from an array, a path, or a list of them."""
    items = image if isinstance(image, (list, tuple)) else [image]
    if not items:
        raise ValueError(f"{_OP}: image must be an array, a path or a non-empty list of them, got []")
    return [check_image(item) if isinstance(item, np.ndarray) else read_image(item, resize) for item in items]


def detect(symbol, arg_params, aux_params, images, data_shape, *, mean_pixels=MEAN_PIXELS,
           allow_missing=False, resize="bilinear") -> np.ndarray:
    """MultiBoxDetection rows (B, A, 6) of a deploy symbol on B (3, H, W) images, one batch."""
    mean = np.asarray(mean_pixels, np.float64)
    if mean.shape != (3,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{_OP}: mean_pixels must be 3 finite numbers (R, G, B), got {mean_pixels!r}")
    gluoncv = is_gluoncv(symbol)
    std_pixels = None
    if gluoncv and tuple(mean_pixels) == MEAN_PIXELS:          # not given: GluonCV's own transform
        mean_pixels, std_pixels = GLUONCV_MEAN_PIXELS, GLUONCV_STD_PIXELS
    data = np.concatenate([preprocess(image, data_shape, mean_pixels, resize, std_pixels)
                           for image in images])
    executor = symbol.simple_bind(grad_req="null", data=data.shape)
    missing = missing_params(executor, arg_params, aux_params)
    if missing and not allow_missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise ValueError(f"{_OP}: the .params file must hold every parameter of the symbol (MXNet's "
                         f"set_params refuses missing ones unless allow_missing=True), got "
                         f"{len(missing)} missing: {shown}")
    try:
        executor.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    except ValueError as exc:
        raise ValueError(f"{_OP}: the .params file must fit the symbol at data_shape {data_shape}, "
                         f"got {exc}") from None
    outputs = executor.forward(is_train=False, data=data)
    return gluoncv_rows(*outputs, data_shape) if gluoncv else outputs[0]


def run_checkpoint(prefix, epoch, image, *, data_shape=None, mean_pixels=MEAN_PIXELS,
                   allow_missing=False, resize="bilinear", nms_threshold=None, force_suppress=None,
                   nms_topk=None) -> np.ndarray:
    """MultiBoxDetection rows (B, A, 6) of the checkpoint on `image`: a (3, H, W) array or a path
    (B = 1), or a list of them (one batch).

    As MXNet's Module.set_params, a parameter of the symbol missing from the .params file is an
    error unless allow_missing=True (then it stays zero, as the Module's bound arrays do).
    resize: 'bilinear' or 'opencv' (ssdref.io.images); nms_*/force_suppress: deploy_symbol overrides."""
    symbol, arg_params, aux_params = load_checkpoint(prefix, epoch, nms_threshold=nms_threshold,
                                                     force_suppress=force_suppress, nms_topk=nms_topk)
    images = as_images(image, resize)
    data_shape, _ = resolve_data_shape(prefix, symbol, images, data_shape)
    return detect(symbol, arg_params, aux_params, images, data_shape, mean_pixels=mean_pixels,
                  allow_missing=allow_missing, resize=resize)


def shown_rows(detections, threshold, image=0, max_boxes=None):
    """The valid rows (class_id >= 0) of `image` with score >= threshold, by score descending,
    the first `max_boxes` of them (None: all)."""
    rows = np.asarray(detections)[image]
    rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= threshold)]
    rows = rows[np.argsort(-rows[:, 1], kind="stable")]
    return rows if max_boxes is None else rows[:max_boxes]
