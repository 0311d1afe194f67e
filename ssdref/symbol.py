"""`ssdref.sym` (= `ssdref.symbol`): MXNet's symbol namespace, one function per registered op.

Mirrors: python/mxnet/symbol/ (1.9.1). `sym.Convolution(data, kernel=(3, 3), num_filter=8,
name='conv1')` builds a graph node through the op registry (`ssdref.autograd.registry`); the
functions are generated on first use from `registry.all_aliases()`, contrib ops living in
`sym.contrib` (= `ssdref.contrib.symbol`). The automatic name hint is the lowercased function
name (`sym.Concat` and `sym.concat` share the `concat` counter).
"""
from __future__ import annotations

from ssdref.autograd import registry
from ssdref.autograd.symbol import (NotImplementedForSymbol, Symbol, Variable, create_op, Group,
                                    var)
from ssdref.autograd.symbol_json import load, load_json
from ssdref.contrib import symbol as contrib

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json", "contrib",
           "NotImplementedForSymbol", "make_symbol_function"]


def make_symbol_function(opdef, func_name: str):
    """The generated `sym.<func_name>(*inputs, name=None, attr=None, **params_and_inputs)`."""
    hint = func_name.lower()

    def op_function(*args, name=None, attr=None, **kwargs):
        return create_op(opdef, hint, args, kwargs, name=name, attr=attr)

    op_function.__name__ = op_function.__qualname__ = func_name
    op_function.__doc__ = f"Symbol of MXNet operator {opdef.name}.\n\n{opdef.doc}".rstrip()
    return op_function


def __getattr__(name):
    opdef = registry.all_aliases().get(name)
    if opdef is None or opdef.contrib:
        raise AttributeError(f"module 'ssdref.symbol' has no attribute {name!r}")
    function = make_symbol_function(opdef, name)
    globals()[name] = function
    return function


def __dir__():
    ops = [alias for alias, opdef in registry.all_aliases().items() if not opdef.contrib]
    return sorted(set(globals()) | set(ops))
