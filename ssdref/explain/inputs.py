"""What explain runs: a checkpoint's own training symbol, and a user's image file.

Mirrors: python/mxnet/model.py `load_checkpoint` (PREFIX-symbol.json) and example/ssd's
`get_symbol_train` outputs (cls_prob, loc_loss, cls_label, det_out).
Conventions that bite:
  * A checkpoint's symbol is used as saved: its anchors (each `<src>_anchors` MultiBoxPrior's sizes
    and ratios), its class count and its MultiBoxDetection's nms_threshold / nms_topk, so the
    re-trace matches the graph. It must be a training symbol (the losses are what explain shows);
    a deploy symbol is refused with the reason.
  * An image file is read as run-checkpoint reads it (ssdref.io.images: RGB 0..255), resized to the
    data shape with the float32 bilinear resize, rounded to uint8 (as the synthetic images are), then
    normalized (rgb - mean) / std like the synthetic set. It has no ground truth: the label is all
    -1 rows, so no anchor is positive and no negative is mined; the detections are the point.
"""
from __future__ import annotations

import os

import numpy as np

TRAIN_OUTPUTS = ("cls_prob_output", "loc_loss_output", "cls_label_output", "det_out_output")
INTERNALS = ("multibox_loc_pred_output", "multibox_cls_pred_output", "multibox_anchors_output")
NO_GT_ROWS = 4          # the synthetic set's max_objects: the label's shape is the same


def checkpoint_symbol(prefix, data_shape):
    """(train symbol, config, num_classes) from PREFIX-symbol.json, or None when there is none.

    config holds what explain's trace reads: per-layer `sizes` and `ratios` (from the MultiBoxPrior
    nodes, in anchor order), `nms_thresh` and `nms_topk` (from MultiBoxDetection)."""
    from ssdref import sym

    path = f"{prefix}-symbol.json"
    if not os.path.isfile(path):
        return None
    symbol = sym.load(path)
    outputs = symbol.list_outputs()
    internals = symbol.get_internals().list_outputs()
    if tuple(outputs) != TRAIN_OUTPUTS or not set(INTERNALS) <= set(internals):
        raise ValueError(f"explain: the checkpoint's symbol {path} must be a training symbol "
                         f"(get_symbol_train: outputs {list(TRAIN_OUTPUTS)} and internals "
                         f"{list(INTERNALS)}), got outputs {outputs}")
    priors = {n.name: n for n in symbol._nodes() if n.op is not None and n.op.name == "_contrib_MultiBoxPrior"}
    layers = [name[: -len("_output")] for name in internals
              if name.endswith("_anchors_output") and name != "multibox_anchors_output"]
    detection = next(n for n in symbol._nodes() if n.op is not None and n.op.name == "_contrib_MultiBoxDetection")
    config = dict(sizes=[list(priors[name].params["sizes"]) for name in layers],
                  ratios=[list(priors[name].params["ratios"]) for name in layers],
                  nms_thresh=float(detection.params["nms_threshold"]),
                  nms_topk=int(detection.params["nms_topk"]))
    _, out_shapes, _ = symbol.infer_shape_partial(data=(1, 3, data_shape, data_shape))
    num_classes = int(out_shapes[0][1]) - 1              # cls_prob (1, C + 1, A)
    return symbol, config, num_classes


def image_input(path, data_shape, mean_rgb, std):
    """(uint8 (1, S, S, 3) image, float32 (1, 3, S, S) data, float32 (1, NO_GT_ROWS, 6) label of -1)."""
    from ssdref.data.shapes import normalize
    from ssdref.io.images import read_image, resize_bilinear

    pixels = resize_bilinear(read_image(path), data_shape, data_shape)
    image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).transpose(1, 2, 0)[None]
    label = np.full((1, NO_GT_ROWS, 6), -1.0, np.float32)
    return image, normalize(image, mean_rgb, std), label
