"""The multibox functions on the current backend: what a user's script or property test calls.

    from ssdref import ops
    keep = ops.nms(boxes, scores, class_ids, 0.5, preset="torchvision")
    with ssdref.use_backend("numpy"):
        detections = ops.multibox_detection(cls_prob, loc_pred, anchor, nms_threshold=0.45)

Each function has the signature of its NumPy specification (`ssdref.multibox.*`, which documents
it) and runs the implementation of the backend in force at the call (`ssdref.use_backend`: numba
by default, numpy = the specification itself, cuda). Every one takes `preset=` (a name from
`ssdref.presets.PRESETS`, a `Preset`, or None for MXNet 1.9.1), and an explicit knob such as
`nms_comparator=` wins over the preset's: the presets are data (`ssdref.presets`), applied one way,
by the ops themselves.
"""
from __future__ import annotations

import functools

from ssdref.backend import dispatch
from ssdref.multibox import detection as _detection
from ssdref.multibox import nms as _nms
from ssdref.multibox import prior as _prior
from ssdref.multibox import target as _target

__all__ = ["multibox_prior", "multibox_target", "multibox_detection", "nms"]


def _on_backend(spec):
    """`spec`'s signature and docstring, run by the current backend's implementation of it."""
    @functools.wraps(spec)
    def call(*args, **kwargs):
        return dispatch(spec)(*args, **kwargs)
    return call


multibox_prior = _on_backend(_prior.multibox_prior)
multibox_target = _on_backend(_target.multibox_target)
multibox_detection = _on_backend(_detection.multibox_detection)
nms = _on_backend(_nms.nms)
