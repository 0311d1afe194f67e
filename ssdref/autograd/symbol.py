"""The layer graph: MXNet's Symbol, Variable, Group and op composition over the op registry.

Mirrors: python/mxnet/symbol/symbol.py and nnvm's Symbol (1.9.1), spec mxnet-graph-formats.md
§1-§2. The graph knows nothing of the math; an op node holds its OpDef and its attrs (the strings
the user passed, `str(v)`, never defaults) and reads shapes and gradients from the OpDef.
Conventions that bite:
- every order (list_arguments, get_internals, JSON nodes) is the depth-first post-order from the
  heads, each node's inputs in the op's *declared* order, each node once (by identity);
- missing op inputs become Variables `<op name>_<input name>` carrying a copy of the op's attrs;
- BatchNorm-style aux inputs `moving_mean` / `moving_var` get `__init__` zero / one unless set;
- `lr_mult`, `wd_mult`, `ctx_group`, `force_mirroring`, `mirror_stage` are stored as `__key__`;
- `x + y` is elemwise_add named `_plus0` (no broadcasting), `x + 1` is `_plus_scalar`/`_plusscalar0`.
"""
from __future__ import annotations

import numbers

import numpy as np

from ssdref.autograd import registry
from ssdref.autograd.attrs import (attr_str, check_shape, hidden_key, parse_shape_attr,  # noqa: F401
                                   with_plain_keys)
from ssdref.autograd.graph import (AUX_INIT, DTYPE_FLAGS, HIDDEN_KEYS, STORAGE_TYPES, Node,  # noqa: F401
                                   aux_variables, topo_order)
from ssdref.autograd.naming import AttrScope, NameManager


class NotImplementedForSymbol(NotImplementedError):
    """In-place arithmetic and truth testing, which a Symbol does not support."""


class Symbol:
    """A list of node outputs (the heads). Immutable apart from attributes."""

    __slots__ = ("_outputs",)

    def __init__(self, outputs):
        self._outputs = list(outputs)

    # ---- structure ----------------------------------------------------------------------
    def _nodes(self):
        return topo_order(self._outputs)

    @property
    def name(self):
        heads = {node for node, _ in self._outputs}
        return self._outputs[0][0].name if len(heads) == 1 else None

    def __repr__(self):
        if self.name is not None:
            return f"<Symbol {self.name}>"
        return f"<Symbol group [{', '.join(str(s.name) for s in self)}]>"

    def __len__(self):
        return len(self._outputs)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        raise NotImplementedForSymbol("Symbol does not support truth testing (bool())")

    def __getitem__(self, index):
        if isinstance(index, str):
            names = self.list_outputs()
            if index not in names:
                raise ValueError(f'Cannot find output that matches name "{index}"')
            index = names.index(index)
        if isinstance(index, slice):
            return Symbol(self._outputs[index])
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"Symbol only supports integer or str indices, got {index!r}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"Symbol index {index} out of range for {len(self)} outputs")
        return Symbol([self._outputs[index]])

    def list_arguments(self) -> list:
        nodes = self._nodes()
        aux = aux_variables(nodes)
        return [n.name for n in nodes if n.is_variable and n not in aux]

    def list_auxiliary_states(self) -> list:
        nodes = self._nodes()
        aux = aux_variables(nodes)
        return [n.name for n in nodes if n in aux]

    def list_inputs(self) -> list:
        return [n.name for n in self._nodes() if n.is_variable]

    def list_outputs(self) -> list:
        return [node.output_label(index) for node, index in self._outputs]

    def get_internals(self) -> "Symbol":
        return Symbol([(n, i) for n in self._nodes() for i in range(len(n.output_names()))])

    def get_children(self):
        children = [entry for node, _ in self._outputs for entry in node.inputs]
        return Symbol(children) if children else None

    # ---- attributes ---------------------------------------------------------------------
    def attr(self, key: str):
        if self.name is None:
            return None
        attrs = self._outputs[0][0].attrs
        if key in attrs:
            return attrs[key]
        return attrs.get(f"__{key}__") if key in HIDDEN_KEYS else None

    def list_attr(self, recursive=False) -> dict:
        if recursive:
            raise DeprecationWarning("Symbol.list_attr with recursive=True has been deprecated. "
                                     "Please use attr_dict instead.")
        return with_plain_keys(self._outputs[0][0].attrs) if self.name is not None else {}

    def attr_dict(self) -> dict:
        return {n.name: with_plain_keys(n.attrs) for n in self._nodes() if n.attrs}

    def _set_attr(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise ValueError(f"Set Attr only accepts string values, got {key}={value!r}")
        for node in {node for node, _ in self._outputs}:
            for key, value in kwargs.items():
                node.attrs[hidden_key(key, False)] = value
            if node.op is not None:
                node.params = node.op.parse_params(node.attrs)

    # ---- copy and composition ---------------------------------------------------------
    def _copy_with(self, replace: dict) -> "Symbol":
        """A copy of the graph with variable nodes swapped for the entries in `replace`."""
        new_of = {}
        for node in self._nodes():
            if node in replace:
                continue
            inputs = [replace[src] if src in replace else (new_of[src], i) for src, i in node.inputs]
            clone = Node.__new__(Node)
            clone.op, clone.name, clone.attrs = node.op, node.name, dict(node.attrs)
            clone.inputs, clone.params, clone.versions = inputs, node.params, node.versions
            new_of[node] = clone
        return Symbol([replace[n] if n in replace else (new_of[n], i) for n, i in self._outputs])

    def __copy__(self):
        return self._copy_with({})

    def __deepcopy__(self, memo):
        return self._copy_with({})

    def __call__(self, *args, **kwargs):
        """Compose: a copy with argument variables replaced (positionally or by name)."""
        kwargs.pop("name", None)
        nodes = self._nodes()
        aux = aux_variables(nodes)
        arguments = [n for n in nodes if n.is_variable and n not in aux]
        if len(args) > len(arguments):
            raise ValueError(f"compose: {len(args)} positional inputs for {len(arguments)} arguments")
        replace = {}
        for node, value in zip(arguments, args):
            replace[node] = _single_entry(value, node.name)
        for key, value in kwargs.items():
            targets = [n for n in nodes if n.is_variable and n.name == key]
            if not targets:
                raise ValueError(f"compose: no argument named {key!r}; arguments are {self.list_arguments()}")
            for node in targets:
                replace[node] = _single_entry(value, key)
        return self._copy_with(replace)

    # ---- arithmetic ---------------------------------------------------------------------
    def _arith(self, other, op_name, hint, scalar_op, scalar_hint):
        if isinstance(other, Symbol):
            return create_op(op_name, hint, [self, other], {})
        if isinstance(other, numbers.Number) and scalar_op is not None:
            return create_op(scalar_op, scalar_hint, [self], {"scalar": other})
        raise TypeError(f"type {type(other)} not supported")

    def __add__(self, other):
        return self._arith(other, "elemwise_add", "_plus", "_plus_scalar", "_plusscalar")

    def __radd__(self, other):
        return self._arith(other, None, None, "_plus_scalar", "_plusscalar")

    def __sub__(self, other):
        return self._arith(other, "elemwise_sub", "_minus", "_minus_scalar", "_minusscalar")

    def __rsub__(self, other):
        return self._arith(other, None, None, "_rminus_scalar", "_rminusscalar")

    def __mul__(self, other):
        return self._arith(other, "elemwise_mul", "_mul", "_mul_scalar", "_mulscalar")

    def __rmul__(self, other):
        return self._arith(other, None, None, "_mul_scalar", "_mulscalar")

    def __truediv__(self, other):
        return self._arith(other, "elemwise_div", "_div", "_div_scalar", "_divscalar")

    def __rtruediv__(self, other):
        return self._arith(other, None, None, "_rdiv_scalar", "_rdivscalar")

    def __pow__(self, other):
        return self._arith(other, "_power", "_power", "_power_scalar", "_powerscalar")

    def __rpow__(self, other):
        return self._arith(other, None, None, "_rpower_scalar", "_rpower_scalar")

    def __mod__(self, other):
        return self._arith(other, "_mod", "_mod", "_mod_scalar", "_modscalar")

    def __rmod__(self, other):
        return self._arith(other, None, None, "_rmod_scalar", "_rmodscalar")

    def __neg__(self):
        return create_op("_mul_scalar", "_mulscalar", [self], {"scalar": -1.0})

    def __abs__(self):
        return create_op("abs", "abs", [self], {})

    def _no_inplace(self, other):
        raise NotImplementedForSymbol("in-place arithmetic (+=, -=, *=, /=) is not supported on a Symbol")

    __iadd__ = __isub__ = __imul__ = __itruediv__ = __imod__ = __ipow__ = _no_inplace
    __hash__ = object.__hash__

    # ---- shapes, types, JSON, binding (implemented in sibling modules) ---------------
    def infer_shape(self, *args, **kwargs):
        from ssdref.autograd import shape_inference
        return shape_inference.infer_shape(self, args, kwargs, partial=False)

    def infer_shape_partial(self, *args, **kwargs):
        from ssdref.autograd import shape_inference
        return shape_inference.infer_shape(self, args, kwargs, partial=True)

    def infer_type(self, *args, **kwargs):
        from ssdref.autograd import shape_inference
        return shape_inference.infer_type(self, args, kwargs)

    def tojson(self) -> str:
        from ssdref.autograd import symbol_json
        return symbol_json.tojson(self)

    def save(self, fname, remove_amp_cast=True):
        with open(fname, "w", encoding="utf-8") as handle:
            handle.write(self.tojson())

    def simple_bind(self, ctx=None, grad_req="write", type_dict=None, **kwargs):
        from ssdref.autograd import executor
        return executor.simple_bind(self, ctx, grad_req=grad_req, type_dict=type_dict, **kwargs)

    def bind(self, ctx, args, args_grad=None, grad_req="write", aux_states=None, **kwargs):
        from ssdref.autograd import executor
        return executor.bind(self, ctx, args, args_grad=args_grad, grad_req=grad_req,
                             aux_states=aux_states)


def _single_entry(value, where: str):
    if not isinstance(value, Symbol):
        raise TypeError(f"{where}: inputs must be Symbols, got {type(value).__name__}")
    if len(value) != 1:
        raise ValueError(f"{where}: an input must be a single-output Symbol, got outputs "
                         f"{value.list_outputs()}")
    return value._outputs[0]


def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs) -> Symbol:
    """A graph input (`op: null`). Never auto-named or prefixed; two calls make two nodes."""
    if not isinstance(name, str):
        raise TypeError("Expect a string for variable `name`")
    attrs = AttrScope.current.get(attr)
    if shape is not None:
        attrs["__shape__"] = attr_str(check_shape(name, shape))
    if lr_mult is not None:
        attrs["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        attrs["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        attrs["__dtype__"] = str(DTYPE_FLAGS[np.dtype(dtype)])
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        attrs["__storage_type__"] = str(STORAGE_TYPES[stype])
    for key, value in kwargs.items():
        if not (key.startswith("__") and key.endswith("__")):
            raise ValueError(f"Attribute name={key} is not supported. Additional attributes must "
                             "start and end with double underscores, e.g, __yourattr__")
        attrs[key] = str(value)
    for key, value in attrs.items():
        if not isinstance(value, str):
            raise ValueError(f"Set Attr only accepts string values, got {key}={value!r}")
    return Symbol([(Node(None, name, {hidden_key(k, False): v for k, v in attrs.items()}, []), 0)])


var = Variable


def Group(symbols) -> Symbol:
    """One Symbol whose outputs are all outputs of `symbols`, in order."""
    symbols = list(symbols)
    if not symbols or not all(isinstance(s, Symbol) for s in symbols):
        raise TypeError("Group: expected a non-empty list of Symbols")
    return Symbol([entry for s in symbols for entry in s._outputs])


def create_op(op, hint, args, kwargs, name=None, attr=None) -> Symbol:
    """Apply registered op `op` (name or OpDef) to Symbol inputs: MXNet's generated sym.<Op>."""
    opdef = op if isinstance(op, registry.OpDef) else registry.get_op(op)
    name = NameManager.current.get(name, hint)
    for i, value in enumerate(args):
        if not isinstance(value, Symbol):
            raise TypeError(f"{opdef.name}: positional arguments must be Symbols, got "
                            f"{type(value).__name__} at position {i}")
    symbol_kwargs, raw, none_keys = {}, {}, []
    for key, value in kwargs.items():
        if isinstance(value, Symbol):
            symbol_kwargs[key] = value
        elif value is None:
            none_keys.append(key)
        else:
            raw[hidden_key(key, True)] = attr_str(value)
    for key, value in AttrScope.current.get(attr).items():
        raw[hidden_key(key, True)] = str(value)
    if opdef.key_var_num_args and opdef.key_var_num_args not in raw:
        raw[opdef.key_var_num_args] = str(len(args) + len(symbol_kwargs))
    # `data=None` means "not given" for an input (MXNet's generated signatures); for a
    # parameter it is the string 'None' (set before parsing: slice_axis' required `end` may be None).
    raw.update({key: "None" for key in none_keys if key in opdef.param_index})
    input_names = opdef.all_inputs(opdef.parse_params(raw))
    raw.update({key: "None" for key in none_keys if key not in input_names})
    node = Node(opdef, name, raw, [])
    input_names = node.op.all_inputs(node.params)
    if len(args) > len(input_names):
        raise ValueError(f"{opdef.name}: {len(args)} positional inputs given, the op takes "
                         f"{len(input_names)} ({', '.join(input_names)})")
    given = dict(zip(input_names, args))
    for key, value in symbol_kwargs.items():
        if key not in input_names:
            raise ValueError(f"{opdef.name}: unknown input {key!r}; inputs are: {', '.join(input_names)}")
        if key in given:
            raise ValueError(f"{opdef.name}: input {key!r} given both positionally and by keyword")
        given[key] = value
    entries = []
    for input_name in input_names:
        if input_name in given:
            entry = _single_entry(given[input_name], f"{opdef.name} {name}: input {input_name}")
        else:  # MXNet's rule: the missing input is a fresh variable copying the op's attrs
            entry = (Node(None, f"{name}_{input_name}", dict(raw), []), 0)
        source = entry[0]
        if input_name in AUX_INIT and source.is_variable and "__init__" not in source.attrs:
            source.attrs["__init__"] = AUX_INIT[input_name]
        entries.append(entry)
    node.inputs = entries
    return Symbol([(node, i) for i in range(len(node.output_names()))])
