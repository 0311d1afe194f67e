"""Symbol API: variables, op composition, introspection order, attributes, arithmetic, indexing.

Expected values are the spec's verified MXNet 1.9.1 outputs (mxnet-graph-formats.md §1-§2).
"""
import copy

import numpy as np
import pytest

import graph_toy_ops  # noqa: F401  (registers the _test_* ops)
from ssdref import sym
from ssdref.autograd.naming import NameManager
from ssdref.autograd.symbol import NotImplementedForSymbol


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


# ---- Variables ------------------------------------------------------------------------------
class _Constant:
    def dumps(self):
        return '["constant", {"value": 20}]'


def test_variable_attrs_match_mxnet():
    v = sym.Variable("relu4_3_scale", shape=(1, 512, 1, 1), init=_Constant())
    assert v.attr_dict() == {"relu4_3_scale": {"__init__": '["constant", {"value": 20}]',
                                               "__shape__": "(1, 512, 1, 1)"}}
    w = sym.Variable("w", shape=(1, 3, 8, 8), lr_mult=2, wd_mult=0.0, dtype="float32", init="xavier-json")
    assert w.list_attr() == {"__shape__": "(1, 3, 8, 8)", "__lr_mult__": "2", "lr_mult": "2",
                             "__wd_mult__": "0.0", "wd_mult": "0.0", "__dtype__": "0",
                             "__init__": "xavier-json"}
    assert sym.Variable("d", dtype=np.float64).attr("__dtype__") == "1"


def test_variable_attr_hidden_keys_and_dunder_kwargs():
    v = sym.Variable("v", attr={"lr_mult": "3", "foo": "bar"}, __mine__=1)
    assert v.list_attr() == {"__lr_mult__": "3", "lr_mult": "3", "foo": "bar", "__mine__": "1"}
    assert v.attr("lr_mult") == "3" and v.attr("nope") is None


def test_variable_rejects_bad_names_and_plain_kwargs():
    with pytest.raises(TypeError, match="string"):
        sym.Variable(3)
    with pytest.raises(ValueError, match="must start and end with double underscores"):
        sym.Variable("v", foo=1)


def test_two_variables_of_one_name_are_two_nodes():
    group = sym.Group([sym.Variable("a"), sym.Variable("a")])
    assert group.list_arguments() == ["a", "a"]
    assert group.name is None
    assert repr(group) == "<Symbol group [a, a]>"


# ---- op composition ---------------------------------------------------------------------
def test_missing_inputs_become_variables_copying_the_op_attrs():
    fc = sym._test_FC(sym.Variable("x"), num_hidden=4, name="fc1", attr={"lr_mult": "2"})
    assert fc.list_arguments() == ["x", "fc1_weight", "fc1_bias"]
    assert fc.attr_dict()["fc1_weight"] == {"num_hidden": "4", "__lr_mult__": "2", "lr_mult": "2"}
    assert fc.list_attr() == {"num_hidden": "4", "__lr_mult__": "2", "lr_mult": "2"}
    explicit = sym.Variable("w")
    sym._test_FC(sym.Variable("x"), weight=explicit, num_hidden=4)
    assert explicit.list_attr() == {}


def test_default_params_are_not_stored_and_values_are_str():
    fc = sym._test_FC(sym.Variable("x"), num_hidden=4, no_bias=True)
    assert fc.list_attr() == {"num_hidden": "4", "no_bias": "True"}
    assert fc.attr("momentum") is None
    assert sym._test_BN(sym.Variable("x")).list_attr() == {}


def test_keyword_inputs_follow_declared_order():
    x, w, b = sym.Variable("x"), sym.Variable("w"), sym.Variable("b")
    assert sym._test_FC(bias=b, data=x, weight=w, num_hidden=2).list_arguments() == ["x", "w", "b"]


def test_dfs_post_order_over_declared_inputs():
    a, bb, cc = sym.Variable("a"), sym.Variable("bb"), sym.Variable("cc")
    out = sym._test_add(sym._test_add(cc, sym._test_mul(a, bb)), a)
    assert out.list_arguments() == ["cc", "a", "bb"]
    scaled = sym._test_mul(sym.Variable("l2_scale"), sym._test_tanh(sym.Variable("data")))
    assert scaled.list_arguments() == ["l2_scale", "data"]


def test_aux_states_and_batchnorm_init_rule():
    mean = sym.Variable("m", init="mine")
    bn = sym._test_BN(sym.Variable("x"), moving_mean=mean, name="bnq")
    assert bn.list_arguments() == ["x", "bnq_gamma", "bnq_beta"]
    assert bn.list_auxiliary_states() == ["m", "bnq_moving_var"]
    assert bn.list_inputs() == ["x", "bnq_gamma", "bnq_beta", "m", "bnq_moving_var"]
    assert bn.attr_dict()["m"]["__init__"] == "mine"
    assert bn.attr_dict()["bnq_moving_var"]["__init__"] == '["one", {}]'
    user_mean = sym.Variable("um")
    sym._test_BN(sym.Variable("x"), moving_mean=user_mean)
    assert user_mean.attr("__init__") == '["zero", {}]'


def test_variadic_op_counts_its_inputs():
    cat = sym._test_Cat(sym.Variable("a"), sym.Variable("b"), sym.Variable("c"))
    assert cat.list_attr() == {"num_args": "3"}
    assert cat.list_arguments() == ["a", "b", "c"]


def test_op_argument_errors_are_clear():
    x = sym.Variable("x")
    with pytest.raises(ValueError, match="unknown argument 'nope'"):
        sym._test_FC(x, num_hidden=2, nope=1)
    with pytest.raises(ValueError, match="weight_lr_mult is deprecated"):
        sym._test_FC(x, num_hidden=2, attr={"weight_lr_mult": "2"})
    with pytest.raises(ValueError, match="unknown input 'label'"):
        sym._test_FC(x, num_hidden=2, label=sym.Variable("l"))
    with pytest.raises(TypeError, match="positional arguments must be Symbols"):
        sym._test_FC(np.zeros(3), num_hidden=2)
    with pytest.raises(ValueError, match="single-output"):
        sym._test_tanh(sym._test_split2(x))
    with pytest.raises(AttributeError):
        sym.NoSuchOperator  # noqa: B018


# ---- outputs, indexing, internals -----------------------------------------------------------
def test_multi_output_indexing_and_names():
    sp = sym._test_split2(sym.Variable("x"), name="mt")
    assert sp.list_outputs() == ["mt_first", "mt_second"]
    assert len(sp) == 2 and sp.name == "mt" and sp[1].name == "mt"
    assert sp["mt_second"].list_outputs() == ["mt_second"]
    assert [s.list_outputs() for s in sp] == [["mt_first"], ["mt_second"]]
    with pytest.raises(IndexError):
        sp[2]
    with pytest.raises(ValueError, match='Cannot find output that matches name "nope"'):
        sp["nope"]


def test_get_internals_and_children():
    fc = sym._test_FC(sym._test_tanh(sym.Variable("x"), name="r"), num_hidden=2, name="fc")
    internals = fc.get_internals()
    assert internals.list_outputs() == ["x", "r_output", "fc_weight", "fc_bias", "fc_output"]
    assert internals["r_output"].name == "r"
    assert fc.get_children().list_outputs() == ["r_output", "fc_weight", "fc_bias"]
    assert sym.Variable("v").get_children() is None
    assert repr(fc) == "<Symbol fc>"


def test_compose_replaces_a_variable_in_a_copy():
    net = sym._test_FC(sym.Variable("data"), num_hidden=2, name="fc9")
    composed = net(data=sym.Variable("d2"))
    assert composed.list_arguments() == ["d2", "fc9_weight", "fc9_bias"]
    assert net.list_arguments() == ["data", "fc9_weight", "fc9_bias"]
    assert copy.copy(net).tojson() == net.tojson()


# ---- arithmetic -------------------------------------------------------------------------------
@pytest.mark.parametrize("build, name, op, scalar", [
    (lambda x, y: x + y, "_plus0", "elemwise_add", None),
    (lambda x, y: x - y, "_minus0", "elemwise_sub", None),
    (lambda x, y: x * y, "_mul0", "elemwise_mul", None),
    (lambda x, y: x / y, "_div0", "elemwise_div", None),
    (lambda x, y: x ** y, "_power0", "_power", None),
    (lambda x, y: x + 1, "_plusscalar0", "_plus_scalar", "1"),
    (lambda x, y: 1 + x, "_plusscalar0", "_plus_scalar", "1"),
    (lambda x, y: x - 1, "_minusscalar0", "_minus_scalar", "1"),
    (lambda x, y: 1 - x, "_rminusscalar0", "_rminus_scalar", "1"),
    (lambda x, y: x * 2, "_mulscalar0", "_mul_scalar", "2"),
    (lambda x, y: 2.0 * x, "_mulscalar0", "_mul_scalar", "2.0"),
    (lambda x, y: x / 2, "_divscalar0", "_div_scalar", "2"),
    (lambda x, y: 2 / x, "_rdivscalar0", "_rdiv_scalar", "2"),
    (lambda x, y: x ** 2, "_powerscalar0", "_power_scalar", "2"),
    (lambda x, y: 2 ** x, "_rpower_scalar0", "_rpower_scalar", "2"),
    (lambda x, y: -x, "_mulscalar0", "_mul_scalar", "-1.0"),
    (lambda x, y: x * np.float32(0.5), "_mulscalar0", "_mul_scalar", "0.5"),
])
def test_operator_names_ops_and_scalars(build, name, op, scalar):
    out = build(sym.Variable("x"), sym.Variable("y"))
    node = out._outputs[0][0]
    assert (out.name, node.op.name, out.attr("scalar")) == (name, op, scalar)


def test_arithmetic_refuses_arrays_inplace_and_bool():
    x = sym.Variable("x")
    with pytest.raises(TypeError, match="not supported"):
        x + np.ones(3)
    with pytest.raises(NotImplementedForSymbol):
        x += 1
    with pytest.raises(NotImplementedForSymbol):
        bool(sym.Variable("y"))


def test_mask_times_difference_names_like_ssd():
    mask, pred, target = sym.Variable("mask"), sym.Variable("pred"), sym.Variable("target")
    out = mask * (pred - target)
    assert [n.name for n in out._nodes() if not n.is_variable] == ["_minus0", "_mul0"]
    assert out.list_arguments() == ["mask", "pred", "target"]


def test_numpy_scalars_in_tuples_are_written_as_mxnet_under_numpy_1x_did():
    v = sym.Variable("s", shape=(1, np.int64(512), 1, 1))
    assert v.attr("__shape__") == "(1, 512, 1, 1)"
    fc = sym._test_FC(sym.Variable("x"), num_hidden=np.int32(3))
    assert fc.attr("num_hidden") == "3"
    cat = sym._test_Cat(sym.Variable("a"), num_args=2, attr={"__sizes__": "(0.1,0.141)"})
    assert cat.attr("__sizes__") == "(0.1,0.141)"
    from ssdref.autograd.symbol import attr_str
    assert attr_str((np.float32(0.5),)) == "(0.5,)" and attr_str([1, np.float64(0.25)]) == "[1, 0.25]"
    assert attr_str((3, 3)) == "(3, 3)" and attr_str([1, 2, 0.5]) == "[1, 2, 0.5]" and attr_str(1e-5) == "1e-05"
