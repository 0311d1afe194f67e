"""`ssdref.contrib.symbol` (= `ssdref.sym.contrib`): the contrib ops as Symbol functions.

`MultiBoxPrior(data, sizes=..., name=...)` builds op `_contrib_MultiBoxPrior`, automatically named
`multiboxprior0` (the hint is the function name without `_contrib_`, lowercased).
"""
from __future__ import annotations

from ssdref.autograd import registry

CONTRIB_PREFIX = "_contrib_"


def contrib_ops() -> dict:
    """Python name (without `_contrib_`) -> OpDef, for every contrib op alias."""
    ops = {}
    for alias, opdef in registry.all_aliases().items():
        if opdef.contrib:
            ops[alias[len(CONTRIB_PREFIX):] if alias.startswith(CONTRIB_PREFIX) else alias] = opdef
    return ops


def __getattr__(name):
    opdef = contrib_ops().get(name)
    if opdef is None:
        raise AttributeError(f"module 'ssdref.contrib.symbol' has no attribute {name!r}")
    from ssdref.symbol import make_symbol_function
    function = make_symbol_function(opdef, name)
    globals()[name] = function
    return function


def __dir__():
    return sorted(set(globals()) | set(contrib_ops()))
