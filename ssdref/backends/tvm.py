"""Run an ONNX model in Apache TVM (Relax): import, compile for the CPU, run; with timings.

Not an MXNet operator: a backend runner, as `onnxruntime.InferenceSession` is for ONNX Runtime.
TVM 0.27's path: `tvm.relax.frontend.onnx.from_onnx` (static input shapes, parameters baked in as
constants), `tvm.compile(mod, target='llvm')`, `relax.VirtualMachine(executable, tvm.cpu())`.
No tuning (MetaSchedule): default schedules, so SSD300 runs slowly but computes what TVM computes.
TVM is installed in its own virtual environment (`make conformance-tvm` creates `.venv-tvm`).
"""
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

TARGET = "llvm"


class CompiledModel(NamedTuple):
    """A model compiled by TVM, the names of its graph outputs, and how long each step took."""
    vm: object
    input_names: list
    output_names: list
    import_s: float
    compile_s: float


def importable() -> bool:
    import importlib.util
    spec = importlib.util.find_spec("tvm")
    return spec is not None and spec.origin is not None


def compile_onnx(model, input_shapes: dict) -> CompiledModel:
    """Import a ModelProto with static `input_shapes` {name: shape} and compile it for the CPU."""
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    start = time.perf_counter()
    mod = from_onnx(model, shape_dict={k: list(v) for k, v in input_shapes.items()},
                    keep_params_in_input=False)
    imported = time.perf_counter()
    executable = tvm.compile(mod, target=TARGET)
    compiled = time.perf_counter()
    vm = relax.VirtualMachine(executable, tvm.cpu())
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initializers]
    return CompiledModel(vm, inputs, [o.name for o in model.graph.output],
                         imported - start, compiled - imported)


def _flatten(value) -> list:
    """The VM's result as a flat list of arrays: tensors, nested tuples of them, and shapes (a
    ShapeTuple, or a bare int, when an exposed intermediate is a Shape value)."""
    if hasattr(value, "numpy"):
        return [value.numpy()]
    if isinstance(value, (int, float, np.generic)):
        return [np.asarray(value)]
    items = list(value)
    if items and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in items):
        return [np.asarray(items, np.int64)]           # a shape (tvm's Shape / ShapeTuple)
    return [array for item in items for array in _flatten(item)]


def run_compiled(compiled: CompiledModel, feeds: dict) -> dict:
    """{output name: array} of one run; feeds {input name: array}."""
    import tvm

    args = [tvm.runtime.tensor(np.ascontiguousarray(feeds[name])) for name in compiled.input_names]
    outputs = _flatten(compiled.vm["main"](*args))
    if len(outputs) != len(compiled.output_names):
        raise ValueError(f"tvm: the model has {len(compiled.output_names)} outputs, the VM returned "
                         f"{len(outputs)}")
    return dict(zip(compiled.output_names, outputs))


def run_onnx(model, feeds: dict) -> dict:
    """Compile and run once: {output name: array}."""
    compiled = compile_onnx(model, {name: np.shape(value) for name, value in feeds.items()})
    return run_compiled(compiled, feeds)
