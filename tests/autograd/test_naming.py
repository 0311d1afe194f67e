"""NameManager, Prefix and AttrScope: the spec's examples (mxnet-graph-formats.md §1.1, §1.3, §2.2)."""
import threading

import pytest

import graph_toy_ops  # noqa: F401  (registers the _test_* ops)
from ssdref import sym
from ssdref.autograd.naming import AttrScope, NameManager, Prefix


def test_counter_is_per_hint_and_given_names_pass_unchanged():
    manager = NameManager()
    assert [manager.get(None, "relu"), manager.get("", "relu"), manager.get("fc", "relu"),
            manager.get(None, "conv"), manager.get(None, "relu")] == ["relu0", "relu1", "fc", "conv0", "relu2"]


def test_nested_manager_starts_fresh_and_outer_counters_survive():
    x = sym.Variable("x")
    with NameManager():
        assert sym._test_FC(x, num_hidden=2).name == "_test_fc0"
        with NameManager():
            assert sym._test_FC(x, num_hidden=2).name == "_test_fc0"
        assert sym._test_FC(x, num_hidden=2).name == "_test_fc1"


def test_hint_is_the_lowercased_function_name_and_aliases_share_it():
    x = sym.Variable("x")
    with NameManager():
        names = [sym._test_Cat(x, x).name, sym._test_cat(x, x).name, sym._test_Cat(x, x).name]
    assert names == ["_test_cat0", "_test_cat1", "_test_cat2"]


def test_prefix_applies_to_given_and_generated_op_names_but_not_variables():
    with NameManager():
        with Prefix("p_"):
            v = sym.Variable("vv")
            auto = sym._test_FC(v, num_hidden=3)
            named = sym._test_FC(v, num_hidden=3, name="fc")
    assert v.name == "vv"
    assert auto.name == "p__test_fc0"
    assert named.name == "p_fc"
    assert named.list_arguments() == ["vv", "p_fc_weight", "p_fc_bias"]


def test_a_new_thread_gets_fresh_counters():
    x = sym.Variable("x")
    seen = []
    with NameManager():
        sym._test_tanh(x)
        sym._test_tanh(x)
        worker = threading.Thread(target=lambda: seen.append(sym._test_tanh(x).name))
        worker.start()
        worker.join()
        assert sym._test_tanh(x).name == "_test_tanh2"
    assert seen == ["_test_tanh0"]


def test_attr_scope_reaches_ops_variables_and_auto_created_inputs():
    with AttrScope(ctx_group="dev1", lr_mult="0.5"):
        v = sym.Variable("v")
        fc = sym._test_FC(v, num_hidden=2, name="fc")
    assert v.attr("__ctx_group__") == "dev1"
    assert v.attr("lr_mult") == "0.5"
    assert fc.attr("__lr_mult__") == "0.5"
    assert fc.attr_dict()["fc_weight"]["__ctx_group__"] == "dev1"
    assert sym.Variable("after").list_attr() == {}


def test_nested_attr_scopes_merge_inner_wins():
    with AttrScope(a="1", b="2"):
        with AttrScope(b="3"):
            inner = sym.Variable("inner")
        outer = sym.Variable("outer")
    assert inner.list_attr() == {"a": "1", "b": "3"}
    assert outer.list_attr() == {"a": "1", "b": "2"}


def test_attr_scope_values_must_be_strings():
    with pytest.raises(ValueError, match="string"):
        AttrScope(lr_mult=0.5)
