"""ssdref.model.symbol_api: the model code builds on ssdref by default, on another module on request."""
import types

import pytest

import ssdref
from ssdref.model import common
from ssdref.model.symbol_api import bound_module, symbol_module, using_symbol_module


def _fake_mx():
    fake = types.ModuleType("fake_mxnet")
    fake.sym = fake.symbol = types.SimpleNamespace()
    return fake


def test_default_symbol_module_is_ssdref():
    assert symbol_module() is ssdref


def test_using_symbol_module_switches_and_restores():
    fake = _fake_mx()
    with using_symbol_module(fake):
        assert symbol_module() is fake
        assert symbol_module(ssdref) is ssdref  # an explicit mx= always wins
    assert symbol_module() is ssdref


def test_using_symbol_module_rejects_a_module_without_sym():
    with pytest.raises(TypeError, match="must provide 'sym'"):
        with using_symbol_module(types.ModuleType("empty")):
            pass


def test_bound_module_binds_mx_on_builders_only():
    fake = _fake_mx()
    proxy = bound_module(common, fake, "common")
    assert proxy.__name__ == "common"
    assert proxy.multibox_layer.keywords == {"mx": fake}
    assert proxy.multi_layer_feature.func is common.multi_layer_feature
