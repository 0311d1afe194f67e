"""The multibox ground-truth cases of spec mxnet-semantics.md §8, declared once.

Each case is the inputs and parameters MXNet 1.9.1 was run on (golden/mxnet-1.9.1/ holds its
recorded outputs as `spec/<label>`); the golden set (`ssdref.golden`), the conformance runs
(`ssdref.backends`) and the tests read them from here. Two names per case, both stable: `name`,
the golden file's (e.g. `MultiBoxTarget_T3`), and `label`, the conformance report's and the MXNet
recording's (e.g. `T3 target defaults`). A case whose op must refuse its input carries `error`
({type, match}): MXNet aborts (T9b, T17b) or rejects (T6) there.
Inputs are float32 (MXNet parity); a golden case may also be declared in float64 (`dtypes`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.cases.case import Case


class SpecCase(NamedTuple):
    name: str                 # golden case name
    label: str                # conformance / recorded-MXNet label
    op: str                   # MXNet operator (JSON name)
    params: dict
    inputs: dict              # input name -> float32 array, in the op's input order
    error: dict | None = None
    dtypes: tuple = ("float32",)

    def case(self) -> Case:
        """The op call (`ssdref.cases.case.Case`) that conformance and the MXNet recording run:
        inference, no backward, the same input arrays."""
        return Case(self.op, dict(self.params), dict(self.inputs), {}, False, None, backward=False)


F = np.float32
PRIOR, TARGET, DETECTION = ("_contrib_MultiBoxPrior", "_contrib_MultiBoxTarget",
                            "_contrib_MultiBoxDetection")
A6 = np.array([[[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6],
                [0, 0, 1, 1]]], F)
LOGITS = np.random.RandomState(0).randn(1, 3, 6).astype(F)     # the spec's T3-T5, T10-T11 logits
SSD = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5,
           minimum_negative_samples=0, variances=(.1, .1, .2, .2))
PAD = [-1, -1, -1, -1, -1]
D1_PROB = [[[.1, .2, .3, .1, .98], [.6, .5, .2, .45, .01], [.3, .3, .5, .45, .01]]]
D1_ANCHOR = [[[0, 0, .5, .5], [.05, 0, .55, .5], [.5, .5, 1, 1], [.5, .5, 1.1, 1.1], [.2, .2, .4, .4]]]
D3_ANCHOR = [[[0, 0, .1, .1], [.2, .2, .3, .3], [.4, .4, .5, .5], [.6, .6, .7, .7], [-.1, .9, .2, 1.3]]]
D3_FG = np.array([.1, .2, .9, .3, .8], F)
D3_PROB = np.stack([1 - D3_FG, D3_FG])[None]


def _prior(name, label, shape, **params):
    return SpecCase(name, label, PRIOR, params, {"data": np.zeros(shape, F)})


def _target(name, label, anchor, gt, logits, error=None, **params):
    return SpecCase(name, label, TARGET, params,
                    {"anchor": np.asarray(anchor, F), "label": np.asarray(gt, F),
                     "cls_pred": np.asarray(logits, F)}, error)


def _detection(name, label, cls_prob, loc, anchor, **params):
    return SpecCase(name, label, DETECTION, params,
                    {"cls_prob": np.asarray(cls_prob, F), "loc_pred": np.asarray(loc, F),
                     "anchor": np.asarray(anchor, F)})


def _d1(name, label, **params):
    return _detection(name, label, D1_PROB, np.zeros((1, 20)), D1_ANCHOR, **params)


ABORT = {"type": "ValueError", "match": "hard-negative"}
SPEC_CASES = (
    _prior("MultiBoxPrior_T1", "T1 prior", (1, 1, 2, 3), sizes=(.5, .25), ratios=(1, 2, .5)),
    _prior("MultiBoxPrior_T2", "T2 prior steps offsets clip", (1, 1, 2, 2), sizes=(.6,), ratios=(1, 3),
           steps=(.3, .2), offsets=(.2, .7), clip=True),
    _target("MultiBoxTarget_T3", "T3 target defaults", A6, [[[1, .05, .05, .5, .55], PAD]], LOGITS),
    _target("MultiBoxTarget_T4", "T4 target SSD", A6, [[[1, .05, .05, .5, .55], PAD]], LOGITS, **SSD),
    _target("MultiBoxTarget_T5", "T5 padding terminates", A6,
            [[[0, .5, .5, 1, 1], PAD, [1, 0, 0, .5, .5]]], LOGITS, **SSD),
    _target("MultiBoxTarget_T6_bad_padding", "T6 bad padding", A6,
            [[[1, .05, .05, .5, .55], [-1, 0, 0, .5, .5]]], LOGITS,
            error={"type": "ValueError", "match": "coordinates must all be -1"}),
    _target("MultiBoxTarget_T6_padding_first", "T6b -1 row first", A6[:, :2],
            [[PAD, [0, 0, 0, .5, .5]]], LOGITS[:, :, :2], **SSD),
    _target("MultiBoxTarget_T7_no_gt", "T7 no gt", A6, [[PAD, PAD]], LOGITS, **SSD),
    _target("MultiBoxTarget_min_neg_ignored", "T8 min_neg ignored", A6,
            [[[1, .05, .05, .5, .55], PAD]], LOGITS,
            **{**SSD, "negative_mining_ratio": 1, "minimum_negative_samples": 3}),
    _target("MultiBoxTarget_T9b_too_few_candidates", "T9b too few candidates",
            [[[0, 0, 1, 1], [0, 0, .6, .6], [0, 0, .65, .65], [.8, .8, 1, 1]]], [[[0, 0, 0, 1, 1]]],
            LOGITS[:, :, :4], error={"type": "ValueError", "match": "hard-negative candidates"},
            **{**SSD, "negative_mining_thresh": .3}),
    _target("MultiBoxTarget_T10", "T10 ratio 0.5", A6,
            [[[0, 0, 0, .5, .5], [1, .5, 0, 1, .5], [0, 0, .5, .5, 1]]], LOGITS,
            **{**SSD, "negative_mining_ratio": .5}),
    _target("MultiBoxTarget_T11", "T11 unmatched gt", [[[0, 0, .2, .2], [.8, .8, 1, 1], [0, .8, .2, 1]]],
            [[[0, .4, .4, .6, .6], [1, .75, .75, 1, 1]]], LOGITS[:, :, :3], **SSD),
    _target("MultiBoxTarget_T11_overlap0", "T11b overlap 0", A6, [[[1, .05, .05, .5, .55], PAD]],
            LOGITS, **{**SSD, "overlap_threshold": 0}),
    _target("MultiBoxTarget_T13", "T13 bipartite ties", [[[0, 0, .5, .5], [0, 0, .5, .5], [.5, .5, 1, 1]]],
            [[[0, 0, 0, .4, .4], [1, 0, 0, .4, .4]]], LOGITS[:, :, :3], overlap_threshold=.99),
    _target("MultiBoxTarget_T16_outside", "T16 anchors outside", [[[-.2, -.2, .3, .3], [.7, .7, 1.2, 1.2]]],
            [[[0, -.1, -.1, .3, .3]]], LOGITS[:, :, :2], **SSD),
    _target("MultiBoxTarget_T17_iou_half", "T17 IoU exactly 0.5",
            [[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]], [[[0, 0, 0, 1, 1]]], LOGITS[:, :, :3],
            **{**SSD, "negative_mining_ratio": 1}),
    _target("MultiBoxTarget_T17b_abort", "T17b aborts", [[[0, 0, 1, 1], [0, 0, .5, 1], [.9, .9, 1, 1]]],
            [[[0, 0, 0, 1, 1]]], LOGITS[:, :, :3], error=ABORT, **SSD),
    _d1("MultiBoxDetection_D1", "D1 detection"),
    _d1("MultiBoxDetection_D2_force_suppress", "D2 force_suppress", force_suppress=True),
    _detection("MultiBoxDetection_D3b_topk_stale", "D3b topk stale rows", D3_PROB, np.zeros((1, 20)),
               D3_ANCHOR, nms_topk=2),
    _detection("MultiBoxDetection_D3b_noclip", "D3b no clip", D3_PROB, np.zeros((1, 20)), D3_ANCHOR,
               nms_topk=2, clip=False),
    _d1("MultiBoxDetection_D4_nms0", "D4 nms off", nms_threshold=0.0),
    _d1("MultiBoxDetection_D5_threshold", "D5 threshold", threshold=.55),
    _d1("MultiBoxDetection_D6_background_id", "D6 background_id", background_id=2),
    _detection("MultiBoxDetection_D8_decode", "D8 decode", [[[0], [1]]], [[1, -1, .5, -.5]],
               [[[.2, .2, .4, .4]]]),
    _detection("MultiBoxDetection_D11_nms_at_threshold", "D11 NMS IoU at threshold",
               [[[.1, .2], [.9, .8]]], np.zeros((1, 8)), [[[0, 0, 1, 1], [0, 0, .5, 1]]]),
    _detection("MultiBoxDetection_D13_one_class", "D13 one class", [[[1, 1, 1]]], np.zeros((1, 12)),
               A6[:, :3]),
)
# Spec §8 statements the cases check by value, as the spec prints them (7 decimals): the golden
# outputs and the MXNet recording agree (tests/test_cases.py); tests/multibox/test_detection.py
# checks both backends against them.
D1_OUT = [[0, .6, 0, 0, .5, .5], [-1, .5, .05, 0, .55, .5], [1, .5, .5, .5, 1, 1],
          [0, .45, .5, .5, 1, 1], [0, .01, .2, .2, .4, .4]]              # D1 detection
D3B_TOPK_STALE_OUT = [[0, .9, .4, .4, .5, .5], [0, .8, 0, .8999999, .2, 1],
                      [-1, .9, .4, .4, .5, .5], [-1, .3, .6, .6, .6999999, .6999999],
                      [-1, .8, 0, .8999999, .2, 1]]                         # D3b topk stale rows
D3B_NOCLIP_ROW1 = [0, .8, -.1, .8999999, .2, 1.3]                          # D3b no clip, row 1
D8_DECODED = [0.2094829, 0.1895162, 0.4305171, 0.3704838]                 # D8 decode, row 0 box


def by_name() -> dict:
    return {case.name: case for case in SPEC_CASES}


def by_label() -> dict:
    return {case.label: case for case in SPEC_CASES}
