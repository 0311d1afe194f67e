"""ssdref.optimizer: SGD bit-exact with MXNet 1.9.1's recorded updates, lr_mult/wd_mult, schedules."""
import json
import os

import numpy as np
import pytest

from ssdref import optimizer as opt_mod
from ssdref.optimizer import FactorScheduler, MultiFactorScheduler, SGD, create, get_updater, sgd_update

DATA = os.path.join(os.path.dirname(__file__), "data", "sgd")
with open(os.path.join(DATA, "sgd_cases.json")) as _f:
    RECORDED = json.load(_f)


@pytest.fixture(scope="module")
def recorded_arrays():
    with np.load(os.path.join(DATA, "sgd_cases.npz")) as npz:
        return {k: npz[k] for k in npz.files}


class FakeSymbol:
    """What SGD reads from a Symbol: attr_dict() and list_arguments()."""

    def attr_dict(self):
        return RECORDED["attr_dict"]

    def list_arguments(self):
        return RECORDED["list_arguments"]


@pytest.mark.parametrize("case", RECORDED["cases"], ids=[c["name"] for c in RECORDED["cases"]])
@pytest.mark.parametrize("sym_form", ["symbol", "dict"])
def test_updates_match_mxnet_bit_for_bit(case, sym_form, recorded_arrays):
    names = RECORDED["param_names"]
    if sym_form == "symbol":
        sym = FakeSymbol()
    else:   # a plain dict: every key counts as an argument, so drop the op nodes' entries
        sym = {k: v for k, v in RECORDED["attr_dict"].items() if k in RECORDED["list_arguments"]}
    kwargs = {k: case[k] for k in ("momentum", "wd", "learning_rate", "rescale_grad", "clip_gradient")}
    if case["steps"]:
        kwargs["lr_scheduler"] = MultiFactorScheduler(step=case["steps"], factor=case["factor"])
    opt = create("sgd", sym=sym, param_idx2name=dict(enumerate(names)), **kwargs)
    assert opt.lr_mult == case["lr_mult"]
    assert opt.wd_mult == case["wd_mult"]
    updater = get_updater(opt)
    weights = [recorded_arrays[f"{case['name']}/w0/{n}"].copy() for n in names]
    for step in range(1, 6):
        grads = [recorded_arrays[f"{case['name']}/g{step}/{n}"] for n in names]
        updater(list(range(len(names))), grads, weights)
        for n, w in zip(names, weights):
            want = recorded_arrays[f"{case['name']}/w{step}/{n}"]
            assert w.dtype == want.dtype
            assert w.tobytes() == want.tobytes(), f"{case['name']} step {step} {n}"
        base_lr = opt.lr_scheduler.base_lr if opt.lr_scheduler else opt.lr
        assert base_lr == case["base_lr_after_each_step"][step - 1]
    assert opt.num_update == case["num_update"]


def test_momentum_step_matches_the_hand_computed_float32_formula():
    w = np.array([1.0, -2.0, 0.5], np.float32)
    g = np.array([0.5, 0.25, -4.0], np.float32)
    mom = np.array([0.1, 0.0, -0.2], np.float32)
    lr, wd, mu, rescale = 0.1, 0.01, 0.9, 0.5
    f = np.float32
    want_mom = (f(mu) * mom - (f(lr) * f(wd)) * w) - (f(lr) * f(rescale)) * g
    new_w, new_mom = sgd_update(w, g, mom, lr=lr, wd=wd, momentum=mu, rescale_grad=rescale)
    assert new_mom.tobytes() == want_mom.tobytes()
    assert new_w.tobytes() == (w + want_mom).tobytes()
    np.testing.assert_allclose(new_w, [1.064, -2.0105, 0.5195], rtol=1e-6)
    assert mom[0] == f(0.1) and w[0] == 1.0       # inputs untouched


def test_no_momentum_matches_the_spec_example():
    w = np.array([1.0, -2.0], np.float32)
    new_w, state = sgd_update(w, np.full(2, 0.5, np.float32), None, lr=0.1, wd=0.01)
    assert state is None
    np.testing.assert_allclose(new_w, [0.949, -2.048], rtol=1e-6)


def test_clip_applies_to_the_rescaled_gradient_and_zero_or_negative_means_no_clip():
    w = np.zeros(3, np.float32)
    g = np.array([10.0, -10.0, 0.1], np.float32)
    clipped, _ = sgd_update(w, g, None, lr=1.0, wd=0.0, rescale_grad=0.5, clip_gradient=1.0)
    np.testing.assert_array_equal(clipped, np.float32([-1.0, 1.0, -0.05]))
    for off in (None, 0, 0.0, -1.0):
        unclipped, _ = sgd_update(w, g, None, lr=1.0, wd=0.0, rescale_grad=0.5, clip_gradient=off)
        np.testing.assert_array_equal(unclipped, np.float32([-5.0, 5.0, -0.05]))


def test_float64_weights_use_float32_rounded_constants_like_mxnet():
    w = np.array([1.0], np.float64)
    g = np.array([1.0], np.float64)
    new_w, _ = sgd_update(w, g, None, lr=0.1, wd=0.0)
    assert new_w[0] == 1.0 - float(np.float32(0.1))
    assert new_w.dtype == np.float64


def test_wd_mult_is_zero_unless_weight_or_gamma_and_attr_overrides():
    names = ["conv_weight", "conv_bias", "bn_gamma", "bn_beta", "relu4_3_scale", "fc_bias"]
    sym = {"relu4_3_scale": {"__wd_mult__": "0.1", "__lr_mult__": "2"}, "fc_bias": {"__wd_mult__": "3"}}
    opt = SGD(learning_rate=0.1, wd=0.5, sym=sym, param_idx2name=dict(enumerate(names)))
    assert opt.wd_mult == {"conv_bias": 0.0, "bn_beta": 0.0, "relu4_3_scale": 0.1, "fc_bias": 3.0}
    assert opt.lr_mult == {"relu4_3_scale": 2.0}
    assert [opt._get_wd(i) for i in range(6)] == [0.5, 0.0, 0.5, 0.0, 0.5 * 0.1, 1.5]
    assert opt._get_lr(4) == 0.1 * 2.0 and opt._get_lr("relu4_3_scale") == 0.1 * 2.0


def test_lr_mult_only_from_attributes_of_listed_arguments():
    class Sym:
        def attr_dict(self):
            return {"conv": {"__lr_mult__": "5"}, "conv_weight": {"__lr_mult__": "0.5"}}

        def list_arguments(self):
            return ["data", "conv_weight"]

    opt = SGD(sym=Sym(), param_idx2name={0: "conv_weight"})
    assert opt.lr_mult == {"conv_weight": 0.5}


def test_multifactor_scheduler_decays_after_the_step_not_at_it():
    sched = MultiFactorScheduler(step=[3, 5], factor=0.1, base_lr=1.0)
    lrs = [sched(n) for n in range(1, 8)]
    assert lrs == [1.0, 1.0, 1.0, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]
    # The example's schedule: epoch_size 517, lr-steps 80,160 -> first decay at update 41361.
    ssd = MultiFactorScheduler(step=[517 * 80, 517 * 160], factor=0.1, base_lr=0.002)
    assert ssd(41360) == 0.002 and ssd(41361) == 0.002 * 0.1


def test_multifactor_scheduler_jumps_several_steps_on_resume():
    sched = MultiFactorScheduler(step=[2, 4, 6], factor=0.5, base_lr=8.0)
    assert sched(100) == 1.0 and sched.cur_step_ind == 3


def test_factor_scheduler_and_floor():
    sched = FactorScheduler(step=2, factor=0.5, base_lr=1.0, stop_factor_lr=0.2)
    assert [sched(n) for n in range(1, 9)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]


def test_linear_warmup_then_schedule():
    sched = MultiFactorScheduler(step=[10], factor=0.1, base_lr=1.0, warmup_steps=4, warmup_begin_lr=0.2)
    assert sched(0) == 0.2 and sched(2) == pytest.approx(0.6) and sched(4) == 1.0


def test_optimizer_learning_rate_overrides_the_schedulers_base_lr_with_a_printed_warning(capsys):
    sched = MultiFactorScheduler(step=[1], factor=0.1, base_lr=5.0)
    opt = SGD(learning_rate=0.002, lr_scheduler=sched)
    assert sched.base_lr == 0.002
    assert "overwritten" in capsys.readouterr().out
    assert opt.learning_rate == 0.002


def test_num_update_is_one_on_the_first_step_and_counts_per_index():
    opt = SGD(learning_rate=0.1, momentum=0.9)
    updater = get_updater(opt)
    w = np.ones(2, np.float32)
    updater(0, np.ones(2, np.float32), w)
    assert opt.num_update == 1
    updater(1, np.ones(2, np.float32), np.ones(2, np.float32))
    assert opt.num_update == 1
    updater(0, np.ones(2, np.float32), w)
    assert opt.num_update == 2
    assert updater.states[0].dtype == np.float32


def test_bad_inputs_raise_clear_errors():
    w = np.ones(2, np.float32)
    with pytest.raises(TypeError, match="grad must have the weight's dtype"):
        sgd_update(w, np.ones(2, np.float64), None, lr=0.1, wd=0)
    with pytest.raises(ValueError, match="grad must have the weight's shape"):
        sgd_update(w, np.ones(3, np.float32), None, lr=0.1, wd=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        sgd_update(np.ones(2, np.int32), np.ones(2, np.int32), None, lr=0.1, wd=0)
    with pytest.raises(ValueError, match="name must be one of"):
        create("adam")
    with pytest.raises(ValueError, match="increasing"):
        MultiFactorScheduler(step=[5, 5])
    with pytest.raises(ValueError, match="step must be >= 1"):
        FactorScheduler(step=0)
    with pytest.raises(TypeError, match="sym must be a Symbol"):
        SGD(sym=42)
    assert opt_mod.create("SGD").lr == 0.01
