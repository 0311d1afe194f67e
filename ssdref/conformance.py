"""`ssdref conformance --backend NAME`: ssdref side by side with a real framework, as a report table.

Backends are modules `ssdref.backends.<name>_conformance` (`mxnet`, `torch`, `onnxruntime`, `tvm`), each with
`run(examples: int, seed: int) -> list[ReportRow]`: one row per op (or graph) saying how many cases
ran, how many were bit-exact, how many were within the op's stated tolerance, and the worst error
seen (relative to the tolerance's scale, as the backend's note says). Any row with
`within_tol < cases` is a mismatch and the command exits 1. It is what a user runs after upgrading
numpy or numba. When the backend's framework is not importable here but the checkout has its
virtual environment (`.venv-mxnet/bin/python` for mxnet, `.venv-tvm` for tvm: `make conformance-tvm`
creates it), the command re-runs itself there.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

BACKENDS = ("mxnet", "torch", "onnxruntime", "tvm")
# The framework module each backend needs, and the checkout venv that has it (None: no venv).
_FRAMEWORK = {"mxnet": ("mxnet", ".venv-mxnet"), "torch": ("torch", None),
              "onnxruntime": ("onnxruntime", None), "tvm": ("tvm", ".venv-tvm")}
_REEXEC_MARK = "SSDREF_CONFORMANCE_REEXEC"


class ReportRow(NamedTuple):
    """One line of the conformance report (an op, or a whole graph)."""
    op: str
    cases: int
    bit_exact: int
    within_tol: int
    worst_error: float
    note: str = ""
    both_raised: int = 0       # cases both engines rejected (agreement, but never bit-exact)

    @property
    def ok(self) -> bool:
        return self.within_tol == self.cases


def format_report(rows: list[ReportRow]) -> str:
    from ssdref.report import format_table
    table = [[r.op, r.cases, r.both_raised, r.bit_exact, r.within_tol, r.worst_error,
              "ok" if r.ok else "MISMATCH", r.note] for r in rows]
    return format_table(["op", "cases", "both raised", "bit-exact", "within tol", "worst error",
                         "result", "note"], table, align="lrrrrrll")


def _framework_importable(backend: str) -> bool:
    module = _FRAMEWORK.get(backend, (backend, None))[0]
    spec = importlib.util.find_spec(module)
    # A bare folder named like the framework on sys.path is a namespace package, not the framework.
    return spec is not None and spec.loader is not None and spec.origin is not None


def _venv_python(backend: str) -> Path | None:
    venv = _FRAMEWORK.get(backend, (None, None))[1]
    if venv is None:
        return None
    python = Path(__file__).resolve().parents[1] / venv / "bin" / "python"
    return python if python.exists() else None


def run_backend(backend: str, examples: int, seed: int) -> list[ReportRow]:
    """Import `ssdref.backends.<backend>_conformance` and run it."""
    if backend not in BACKENDS:
        raise ValueError(f"conformance: backend must be one of {BACKENDS}, got {backend!r}")
    module = importlib.import_module(f"ssdref.backends.{backend}_conformance")
    return list(module.run(examples=examples, seed=seed))


def _cmd_conformance(args) -> int:
    if args.examples < 1:
        print(f"conformance: --examples must be >= 1, got {args.examples}", file=sys.stderr)
        return 2
    if not _framework_importable(args.backend):
        python = _venv_python(args.backend)
        if python is not None and not os.environ.get(_REEXEC_MARK):
            print(f"conformance: {args.backend} is not importable here; re-running under {python}",
                  flush=True)
            cmd = [str(python), "-m", "ssdref", "conformance", "--backend", args.backend,
                   "--examples", str(args.examples), "--seed", str(args.seed)]
            return subprocess.call(cmd, env={**os.environ, _REEXEC_MARK: "1"})
        print(f"conformance: backend {args.backend!r} needs the {_FRAMEWORK[args.backend][0]} package, "
              f"which is not importable in {sys.executable}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    from ssdref.progress import status

    with status(f"conformance: ssdref vs {args.backend}, {args.examples} examples per op"):
        rows = run_backend(args.backend, args.examples, args.seed)
    elapsed = time.perf_counter() - start
    print(f"ssdref vs {args.backend}: {args.examples} examples per op, seed {args.seed}, {elapsed:.1f} s")
    print(format_report(rows))
    bad = [r for r in rows if not r.ok]
    total = sum(r.cases for r in rows)
    exact = sum(r.bit_exact for r in rows)
    print(f"{total} cases, {exact} bit-exact ({100.0 * exact / max(total, 1):.1f}%), "
          f"{len(bad)} op(s) with mismatches")
    return 1 if bad or not rows else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("conformance", help="compare ssdref with a real framework, op by op and whole SSD")
    p.add_argument("--backend", choices=BACKENDS, default="mxnet",
                   help="the framework to compare with: mxnet (1.9.1, .venv-mxnet), torch, onnxruntime, "
                        "or tvm (apache-tvm, .venv-tvm; the tiny SSD and SSD300 through ONNX)")
    p.add_argument("--examples", type=int, default=20, help="hypothesis examples per op (default 20)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    p.set_defaults(func=_cmd_conformance)
