"""The whole comparison (`divergence`) and its report (`format_report`)."""
from __future__ import annotations

import logging
import os

import numpy as np

from ssdref.divergence.mapping import map_tensors, params_from_initializers
from ssdref.divergence.replay import find_near_tie, replay_node
from ssdref.divergence.results import DEFAULT_RTOL, OP, RUNTIMES, DivergenceReport, NodeResult, stem
from ssdref.divergence.runtime import run_model, tensor_error, value_infos, with_all_outputs
from ssdref.divergence.ssdref_side import ssdref_node_values


# ------------------------------------------------------------------------- the whole comparison
def _initializer_values(model) -> dict:
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _data_shape(model) -> tuple:
    entry = next((i for i in model.graph.input if i.name == "data"), None)
    if entry is None:
        raise ValueError(f"{OP}: the model has no input 'data' (not an ssdref export of an SSD)")
    return tuple(d.dim_value for d in entry.type.tensor_type.shape.dim)


def find_symbol(model, network=None):
    """The deploy symbol whose parameters are the model's initializers (names and shapes)."""
    from ssdref.autograd.naming import NameManager
    from ssdref.model import get_config, get_symbol
    from ssdref.model.config import CONFIG_NAMES

    shape = _data_shape(model)
    consts = _initializer_values(model)
    argmax = [n for n in model.graph.node if n.op_type == "ArgMax"]
    slice_node = next((n for n in model.graph.node if argmax and argmax[0].input[0] in n.output), None)
    if slice_node is None or slice_node.op_type != "Slice" or slice_node.input[2] not in consts:
        raise ValueError(f"{OP}: no detection head of an ssdref export found (ArgMax over a Slice of cls_prob)")
    num_classes = int(consts[slice_node.input[2]].reshape(-1)[0])
    params = {stem(name): value.shape for name, value in consts.items()}
    config_log = logging.getLogger("ssdref.model.config")
    for name in [network] if network else CONFIG_NAMES:
        disabled, config_log.disabled = config_log.disabled, network is None   # no "untested size" noise
        try:
            with NameManager():     # automatic names counted from 0, as in a fresh `export-onnx`
                symbol = get_symbol(**get_config(name, shape[2], num_classes=num_classes - 1))
            arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
        except (ValueError, NotImplementedError):
            continue
        finally:
            config_log.disabled = disabled
        wanted = dict(zip(symbol.list_arguments(), arg_shapes))
        wanted.update(zip(symbol.list_auxiliary_states(), aux_shapes))
        wanted.pop("data")
        if all(params.get(k) == tuple(v) for k, v in wanted.items()):
            return symbol
    raise ValueError(f"{OP}: no known network ({network or ', '.join(CONFIG_NAMES)}) at data shape "
                     f"{shape[2]} with {num_classes - 1} classes has this model's parameters; give "
                     f"--params PREFIX --epoch N with the checkpoint's symbol")


def default_input(shape, seed=0) -> np.ndarray:
    """A synthetic-shapes test image, normalized, repeated over the batch: float32 (B, 3, S, S)."""
    from ssdref.data.shapes import make_images, normalize
    image = normalize(make_images(1, shape[2], seed=seed, split="test")[0])
    return np.ascontiguousarray(np.repeat(image, shape[0], axis=0))


def divergence(model, runtime="onnxruntime", *, symbol=None, arg_params=None, aux_params=None, data=None,
               rtol=DEFAULT_RTOL, network=None, seed=0) -> DivergenceReport:
    """Compare every tensor of an ssdref ONNX export run in `runtime` with ssdref, in graph order.

    model: a ModelProto or a path. runtime: 'onnxruntime', 'tvm', or a callable
    `runtime(model, feeds) -> {output name: array}`. symbol / arg_params / aux_params: ssdref's side (default: the
    known network matching the model, with the model's own initializers as parameters). data: the
    input (B, 3, S, S) float32 (default: a seeded synthetic-shapes image).
    """
    import onnx

    if not callable(runtime) and runtime not in RUNTIMES:
        raise ValueError(f"{OP}: runtime must be one of {RUNTIMES} or a callable, got {runtime!r}")
    if isinstance(model, (str, os.PathLike)):
        try:
            model = onnx.load(os.fspath(model))
        except OSError:
            raise
        except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
            raise ValueError(f"{OP}: model {os.fspath(model)} is not an ONNX model "
                             f"({type(exc).__name__}: {exc})") from None
    shape = _data_shape(model)
    symbol = find_symbol(model, network) if symbol is None else symbol
    notes = []
    own_args, own_aux = params_from_initializers(model, symbol)
    if arg_params is None:
        arg_params, aux_params = own_args, own_aux
        notes.append("ssdref runs the model's own initializers as its parameters")
    else:
        aux_params = aux_params or {}
        for name, value in {**own_args, **own_aux}.items():
            given = np.asarray({**arg_params, **aux_params}.get(name, value), np.float32)
            _, error = tensor_error(value, given)
            if error > 0:
                notes.append(f"initializer {name} differs from ssdref's parameter: relative error {error:.3g}")
    data = default_input(shape, seed) if data is None else np.ascontiguousarray(data, np.float32)
    if data.shape != shape:
        raise ValueError(f"{OP}: the input must have the model's shape {shape}, got {data.shape}")

    outputs, steps = ssdref_node_values(symbol, arg_params, aux_params, data)
    reference, labels = {"data": data}, {}
    for tensor, target in map_tensors(model, symbol).items():
        value = steps.get(target.split(":", 1)[1]) if isinstance(target, str) else outputs.get(target)
        if value is not None:
            reference[tensor], labels[tensor] = value, target if isinstance(target, str) else target.name
    actual = run_model(with_all_outputs(model), {"data": data}, runtime)

    results, tainted, first_discrete = [], set(), None
    for index, node in enumerate(model.graph.node):
        upstream = next((t for t in node.input if t in tainted), None)
        for out in node.output:
            if upstream is not None:
                tainted.add(out)
            if out not in labels or out not in actual:
                continue
            kind, error = tensor_error(actual[out], reference[out])
            result = NodeResult(index, out, labels[out], node.op_type, kind, error,
                                0.0 if kind == "discrete" else rtol,
                                labels[first_discrete.tensor] if first_discrete and out in tainted else "")
            results.append(result)
            if kind == "discrete" and not result.ok and first_discrete is None:
                first_discrete = result
                tainted.add(out)
    first_float = next((r for r in results if r.kind == "float" and not r.ok and not r.downstream_of), None)
    infos = value_infos(model)
    replay_float = replay_node(model, first_float, reference, runtime, rtol, infos) if first_float else None
    near_tie = replay_discrete = None
    if first_discrete is not None:
        near_tie = find_near_tie(model, first_discrete, reference, actual)
        replay_discrete = replay_node(model, first_discrete, reference, runtime, rtol, infos)
    skipped = sum(1 for n in model.graph.node for o in n.output if o not in labels)
    notes.append(f"{skipped} tensor(s) inside decomposed ops have no ssdref counterpart (not compared)")
    return DivergenceReport(getattr(runtime, "__name__", runtime), results, first_float, first_discrete, near_tie, replay_float,
                            replay_discrete, notes)


def _describe(result: NodeResult) -> str:
    measure = (f"{result.error:.0f} element(s) differ" if result.kind == "discrete" and np.isfinite(result.error)
               else f"error {result.error:.3g} > tolerance {result.tolerance:.3g}")
    return f"{result.node} ({result.op}, tensor {result.tensor}): {measure}"


def format_report(report: DivergenceReport, show_all=False) -> str:
    from ssdref.report import format_table

    lines = [f"ssdref vs {report.runtime}: {len(report.results)} tensors compared in graph order"]
    if show_all:
        rows = [[r.index, r.node, r.op, r.kind, r.error, r.tolerance,
                 "ok" if r.ok else ("after " + r.downstream_of if r.downstream_of else "DIFFERS")]
                for r in report.results]
        lines.append(format_table(["#", "node", "op", "kind", "error", "tolerance", "result"], rows,
                                  align="rllllrl"))
    worst = max((r for r in report.results if r.kind == "float" and not r.downstream_of),
                key=lambda r: r.error, default=None)
    if worst is not None:
        lines.append(f"worst float error: {worst.error:.3g} at {worst.node} ({worst.op})"
                     + (" (tensors after the first discrete difference left out)" if report.first_discrete else ""))
    if report.first_float is None:
        lines.append("first beyond tolerance: none")
    else:
        lines.append(f"first beyond tolerance: {_describe(report.first_float)}")
        r = report.replay_float
        lines.append(f"  replay of {r.node} alone on ssdref's inputs: error {r.error:.3g}: {r.verdict}")
    if report.first_discrete is None:
        lines.append("first discrete difference: none")
    else:
        lines.append(f"first discrete difference: {_describe(report.first_discrete)}")
        lines.append(f"  near tie: {report.near_tie.detail}")
        r = report.replay_discrete
        lines.append(f"  replay of {r.node} alone on ssdref's inputs: {r.verdict}")
    lines += [f"note: {n}" for n in report.notes]
    lines.append("result: " + ("DIVERGENCE (exit 1)" if report.exit_code else
                               "no divergence (exit 0)" + (" beyond upstream rounding at a tie"
                                                           if report.first_discrete else "")))
    return "\n".join(lines)
