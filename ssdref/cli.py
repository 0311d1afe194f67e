"""The `ssdref` command: demo (the main job), gradcheck, and the tools of later chapters."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from ssdref.errors import UsageError
from ssdref.report import format_table


def gradcheck_table(verbose: bool = False) -> tuple[str, bool]:
    """Run every declared float64 gradient check; returns the table and whether all passed."""
    from ssdref.autograd.gradcheck_suite import THRESHOLD, run_all

    results = run_all()
    by_op: dict[str, list] = {}
    for r in results:
        by_op.setdefault(r.op, []).append(r)
    rows = []
    for op, rs in by_op.items():
        worst = max((r.worst_error for r in rs), default=0.0)
        ok = all(r.passed for r in rs)
        rows.append([op, len(rs), worst, "pass" if ok else "FAIL"])
    lines = [format_table(["op", "configs", "worst rel. error", f"<= {THRESHOLD:g}"], rows, align="lrrl")]
    failures = [r for r in results if not r.passed]
    for r in failures if failures else (results if verbose else []):
        lines.append(f"  {r.op} [{r.config}]: error {r.worst_error:.3g} {r.error}")
    return "\n".join(lines), not failures


def _cmd_gradcheck(args) -> int:
    from ssdref.progress import status

    with status("gradcheck: float64 central differences of every op"):
        table, ok = gradcheck_table(verbose=args.verbose)
    print("Float64 gradient checks (central differences, relative error = max|a-n| / max(|a|,|n|))")
    print(table)
    return 0 if ok else 1


# The demo's small convolutions run fastest with one thread per pool: Numba's parallel kernels and
# OpenBLAS's threads otherwise fight over 2 cores (measured: 0.13 s vs 1.8-3.0 s CPU per update).
# Set in main() before NumPy/Numba load; a user's own settings win.
DEMO_THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _cmd_demo(args) -> int:
    from ssdref.demo import run_demo

    return run_demo(args)


# The networks get_config knows (ssdref.model.config): the choices of every --network option.
NETWORKS = ("tiny", "vgg16_reduced", "inceptionv3", "resnet50", "resnet101")

CLI_MODULES = (
    "ssdref.golden",            # golden generate | verify | diff
    "ssdref.conformance",       # conformance --backend mxnet|torch|onnxruntime
    "ssdref.explain",           # explain
    "ssdref.io.checkpoint_cli", # run-checkpoint
    "ssdref.onnx_export_cli",   # export-onnx
    "ssdref.divergence",        # divergence MODEL.onnx --runtime onnxruntime|tvm
)


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors on one line (`ssdref run-checkpoint: error: ...`), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from ssdref import __version__

    parser = OneLineParser(prog="ssdref", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ssdref {__version__}",
                        help="print ssdref's version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the main job: train SSD from the seed on synthetic shapes and evaluate")
    p.add_argument("--quick", action="store_true", help="a shorter run (under 2 minutes)")
    p.add_argument("--out", default="demo-out", help="folder for detections.png and loss_curve.png")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic data, the initialisation and the shuffling (default 0)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("gradcheck", help="float64 gradient check of every op with a backward")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print every check's configuration and error, not only the failures")
    p.set_defaults(func=_cmd_gradcheck)

    # Each feature module adds its own subcommands: `add_cli(subparsers)` (one owner per module).
    for module_name in CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:
        # before build_parser: the feature modules it imports load NumPy (and OpenBLAS's threads)
        for name in DEMO_THREAD_ENV:
            os.environ.setdefault(name, "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLI_ERRORS as exc:
        # A bad argument or input file: one line on stderr, no traceback (SSDREF_TRACEBACK=1 shows it).
        if os.environ.get("SSDREF_TRACEBACK", "") not in ("", "0"):
            raise
        message = error_line(exc)
        if message.startswith(f"{args.command}: "):          # the command already names itself
            message = message[len(args.command) + 2:]
        print(f"ssdref {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1


# What a user's arguments or files can cause; anything else is a bug in ssdref and keeps its traceback.
CLI_ERRORS = (ValueError, TypeError, OSError, NotImplementedError, MemoryError)


def error_line(exc: BaseException) -> str:
    """The exception as one line: its message with newlines folded, or its type when it has none."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return text or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
