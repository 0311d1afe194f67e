"""The executor: runs a bound Symbol forward and backward over NumPy arrays (MXNet's Executor).

Mirrors: python/mxnet/executor.py and simple_bind/bind (1.9.1), spec mxnet-graph-formats.md §6.
The graph runs node by node in depth-first post-order calling each OpDef's forward; backward
walks the same list in reverse calling OpDef.backward. Conventions that bite:
- gradients *accumulate* where one node output feeds several consumers (`a*b + a`);
- grad_req per argument: 'write' overwrites, 'add' adds into the grad array (the user zeroes
  it), 'null' has no grad array (None in grad_arrays and grad_dict);
- simple_bind zero-fills arguments, gradients and aux states;
- head gradients default to ones (deviation: MXNet demands one for every non-loss head; loss
  ops - SoftmaxOutput, MakeLoss - ignore theirs either way, so SSD's training step agrees);
- an op without a gradient passes zeros; BatchNorm's moving statistics are updated during
  a training backward through OpDef.update_aux;
- each node's forward cache is released as soon as its backward ran (and forward values as
  soon as their last consumer ran), so a training step holds one set of activations;
- set_monitor_callback(callback, monitor_all) calls callback(name, array) for every op output
  as it is computed, in forward and backward, with MXNet's names (`autograd/monitoring.py`);
  the name is a str and the array a read-only view (MXNet passes a bytes name and an NDArray
  handle); of the hidden outputs only BatchNorm's mean/var and L2Normalization's norm are
  reported (not max Pooling's MKLDNN workspace nor Dropout's mask); MXNet's gradient-plumbing
  nodes (sum_grad, zeros) and, with monitor_all, the inputs of backward nodes are not; backward
  entries come in reverse execution order, not MXNet's gradient-graph order.
"""
from __future__ import annotations

import numpy as np

from ssdref.autograd import monitoring
from ssdref.autograd.graph import aux_variables
from ssdref.autograd.shape_inference import graph_dtypes, graph_shapes

GRAD_REQS = ("write", "add", "null")
_NOT_RUN = object()  # a node without a training forward this step (a cache may itself be None)


def _as_named(symbol_names, values, what, allow_none=False) -> list:
    """A list in `symbol_names` order from a list or a dict of arrays."""
    if isinstance(values, dict):
        missing = [n for n in symbol_names if n not in values]
        if missing and not allow_none:
            raise ValueError(f"bind: {what} is missing {missing}")
        return [values.get(n) for n in symbol_names]
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"bind: {what} must be a list or a dict of arrays, got {type(values).__name__}")
    values = list(values)
    if len(values) != len(symbol_names):
        raise ValueError(f"bind: {what} must have {len(symbol_names)} entries "
                         f"({symbol_names}), got {len(values)}")
    return values


def _grad_reqs(grad_req, arg_names) -> list:
    if isinstance(grad_req, str):
        reqs = [grad_req] * len(arg_names)
    elif isinstance(grad_req, (list, tuple)):
        if not grad_req:
            raise RuntimeError("grad_req in simple_bind cannot be an empty list")
        reqs = _as_named(arg_names, grad_req, "grad_req")
    elif isinstance(grad_req, dict):
        if not grad_req:
            raise RuntimeError("grad_req in simple_bind cannot be an empty list")
        reqs = [grad_req.get(n, "null") for n in arg_names]
    else:
        raise TypeError(f"grad_req must be a str, list or dict, got {type(grad_req).__name__}")
    for req in reqs:
        if req not in GRAD_REQS:
            raise ValueError(f"grad_req must be one of {GRAD_REQS}, got {req!r}")
    return reqs


def simple_bind(symbol, ctx=None, grad_req="write", type_dict=None, **kwargs) -> "Executor":
    """Allocate zero-filled args, grads and aux from the given input shapes, and bind them."""
    known = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
    for name, value in kwargs.items():
        if name in known and not isinstance(value, (tuple, list)):
            raise TypeError(f"simple_bind: the shape of {name!r} must be a tuple of integers, got {value!r}")
    shapes = {k: tuple(v) for k, v in kwargs.items() if isinstance(v, (tuple, list))}
    for name, shape in shapes.items():
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0
                   for d in shape):
            raise ValueError(f"simple_bind: the shape of {name!r} must be integers >= 0 (0: unknown), "
                             f"got {shape}")
    nodes, shape_of = graph_shapes(symbol, shapes)
    arg_nodes, aux_nodes = _split_variables(nodes)
    if type_dict is None:  # MXNet: every argument without a __dtype__ attr is float32
        type_dict = {n.name: np.float32 for n in arg_nodes if "__dtype__" not in n.attrs}
    _, dtype_of = graph_dtypes(symbol, type_dict)
    unknown = [n for n in arg_nodes + aux_nodes
               if shape_of.get((n, 0)) is None or 0 in shape_of[(n, 0)]]
    if unknown:
        given = "\n".join(f"{k}: {v}" for k, v in shapes.items())
        listing = ", ".join(f"{n.name}: {_mxnet_shape(shape_of.get((n, 0)))}" for n in unknown)
        raise RuntimeError(f"simple_bind error. Arguments:\n{given}\nInferShape pass cannot decide "
                           "shapes for the following arguments (-1 means unknown dimensions). Please "
                           f"consider providing them as inputs:\n{listing}")

    def zeros(node):
        return np.zeros(shape_of[(node, 0)], dtype=dtype_of.get((node, 0)) or np.float32)

    reqs = _grad_reqs(grad_req, [n.name for n in arg_nodes])
    args = [zeros(n) for n in arg_nodes]
    grads = [zeros(n) if req != "null" else None for n, req in zip(arg_nodes, reqs)]
    aux = [zeros(n) for n in aux_nodes]
    return Executor(symbol, args, grads, reqs, aux)


def _mxnet_shape(shape) -> str:
    """A shape as MXNet's InferShape error prints it: None, or `[-1,4,5,5]` (-1: unknown dim)."""
    return "None" if shape is None else "[" + ",".join(str(d) if d else "-1" for d in shape) + "]"


def bind(symbol, ctx, args, args_grad=None, grad_req="write", aux_states=None) -> "Executor":
    """Bind given arrays (used as they are, not copied): args and grads as lists or dicts."""
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    arg_arrays = _as_named(arg_names, args, "args")
    if args_grad is None:
        grads, reqs = [None] * len(arg_names), ["null"] * len(arg_names)
    else:
        grads = _as_named(arg_names, args_grad, "args_grad", allow_none=True)
        reqs = _grad_reqs(grad_req, arg_names)
        reqs = [req if grad is not None else "null" for req, grad in zip(reqs, grads)]
    if aux_states is None and aux_names:
        raise ValueError(f"bind: aux_states must be given for {aux_names}")
    aux = _as_named(aux_names, aux_states or [], "aux_states")
    for name, array in zip(arg_names + aux_names, arg_arrays + aux):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"bind: {name} must be a numpy array, got {type(array).__name__}")
    return Executor(symbol, arg_arrays, grads, reqs, aux)


def _split_variables(nodes):
    aux = aux_variables(nodes)
    return ([n for n in nodes if n.is_variable and n not in aux], [n for n in nodes if n in aux])


def _named(names, arrays):
    if len(set(names)) != len(names):
        raise ValueError(f"Duplicate names detected, {names}")
    return dict(zip(names, arrays))


class Executor:
    """A Symbol bound to arrays. Arrays are NumPy arrays; `outputs` is refreshed by forward."""

    def __init__(self, symbol, arg_arrays, grad_arrays, grad_reqs, aux_arrays):
        self._symbol = symbol
        self._nodes = symbol._nodes()
        self._arg_nodes, self._aux_nodes = _split_variables(self._nodes)
        self.arg_arrays, self.grad_arrays, self.aux_arrays = arg_arrays, grad_arrays, aux_arrays
        self._grad_reqs = grad_reqs
        self._caches: dict = {}
        self._arg_names = [n.name for n in self._arg_nodes]
        self._aux_names = [n.name for n in self._aux_nodes]
        self._output_names = symbol.list_outputs()
        self._monitor = None  # (callback, monitor_all) once set_monitor_callback ran
        # MXNet's outputs exist from bind on (their content is garbage until forward): zeros here.
        shapes = {n.name: a.shape for n, a in zip(self._arg_nodes + self._aux_nodes,
                                                  arg_arrays + aux_arrays)}
        _, shape_of = graph_shapes(symbol, shapes)
        _, dtype_of = graph_dtypes(symbol, {n.name: a.dtype for n, a in zip(
            self._arg_nodes + self._aux_nodes, arg_arrays + aux_arrays)})
        self.outputs = [np.zeros(shape_of.get(entry) or (0,), dtype=dtype_of.get(entry) or np.float32)
                        for entry in symbol._outputs]
        # How many times each entry is read, so forward can drop values nobody needs any more.
        self._readers: dict = {}
        for node in self._nodes:
            for entry in node.inputs:
                self._readers[entry] = self._readers.get(entry, 0) + 1

    # ---- views --------------------------------------------------------------------------
    @property
    def arg_dict(self):
        return _named(self._arg_names, self.arg_arrays)

    @property
    def grad_dict(self):
        return _named(self._arg_names, self.grad_arrays)

    @property
    def aux_dict(self):
        return _named(self._aux_names, self.aux_arrays)

    @property
    def output_dict(self):
        return _named(self._output_names, self.outputs)

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy (with astype to the bound dtype) named arrays into the bound args and aux."""
        for params, names, arrays, what in ((arg_params, self._arg_names, self.arg_arrays, "arguments"),
                                            (aux_params or {}, self._aux_names, self.aux_arrays,
                                             "auxiliary states")):
            for name, value in params.items():
                if name not in names:
                    if allow_extra_params:
                        continue
                    quoted = f'"{name}"' if what == "arguments" else name
                    raise ValueError(f"Find name {quoted} that is not in the {what}")
                target = arrays[names.index(name)]
                value = np.asarray(value)
                if value.shape != target.shape:
                    raise ValueError(f"copy_params_from: {name} expected {list(target.shape)}, "
                                     f"got {list(value.shape)}")
                target[...] = value.astype(target.dtype)

    # ---- running ------------------------------------------------------------------------
    def forward(self, is_train=False, **kwargs):
        """Copy kwargs into the bound args, run every node; returns `self.outputs`."""
        for name, value in kwargs.items():
            if not isinstance(value, np.ndarray):
                raise ValueError("only accept keyword argument of NDArrays and numpy.ndarray")
            if name not in self._arg_names:
                raise TypeError(f"Unknown argument {name}")
            target = self.arg_arrays[self._arg_names.index(name)]
            if value.shape != target.shape:
                raise ValueError(f"Shape not match! Argument {name}, need: {target.shape}, "
                                 f"received: {value.shape}")
            target[...] = value
        values = {(n, 0): a for n, a in zip(self._arg_nodes + self._aux_nodes,
                                            self.arg_arrays + self.aux_arrays)}
        heads = set(self._symbol._outputs)
        remaining = dict(self._readers)
        self._caches = {}
        for node in self._nodes:
            if node.is_variable:
                continue
            num_args = node.num_args()
            if is_train and node.op.train_writes is not None:
                self._apply_train_writes(node, values)
            inputs = [values[entry] for entry in node.inputs[:num_args]]
            aux = [values[entry] for entry in node.inputs[num_args:]]
            if self._monitor is not None and self._monitor[1]:
                monitoring.report_inputs(self._monitor[0], node, inputs + aux)
            outs, cache = node.op.forward(inputs, aux, node.params, is_train)
            if self._monitor is not None:
                monitoring.report_outputs(self._monitor[0], node, outs, cache)
            for j, out in enumerate(outs):
                values[(node, j)] = out
            if is_train:
                self._caches[node] = cache
            for entry in node.inputs:  # free intermediate values read for the last time
                remaining[entry] -= 1
                if remaining[entry] == 0 and entry not in heads and not entry[0].is_variable:
                    values.pop(entry, None)
        self.outputs = [values[entry] for entry in self._symbol._outputs]
        return self.outputs

    def _apply_train_writes(self, node, values):
        """MXNet overwrites some bound arguments in a training forward (BatchNorm fix_gamma: gamma = 1)."""
        names = node.op.inputs(node.params)
        for name, value in node.op.train_writes(node.params).items():
            entry = node.inputs[names.index(name)]
            if entry[0].is_variable:
                values[entry][...] = value

    def _head_grads(self, out_grads) -> list:
        if out_grads is None:
            return [np.ones_like(out) for out in self.outputs]
        if isinstance(out_grads, np.ndarray):
            out_grads = [out_grads]
        if isinstance(out_grads, dict):
            out_grads = [out_grads.get(name) for name in self._output_names]
        out_grads = list(out_grads)
        if len(out_grads) > len(self.outputs):
            raise ValueError(f"backward: {len(out_grads)} head gradients for {len(self.outputs)} outputs")
        out_grads += [None] * (len(self.outputs) - len(out_grads))
        for grad, out, name in zip(out_grads, self.outputs, self._output_names):
            if grad is not None and np.shape(grad) != out.shape:
                raise ValueError(f"backward: head gradient of {name} must have shape {out.shape}, "
                                 f"got {np.shape(grad)}")
        return out_grads

    def backward(self, out_grads=None, is_train=True):
        """Gradients of every argument with grad_req write/add into grad_arrays; frees the caches."""
        if not self._caches and any(not n.is_variable for n in self._nodes):
            raise RuntimeError("backward needs a preceding forward(is_train=True)")
        grads: dict = {}

        def accumulate(entry, grad):
            if grad is None:
                return
            held = grads.get(entry)
            grads[entry] = grad if held is None else held + grad

        for entry, grad, out in zip(self._symbol._outputs, self._head_grads(out_grads), self.outputs):
            accumulate(entry, None if grad is None else np.asarray(grad, dtype=out.dtype))
        wanted = self._needs_grad()
        for node in reversed(self._nodes):
            if node.is_variable:
                continue
            cache = self._caches.pop(node, _NOT_RUN)
            num_args = node.num_args()
            if node.op.update_aux is not None and cache is not _NOT_RUN:
                aux = [self.aux_arrays[self._aux_nodes.index(src)] for src, _ in node.inputs[num_args:]]
                new_aux = node.op.update_aux(cache, aux, node.params)
                for target, value in zip(aux, new_aux or []):
                    target[...] = value
            out_grads = [grads.pop((node, j), None) for j in range(len(node.output_names()))]
            if node not in wanted or node.op.backward is None or cache is _NOT_RUN:
                continue
            if node.op.backward_needs_mask:
                needed = [entry[0] in wanted for entry in node.inputs[:num_args]]
                in_grads = node.op.backward(out_grads, cache, node.params, needed=needed)
            else:
                in_grads = node.op.backward(out_grads, cache, node.params)
            if self._monitor is not None:
                monitoring.report(self._monitor[0], monitoring.backward_names(node), in_grads)
            for entry, grad in zip(node.inputs[:num_args], in_grads):
                if entry[0] in wanted:
                    accumulate(entry, grad)
        for node, array, req in zip(self._arg_nodes, self.grad_arrays, self._grad_reqs):
            grad = grads.get((node, 0))
            if req == "write":
                array[...] = 0 if grad is None else grad
            elif req == "add" and grad is not None:
                array += grad
        self._caches = {}

    # ---- monitoring ---------------------------------------------------------------------
    def set_monitor_callback(self, callback, monitor_all=False):
        """Call callback(name, array) for each op output (and with monitor_all each op input)."""
        if not callable(callback):
            raise TypeError(f"set_monitor_callback: callback must be callable, got {type(callback).__name__}")
        self._monitor = (callback, bool(monitor_all))

    def _needs_grad(self) -> set:
        """Nodes on a path to an argument whose gradient is requested."""
        wanted = {n for n, req in zip(self._arg_nodes, self._grad_reqs) if req != "null"}
        for node in self._nodes:
            if not node.is_variable and any(src in wanted for src, _ in node.inputs[:node.num_args()]):
                wanted.add(node)
        return wanted

    def debug_str(self) -> str:
        total = sum(a.nbytes for a in self.arg_arrays + self.aux_arrays + self.grad_arrays
                    if a is not None)
        lines = [f"Symbol outputs: {', '.join(self._output_names)}",
                 f"Total {total >> 20} MB allocated", "Total 0 TempSpace resource requested", ""]
        return "\n".join(lines)
