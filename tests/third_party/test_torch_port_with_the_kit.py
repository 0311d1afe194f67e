"""A third party's test file: a small independent PyTorch port (IoU, greedy NMS, MultiBoxPrior)
property-tested with nothing but ssdref's documented testing kit (docs/testing-kit.md):
`ssdref.testing.strategies`, the comparators, the plugin's fixtures and its `ssdref_golden`
marker, and `ssdref.ops.nms` as the oracle. Nothing here imports ssdref's internals."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from ssdref import ops
from ssdref.testing import strategies as S
from ssdref.testing.compare import assert_allclose_dtype, assert_detections_equal


# ----------------------------------------------------------------------------- the "port"
def torch_iou(a, b):
    """IoU matrix of corner boxes (N, 4) x (M, 4); a non-positive union gives 0."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, torch.ones_like(union)),
                       torch.zeros_like(union))


def torch_nms(boxes, scores, classes, threshold):
    """torchvision-style batched greedy NMS: score descending (stable), IoU > threshold suppresses
    a later box of the same class."""
    order = torch.sort(scores, descending=True, stable=True).indices
    keep, alive = [], torch.ones(len(order), dtype=torch.bool)
    iou = torch_iou(boxes[order], boxes[order])
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(int(order[i]))
        same = classes[order] == classes[order[i]]
        alive &= ~((iou[i] > threshold) & same & (torch.arange(len(order)) > i))
    return torch.tensor(keep, dtype=torch.int64)


def torch_prior(height, width, sizes, ratios, steps=(-1.0, -1.0), offsets=(0.5, 0.5), clip=False):
    """MultiBoxPrior (1, H*W*(S+R-1), 4) in float32, MXNet's order: sizes with ratios[0], then the
    other ratios with sizes[0]."""
    f = torch.float32
    step_y = 1.0 / height if steps[0] <= 0 else steps[0]
    step_x = 1.0 / width if steps[1] <= 0 else steps[1]
    shapes = [(s, ratios[0]) for s in sizes] + [(sizes[0], r) for r in ratios[1:]]
    rows = []
    for r in range(height):
        cy = (torch.tensor(r, dtype=f) + offsets[0]) * torch.tensor(step_y, dtype=f)
        for c in range(width):
            cx = (torch.tensor(c, dtype=f) + offsets[1]) * torch.tensor(step_x, dtype=f)
            for size, ratio in shapes:
                q = torch.sqrt(torch.tensor(ratio, dtype=f))
                half_w = torch.tensor(size, dtype=f) * height / width * q / 2
                half_h = torch.tensor(size, dtype=f) / q / 2
                rows.append(torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h]))
    out = torch.stack(rows)[None]
    return out.clamp(0, 1) if clip else out


# ----------------------------------------------------------------------------- the tests
@given(S.boxes(kind="any"), S.boxes(kind="any"))
def test_iou_is_symmetric_and_in_unit_interval(a, b):
    ab = torch_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ba = torch_iou(torch.from_numpy(b), torch.from_numpy(a)).numpy()
    np.testing.assert_array_equal(ab, ba.T)
    assert ((ab >= 0) & (ab <= 1)).all()


@given(S.boxes(n=st.integers(1, 12), grid=4), S.cls_probs(batch=1, num_classes=2, num_anchors=12),
       st.sampled_from([0.25, 0.5, 0.75]))
def test_nms_keeps_what_the_oracle_keeps(boxes, probs, threshold):
    # a coarse grid makes IoU exactly at the threshold common: there `>` and `>=` part ways
    scores = probs[0, 1:, :len(boxes)].max(axis=0)          # tied scores are common on purpose
    classes = probs[0, 1:, :len(boxes)].argmax(axis=0).astype(np.float32)
    ours = torch_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                     torch.from_numpy(classes), threshold).numpy()
    theirs = ops.nms(boxes, scores, classes, threshold, preset="torchvision")

    def rows(keep):
        return np.concatenate([classes[keep, None], scores[keep, None], boxes[keep]], axis=1)
    assert_detections_equal(rows(ours), rows(theirs))


@pytest.mark.ssdref_golden("MultiBoxPrior_T1", "MultiBoxPrior_T2")
def test_prior_matches_the_goldens(ssdref_golden_case, assert_allclose_dtype):
    case = ssdref_golden_case
    height, width = case.inputs["data"].shape[2:]
    ours = torch_prior(height, width, **case.params).numpy()
    assert_allclose_dtype(ours, case.outputs["output"], **case.tolerance("output"))


@given(S.feature_map_shapes(max_side=5), S.prior_params())
def test_prior_matches_the_kits_anchors(shape, params):
    expected = S.prior_boxes(shape, **params)
    ours = torch_prior(*shape, **params).numpy()
    assert_allclose_dtype(ours, expected)
