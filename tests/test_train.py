"""ssdref.train.train_ssd: the seed graph trained by momentum SGD, as example/ssd's train_net does it."""
import numpy as np
import pytest

from ssdref.data.shapes import ShapesIter
from ssdref.model.init import Xavier, init_params
from ssdref.train import INPUT_NAMES, build_symbols, init_rng, load_checkpoint, train_ssd

TINY = dict(network="tiny", data_shape=32, num_classes=3, batch_size=2, num_train=4, progress=False)
CONFIG = dict(ratios=[1], normalizations=-1)


@pytest.fixture(scope="module")
def two_updates():
    return train_ssd(epochs=1, learning_rate=0.01, config=CONFIG, **TINY)


def test_two_updates_give_finite_params_for_every_argument_but_data_and_label(two_updates):
    sym, args, aux, history = two_updates
    assert sorted(args) == sorted(n for n in sym.list_arguments() if n not in INPUT_NAMES)
    assert aux == {} and all(np.isfinite(a).all() and a.dtype == np.float32 for a in args.values())
    assert history["iteration"] == [1, 2] and history["epoch"] == [0, 0]
    assert len(history["cross_entropy"]) == 2 and len(history["epoch_smooth_l1"]) == 1
    assert np.isfinite(history["cross_entropy"]).all() and history["builder"]


def test_the_same_seed_trains_bit_identical_params(two_updates):
    again = train_ssd(epochs=1, learning_rate=0.01, config=CONFIG, **TINY)
    for name, value in two_updates.arg_params.items():
        np.testing.assert_array_equal(value, again.arg_params[name])
    assert again.history["cross_entropy"] == two_updates.history["cross_entropy"]


def test_one_update_is_sgd_with_the_seeds_lr_mult_and_wd_mult():
    """No momentum, one batch: w1 = w0 - lr*lr_mult*(grad + wd*wd_mult*w0), by hand from the graph."""
    lr, wd = 0.01, 0.01
    result = train_ssd(epochs=1, learning_rate=lr, momentum=0.0, wd=wd, config=CONFIG,
                       **dict(TINY, num_train=2))
    sym, _, _ = build_symbols("tiny", 32, 3, config=CONFIG)
    names = [n for n in sym.list_arguments() if n not in INPUT_NAMES]
    exe = sym.simple_bind(grad_req={n: "write" for n in names}, data=(2, 3, 32, 32), label=(2, 4, 6))
    params = {n: exe.arg_dict[n] for n in names}
    init_params(Xavier(rnd_type="gaussian", factor_type="out", magnitude=2), params, {}, sym.attr_dict(),
                rng=init_rng(0))
    w0 = {n: p.copy() for n, p in params.items()}
    data, label = next(iter(ShapesIter(2, 2, 32, seed=0)))
    exe.arg_dict["data"][...] = data
    exe.arg_dict["label"][...] = label
    exe.forward(is_train=True)
    exe.backward()
    bias = "relu3_1_cls_pred_conv_bias"       # seed: lr_mult 2, and no weight decay on biases
    weight = "conv2_1_weight"
    np.testing.assert_allclose(result.arg_params[bias], w0[bias] - 2 * lr * exe.grad_dict[bias],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.arg_params[weight],
                               w0[weight] - lr * (exe.grad_dict[weight] + wd * w0[weight]),
                               rtol=1e-5, atol=1e-7)


def test_warm_up_and_lr_steps_show_in_the_history():
    result = train_ssd(epochs=2, learning_rate=0.01, warmup_steps=2, lr_steps=[1], lr_factor=0.1,
                       config=CONFIG, **TINY)
    np.testing.assert_allclose(result.history["lr"], [0.005, 0.01, 0.001, 0.001])


def test_checkpoints_are_mxnet_params_that_load_back(tmp_path):
    prefix = str(tmp_path / "ck" / "ssd")
    result = train_ssd(epochs=1, learning_rate=0.01, config=CONFIG, checkpoint_prefix=prefix, **TINY)
    assert (tmp_path / "ck" / "ssd-symbol.json").exists()
    _, args, aux = load_checkpoint(prefix, 1)
    assert sorted(args) == sorted(result.arg_params) and aux == {}
    for name, value in result.arg_params.items():
        np.testing.assert_array_equal(args[name], value)


def test_missing_seed_falls_back_to_ssdrefs_own_builder_and_says_so(tmp_path):
    sym, cfg, builder = build_symbols("tiny", 32, 3, seed_path=str(tmp_path / "none.py"))
    assert "seed not found" in builder and cfg["network"] == "tiny"
    assert "det_out_output" in sym.list_outputs()


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train_ssd(epochs=0, **TINY)
    with pytest.raises(FloatingPointError, match="learning_rate must be lower"):
        train_ssd(epochs=3, learning_rate=1e8, momentum=0.0, config=CONFIG, **TINY)
