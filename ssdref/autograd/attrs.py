"""MXNet's attribute strings: how a Symbol stores what the user passed.

Mirrors: python/mxnet/symbol/symbol.py (`_set_attr`, `var`) and nnvm's hidden keys (1.9.1), spec
mxnet-graph-formats.md §1. Op params and `__shape__` are kept as the `str` MXNet writes under its
NumPy 1.x (`attr_str`); `lr_mult`, `wd_mult`, `ctx_group`, ... are stored as `__key__`
(`hidden_key`) and shown under both names by `list_attr` (`with_plain_keys`); a variable's declared
shape is checked and parsed back from its `__shape__` string (`check_shape`, `parse_shape_attr`).
"""
from __future__ import annotations

import ast

import numpy as np

from ssdref.autograd.graph import HIDDEN_KEYS


def hidden_key(key: str, is_op: bool) -> str:
    if key in HIDDEN_KEYS:
        return f"__{key}__"
    if is_op and not (key.startswith("__") and key.endswith("__")):
        for word in HIDDEN_KEYS:
            if key.endswith(word):
                raise ValueError(
                    f"setting variable attributes with {key} is deprecated. please instead use\n"
                    f"w = Variable({word}=2)\nsym = YourSymbolName(weight=w)")
    return key


def attr_str(value) -> str:
    """`str(value)` as MXNet stores op params and `__shape__` under its NumPy 1.x.

    NumPy 2 writes scalars inside containers as `np.int64(3)`; NumPy 1.x (MXNet 1.9.1's) wrote
    `3`, so numpy scalars inside tuples and lists are written with their own `str`."""
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        inner = ", ".join(attr_str(v) if isinstance(v, (np.generic, tuple, list)) else repr(v)
                          for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def with_plain_keys(attrs: dict) -> dict:
    """MXNet's list_attr view: every `__hidden__` key also appears without its underscores."""
    shown = dict(attrs)
    for key in HIDDEN_KEYS:
        if f"__{key}__" in attrs:
            shown[key] = attrs[f"__{key}__"]
    return shown


def check_shape(name, shape):
    """A variable's declared shape: a tuple of ints >= 0 (0: unknown, as MXNet), else a clear error."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape):
        raise TypeError(f"Variable {name!r}: shape must be a tuple of integers, got {shape!r}")
    if any(d < 0 for d in shape):
        raise ValueError(f"Variable {name!r}: shape must have dimensions >= 0 (0: unknown), got "
                         f"{tuple(shape)}")
    return tuple(int(d) for d in shape)


def parse_shape_attr(text: str, name="variable"):
    """The tuple stored in a `__shape__` attr (`'(1, 3, 8, 8)'`)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"Variable {name!r}: __shape__ must be a tuple of integers, got {text!r}") from None
    return check_shape(name, value if isinstance(value, (tuple, list)) else (value,))

