"""Which module plays `mxnet` for the model code: ssdref by default, real MXNet for conformance.

The model code (common.py, networks/, symbol_builder.py) is written against MXNet's Symbol API
(`mx.sym.Convolution`, `mx.init.Constant`, `mx.symbol.contrib.MultiBoxPrior`, ...). Every builder
takes a keyword `mx=None`; None means "the current symbol module", which is `ssdref` unless a
`using_symbol_module(module)` block says otherwise. So the same code builds the same graph on
ssdref and on MXNet 1.9.1, and the seed (which calls `multi_layer_feature(...)` without `mx=`)
gets ssdref.

    import mxnet
    from ssdref.model import get_symbol_train, get_config
    with using_symbol_module(mxnet), mxnet.name.NameManager():
        net = get_symbol_train(**get_config('vgg16_reduced', 300, 20))   # a real mxnet.Symbol
"""
import contextlib
import contextvars
import functools
import importlib
import types

_CURRENT = contextvars.ContextVar("ssdref_symbol_module", default=None)


def symbol_module(mx=None):
    """Return the module that provides `sym`, `symbol`, `init` and `name`: `mx`, else the current one."""
    if mx is not None:
        return mx
    current = _CURRENT.get()
    if current is not None:
        return current
    return importlib.import_module("ssdref")


@contextlib.contextmanager
def using_symbol_module(module):
    """Within the block, model builders called without `mx=` build on `module` (e.g. real mxnet)."""
    if not hasattr(module, "sym") and not hasattr(module, "symbol"):
        raise TypeError(f"using_symbol_module: module must provide 'sym' or 'symbol', got {module!r}")
    token = _CURRENT.set(module)
    try:
        yield module
    finally:
        _CURRENT.reset(token)


def bound_module(module, mx, name=None):
    """A stand-in module whose public functions are `module`'s with `mx=mx` bound.

    Used to hand the seed (which calls `common.multibox_layer(...)` and
    `import_module('vgg16_reduced').get_symbol(...)` without `mx=`) a `common` and networks that
    build on a chosen symbol module.
    """
    proxy = types.ModuleType(name or module.__name__, module.__doc__)
    for attr in dir(module):
        value = getattr(module, attr)
        if attr.startswith("_"):
            continue
        if isinstance(value, types.FunctionType) and "mx" in value.__code__.co_varnames[
                :value.__code__.co_argcount + value.__code__.co_kwonlyargcount]:
            value = functools.partial(value, mx=mx)
        setattr(proxy, attr, value)
    return proxy
