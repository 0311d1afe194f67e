"""The runtime's side: every node output exposed, the model run in ONNX Runtime or TVM, the error."""
from __future__ import annotations

import numpy as np

from ssdref.backends.measure import scaled_error_as_float64
from ssdref.divergence.results import OP, RUNTIMES


# ------------------------------------------------------------------------- the runtime's side
def value_infos(model) -> dict:
    """{tensor: ValueInfoProto (element type, shape)} of node outputs, from ONNX shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    return {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}


def with_all_outputs(model):
    """A copy of the model whose graph outputs are every node output (existing ones first)."""
    import onnx
    from onnx import TensorProto, helper

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    inferred = value_infos(model)
    present = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for out in node.output:
            if out and out not in present:
                exposed.graph.output.append(inferred[out] if out in inferred else
                                            helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
                present.add(out)
    return exposed


def run_model(model, feeds: dict, runtime: str) -> dict:
    """{output name: array} of one run of a ModelProto in `runtime` (a name, or your own callable
    `runtime(model, feeds) -> {output name: array}` for a runtime ssdref does not know)."""
    if callable(runtime):
        return dict(runtime(model, feeds))
    if runtime == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds)))
    if runtime == "tvm":
        from ssdref.backends import tvm
        return tvm.run_onnx(model, feeds)
    raise ValueError(f"{OP}: runtime must be one of {RUNTIMES}, got {runtime!r}")


def tensor_error(actual, expected) -> tuple[str, float]:
    """(kind, error) of a runtime's tensor against ssdref's: float tensors by the conformance
    measure (`ssdref.backends.measure.scaled_error`, ssdref the reference, floored at float32's
    smallest normal so that an all-zero reference still scales); discrete tensors (int, bool): the
    number of elements that differ; inf where the shapes differ."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    discrete = not np.issubdtype(expected.dtype, np.floating)
    kind = "discrete" if discrete else "float"
    if actual.shape != expected.shape:
        return kind, float("inf")
    if discrete:
        return kind, float(np.count_nonzero(actual.astype(expected.dtype) != expected))
    return kind, scaled_error_as_float64(actual, expected, floor=np.finfo(np.float32).tiny)
