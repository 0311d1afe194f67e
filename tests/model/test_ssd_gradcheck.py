"""Whole-graph gradient check of the tiny SSD in float64 (issue 3's acceptance, spec §4.4).

MXNet never forms SSD's scalar loss: SoftmaxOutput and MakeLoss emit their own gradients. Those
gradients are the derivative of the equivalent objective, with the targets held fixed at their values
at the base point (MultiBoxTarget passes no gradient):

    L = sum_{non-ignored anchors} -log p[cls_target] / N_cls
      + sum smooth_l1(loc_mask * (loc_pred - loc_target)) / N_loc

N_cls = non-ignored anchors in the batch, N_loc = strictly positive smooth-L1 elements. The executor's
gradient g of every parameter is checked along a random direction v against the central difference
(L(θ + h v) - L(θ - h v)) / 2h, which equals <g, v> when the backward is right (relative error
<= 1e-6 at the best of a few step sizes h).
"""
import numpy as np
import pytest

import ssdref.model as model
from ssdref import sym
from ssdref.autograd.gradcheck import relative_error

# Central-difference steps tried in turn, the best agreement counting: a large step along a random
# direction of a whole weight tensor can cross ReLU / max-pool kinks near the base point, a tiny one
# loses digits to float64 rounding where the directional derivative is small.
STEPS = (1e-7, 1e-6, 1e-8, 1e-5)


def _smooth_l1(x):
    ax = np.abs(x)
    return np.where(ax > 1.0, ax - 0.5, 0.5 * x * x)


@pytest.fixture(scope="module")
def tiny_ssd():
    net = model.get_symbol_train(**model.get_config("tiny", 64, num_classes=3))
    shapes = dict(data=(2, 3, 64, 64), label=(2, 3, 5))
    types = {"data": np.float64, "label": np.float64}
    exe = net.simple_bind(type_dict=types, **shapes)
    internals = net.get_internals()
    probe = sym.Group([internals[name] for name in (
        "multibox_cls_pred_output", "multibox_loc_pred_output", "multibox_target_loc_target",
        "multibox_target_loc_mask", "multibox_target_cls_target")])
    probe_exe = probe.simple_bind(grad_req="null", type_dict=types, **shapes)
    rng = np.random.default_rng(7)
    for name, array in exe.arg_dict.items():
        if name.endswith("weight"):
            fan_in = np.prod(array.shape[1:])
            array[...] = rng.standard_normal(array.shape) * np.sqrt(2.0 / fan_in)
        elif name.endswith("bias"):
            array[...] = rng.standard_normal(array.shape) * 0.1
        elif name.endswith("scale"):
            array[...] = 20.0 + rng.standard_normal(array.shape)
    exe.arg_dict["data"][...] = rng.standard_normal(shapes["data"])
    label = np.full(shapes["label"], -1.0)
    label[0, :2] = [[0, 0.1, 0.1, 0.45, 0.5], [2, 0.5, 0.4, 0.95, 0.9]]
    label[1, :1] = [[1, 0.2, 0.3, 0.7, 0.8]]
    exe.arg_dict["label"][...] = label
    return exe, probe_exe


@pytest.mark.slow
def test_tiny_ssd_parameter_gradients_equal_the_numerical_derivative_of_the_ssd_objective(tiny_ssd):
    exe, probe_exe = tiny_ssd
    exe.forward(is_train=True)
    exe.backward()
    params = [n for n in exe.arg_dict if n not in ("data", "label")]

    def run_probe():
        for name, array in exe.arg_dict.items():
            probe_exe.arg_dict[name][...] = array
        return [o.copy() for o in probe_exe.forward(is_train=False)]

    _, loc_base, loc_target, loc_mask, cls_target = run_probe()
    residual = loc_mask * (loc_base - loc_target)
    n_loc = max(1, int(np.sum(_smooth_l1(residual) > 0)))
    keep = cls_target >= 0
    n_cls = max(1, int(keep.sum()))
    assert keep.sum() > 0 and loc_mask.sum() > 0  # the case exercises both losses

    def objective():
        cls_pred, loc_pred = run_probe()[:2]
        z = cls_pred - cls_pred.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        picked = np.take_along_axis(log_p, np.where(keep, cls_target, 0).astype(int)[:, None, :], axis=1)[:, 0]
        cls_loss = -np.sum(picked * keep) / n_cls
        loc_loss = np.sum(_smooth_l1(loc_mask * (loc_pred - loc_target))) / n_loc
        return cls_loss + loc_loss

    rng = np.random.default_rng(11)
    worst = {}
    for name in params:
        theta = exe.arg_dict[name]
        v = rng.standard_normal(theta.shape)
        saved = theta.copy()
        analytic = float(np.sum(exe.grad_dict[name] * v))
        errors = []
        for h in STEPS:
            theta[...] = saved + h * v
            plus = objective()
            theta[...] = saved - h * v
            minus = objective()
            theta[...] = saved
            errors.append(relative_error(np.array([analytic]), np.array([(plus - minus) / (2 * h)])))
            if errors[-1] <= 1e-6:
                break
        worst[name] = min(errors)
    bad = {k: v for k, v in worst.items() if v > 1e-6}
    assert not bad, f"parameters whose gradient disagrees with the objective: {bad}"
    assert len(worst) == len(params) >= 30
