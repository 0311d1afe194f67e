"""MultiBoxPrior / MultiBoxTarget / MultiBoxDetection side by side with real MXNet 1.9.1.

Hypothesis draws small SSD geometries, padded labels (images without objects, valid-looking rows
after the terminating -1 row, a 'difficult' column), tied logits and probabilities (equal scores,
equal background probabilities, IoU exactly at a threshold), and every parameter the ops take.
Discrete outputs (cls_target, class ids, row order) must be equal and floats bit-exact (spec
semantics §0); the terminal summary prints the bit-exact share. The spec's §8 cases run as well.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdref.backends.conformance_cases import (GENERATORS, MULTIBOX_OPS, SPEC_ABORTS, SPEC_CASES,
                                              compare_case, describe)

import tolerances

EXAMPLES = {"_contrib_MultiBoxPrior": 200, "_contrib_MultiBoxTarget": 300,
            "_contrib_MultiBoxDetection": 300}


@pytest.mark.conformance
@pytest.mark.parametrize("op", MULTIBOX_OPS)
def test_multibox_op_matches_mxnet_bit_for_bit(op, mx, tally):
    @settings(max_examples=EXAMPLES[op])
    @given(st.data())
    def run(data):
        case = GENERATORS[op](data.draw)
        outcome = compare_case(case, mx, tolerances.tolerance(op, np.float32))
        tally(op, outcome)
        assert outcome.within_tol, f"{describe(case)}: {outcome.detail}"
    run()


# The spec semantics §8 cases (the catalogue, ssdref.cases.spec), bit for bit.
@pytest.mark.conformance
@pytest.mark.parametrize("name", list(SPEC_CASES))
def test_spec_case_matches_mxnet_bit_for_bit(name, mx, tally):
    case = SPEC_CASES[name]
    outcome = compare_case(case, mx, tolerances.tolerance(case.op, np.float32))
    tally(case.op, outcome)
    # The spec's refused cases (T6, T9b, T17b) must fail on both sides with a clear ssdref error; every
    # other case must run and agree bit for bit.
    if name in SPEC_ABORTS:
        assert outcome.both_raised and outcome.within_tol, f"{name}: {outcome.detail}"
    else:
        assert outcome.bit_exact and not outcome.both_raised, f"{name}: {outcome.detail}"



# ---- NaN and inf (docs/conventions.md, "NaN and inf"): MXNet's results, bit for bit ----
def _sprinkle(rng, arrays, share):
    for array in arrays:
        hit = rng.random_sample(array.shape) < share
        array[hit] = rng.choice([np.nan, np.inf, -np.inf], size=int(hit.sum()))


def _boxes(rng, shape):
    corners = np.sort(rng.random_sample(shape + (2, 2)), axis=-2).astype(np.float32)
    return corners.reshape(shape + (4,))[..., [0, 2, 1, 3]]


def _same(ours, theirs):
    return all(np.array_equal(o, t, equal_nan=True) for o, t in zip(ours, theirs))


@pytest.mark.conformance
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_detection_with_nan_and_inf_inputs_matches_mxnet_bit_for_bit(mx, backend):
    import ssdref
    from ssdref.backend import dispatch
    from ssdref.multibox.detection import multibox_detection
    for seed in range(150):
        rng = np.random.RandomState(seed)
        batch, num_anchors = 1 + seed % 2, 10
        anchors = _boxes(rng, (1, num_anchors))
        prob = rng.random_sample((batch, 3, num_anchors)).astype(np.float32)
        loc = rng.standard_normal((batch, num_anchors * 4)).astype(np.float32)
        _sprinkle(rng, (anchors, prob, loc), 0.1)
        params = dict(clip=bool(seed % 3), threshold=0.0, force_suppress=bool(seed % 5 == 0),
                      nms_threshold=float(rng.choice([0.3, 0.5, 1.0])),
                      nms_topk=int(rng.choice([-1, 3])))
        theirs = mx.nd.contrib.MultiBoxDetection(mx.nd.array(prob), mx.nd.array(loc),
                                                 mx.nd.array(anchors), **params).asnumpy()
        with ssdref.use_backend(backend):
            ours = dispatch(multibox_detection)(prob, loc, anchors, **params)
        assert _same([ours], [theirs]), f"seed {seed} {params}"


@pytest.mark.conformance
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_target_with_nan_and_inf_inputs_matches_mxnet_or_names_the_undefined_ranking(mx, backend):
    import ssdref
    from ssdref.backend import dispatch
    from ssdref.multibox.target import multibox_target
    compared = 0
    for seed in range(150):
        rng = np.random.RandomState(seed)
        batch, num_anchors, num_gt = 1 + seed % 2, 12, 3
        anchors = _boxes(rng, (1, num_anchors))
        classes = rng.randint(0, 3, (batch, num_gt, 1)).astype(np.float32)
        label = np.concatenate([classes, _boxes(rng, (batch, num_gt))], axis=2)
        logits = rng.standard_normal((batch, 3, num_anchors)).astype(np.float32)
        _sprinkle(rng, (anchors, label, logits), 0.05)
        if seed % 3 == 0:
            label[0, -1] = -1                          # a padded image: -1 terminates
        params = [{}, dict(negative_mining_ratio=3.0, negative_mining_thresh=0.5)][seed % 2]
        theirs = [x.asnumpy() for x in mx.nd.contrib.MultiBoxTarget(
            mx.nd.array(anchors), mx.nd.array(label), mx.nd.array(logits), **params)]
        with ssdref.use_backend(backend):
            try:
                ours = dispatch(multibox_target)(anchors, label, logits, **params)
            except ValueError as exc:
                assert "cls_pred must give a finite background probability" in str(exc)
                continue
        assert _same(ours, theirs), f"seed {seed} {params}"
        compared += 1
    assert compared >= 100
