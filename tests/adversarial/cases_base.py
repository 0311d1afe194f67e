"""Helpers of the adversarial case table (cases.py): tagged arrays, Call, Case, add()."""
from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field

import numpy as np

_DESC: dict[int, str] = {}
_KEEP: list = []
_RNG = np.random.default_rng(0)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "checkpoints")
TMP = tempfile.mkdtemp(prefix="ssdref-adv-")


def arr(shape, dtype="float32", fill=None, *, noncontig=False, readonly=False, low=0.0, high=1.0):
    """A tagged test array: random in [low, high) unless `fill` (a number) is given."""
    dtype = np.dtype(dtype)
    if dtype == object:
        a = np.empty(shape, dtype=object)
        a[...] = 1.0
    elif fill is not None:
        a = np.full(shape, fill, dtype=dtype)
    else:
        a = (_RNG.random(shape) * (high - low) + low).astype(dtype)
    tag = f"arr({tuple(shape)}, {dtype.name}" + ("" if fill is None else f", fill={fill}")
    if noncontig:
        big = np.repeat(a, 2, axis=-1)
        a = big[..., ::2]
        assert not a.flags.c_contiguous
        tag += ", noncontig"
    if readonly:
        a = a.copy() if not a.flags.writeable else a
        a.setflags(write=False)
        tag += ", readonly"
    _DESC[id(a)] = tag + ")"
    _KEEP.append(a)
    return a


def tag(a, text):
    _DESC[id(a)] = text
    _KEEP.append(a)
    return a


def describe(v):
    if isinstance(v, np.ndarray):
        return _DESC.get(id(v), f"ndarray{v.shape}:{v.dtype}")
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(describe(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    if isinstance(v, str) and len(v) > 80:
        return repr(v[:60] + "...")
    return repr(v)


@dataclass
class Call:
    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        parts = [describe(a) for a in self.args] + [f"{k}={describe(v)}" for k, v in self.kwargs.items()]
        if self.target == "cli":
            return f"ssdref.cli.main({describe(self.args[0])})"
        prefix = {"nd": "ssdref.nd.", "contrib": "ssdref.nd.contrib.", "fn": ""}[self.target.split(".")[0]]
        return f"{prefix}{self.target.split('.', 1)[1]}({', '.join(parts)})"


def C(target, *args, **kwargs):
    return Call(target, args, kwargs)


@dataclass
class Case:
    id: str
    call: Call
    expect: str
    names: tuple = ()
    allowed: tuple = ()          # extra exception type names accepted for "raise"
    check: str | None = None     # name of a check in run_bad_inputs.CHECKS for "ok"
    fast: bool = False           # in the in-process pytest subset
    backends: tuple = ("numpy", "numba", "cuda")


CASES: list[Case] = []


def add(id, call, expect, names=(), **kw):
    if isinstance(names, str):
        names = (names,)
    CASES.append(Case(id, call, expect, tuple(names), **kw))




import atexit  # noqa: E402
import shutil  # noqa: E402

atexit.register(shutil.rmtree, TMP, True)
