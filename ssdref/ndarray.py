"""`ssdref.nd` (= `ssdref.ndarray`): every registered op run imperatively on NumPy arrays.

Mirrors: python/mxnet/ndarray/ (1.9.1) for the calls SSD code makes:
`nd.Convolution(data=x, weight=w, bias=b, kernel=(3, 3), num_filter=8)` runs the op's forward
(inference mode) and returns the output array, or a list when the op has several visible
outputs. Inputs go positionally or by keyword in the op's declared order, all of them required;
mixed float dtypes are a TypeError. `nd.array`, `nd.zeros`, `nd.ones` are thin NumPy helpers
(MXNet's default dtype float32); arrays are plain `numpy.ndarray`s.
"""
from __future__ import annotations

import numpy as np

from ssdref.autograd import registry
from ssdref.contrib import ndarray as contrib

NDArray = np.ndarray
__all__ = ["NDArray", "array", "zeros", "ones", "empty", "contrib", "invoke", "make_ndarray_function"]


def array(source_array, ctx=None, dtype=None) -> np.ndarray:
    """A copy of `source_array`; dtype: given, else a NumPy array's own, else float32."""
    if dtype is None:
        dtype = source_array.dtype if isinstance(source_array, np.ndarray) else np.float32
    return np.array(source_array, dtype=dtype)


def zeros(shape, ctx=None, dtype=None, **kwargs) -> np.ndarray:
    return np.zeros(shape, dtype=dtype or np.float32)


def ones(shape, ctx=None, dtype=None, **kwargs) -> np.ndarray:
    return np.ones(shape, dtype=dtype or np.float32)


def empty(shape, ctx=None, dtype=None) -> np.ndarray:
    return np.zeros(shape, dtype=dtype or np.float32)


def _none_allowed(opdef, key) -> bool:
    param = opdef.param_index.get(key)
    return param is not None and param.kind.startswith("optional_")


def invoke(opdef, args, kwargs):
    """Run `opdef` forward (is_train False) on arrays; one array, or a list for several outputs."""
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    # None means "not given", except for an optional (None-allowed) parameter, where it is the
    # value None, as MXNet passes it ('None'): slice_axis(end=None) slices to the end.
    raw = {k: v for k, v in kwargs.items()
           if k not in arrays and (v is not None or _none_allowed(opdef, k))}
    if opdef.key_var_num_args and opdef.key_var_num_args not in raw:
        raw[opdef.key_var_num_args] = len(args) + len(arrays)
    params = opdef.parse_params(raw)
    input_names = opdef.all_inputs(params)
    if len(args) > len(input_names):
        raise ValueError(f"{opdef.name}: {len(args)} positional inputs given, the op takes "
                         f"{len(input_names)} ({', '.join(input_names)})")
    given = dict(zip(input_names, args))
    for key, value in arrays.items():
        if key not in input_names:
            raise ValueError(f"{opdef.name}: unknown input {key!r}; inputs are: {', '.join(input_names)}")
        if key in given:
            raise ValueError(f"{opdef.name}: input {key!r} given both positionally and by keyword")
        given[key] = value
    for name in input_names:
        if name not in given:
            raise ValueError(f"{opdef.name}: input {name!r} is required, inputs are: "
                             f"{', '.join(input_names)}")
        if not isinstance(given[name], np.ndarray):
            raise TypeError(f"{opdef.name}: {name} must be a numpy array, got {type(given[name]).__name__}")
    values = [given[name] for name in input_names]
    opdef.run_infer_type([v.dtype for v in values], params)  # mixed float dtypes -> TypeError
    num_args = len(tuple(opdef.inputs(params)))
    outputs, _ = opdef.forward(values[:num_args], values[num_args:], params, False)
    return outputs[0] if len(outputs) == 1 else list(outputs)


def make_ndarray_function(opdef, func_name: str):
    """The generated `nd.<func_name>(*inputs, out=None, name=None, **params_and_inputs)`."""

    def op_function(*args, out=None, name=None, **kwargs):
        result = invoke(opdef, args, kwargs)
        if out is not None:
            out[...] = result
            return out
        return result

    op_function.__name__ = op_function.__qualname__ = func_name
    op_function.__doc__ = f"Imperative MXNet operator {opdef.name}.\n\n{opdef.doc}".rstrip()
    return op_function


def __getattr__(name):
    opdef = registry.all_aliases().get(name)
    if opdef is None or opdef.contrib:
        raise AttributeError(f"module 'ssdref.ndarray' has no attribute {name!r}")
    function = make_ndarray_function(opdef, name)
    globals()[name] = function
    return function


def __dir__():
    ops = [alias for alias, opdef in registry.all_aliases().items() if not opdef.contrib]
    return sorted(set(globals()) | set(ops))
