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


def _check(result, tol, tally, name):
    from ssdref.backends.conformance_cases import Outcome
    assert result.note == "", result.note
    bad = []
    for m in result.measurements:
        limit = 0.0 if m.exact_required else (tol.backward if m.is_grad else tol.forward)
        ok = m.error <= limit
        tally(name, Outcome(m.error == 0.0, ok, m.error, ""))
        if not ok:
            bad.append(f"{m.name}: {m.error:.3g} > {limit:g}")
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
    """Outputs within 1e-4 and cls_label identical. Gradients: within 1e-4 of MXNet's. The only
    escape: a parameter of the layers listed in ESCAPE_LAYERS (the VGG layers below conv4_3's head,
    where MXNet's oneDNN float32 drifts up to 2.04e-3 from float64, measured) may differ from MXNet
    by up to ESCAPE_CAP, provided ssdref's float32 gradient is within OWN_FLOAT64_CAP of ssdref's
    float64 run (measured: <= 8.2e-7). The cap against MXNet is the independent referee: a bug in
    both ssdref precisions (graph wiring, buffer aliasing) moves ssdref far from MXNet and fails."""
    tol = tolerances.TOLERANCES["ssd:vgg16_reduced_300"]
    result = compare_ssd(mx, "vgg16_reduced", batch=2, seed=1, num_classes=20)
    assert result.note == "", result.note
    assert len(result.grads) == 71   # 73 arguments less data and label (spec semantics §10.5)
    ours, theirs = result.outputs["cls_label_output"]
    np.testing.assert_array_equal(ours, theirs)
    from ssdref.backends.conformance_cases import Outcome
    for m in result.measurements:
        if not m.is_grad:
            limit = 0.0 if m.exact_required else tol.forward
            tally("ssd:vgg16_reduced_300", Outcome(m.error == 0.0, m.error <= limit, m.error, ""))
            assert m.error <= limit, f"{m.name}: {m.error:.3g} > {limit:g}"
    over = {m.name[5:] for m in result.measurements if m.is_grad and m.error > tol.backward}
    referee = float64_referee(result, "vgg16_reduced", 20) if over else {}
    bad = []
    for m in result.measurements:
        if not m.is_grad:
            continue
        name = m.name[5:]
        ok = m.error <= tol.backward or (name in ESCAPE_LAYERS and m.error <= ESCAPE_CAP
                                         and referee[name][0] <= OWN_FLOAT64_CAP)
        tally("ssd:vgg16_reduced_300", Outcome(m.error == 0.0, ok, m.error, ""))
        if not ok:
            bad.append(f"{name}: vs MXNet {m.error:.3g}; vs float64 ours {referee[name][0]:.3g}, "
                       f"MXNet {referee[name][1]:.3g}")
    print(f"vgg16_reduced SSD300: {len(over)} of {len(result.grads)} gradients beyond {tol.backward:g} "
          f"of MXNet float32; referee: {referee}")
    assert bad == []


# The parameters allowed the float32 escape above: conv1_1 ... conv4_3, the 10 convolutions below
# the first head, whose gradients accumulate MXNet's oneDNN float32 drift (19 of these 20 were
# beyond 1e-4 of MXNet in the measured run, MXNet 4.5e-7 ... 2.04e-3 from float64).
ESCAPE_LAYERS = {f"{layer}_{kind}" for layer in ("conv1_1", "conv1_2", "conv2_1", "conv2_2",
                                                 "conv3_1", "conv3_2", "conv3_3", "conv4_1",
                                                 "conv4_2", "conv4_3") for kind in ("weight", "bias")}
ESCAPE_CAP = 5e-3
OWN_FLOAT64_CAP = 1e-5


@pytest.mark.conformance
@pytest.mark.parametrize("network", ["tiny", "vgg16_reduced"])
def test_symbol_json_loads_across_engines(mx, network):
    """ssdref's tojson() loads in MXNet and MXNet's in ssdref: same arguments, outputs, aux, shapes."""
    assert json_round_trip(mx, network) == []
