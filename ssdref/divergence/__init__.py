"""`ssdref divergence MODEL.onnx`: the first node where another runtime departs from ssdref, and why.

Not an MXNet operator: the oracle's tool for a port. It takes an ONNX model written by
`ssdref export-onnx` (onnx_export.py), exposes every node output as a graph output, runs it in a
runtime (ONNX Runtime or TVM), runs the same network in ssdref, and compares tensor by tensor in
graph order:
  * float tensors: error = max|runtime - ssdref| / max|ssdref| against `rtol` (default 1e-4);
  * discrete tensors (indices, masks, classes: int and bool): exact, error = elements that differ.
It reports the first float tensor beyond its tolerance, the first discrete tensor that differs and
whether an upstream near-tie explains it (the two candidates' ssdref values are closer than the
runtime's upstream error on them), and a replay: that node alone, run by the runtime on ssdref's
inputs. A replay equal to ssdref says the rounding came from upstream; a replay that differs says
this op differs. Exit status 0: no divergence (discrete flips that replay as upstream rounding and
what follows from them are reported, not counted); 1: a divergence; 2: a usage error.

Names: the export calls each ONNX tensor `<hint>__<n>`, the hint being the MXNet node's name for
the node's main output and parameters (`conv1_1__4`, `conv1_1_weight__3`), an ONNX op type for the
pieces of decomposed ops and for Pooling (`MaxPool__6`). Automatic names (`transpose3`) depend on
what the exporting process built before, so tensors are matched to MXNet nodes structurally
(`map_tensors`), from the detection head back to `data`; parameters by name. The detection head is
decomposed; its steps are found by op type (ArgMax = class, TopK, NonMaxSuppression, ...) and
ssdref computes each step itself from its cls_prob and loc_preds with the 'onnx' preset's semantics.

  results.py      what is reported: NodeResult, Replay, NearTie, DivergenceReport
  ssdref_side.py  every MXNet node's output in ssdref; the detection head step by step
  mapping.py      ONNX tensor -> MXNet node, structurally
  runtime.py      every node output exposed, run in ONNX Runtime or TVM; the error of one tensor
  replay.py       one node replayed alone; near ties upstream
  compare.py      divergence(), format_report()
  __init__.py     the command (`ssdref divergence`, `python -m ssdref.divergence`)
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from ssdref.divergence.compare import (default_input, divergence, find_symbol,  # noqa: F401
                                       format_report)
from ssdref.divergence.mapping import map_tensors, params_from_initializers  # noqa: F401
from ssdref.divergence.replay import replay_model  # noqa: F401
from ssdref.divergence.results import (DEFAULT_RTOL, OP, RUNTIMES, DivergenceReport,  # noqa: F401
                                       NearTie, NodeResult, Replay, stem)
from ssdref.divergence.runtime import run_model, value_infos, with_all_outputs  # noqa: F401
from ssdref.divergence.ssdref_side import detection_steps, ssdref_node_values  # noqa: F401


# ------------------------------------------------------------------------- the command
def _reexec_in_tvm_venv(argv) -> int | None:
    from ssdref.backends import tvm
    from pathlib import Path

    if tvm.importable() or os.environ.get("SSDREF_DIVERGENCE_REEXEC"):
        return None
    python = Path(__file__).resolve().parents[2] / ".venv-tvm" / "bin" / "python"
    if not python.exists():
        return None
    print(f"{OP}: tvm is not importable here; re-running under {python}", flush=True)
    return subprocess.call([str(python), "-m", "ssdref.divergence", *argv],
                           env={**os.environ, "SSDREF_DIVERGENCE_REEXEC": "1"})


def _argv_of(args) -> list:
    argv = [args.model, "--runtime", args.runtime, "--rtol", repr(args.rtol), "--seed", str(args.seed)]
    for option, value in (("--params", args.params), ("--epoch", args.epoch), ("--input", args.input),
                          ("--network", args.network)):
        if value not in (None, ""):
            argv += [option, str(value)]
    return argv + (["--all"] if args.all else [])


def _cmd_divergence(args) -> int:
    from ssdref.errors import UsageError

    try:
        if not os.path.isfile(args.model):
            raise UsageError(f"MODEL must be an existing .onnx file, got {args.model!r}")
        if args.rtol <= 0:
            raise UsageError(f"--rtol must be > 0, got {args.rtol}")
        if bool(args.params) != (args.epoch is not None):
            raise UsageError("--params PREFIX and --epoch N go together")
        if args.runtime == "tvm":
            code = _reexec_in_tvm_venv(_argv_of(args))
            if code is not None:
                return code
            from ssdref.backends import tvm
            if not tvm.importable():
                raise UsageError(f"--runtime tvm needs the tvm package (apache-tvm), not importable in "
                                 f"{sys.executable}; `make conformance-tvm` creates .venv-tvm")
        symbol = arg_params = aux_params = data = None
        if args.params:
            from ssdref.io.checkpoint import load_checkpoint
            from ssdref.io.mxnet_params import checkpoint_params_path, load_params
            if os.path.isfile(f"{args.params}-symbol.json"):
                symbol, arg_params, aux_params = load_checkpoint(args.params, args.epoch)
            else:
                arg_params, aux_params = load_params(checkpoint_params_path(args.params, args.epoch))
        if args.input:
            data = np.load(args.input).astype(np.float32)
            data = data[None] if data.ndim == 3 else data
        report = divergence(args.model, args.runtime, symbol=symbol, arg_params=arg_params,
                            aux_params=aux_params, data=data, rtol=args.rtol, network=args.network,
                            seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f"ssdref {OP}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(report.format(args.all))
    return report.exit_code


def add_cli(subparsers) -> None:
    """Register `ssdref divergence MODEL.onnx --runtime onnxruntime|tvm`."""
    p = subparsers.add_parser("divergence", help="the first node where a runtime's run of an ONNX export "
                                                 "departs from ssdref, with a replay of that node")
    p.add_argument("model", help="an .onnx file written by `ssdref export-onnx`")
    p.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime",
                   help="the runtime to compare with ssdref: onnxruntime, or tvm (.venv-tvm)")
    p.add_argument("--params", default="", help="checkpoint PREFIX: ssdref's parameters (and symbol, "
                                                "when PREFIX-symbol.json exists); default: the model's own")
    p.add_argument("--epoch", type=int, default=None, help="the checkpoint's epoch (with --params)")
    p.add_argument("--input", default="", help=".npy input (B, 3, S, S) or (3, S, S) float32, as fed to "
                                               "the model (default: a seeded synthetic-shapes image)")
    p.add_argument("--network", default=None, help="get_config network name (default: found from the "
                                                   "model's parameters)")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                   help=f"float tolerance, max|diff| / max|ssdref| (default {DEFAULT_RTOL:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the default input image")
    p.add_argument("--all", action="store_true", help="print every compared tensor")
    p.set_defaults(func=_cmd_divergence)


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="ssdref")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["divergence", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
