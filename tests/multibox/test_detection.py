"""MultiBoxDetection: spec §8 cases D1-D13 bit-exact on both backends; layout rules; bad inputs.

The spec cases' inputs, parameters and printed outputs are read from the catalogue
(`ssdref.cases.spec`), where the golden set and the conformance runs read them too."""
import numpy as np
import pytest

from ssdref.backend import dispatch
from ssdref.cases import spec
from ssdref.multibox.detection import multibox_detection

F = np.float32
SPEC = spec.by_name()
D1_PROB = SPEC["MultiBoxDetection_D1"].inputs["cls_prob"]
D1_ANCHORS = SPEC["MultiBoxDetection_D1"].inputs["anchor"]
D1_OUT = spec.D1_OUT
D3_ANCHORS = SPEC["MultiBoxDetection_D3b_topk_stale"].inputs["anchor"]
D3_PROB = SPEC["MultiBoxDetection_D3b_topk_stale"].inputs["cls_prob"]


def spec_case(name, **params):
    """The spec case `name` on the current backend: its inputs and parameters (overridden by `params`)."""
    case = SPEC[name]
    return dispatch(multibox_detection)(*case.inputs.values(), **{**case.params, **params})[0]


def detect(cls_prob, loc_pred, anchor, **kwargs):
    return dispatch(multibox_detection)(np.asarray(cls_prob, F), np.asarray(loc_pred, F),
                                        np.asarray(anchor, F), **kwargs)


def d1(**kwargs):
    return spec_case("MultiBoxDetection_D1", **kwargs)


def test_d1_defaults(backend, printed):
    out = d1()
    printed(out, D1_OUT)
    assert out[4, 1] == F(.01)          # score equal to the threshold is kept (D10)
    assert out[3, 0] == 0               # anchor 3: classes tie at .45, the lower class wins


def test_d2_force_suppress_crosses_classes(backend, printed):
    expected = np.array(D1_OUT)
    expected[3, 0] = -1
    printed(d1(force_suppress=True), expected)
    printed(spec_case("MultiBoxDetection_D2_force_suppress"), expected)


def test_d4_nms_threshold_zero_skips_sort_and_nms(backend, printed):
    expected = np.array(D1_OUT)
    expected[1, 0] = 0
    printed(d1(nms_threshold=0), expected)
    printed(d1(nms_threshold=1.5), expected)
    printed(spec_case("MultiBoxDetection_D4_nms0"), expected)


def test_d5_threshold_leaves_one_row_and_all_minus_one_rest(backend, printed):
    out = d1(threshold=.55)
    printed(out[0], D1_OUT[0])
    assert (out[1:] == -1).all()
    assert np.array_equal(spec_case("MultiBoxDetection_D5_threshold"), out)


def test_d6_background_id_is_accepted_but_unused(backend):
    assert np.array_equal(d1(background_id=2), d1())
    assert np.array_equal(spec_case("MultiBoxDetection_D6_background_id"), d1())


def test_d3b_rows_beyond_topk_are_stale_presort_rows(backend, printed):
    out = spec_case("MultiBoxDetection_D3b_topk_stale")
    assert SPEC["MultiBoxDetection_D3b_topk_stale"].params == {"nms_topk": 2}
    printed(out, spec.D3B_TOPK_STALE_OUT)
    unclipped = spec_case("MultiBoxDetection_D3b_noclip")
    assert SPEC["MultiBoxDetection_D3b_noclip"].params == {"nms_topk": 2, "clip": False}
    printed(unclipped[1], spec.D3B_NOCLIP_ROW1)


def test_d8_decode_uses_variances_and_expf(backend, printed):
    out = spec_case("MultiBoxDetection_D8_decode")
    printed(out[0, 2:], spec.D8_DECODED)


def test_d9_equal_scores_keep_anchor_order(backend):
    prob = np.array([[[.3, .3, .3], [.7, .7, .7]]], F)
    anchors = [[[0, 0, .1, .1], [.3, .3, .4, .4], [.6, .6, .7, .7]]]
    out = detect(prob, np.zeros((1, 12), F), anchors)[0]
    assert np.array_equal(out[:, 2], F([0, .3, .6]))


def test_d11_iou_exactly_at_nms_threshold_suppresses(backend):
    out = spec_case("MultiBoxDetection_D11_nms_at_threshold", nms_threshold=.5)
    assert out[:, 0].tolist() == [0, -1] and out[1, 1] == F(.8)


def test_strict_nms_comparator_keeps_iou_exactly_at_nms_threshold(backend):
    out = spec_case("MultiBoxDetection_D11_nms_at_threshold", nms_threshold=.5, nms_comparator=">")
    assert out[:, 0].tolist() == [0, 0]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("comparator", [">=", ">"])
def test_ssd_sized_kernel_equals_specification(batch, comparator):
    """Serial (batch 1) and image-parallel (batch > 1) kernel paths, many classes, ties, topk."""
    rng = np.random.RandomState(batch)
    num_anchors, num_classes = 1500, 8
    logits = rng.randn(batch, num_classes, num_anchors)
    prob = F(np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 3))
    loc = F(rng.randn(batch, num_anchors * 4) * .3)
    corner = rng.uniform(0, .8, (num_anchors, 2))
    anchors = F(np.concatenate([corner, corner + rng.uniform(.05, .3, (num_anchors, 2))], 1))[None]
    for topk, force in ((-1, False), (400, False), (200, True)):
        kw = dict(nms_threshold=.45, nms_topk=topk, force_suppress=force, nms_comparator=comparator)
        want = multibox_detection(prob, loc, anchors, **kw)
        got = dispatch(multibox_detection, "numba")(prob, loc, anchors, **kw)
        np.testing.assert_array_equal(got, want)


def test_d13_single_class_means_all_background(backend):
    assert SPEC["MultiBoxDetection_D13_one_class"].inputs["cls_prob"].shape == (1, 1, 3)
    assert (spec_case("MultiBoxDetection_D13_one_class") == -1).all()
    out = detect(np.ones((1, 1, 3), F), np.zeros((1, 12), F), D3_ANCHORS[:, :3])
    assert (out == -1).all()


def test_nms_topk_at_or_above_valid_count_sorts_everything(backend):
    for topk in (-1, 0, 5, 9):
        out = detect(D3_PROB, np.zeros((1, 20), F), D3_ANCHORS, nms_topk=topk)[0]
        assert out[:, 1].tolist() == sorted(out[:, 1].tolist(), reverse=True)
        assert (out[:, 0] == 0).all()


def test_batch_images_are_independent_and_float64_agrees(backend):
    rng = np.random.RandomState(3)
    prob = rng.dirichlet(np.ones(4), size=(2, 30)).transpose(0, 2, 1).astype(F)
    prob = np.round(prob, 1)
    loc = rng.randn(2, 120).astype(F) * F(.5)
    anchors = np.sort(rng.uniform(0, 1, (1, 30, 2, 2)), axis=2).reshape(1, 30, 4)[..., [0, 2, 1, 3]]
    anchors = anchors.astype(F)
    both = detect(prob, loc, anchors, nms_topk=10)
    for image in range(2):
        alone = detect(prob[image:image + 1], loc[image:image + 1], anchors, nms_topk=10)
        assert np.array_equal(both[image], alone[0])
    double = dispatch(multibox_detection)(prob.astype(np.float64), loc.astype(np.float64),
                                          anchors.astype(np.float64), nms_topk=10)
    assert double.dtype == np.float64
    np.testing.assert_allclose(double[..., 1:], both[..., 1:], atol=1e-5)


def test_inputs_are_not_mutated(backend):
    prob, loc, anchors = D1_PROB.copy(), np.ones((1, 20), F), D1_ANCHORS.copy()
    detect(prob, loc, anchors)
    assert np.array_equal(prob, D1_PROB) and np.array_equal(anchors, D1_ANCHORS)
    assert (loc == 1).all()


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((D1_PROB, np.zeros((1, 16), F), D1_ANCHORS), {}, ValueError, "loc_pred must have shape"),
    ((D1_PROB, np.zeros((1, 20), F), D1_ANCHORS[:, :4]), {}, ValueError, "anchor must have shape"),
    ((D1_PROB[0], np.zeros((1, 20), F), D1_ANCHORS), {}, ValueError, "cls_prob must be 3-D"),
    ((D1_PROB, np.zeros((1, 20)), D1_ANCHORS), {}, TypeError, "share one dtype"),
    ((D1_PROB, np.zeros((1, 20), F), D1_ANCHORS), {"nms_topk": 1.5}, TypeError, "nms_topk"),
    ((D1_PROB, np.zeros((1, 20), F), D1_ANCHORS), {"nms_comparator": ">>"}, ValueError,
     "nms_comparator must be '>=' or '>'"),
])
def test_bad_inputs_raise_clear_errors(backend, args, kwargs, error, match):
    with pytest.raises(error, match=f"MultiBoxDetection: .*{match}"):
        dispatch(multibox_detection)(*args, **kwargs)


@pytest.mark.parametrize("name, value", [("nms_topk", 10**20), ("nms_topk", -10**20),
                                         ("nms_topk", 2**31), ("background_id", -2**31 - 1)])
def test_integer_arguments_outside_int32_are_rejected_as_mxnet_does(backend, name, value):
    with pytest.raises(ValueError, match=f"MultiBoxDetection: {name} must be an int32 in "
                                         rf"\[-2147483648, 2147483647\], got {value}"):
        d1(**{name: value})


def test_int32_extremes_of_nms_topk_are_accepted(backend, printed):
    printed(d1(nms_topk=2**31 - 1), D1_OUT)
    printed(d1(nms_topk=-2**31), D1_OUT)


def test_decoded_boxes_overflowing_to_inf_run_through_nms_as_mxnet(backend):
    # expf(1e30 * 0.2) = inf: both boxes span x in (-inf, inf). IoU = inf / (inf + inf - inf) is
    # NaN, which suppresses nothing, so both stay (MXNet 1.9.1 and numba agree bit for bit; the
    # NumPy spec raised "nms: boxes must be finite" before).
    prob = np.array([[[.1, .2], [.9, .8]]], F)
    anchors = np.array([[[0, 0, .5, .5], [0, 0, .5, .5]]], F)
    loc = np.array([[0, 0, 1e30, 0, 0, 0, 1e30, 0]], F)
    out = detect(prob, loc, anchors, clip=False)[0]
    inf = np.inf
    expected = np.array([[0, .9, -inf, 0, inf, .5], [0, .8, -inf, 0, inf, .5]], F)
    np.testing.assert_array_equal(out, expected)
    clipped = detect(prob, loc, anchors, clip=True)[0]
    expected = np.array([[0, .9, 0, 0, 1, .5], [-1, .8, 0, 0, 1, .5]], F)
    np.testing.assert_array_equal(clipped, expected)


def test_nan_score_never_wins_the_class_pick_as_in_mxnet(backend, printed):
    # MXNet 1.9.1 (checked): a NaN probability loses every strict `>` of the scan from -1, so
    # anchor 0 takes class 2 (0.3) instead of class 1 (NaN); NaN in the background row is unread.
    prob = D1_PROB.copy()
    prob[0, 1, 0] = np.nan
    prob[0, 0, 3] = np.nan
    printed(d1_with(prob), [[0, .5, .05, 0, .55, .5], [1, .5, .5, .5, 1, 1],
                            [0, .45, .5, .5, 1, 1], [1, .3, 0, 0, .5, .5], [0, .01, .2, .2, .4, .4]])
    prob[0, 1:, 2] = np.nan                        # no class wins anchor 2: background
    out = d1_with(prob)
    assert np.isfinite(out).all() and (out[:, 0] >= 0).sum() == 4


def test_infinite_scores_sort_like_any_other(backend):
    prob = D1_PROB.copy()
    prob[0, 1, 1] = np.inf
    out = d1_with(prob)
    assert out[0, 1] == np.inf and out[1, :2].tolist() == [-1, np.float32(.6)]
    prob[0, 1, 1] = -np.inf                        # never > -1: anchor 1 goes to class 2 (0.3)
    assert d1_with(prob)[3, :2].tolist() == [1, np.float32(.3)]


@pytest.mark.parametrize("column, value, clipped, unclipped", [
    (0, np.nan, [1, 0, 1, .5], [np.nan, 0, np.nan, .5]),
    (2, np.inf, [0, 0, 1, .5], [-np.inf, 0, np.inf, .5]),
    (2, -np.inf, [.25, 0, .25, .5], [.25, 0, .25, .5]),
])
def test_nan_and_inf_loc_pred_decode_and_clip_as_mxnet(backend, column, value, clipped, unclipped):
    # clip is max(0, min(1, x)) with C++'s comparisons: NaN becomes 1.
    loc = np.zeros((1, 20), F)
    loc[0, column] = value
    for clip, expected in ((True, clipped), (False, unclipped)):
        out = detect(D1_PROB, loc, D1_ANCHORS, clip=clip)[0]
        np.testing.assert_array_equal(out[0, 2:], np.array(expected, F))
        assert out[0, 0] == 0


def test_nan_anchor_gives_nan_box_that_suppresses_nothing(backend):
    anchors = D1_ANCHORS.copy()
    anchors[0, 0, 0] = np.nan
    out = detect(D1_PROB, np.zeros((1, 20), F), anchors, clip=False)[0]
    np.testing.assert_array_equal(out[0], np.array([0, .6, np.nan, 0, np.nan, .5], F))
    assert out[1, 0] == 0               # anchor 1 (IoU > .5 with anchor 0 before) now survives


def d1_with(prob):
    return detect(prob, np.zeros((1, 20), F), D1_ANCHORS)[0]


@pytest.mark.parametrize("name, value, error", [
    ("threshold", 10**20, None), ("nms_threshold", 1e39, ValueError),
    ("threshold", float("nan"), ValueError), ("variances", "x", TypeError),
])
def test_float_parameters_are_checked_in_float32_as_mxnet_parses_them(backend, name, value, error):
    if error is None:
        d1(**{name: value})
        return
    with pytest.raises(error, match=f"MultiBoxDetection: {name}"):
        d1(**{name: value})
