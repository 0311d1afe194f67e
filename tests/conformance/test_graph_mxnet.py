"""The whole SSD on real MXNet 1.9.1 and on ssdref: the same builder code, the same parameters.

`ssdref.backends.mxnet_graph.compare_ssd` builds the train and deploy symbols with
`ssdref.model.config.get_symbol_train/get_symbol(..., mx=engine)` on both engines, draws the
parameters once and hands them to MXNet through an ssdref-written `.params` file (by name), runs one
training forward + backward on each, and measures every output and every parameter gradient.
Issue 5's bar: relative error <= 1e-4 for gradients (and the float outputs), cls_label exact.
"""
import numpy as np
import pytest

from ssdref.backends.mxnet_graph import compare_ssd, float64_referee, json_round_trip

import tolerances


# Detections are compared as MXNet's consumers read them (ssdref.testing.compare): rows whose scores
# tie within float32 rounding have no defined order between two engines whose class probabilities
# differ in the last bits (measured: SSD300 seeds 2 and 3 reorder such rows, a scaled error of 0.32,
# and pass the tie-aware comparison).
DETECTIONS = ("output:det_out_output", "output:deploy_detection")


def _output_ok(result, m, tol) -> bool:
    """Whether a forward output of `result` holds: detections tie-aware, cls_label exactly, the
    float outputs within tol.forward (scaled error)."""
    if m.name in DETECTIONS:
        from ssdref.testing.compare import assert_detections_equal
        try:
            assert_detections_equal(*result.outputs[m.name[len("output:"):]])
        except AssertionError:
            return False
        return True
    return m.error <= (0.0 if m.exact_required else tol.forward)


def _check(result, tol, tally, name):
    from ssdref.backends.conformance_cases import Outcome
    assert result.note == "", result.note
    bad = []
    for m in result.measurements:
        ok = (m.error <= (0.0 if m.exact_required else tol.backward)) if m.is_grad else \
            _output_ok(result, m, tol)
        tally(name, Outcome(m.error == 0.0, ok, m.error, ""))
        if not ok:
            bad.append(f"{m.name}: {m.error:.3g}")
    assert bad == []


@pytest.mark.conformance
def test_tiny_ssd_train_step_matches_mxnet(mx, tally):
    result = compare_ssd(mx, "tiny", batch=2, seed=0)
    assert len([m for m in result.measurements if m.is_grad]) == len(result.grads) > 10
    # cls_target-derived: identical labels, and it is not trivially all ignored
    ours, theirs = result.outputs["cls_label_output"]
    np.testing.assert_array_equal(ours, theirs)
    assert (theirs > 0).any() and (theirs == 0).any()
    _check(result, tolerances.TOLERANCES["ssd:tiny"], tally, "ssd:tiny")


@pytest.mark.conformance
@pytest.mark.slow
def test_vgg16_reduced_ssd300_train_step_matches_mxnet(mx, tally):
    """Outputs within 1e-4 (detections tie-aware), cls_label identical. Gradients: within 1e-4 of
    MXNet's, with one escape. The step is chaotic in float32: a forward value within rounding of a
    decision (max-pool, ReLU, hard-negative mining) flips, and every gradient below the flip moves,
    in MXNet's float32 as in ssdref's (measured: MXNet's oneDNN 2e-3 from float64 on conv1-conv4;
    ssdref's float32 0 ... 4.5e-3 by seed and convolution algorithm; ssdref.autograd.replay). So a
    gradient may differ from MXNet's by up to ESCAPE_CAP provided ssdref's float32 gradient is
    within OWN_BACKWARD_CAP of the exact (float64) backward of ssdref's own float32 forward
    (measured <= 2.9e-6): then all that separates the engines is which way the forward's near-ties
    fell, and the forward itself is held to 1e-4 above. A wiring or formula error that moves a
    gradient beyond ESCAPE_CAP still fails; a smaller one shared by both ssdref precisions is left
    to the float64 gradient checks of every op and to the tiny-SSD test above, which has no escape."""
    tol = tolerances.TOLERANCES["ssd:vgg16_reduced_300"]
    result = compare_ssd(mx, "vgg16_reduced", batch=2, seed=1, num_classes=20)
    assert result.note == "", result.note
    assert len(result.grads) == 71   # 73 arguments less data and label (spec semantics §10.5)
    ours, theirs = result.outputs["cls_label_output"]
    np.testing.assert_array_equal(ours, theirs)
    from ssdref.backends.conformance_cases import Outcome
    for m in result.measurements:
        if not m.is_grad:
            ok = _output_ok(result, m, tol)
            tally("ssd:vgg16_reduced_300", Outcome(m.error == 0.0, ok, m.error, ""))
            assert ok, f"{m.name}: {m.error:.3g}"
    over = {m.name[5:] for m in result.measurements if m.is_grad and m.error > tol.backward}
    own = own_backward_errors(result, "vgg16_reduced", 20) if over else {}
    bad = []
    for m in result.measurements:
        if not m.is_grad:
            continue
        name = m.name[5:]
        ok = m.error <= tol.backward or (m.error <= ESCAPE_CAP and own[name] <= OWN_BACKWARD_CAP)
        tally("ssd:vgg16_reduced_300", Outcome(m.error == 0.0, ok, m.error, ""))
        if not ok:
            bad.append(f"{name}: vs MXNet {m.error:.3g}; ssdref float32 vs its exact backward "
                       f"{own[name]:.3g}")
    print(f"vgg16_reduced SSD300: {len(over)} of {len(result.grads)} gradients beyond {tol.backward:g} "
          f"of MXNet float32; ssdref float32 vs the exact backward of its forward, worst: "
          f"{max(own.values(), default=0.0):.3g}")
    if bad:   # which engine's float32 moved: both against ssdref's float64 run of the whole step
        referee = float64_referee(result, "vgg16_reduced", 20)
        bad = [f"{line}; vs float64 ours {referee[line.split(':')[0]][0]:.3g}, MXNet "
               f"{referee[line.split(':')[0]][1]:.3g}" for line in bad]
    assert bad == []


def own_backward_errors(result, network, num_classes) -> dict:
    """For each gradient: ssdref's float32 gradient against the float64 backward of ssdref's own
    float32 forward (ssdref.autograd.replay.float64_backward), as scaled_error. The forward is run
    again on the same arguments and must give the same gradients bit for bit (determinism)."""
    import ssdref
    from ssdref.autograd.replay import float64_backward
    from ssdref.backends.measure import scaled_error
    from ssdref.backends.mxnet_graph import DATA_SHAPE, build
    net = build(ssdref, network, DATA_SHAPE[network], num_classes)
    names = net.list_arguments()
    exe = net.bind(ssdref.cpu(), args={n: result.args[n].copy() for n in names},
                   args_grad={n: np.zeros_like(result.args[n]) for n in names},
                   aux_states={n: result.aux[n].copy() for n in net.list_auxiliary_states()})
    exe.forward(is_train=True)
    exact = float64_backward(exe)
    exe.backward()
    errors = {}
    for name, (ours, _) in result.grads.items():
        np.testing.assert_array_equal(exe.grad_dict[name], ours, err_msg=f"{name}: not deterministic")
        errors[name] = scaled_error(ours.astype(np.float64), exact[name])
    return errors


# Measured on the 2-core EPYC (AVX-512), seeds 1-4, F(2x2) and F(4x4) Winograd: the escaped gradients
# 1e-4 ... 4.7e-3 from MXNet (im2col, seed 3: 4.5e-3 from float64), ssdref float32 vs its exact
# backward <= 2.9e-6. The cap leaves 2x for other machines' roundings, whose flips fall elsewhere.
ESCAPE_CAP = 1e-2
OWN_BACKWARD_CAP = 1e-5


@pytest.mark.conformance
@pytest.mark.parametrize("network", ["tiny", "vgg16_reduced"])
def test_symbol_json_loads_across_engines(mx, network):
    """ssdref's tojson() loads in MXNet and MXNet's in ssdref: same arguments, outputs, aux, shapes."""
    assert json_round_trip(mx, network) == []
