"""Hypothesis strategies for SSD tests: boxes, padded labels, priors, class scores, whole configs,
MultiBoxTarget / MultiBoxDetection input bundles.

Mirrors the input conventions of MXNet 1.9.1's `_contrib_MultiBox{Prior,Target,Detection}` (spec
ss. 1-3); the conventions of this kit (object-class counts, grid coordinates, tied scores) are in
`geometry`'s docstring. Every strategy can be called without arguments:

    geometry  boxes, labels, num_valid_labels, feature_map_shapes, prior_params, prior_boxes (a
              plain function), anchors, SSDConfig, ssd_configs
    scores    logits (cls_pred), cls_probs / probabilities (cls_prob), softmax_classes (a plain
              function), multibox_target_inputs, multibox_detection_inputs and their bundles
"""
from ssdref.testing.strategies.geometry import (BOX_KINDS, DEFAULT_VARIANCES, OFFSET_CHOICES,  # noqa: F401
                                                RATIO_CHOICES, SSDConfig, anchors, boxes,
                                                feature_map_shapes, labels, num_valid_labels,
                                                prior_boxes, prior_params, ssd_configs)
from ssdref.testing.strategies.scores import (MultiBoxDetectionInputs,  # noqa: F401
                                              MultiBoxTargetInputs, cls_probs, logits,
                                              multibox_detection_inputs, multibox_target_inputs,
                                              probabilities, softmax_classes)

__all__ = ["BOX_KINDS", "boxes", "labels", "num_valid_labels", "feature_map_shapes", "prior_params",
           "prior_boxes", "anchors", "SSDConfig", "ssd_configs", "logits", "cls_probs",
           "probabilities", "softmax_classes", "multibox_target_inputs",
           "multibox_detection_inputs", "MultiBoxTargetInputs", "MultiBoxDetectionInputs"]
