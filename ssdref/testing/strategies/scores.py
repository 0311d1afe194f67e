"""Hypothesis strategies for class scores and whole MultiBoxTarget / MultiBoxDetection input bundles.

Part of `ssdref.testing.strategies` (import them from there). Mirrors the inputs of MXNet 1.9.1's
`_contrib_MultiBoxTarget` (anchor (1, A, 4), label (B, L, W), cls_pred (B, C, A) logits) and
`_contrib_MultiBoxDetection` (cls_prob (B, C, A), loc_pred (B, A*4), anchor (1, A, 4)), C = number
of object classes + 1 with background at class 0. Ties are forced on purpose: the spec's tie rules
(lowest anchor/gt index, stable sorts, lowest class) are where implementations differ.
"""
import math
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ssdref.testing.strategies.geometry import (DEFAULT_VARIANCES, SSDConfig, _check_dtype, _count, labels,
                                       ssd_configs)

_EXP = np.frompyfunc(math.exp, 1, 1)  # scalar libm exp: equal inputs give equal bits at any position


@st.composite
def _logits(draw, batch, num_classes, num_anchors, ties, dtype):
    shape = (draw(batch), num_classes + 1, draw(num_anchors))
    if ties:
        # Multiples of 0.5 in [-4, 4]: exact in float32, and equal values are everywhere.
        values = draw(hnp.arrays(np.int8, shape, elements=st.integers(-8, 8))) * 0.5
        if shape[2] >= 2:
            # Two anchors with identical logits: equal scores / background probabilities, so
            # stable sorts and lowest-index tie rules decide (shrinks to the no-op i == j == 0).
            i, j = draw(st.integers(0, shape[2] - 1)), draw(st.integers(0, shape[2] - 1))
            values[:, :, j] = values[:, :, i]
    else:
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(
            -8, 8, allow_nan=False, allow_infinity=False, width=32)))
    return values.astype(dtype)


def logits(batch=st.integers(1, 2), num_classes=2, num_anchors=st.integers(1, 12), *, ties=True,
           dtype=np.float32):
    """Raw class scores (B, num_classes + 1, A), background first (MultiBoxTarget's cls_pred).

    ties=True: multiples of 0.5 in [-4, 4], and two anchors share a column, so equal maxima and equal
    background probabilities are common; ties=False: float32-representable floats in [-8, 8].
    batch, num_anchors: int or strategy of ints. Shrinks toward all-zero logits.
    """
    dtype = _check_dtype("logits", dtype)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"logits: num_classes must be an int >= 0 (object classes), got "
                         f"{num_classes!r}")
    return _logits(_count("logits", "batch", batch, 1), num_classes,
                   _count("logits", "num_anchors", num_anchors, 1), ties, dtype)


def softmax_classes(values, dtype):
    """Softmax over axis 1 in float64 (max subtracted, summed in class order), rounded to dtype."""
    shifted = np.asarray(values, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = _EXP(shifted).astype(np.float64)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(dtype)


def cls_probs(batch=st.integers(1, 2), num_classes=2, num_anchors=st.integers(1, 12), *,
              ties=True, dtype=np.float32):
    """MultiBoxDetection's cls_prob (B, num_classes + 1, A): the same as `probabilities`, under
    the operator's argument name."""
    return probabilities(batch, num_classes, num_anchors, ties=ties, dtype=dtype)


def probabilities(batch=st.integers(1, 2), num_classes=2, num_anchors=st.integers(1, 12), *,
                  ties=True, dtype=np.float32):
    """Class probabilities (B, num_classes + 1, A): the softmax over the class axis of `logits(...)`
    (MultiBoxDetection's cls_prob). Tied logits give bit-identical probabilities."""
    dtype = _check_dtype("probabilities", dtype)
    return logits(batch, num_classes, num_anchors, ties=ties, dtype=np.float64).map(
        lambda values: softmax_classes(values, dtype))


class MultiBoxTargetInputs(NamedTuple):
    """MultiBoxTarget's inputs: call op(anchor, label, cls_pred, **params)."""
    anchor: np.ndarray        # (1, A, 4)
    label: np.ndarray         # (B, L, W), -1 padding rows after the valid ones
    cls_pred: np.ndarray      # (B, num_classes + 1, A) logits
    params: dict              # overlap_threshold, ignore_label, negative_mining_*, ...
    config: SSDConfig         # where the anchors came from


class MultiBoxDetectionInputs(NamedTuple):
    """MultiBoxDetection's inputs: call op(cls_prob, loc_pred, anchor, **params)."""
    cls_prob: np.ndarray      # (B, num_classes + 1, A) probabilities
    loc_pred: np.ndarray      # (B, A * 4)
    anchor: np.ndarray        # (1, A, 4)
    params: dict              # clip, threshold, nms_threshold, force_suppress, variances, nms_topk
    config: SSDConfig


def _config_strategy(config):
    return config if isinstance(config, st.SearchStrategy) else st.just(config)


@st.composite
def _target_inputs(draw, config, batch, max_objects, dtype, width, junk_after_padding, mining):
    cfg = draw(config)
    num_images = draw(batch)
    params = dict(
        overlap_threshold=draw(st.sampled_from((0.5, 0.3, 0.7, 0.0))),
        ignore_label=-1.0,
        negative_mining_ratio=draw(st.sampled_from((-1.0, 3.0, 1.0, 0.5))) if mining else -1.0,
        negative_mining_thresh=draw(st.sampled_from((0.5, 0.3))),
        minimum_negative_samples=draw(st.sampled_from((0, 2))),
        variances=draw(st.sampled_from((DEFAULT_VARIANCES, (0.2, 0.2, 0.5, 0.5)))))
    return MultiBoxTargetInputs(
        anchor=cfg.anchors(dtype),
        label=draw(labels(num_images, max_objects, cfg.num_classes, width=width, dtype=dtype,
                          junk_after_padding=junk_after_padding)),
        cls_pred=draw(logits(num_images, cfg.num_classes, cfg.num_anchors, dtype=dtype)),
        params=params, config=cfg)


def multibox_target_inputs(config=ssd_configs(), batch=st.integers(1, 2),
                           max_objects=st.integers(1, 4), *, dtype=np.float32, width=5,
                           junk_after_padding=False, mining=True):
    """MultiBoxTargetInputs: anchors of a drawn SSDConfig, padded labels, tied logits, parameters.

    Parameters drawn: overlap_threshold in (0.5, 0.3, 0.7, 0), negative_mining_ratio in
    (-1, 3, 1, 0.5) (-1 only when mining=False), negative_mining_thresh in (0.5, 0.3),
    minimum_negative_samples in (0, 2), variances. Note that MXNet aborts when fewer mining
    candidates exist than negatives wanted (spec ss. 2 step 5); small draws can hit that, so a test
    either expects the op's error or uses mining=False.
    """
    dtype = _check_dtype("multibox_target_inputs", dtype)
    return _target_inputs(_config_strategy(config), _count("multibox_target_inputs", "batch", batch, 1),
                          max_objects, dtype, width, junk_after_padding, mining)


@st.composite
def _detection_inputs(draw, config, batch, dtype):
    cfg = draw(config)
    num_images = draw(batch)
    cls_prob = draw(probabilities(num_images, cfg.num_classes, cfg.num_anchors, dtype=dtype))
    # Offsets in quarter steps in [-2, 2]: decoded boxes move and grow, and shrink to the anchors.
    loc_pred = (draw(hnp.arrays(np.int8, (num_images, cfg.num_anchors * 4),
                                elements=st.integers(-8, 8))) * 0.25).astype(dtype)
    threshold = draw(st.sampled_from((0.01, 0.2, 0.5, "a score")))
    if threshold == "a score":
        # A threshold equal to some foreground probability: the `score < threshold` boundary (D10).
        flat = cls_prob[:, 1:, :].ravel() if cfg.num_classes else np.array([0.01])
        threshold = float(flat[draw(st.integers(0, len(flat) - 1))])
    params = dict(
        clip=draw(st.sampled_from((True, False))), threshold=threshold, background_id=0,
        nms_threshold=draw(st.sampled_from((0.5, 0.45, 0.3, 1.0, 0.0))),
        force_suppress=draw(st.booleans()),
        variances=draw(st.sampled_from((DEFAULT_VARIANCES, (0.2, 0.2, 0.5, 0.5)))),
        nms_topk=draw(st.sampled_from((-1, 400, 1, 3))))
    return MultiBoxDetectionInputs(cls_prob=cls_prob, loc_pred=loc_pred, anchor=cfg.anchors(dtype),
                                   params=params, config=cfg)


def multibox_detection_inputs(config=ssd_configs(), batch=st.integers(1, 2), *, dtype=np.float32):
    """MultiBoxDetectionInputs: anchors of a drawn SSDConfig, tied probabilities, loc offsets and
    parameters (clip, threshold, possibly equal to a drawn score, nms_threshold in
    (0.5, 0.45, 0.3, 1, 0) where 0 disables NMS, force_suppress, variances, nms_topk in
    (-1, 400, 1, 3))."""
    dtype = _check_dtype("multibox_detection_inputs", dtype)
    return _detection_inputs(_config_strategy(config),
                             _count("multibox_detection_inputs", "batch", batch, 1), dtype)
