"""Op registry: MXNet operator name -> OpDef (parameters, inputs, shape rule and the layer pair).

The graph (`symbol.py`, `executor.py`) and the imperative `ssdref.nd` namespace both read this one
registry; neither knows any math. An OpDef only *wraps* the plain forward/backward functions of
`ssdref.layers` / `ssdref.multibox` (through `ssdref.backend.dispatch` for the hot ones).

Contract for an OpDef (the op-definition modules `ops_*.py` register theirs with `register`):

- `name`: the operator name MXNet writes in symbol JSON (`Convolution`, `elemwise_add`,
  `_contrib_MultiBoxTarget`, `_plus_scalar`).
- `aliases`: the Python function names exposed in `ssdref.sym` / `ssdref.nd` (`('Concat', 'concat')`);
  the automatic name hint of a call is the lowercased alias used (MXNet's rule: `concat0`), with a
  leading `_contrib_` removed for contrib ops (`multiboxprior0`).
- `params`: the MXNet arguments, each a `Param` (kind, default). Values arrive as Python values or
  as the strings MXNet's JSON holds (`'(3, 3)'`, `'True'`, `'0.5'`); `parse_params` turns them into
  Python values with defaults filled in. JSON keeps the strings as given (`str(v)` of the value).
- `inputs(params) -> tuple[str, ...]`: the declared argument inputs in order (`data, weight, bias`;
  no `bias` when `no_bias`). `aux(params)`: auxiliary-state inputs after them (BatchNorm's
  `moving_mean, moving_var`). A missing input becomes the variable `<node name>_<input name>`.
- `key_var_num_args`: for variadic ops (Concat) the parameter that counts the inputs (`num_args`),
  filled in from the number of positional inputs.
- `outputs(params) -> tuple[str, ...]`: visible output names (`('output',)`, or MultiBoxTarget's
  `('loc_target', 'loc_mask', 'cls_target')`); `num_hidden_outputs(params)`: extra outputs MXNet
  counts in JSON `node_row_ptr` but never lists (L2Normalization's norm, BatchNorm mean/var...).
- `infer_shape(in_shapes, params) -> (in_shapes, out_shapes)`: `in_shapes` lists every input, args
  then aux, each a tuple or None when unknown. Returns the list with every shape it can deduce
  filled in (weights from data...), and the visible output shapes (None where undecidable). Raises
  ValueError naming the op and the argument on an inconsistency.
- `infer_type(in_dtypes, params) -> (in_dtypes, out_dtypes)`: optional; default: one float dtype
  shared by every input and output.
- `forward(inputs, aux, params, is_train) -> (outputs, cache)`: `inputs`/`aux` are lists of ndarrays
  in declared order; `outputs` is the list of visible outputs; `cache` is whatever backward needs
  (a frozen NamedTuple from the layer function). Inputs are never mutated.
- `backward(out_grads, cache, params) -> list`: one gradient per argument input (not aux), None
  meaning "no gradient" (the executor writes zeros, as MXNet's ops without a gradient do).
  `out_grads` has one entry per visible output, None where no head gradient flows. Loss ops ignore
  them (MXNet's custom backward). `backward=None` means the op passes zero gradient to all inputs.
- `shape_from_output`: optional, default False; True for MXNet's ElemwiseShape ops (Activation,
  the scalar and elemwise_* arithmetic, log_softmax, BlockGrad...): a known output shape flows
  back to every argument input, so a shape known only downstream reaches them (checked on MXNet:
  softmax, Dropout, MakeLoss and the broadcast ops do not do it).
- `monitor_hidden(cache, params) -> list[(name, array)]`: optional; the hidden outputs MXNet's
  monitor reports after the visible ones (BatchNorm's `mean`/`var`, L2Normalization's `norm`),
  read from the forward cache, with MXNet's shapes.
- `backward_needs_mask`: optional, default False; when True the executor calls
  `backward(out_grads, cache, params, needed=[bool per argument input])` and the op may return
  None (skip the work) where needed is False: Convolution skips the data gradient of a first
  layer whose data has grad_req 'null' (MXNet and PyTorch skip it too).
- `update_aux(cache, aux, params) -> list | None`: optional; new aux values, called by the executor
  during a training backward (MXNet updates BatchNorm's moving statistics in backward).
- `train_writes(params) -> dict`: optional; argument inputs that MXNet's executor overwrites with a
  constant during a training forward, {input name: value} (BatchNorm with fix_gamma writes 1.0 into
  gamma). Only bound variables are written; the op functions themselves never mutate inputs.
"""
from __future__ import annotations

import ast
import importlib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

REQUIRED = object()

# The op-definition modules; each registers its OpDefs on import.
OP_MODULES = (
    "ssdref.autograd.ops_nn",
    "ssdref.autograd.ops_loss",
    "ssdref.autograd.ops_shape",
    "ssdref.autograd.ops_multibox",
    "ssdref.autograd.ops_dense",
    "ssdref.autograd.ops_gluon",     # GluonCV's SSD inference ops (absent: skipped)
)

_REGISTRY: dict[str, "OpDef"] = {}
_ALIASES: dict[str, "OpDef"] = {}
_loaded = False


def _literal(op, name, value):
    if isinstance(value, str):
        text = value.strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{op}: {name} could not be parsed from {value!r}") from None
    return value


def _as_bool(op, name, value):
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError(f"{op}: {name} must be a boolean, got {value!r}")
    if isinstance(value, (bool, numbers.Integral)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{op}: {name} must be a boolean, got {value!r}")


INT32 = (-2**31, 2**31 - 1)          # dmlc's `int` parameters
INT64 = (-2**63, 2**63 - 1)          # TShape entries (dim_t)


def _as_int(op, name, value, bounds=INT32):
    value = _literal(op, name, value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            (isinstance(value, float) and not math.isfinite(value)) or int(value) != value:
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}")
    if not bounds[0] <= int(value) <= bounds[1]:
        bits = 32 if bounds == INT32 else 64
        raise ValueError(f"{op}: {name} must fit in int{bits} (MXNet's parameter parser), got {value!r}")
    return int(value)


def _as_dim(op, name, value):
    return _as_int(op, name, value, INT64)


def _as_float(op, name, value):
    value = _literal(op, name, value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _as_tuple(op, name, value, convert):
    value = _literal(op, name, value)
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{op}: {name} must be a tuple, got {value!r}")
    return tuple(convert(op, name, v) for v in value)


@dataclass(frozen=True)
class Param:
    """One MXNet operator argument. kind: int, float, bool, str, shape (ints), floats, or
    optional_int / optional_float / optional_bool (None allowed, also as the string 'None')."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple = ()

    def parse(self, op: str, value):
        kind = self.kind
        if kind.startswith("optional_"):
            if value is None or (isinstance(value, str) and value.strip() == "None"):
                return None
            kind = kind[len("optional_"):]
        if kind == "int":
            parsed = _as_int(op, self.name, value)
        elif kind == "float":
            parsed = _as_float(op, self.name, value)
        elif kind == "bool":
            parsed = _as_bool(op, self.name, value)
        elif kind == "str":
            if not isinstance(value, str):
                raise TypeError(f"{op}: {self.name} must be a string, got {value!r}")
            parsed = value
        elif kind == "shape":
            parsed = _as_tuple(op, self.name, value, _as_dim)
        elif kind == "floats":
            parsed = _as_tuple(op, self.name, value, _as_float)
        else:  # pragma: no cover - a programming error in an OpDef
            raise AssertionError(f"unknown Param kind {self.kind!r}")
        if self.choices and parsed not in self.choices:
            raise ValueError(f"{op}: {self.name} must be one of {self.choices}, got {value!r}")
        return parsed


def _no_outputs_hidden(params):
    return 0


def _single_output(params):
    return ("output",)


def _default_infer_type(in_dtypes, params, num_outputs):
    known = {d for d in in_dtypes if d is not None}
    if len(known) > 1:
        raise TypeError(f"inputs must share one dtype, got {sorted(str(d) for d in known)}")
    dtype = known.pop() if known else None
    return [dtype] * len(in_dtypes), [dtype] * num_outputs


@dataclass(frozen=True)
class OpDef:
    name: str
    aliases: tuple[str, ...]
    params: tuple[Param, ...]
    inputs: Callable[[dict], tuple[str, ...]]
    infer_shape: Callable
    forward: Callable
    backward: Callable | None
    outputs: Callable[[dict], tuple[str, ...]] = _single_output
    aux: Callable[[dict], tuple[str, ...]] = lambda params: ()
    num_hidden_outputs: Callable[[dict], int] = _no_outputs_hidden
    key_var_num_args: str | None = None
    infer_type: Callable | None = None
    update_aux: Callable | None = None
    train_writes: Callable[[dict], dict] | None = None
    backward_needs_mask: bool = False
    shape_from_output: bool = False
    monitor_hidden: Callable | None = None
    contrib: bool = False
    doc: str = ""
    param_index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.param_index.update({p.name: p for p in self.params})

    def parse_params(self, attrs: dict) -> dict:
        """Python values for every parameter: given ones parsed, defaults filled in.

        Keys starting and ending with '__' (symbol attributes such as `__lr_mult__`) are ignored
        here; an unknown plain key is a ValueError, as in MXNet (`Cannot find argument`)."""
        parsed = {}
        for key, value in attrs.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            if key not in self.param_index:
                known = ", ".join(p.name for p in self.params)
                raise ValueError(f"{self.name}: unknown argument {key!r}; arguments are: {known}")
            parsed[key] = self.param_index[key].parse(self.name, value)
        for p in self.params:
            if p.name not in parsed:
                if p.default is REQUIRED:
                    raise ValueError(f"{self.name}: required argument {p.name!r} is missing")
                parsed[p.name] = p.default
        return parsed

    def all_inputs(self, params: dict) -> tuple[str, ...]:
        return tuple(self.inputs(params)) + tuple(self.aux(params))

    def run_infer_type(self, in_dtypes, params):
        n_out = len(self.outputs(params))
        if self.infer_type is not None:
            return self.infer_type(in_dtypes, params)
        known = {d for d in in_dtypes if d is not None}
        named = [(name, np.dtype(d)) for name, d in zip(self.all_inputs(params), in_dtypes) if d is not None]
        odd = [(name, d) for name, d in named if d.kind != "f"]
        if len(known) > 1 and odd and len(odd) < len(named):   # an int weight among float inputs
            name, d = odd[0]
            raise TypeError(f"{self.name}: {name} must be float32 or float64 like the op's other "
                            f"inputs, got {d.name}")
        if len(known) > 1:      # name every input with its dtype, so the odd one out shows
            listing = ", ".join(f"{name}={np.dtype(d).name}" for name, d in
                                zip(self.all_inputs(params), in_dtypes) if d is not None)
            raise TypeError(f"{self.name}: inputs must share one dtype, got {listing}")
        return _default_infer_type(in_dtypes, params, n_out)


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} is registered twice")
    _REGISTRY[opdef.name] = opdef
    for alias in opdef.aliases:
        if alias in _ALIASES:
            raise ValueError(f"alias {alias!r} is registered twice")
        _ALIASES[alias] = opdef
    return opdef


def load_all():
    """Import every op-definition module (idempotent)."""
    global _loaded
    if _loaded:
        return
    for module in OP_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real import error inside the module
                raise
    _loaded = True


def get_op(name: str) -> OpDef:
    """The OpDef for an MXNet op name (as in JSON) or a Python alias."""
    load_all()
    opdef = _REGISTRY.get(name) or _ALIASES.get(name)
    if opdef is None:
        raise ValueError(f"unknown operator {name!r}")
    return opdef


def all_ops() -> dict[str, OpDef]:
    load_all()
    return dict(_REGISTRY)


def all_aliases() -> dict[str, OpDef]:
    load_all()
    return dict(_ALIASES)
