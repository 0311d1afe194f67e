"""ssdref.model.init: MXNet's initializer names, JSON, dispatch rules and formulas (spec graph-formats §7)."""
import json

import numpy as np
import pytest

import ssdref
from ssdref.model import init
from ssdref.model.init import (Constant, InitDesc, MSRAPrelu, Normal, One, Uniform, Xavier, Zero,
                               create, init_params)


@pytest.mark.parametrize("initializer, expected", [
    (Xavier(), '["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]'),
    (Xavier(magnitude=2.0, factor_type="in"),
     '["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.0}]'),
    (Constant(20), '["constant", {"value": 20}]'),
    (Constant(0.0), '["constant", {"value": 0.0}]'),
    (Normal(), '["normal", {"sigma": 0.01}]'),
    (Uniform(), '["uniform", {"scale": 0.07}]'),
    (Zero(), '["zero", {}]'),
    (One(), '["one", {}]'),
    (MSRAPrelu(), '["msraprelu", {"factor_type": "avg", "slope": 0.25}]'),
])
def test_dumps_gives_mxnet_json_strings(initializer, expected):
    assert initializer.dumps() == expected


def test_constant_with_array_value_dumps_a_list():
    assert Constant(np.array([1.0, 2.0])).dumps() == '["constant", {"value": [1.0, 2.0]}]'


@pytest.mark.parametrize("text", ['["constant", {"value": 20}]', '["zeros", {}]', '["ones", {}]',
                                  '["xavier", {"rnd_type": "gaussian", "factor_type": "out", '
                                  '"magnitude": 2}]', "normal"])
def test_create_round_trips_dumps(text):
    created = create(text)
    assert create(created.dumps()) == created


def test_ssdref_init_namespace_is_this_module():
    assert ssdref.init.Xavier is Xavier and ssdref.init.Constant is Constant


def test_own_init_attribute_beats_the_name_suffix():
    # SSD's pred-conv biases carry Constant(0.0); an odd __init__ on a bias must still win.
    bias = np.full(4, 7.0, np.float32)
    Xavier()(InitDesc("head_bias", {"__init__": '["constant", {"value": 0.5}]'}), bias)
    np.testing.assert_array_equal(bias, np.full(4, 0.5, np.float32))
    scale = np.zeros((1, 8, 1, 1), np.float32)
    Xavier()(InitDesc("relu4_3_scale", {"__init__": Constant(20).dumps()}), scale)
    assert np.all(scale == 20) and scale.dtype == np.float32


@pytest.mark.parametrize("name, value", [("conv1_bias", 0.0), ("bn_beta", 0.0), ("bn_gamma", 1.0),
                                         ("q_min", 0.0), ("q_max", 1.0)])
def test_name_suffix_defaults(name, value):
    arr = np.full((3,), 9.0)
    Uniform()(InitDesc(name), arr)
    assert np.all(arr == value)


def test_unknown_suffix_without_init_attr_raises_like_mxnet():
    with pytest.raises(ValueError, match="unknown initialization pattern for bn_moving_mean"):
        Xavier()(InitDesc("bn_moving_mean"), np.zeros(3))


def test_batchnorm_aux_states_use_their_init_attrs():
    mean, var = np.full(3, 5.0), np.full(3, 5.0)
    Xavier()(InitDesc("bn_moving_mean", {"__init__": '["zero", {}]'}), mean)
    Xavier()(InitDesc("bn_moving_var", {"__init__": '["one", {}]'}), var)
    assert np.all(mean == 0) and np.all(var == 1)


@pytest.mark.parametrize("name, value", [("bn_moving_mean", 0.0), ("bn_moving_var", 1.0),
                                         ("x_moving_avg", 0.0), ("bn_moving_inv_var", 0.0),
                                         ("fc_bias", 0.0), ("bn_gamma", 1.0)])
def test_plain_string_name_uses_the_legacy_table(name, value):
    arr = np.full(2, 9.0)
    Xavier()(name, arr)
    assert np.all(arr == value)


def test_xavier_bound_matches_spec_for_a_conv_kernel():
    # spec §7: conv (64, 3, 3, 3) -> bound sqrt(3 / ((27 + 576) / 2)) = 0.09975
    weight = np.zeros((64, 3, 3, 3), np.float32)
    Xavier()(InitDesc("conv1_1_weight"), weight, rng=np.random.default_rng(1))
    bound = np.sqrt(3.0 / ((3 * 9 + 64 * 9) / 2.0))
    assert bound == pytest.approx(0.09975, abs=1e-5)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound


def test_xavier_gaussian_out_uses_std_scale():
    weight = np.zeros((256, 512, 3, 3))
    Xavier("gaussian", "out", 2)(InitDesc("w_weight"), weight, rng=np.random.default_rng(2))
    assert weight.std() == pytest.approx(np.sqrt(2.0 / (256 * 9)), rel=0.01)


def test_xavier_rejects_vectors_and_bad_types():
    with pytest.raises(ValueError, match="at least 2-D, got fc_weight"):
        Xavier()(InitDesc("fc_weight"), np.zeros(4))
    with pytest.raises(ValueError, match="factor_type"):
        Xavier(factor_type="mean")(InitDesc("w_weight"), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="rnd_type"):
        Xavier(rnd_type="beta")(InitDesc("w_weight"), np.zeros((2, 2)))


def test_uniform_and_normal_ranges_and_determinism():
    a, b = np.zeros((50, 40)), np.zeros((50, 40))
    Uniform(0.5)(InitDesc("u_weight"), a, rng=np.random.default_rng(3))
    Uniform(0.5)(InitDesc("u_weight"), b, rng=np.random.default_rng(3))
    assert np.array_equal(a, b) and np.abs(a).max() <= 0.5
    Normal(0.1)(InitDesc("n_weight"), a, rng=np.random.default_rng(3))
    assert a.std() == pytest.approx(0.1, rel=0.05)


def test_module_seed_makes_draws_reproducible():
    a, b = np.zeros((4, 4)), np.zeros((4, 4))
    init.seed(7)
    Xavier()(InitDesc("w_weight"), a)
    init.seed(7)
    Xavier()(InitDesc("w_weight"), b)
    assert np.array_equal(a, b)


def test_init_params_goes_in_sorted_order_and_honours_attrs():
    args = {"b_weight": np.zeros((2, 3)), "a_weight": np.zeros((2, 3)), "s_scale": np.zeros(3),
            "c_bias": np.ones(2)}
    aux = {"bn_moving_var": np.zeros(2)}
    attrs = {"s_scale": {"__init__": '["constant", {"value": 20}]'},
             "bn_moving_var": {"__init__": '["one", {}]'}}
    init_params(Xavier(), args, aux, attrs, rng=np.random.default_rng(0))
    # sorted order: a_weight draws first from the generator
    first = np.zeros((2, 3))
    Xavier()(InitDesc("a_weight"), first, rng=np.random.default_rng(0))
    assert np.array_equal(args["a_weight"], first)
    assert np.all(args["s_scale"] == 20) and np.all(args["c_bias"] == 0)
    assert np.all(aux["bn_moving_var"] == 1)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="initializer must be one of"):
        create("bogus")
    with pytest.raises(TypeError, match="numpy.ndarray"):
        Zero()(InitDesc("w_weight"), [0.0, 1.0])
    with pytest.raises(TypeError, match="InitDesc or a str"):
        Zero()(3, np.zeros(2))
    assert json.loads(Xavier().dumps())[0] == "xavier"
