"""`ssdref.contrib.ndarray` (= `ssdref.nd.contrib`): the contrib ops run imperatively on NumPy arrays."""
from __future__ import annotations

from ssdref.contrib.symbol import contrib_ops


def __getattr__(name):
    opdef = contrib_ops().get(name)
    if opdef is None:
        raise AttributeError(f"module 'ssdref.contrib.ndarray' has no attribute {name!r}")
    from ssdref.ndarray import make_ndarray_function
    function = make_ndarray_function(opdef, name)
    globals()[name] = function
    return function


def __dir__():
    return sorted(set(globals()) | set(contrib_ops()))
