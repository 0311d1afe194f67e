"""Run one op or a whole graph on real MXNet 1.9.1 (or on ssdref the same way), NumPy in and out.

Used by the conformance tests (`tests/conformance/`), `ssdref conformance --backend mxnet` and
`python -m ssdref.backends.record_mxnet`. Both engines are driven through their *symbolic*
executors with the same calls (`Variable`s, the op by its MXNet name, `bind`, `forward(is_train)`,
`backward(out_grads)`), so what is compared is the op as a graph node sees it: gradients to every
input, moving statistics updated by a training backward (BatchNorm), gamma pinned by fix_gamma.

MXNet is imported with `MXNET_ENGINE_TYPE=NaiveEngine` (unless the caller chose an engine): errors
surface synchronously at the call that caused them, and nothing runs in a background thread.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import NamedTuple

import numpy as np

MXNET_VERSION = "1.9.1"


def mxnet_status():
    """(mxnet module, None) when real MXNet 1.9.1 imports here, else (None, the reason)."""
    if "mxnet" not in sys.modules:
        spec = importlib.util.find_spec("mxnet")
        # A bare folder named mxnet on sys.path (test data folders) is a namespace package, not MXNet.
        if spec is None or spec.loader is None or spec.origin is None:
            return None, f"mxnet is not importable in {sys.executable} (run `make conformance`)"
        os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
        os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
    try:
        mx = importlib.import_module("mxnet")
    except Exception as exc:  # a broken install: libmxnet.so missing, numpy ABI, ...
        return None, f"importing mxnet failed in {sys.executable}: {type(exc).__name__}: {exc}"
    version = getattr(mx, "__version__", None)
    if version != MXNET_VERSION or not hasattr(mx, "sym"):
        return None, f"mxnet {version!r} from {getattr(mx, '__file__', '?')} is not MXNet {MXNET_VERSION}"
    return mx, None


def import_mxnet():
    """Real MXNet 1.9.1, or ImportError saying why not."""
    mx, reason = mxnet_status()
    if mx is None:
        raise ImportError(reason)
    return mx


def op_function(symbol_module, op_name):
    """The symbol-building function of the MXNet operator `op_name` (JSON name) in `symbol_module`
    (`mxnet.sym` or `ssdref.sym`): `Convolution`, `_plus_scalar`, `_contrib_MultiBoxPrior`..."""
    if op_name.startswith("_contrib_"):
        return getattr(symbol_module.contrib, op_name[len("_contrib_"):])
    try:
        return getattr(symbol_module, op_name)
    except AttributeError:
        internal = getattr(symbol_module, "_internal", None)
        if internal is None or not hasattr(internal, op_name):
            raise
        return getattr(internal, op_name)


def op_symbol(symbol_module, op_name, params, input_names, aux_names=()):
    """One op node over fresh Variables named after its inputs (aux states included)."""
    function = op_function(symbol_module, op_name)
    variables = [symbol_module.Variable(name) for name in (*input_names, *aux_names)]
    if op_name == "Concat":   # variadic: positional inputs, num_args counts them
        return function(*variables, name="op", **params)
    return function(name="op", **dict(zip((*input_names, *aux_names), variables)), **params)


class RunResult(NamedTuple):
    """What one executor run gives back, as NumPy arrays (copies)."""
    outputs: list          # visible outputs in list_outputs() order
    grads: dict            # argument name -> gradient (empty without backward)
    aux: dict              # auxiliary state name -> value after the run
    args: dict             # argument name -> value after the run (BatchNorm fix_gamma writes gamma)


def _bind_and_run(engine, symbol, args, aux, is_train, out_grads, backward, grad_req):
    """Bind `symbol` on `engine` (`mxnet` or `ssdref`), forward, optionally backward."""
    is_mx = engine.__name__ == "mxnet"
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    missing = [n for n in (*arg_names, *aux_names) if n not in args and n not in aux]
    if missing:
        raise ValueError(f"run: no value given for {missing}")

    def wrap(value):
        value = np.ascontiguousarray(value)
        return engine.nd.array(value, dtype=value.dtype) if is_mx else value.copy()

    arg_arrays = {n: wrap(args[n]) for n in arg_names}
    aux_arrays = {n: wrap(aux[n]) for n in aux_names}
    grad_arrays = None
    if backward:
        grad_arrays = {n: wrap(np.zeros_like(args[n])) for n in arg_names}
    ctx = engine.cpu()
    executor = symbol.bind(ctx, args=arg_arrays, args_grad=grad_arrays, grad_req=grad_req if backward else "null",
                           aux_states=aux_arrays)
    outputs = executor.forward(is_train=is_train)
    to_np = (lambda a: a.asnumpy()) if is_mx else (lambda a: np.array(a, copy=True))
    outputs = [to_np(o) for o in outputs]
    grads = {}
    if backward:
        heads = None
        if out_grads is not None:
            heads = [wrap(g) for g in out_grads]
        executor.backward(heads)
        grads = {n: to_np(executor.grad_dict[n]) for n in arg_names}
    return RunResult(outputs=outputs, grads=grads,
                     aux={n: to_np(executor.aux_dict[n]) for n in aux_names},
                     args={n: to_np(executor.arg_dict[n]) for n in arg_names})


def run_op(engine, op_name, params, inputs, aux=None, *, is_train=False, out_grads=None,
           backward=True, grad_req="write") -> RunResult:
    """Run one op on `engine` (the `mxnet` or `ssdref` module) through its executor.

    inputs/aux: dicts name -> array in the op's declared order (`ssdref`'s OpDef names, which are
    MXNet's). out_grads: one head gradient per visible output (None: MXNet's default of ones)."""
    aux = aux or {}
    symbol = op_symbol(engine.sym, op_name, params, list(inputs), list(aux))
    return _bind_and_run(engine, symbol, dict(inputs), dict(aux), is_train, out_grads, backward, grad_req)


def run_graph(engine, symbol, args, aux=None, *, is_train=False, out_grads=None, backward=True,
              grad_req="write") -> RunResult:
    """Run a whole symbol (built on `engine`) with the given arguments and aux states."""
    return _bind_and_run(engine, symbol, dict(args), dict(aux or {}), is_train, out_grads, backward, grad_req)


def load_json(engine, text):
    """A symbol from MXNet symbol JSON on `engine` (`mxnet` or `ssdref`)."""
    return engine.sym.load_json(text)


def engine_module(name):
    """'mxnet' -> real MXNet 1.9.1 (checked), 'ssdref' -> ssdref."""
    if name == "mxnet":
        return import_mxnet()
    if name == "ssdref":
        return importlib.import_module("ssdref")
    raise ValueError(f"engine_module: name must be 'mxnet' or 'ssdref', got {name!r}")
