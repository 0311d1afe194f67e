"""Convention presets: the places where SSD frameworks legitimately differ, as named knobs.

MXNet 1.9.1 (CPU) is the default of every knob; a preset bundles one framework's choices
(`mxnet`, `mxnet_gpu`, `caffe`, `torchvision`, `onnx`). This module is the data (and the
loss-normalizer rule); the ops apply it, one way: every multibox op (`ssdref.ops`, the
specifications in `ssdref.multibox`, their kernels, `sym.contrib.MultiBox*`) takes `preset=` (a
name or a Preset) and reads it through `get_preset`; knobs passed explicitly win over the
preset's. The table, with the source of each row and the test that pins it, is docs/conventions.md.

Knobs (values; MXNet's first):
  nms_comparator        '>=' | '>'   suppress when IoU >= thr (MultiBoxDetection) or IoU > thr
                                     (torchvision.ops.nms, ONNX NonMaxSuppression, Caffe, box_nms)
  tie_rule              'stable' | 'unspecified'   equal scores: lower index first, or any order
  prior_layout          'mxnet' | 'caffe' | 'torchvision'   MXNet S+R-1 with the H/W factor; Caffe
                        min/max/flip (prior_presets.caffe_prior_box); torchvision
                        DefaultBoxGenerator (prior_presets.torchvision_default_boxes)
  coordinates           'normalized' | 'pixel'   anchors in [0, 1] or in image pixels
  match_comparator      '>' | '>='   threshold-stage positive when IoU > thr or IoU >= thr
  mining                'bg_prob' | 'cross_entropy'   hard negatives ranked by ascending softmax
                        background probability (MXNet, aborting when too few candidates) or by
                        descending cross-entropy -log p_bg, capped at the candidates (Caffe,
                        torchvision)
  minimum_negative_rule 'ignored' | 'honoured'   MXNet CPU ignores minimum_negative_samples; the
                        GPU kernel uses max(num_negative, minimum_negative_samples)
  loss_normalization    'mxnet_valid' | 'num_positive'   cls / non-ignored anchors and loc /
                        nonzero smooth-L1 elements (MXNet), or both / matched anchors (Caffe,
                        torchvision)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

KNOBS = {
    "nms_comparator": (">=", ">"),
    "tie_rule": ("stable", "unspecified"),
    "prior_layout": ("mxnet", "caffe", "torchvision"),
    "coordinates": ("normalized", "pixel"),
    "match_comparator": (">", ">="),
    "mining": ("bg_prob", "cross_entropy"),
    "minimum_negative_rule": ("ignored", "honoured"),
    "loss_normalization": ("mxnet_valid", "num_positive"),
}


@dataclass(frozen=True)
class Preset:
    """One framework's conventions; every field defaults to MXNet 1.9.1 CPU's choice."""
    name: str = "mxnet"
    nms_comparator: str = ">="
    tie_rule: str = "stable"
    prior_layout: str = "mxnet"
    coordinates: str = "normalized"
    match_comparator: str = ">"
    mining: str = "bg_prob"
    minimum_negative_rule: str = "ignored"
    loss_normalization: str = "mxnet_valid"

    def __post_init__(self):
        for knob, allowed in KNOBS.items():
            if getattr(self, knob) not in allowed:
                raise ValueError(f"Preset: {knob} must be one of {allowed}, got "
                                 f"{getattr(self, knob)!r}")

    def replace(self, **knobs) -> "Preset":
        """A copy with some knobs changed (None values are ignored)."""
        unknown = sorted(set(knobs) - set(KNOBS) - {"name"})
        if unknown:
            raise ValueError(f"Preset: knobs must be among {sorted(KNOBS)}, got {unknown}")
        return dataclasses.replace(self, **{k: v for k, v in knobs.items() if v is not None})


PRESETS = {
    "mxnet": Preset(),
    # MultiBoxTarget/MultiBoxDetection's CUDA kernels: unstable merge sorts, min_neg used.
    "mxnet_gpu": Preset(name="mxnet_gpu", tie_rule="unspecified", minimum_negative_rule="honoured"),
    "caffe": Preset(name="caffe", nms_comparator=">", prior_layout="caffe", match_comparator=">=",
                    mining="cross_entropy", loss_normalization="num_positive"),
    "torchvision": Preset(name="torchvision", nms_comparator=">", tie_rule="unspecified",
                          prior_layout="torchvision", coordinates="pixel", match_comparator=">=",
                          mining="cross_entropy", loss_normalization="num_positive"),
    # ONNX NonMaxSuppression (opset 10+): IoU > iou_threshold suppresses; no training ops.
    "onnx": Preset(name="onnx", nms_comparator=">", tie_rule="unspecified"),
}


def get_preset(preset=None, **knobs) -> Preset:
    """The Preset for a name, a Preset or None (mxnet), with explicit non-None knobs applied."""
    if preset is None:
        base = PRESETS["mxnet"]
    elif isinstance(preset, Preset):
        base = preset
    elif isinstance(preset, str) and preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise ValueError(f"preset must be one of {sorted(PRESETS)} or a Preset, got {preset!r}")
    return base.replace(**knobs) if any(v is not None for v in knobs.values()) else base


def loss_normalizers(cls_target, loc_loss, preset=None, *, ignore_label=-1.0, **knobs):
    """(cls normalizer, loc normalizer) of the SSD losses under a preset's loss_normalization.

    cls_target (B, A) from MultiBoxTarget; loc_loss the smooth-L1 elements (B, 4A).
    mxnet_valid: max(1, #anchors with int(cls) != int(ignore_label)) and max(1, #elements > 0)
    (SoftmaxOutput and MakeLoss with normalization='valid', spec §4.4); num_positive: both
    max(1, #anchors with cls > 0) (Caffe MultiBoxLoss VALID, torchvision SSD's N)."""
    cls_target = np.asarray(cls_target)
    rule = get_preset(preset, **knobs).loss_normalization
    if rule == "mxnet_valid":
        valid = cls_target.astype(np.int64) != int(ignore_label)
        return max(1, int(valid.sum())), max(1, int((np.asarray(loc_loss) > 0).sum()))
    positives = max(1, int((cls_target > 0).sum()))
    return positives, positives
