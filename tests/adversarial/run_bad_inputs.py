"""Adversarial harness (issue 17): every bad input in cases.py, each in a forked child with a timeout.

    python tests/adversarial/run_bad_inputs.py [--backend numpy|numba|cuda] [--report FILE]
        [--only SUBSTRING] [--timeout S] [--fast]

Outcomes: ok (a clear error naming the argument, or MXNet's accepted result), internal (an
exception other than ValueError/TypeError/the case's documented ones, or a traceback out of the
CLI), silent (no error where one must be raised, or NaN/garbage for invalid input), vague (a
ValueError/TypeError whose message names none of the case's argument names), refused (an error
where MXNet accepts the input), crash (the child died on a signal), hang (timeout).
Exit status 1 when any case is not ok.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import multiprocessing as mp
import os
import subprocess
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..")))

import ssdref  # noqa: E402
import cases as case_table  # noqa: E402

OUTCOMES = ("ok", "internal", "silent", "vague", "refused", "crash", "hang")
CLEAR = ("ValueError", "TypeError")


# ----------------------------------------------------------------------------- running a call
def _resolve(target):
    kind, name = target.split(".", 1) if "." in target else (target, "")
    if kind == "nd":
        return getattr(ssdref.nd, name)
    if kind == "contrib":
        return getattr(ssdref.nd.contrib, name)
    if kind == "fn":
        return SCENARIOS[name]
    raise KeyError(target)


def _copies(values):
    return [np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values]


def run_call(call):
    if call.target == "cli":
        return run_cli(call.args[0])
    return _resolve(call.target)(*call.args, **call.kwargs)


def run_cli(argv):
    from ssdref import cli
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(case_table.TMP)   # default outputs (detections.png, ...) land in the scratch folder
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(cwd)
    return ("cli", code, err.getvalue())


def _outputs(result):
    return result if isinstance(result, (list, tuple)) else [result]


def _finite(result):
    return all(np.all(np.isfinite(np.asarray(r, np.float64))) for r in _outputs(result)
               if isinstance(r, np.ndarray) and r.dtype.kind == "f")


def check_result(case, result):
    """None when the result of an accepted input is right, else what is wrong."""
    if case.check == "finite" and not _finite(result):
        return "result holds NaN or inf"
    if case.check == "same_as_copy":
        call = case.call
        again = _resolve(call.target)(*_copies(call.args),
                                     **dict(zip(call.kwargs, _copies(call.kwargs.values()))))
        for a, b in zip(_outputs(result), _outputs(again)):
            if not np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True):
                return "result differs from the result on a contiguous writable copy"
    if case.check == "same_across_backends":
        ref = None
        with ssdref.use_backend("numpy"):
            ref = run_call(case.call)
        for a, b in zip(_outputs(result), _outputs(ref)):
            if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6, equal_nan=True):
                return f"{ssdref.get_backend()} result differs from the numpy backend's"
    return None


def classify(case, kind, value, message):
    """(outcome, detail) of one finished case. kind: 'result' or 'exc' (value: type name)."""
    names = [n.lower() for n in case.names]
    if kind == "cli":
        code, err = value, message
        if "Traceback" in err:
            return "internal", "traceback on stderr: " + err.strip().splitlines()[-1][:300]
        if code in (1, 2):
            text = err.strip()
            if not text:
                return "vague", f"exit {code} with nothing on stderr"
            if not any(n in text.lower() for n in names):
                return "vague", f"exit {code}: {text.splitlines()[-1][:300]}"
            return "ok", f"exit {code}: {text.splitlines()[-1][:300]}"
        return "silent", f"exit {code!r}; stderr: {err.strip()[-300:]!r}"
    if kind == "exc":
        etype = value
        if case.expect in ("ok",):
            if etype in CLEAR:
                return "refused", f"{etype}: {message}"
            return "internal", f"{etype}: {message}"
        if etype not in CLEAR + tuple(case.allowed):
            return "internal", f"{etype}: {message}"
        if not any(n in message.lower() for n in names):
            return "vague", f"{etype}: {message}"
        return "ok", f"{etype}: {message}"
    # a result
    if case.expect == "raise":
        return "silent", f"returned {value}"
    if case.expect == "ok_or_raise" and message is None and value.startswith("non-finite"):
        return "silent", value
    if message:
        return "silent", message
    return "ok", value


def _summary(result):
    if isinstance(result, tuple) and result and result[0] == "cli":
        return "cli"
    outs = [r for r in _outputs(result) if isinstance(r, np.ndarray)]
    if not outs:
        return f"{type(result).__name__}"
    desc = ", ".join(f"{o.shape}:{o.dtype}" for o in outs[:3])
    if not _finite(result):
        return f"non-finite output(s) {desc}"
    return f"output(s) {desc}"


def execute(case):
    """Run one case in this process: (outcome, detail)."""
    try:
        result = run_call(case.call)
    except Exception as exc:  # noqa: BLE001 (classified, never hidden)
        return classify(case, "exc", type(exc).__name__, " ".join(str(exc).split())[:500])
    except RecursionError as exc:  # pragma: no cover (RecursionError is an Exception)
        return classify(case, "exc", type(exc).__name__, str(exc)[:500])
    if isinstance(result, tuple) and result and result[0] == "cli":
        return classify(case, "cli", result[1], result[2])
    summary = _summary(result)
    problem = None
    if case.expect in ("ok", "ok_or_raise"):
        try:
            problem = check_result(case, result)
        except Exception as exc:  # noqa: BLE001
            problem = f"check raised {type(exc).__name__}: {exc}"
    return classify(case, "result", summary, problem)


def _child(case, conn):
    try:
        conn.send(execute(case))
    except BaseException as exc:  # noqa: BLE001
        conn.send(("internal", f"harness: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-500:]}"))
    finally:
        conn.close()


def run_forked(case, timeout):
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(case, child))
    proc.start()
    child.close()
    if parent.poll(timeout):
        try:
            outcome = parent.recv()
        except EOFError:
            outcome = None
        proc.join(10)
        if outcome is not None:
            return outcome
    else:
        proc.kill()
        proc.join()
        return "hang", f"no answer within {timeout} s"
    if proc.exitcode is not None and proc.exitcode < 0:
        return "crash", f"child killed by signal {-proc.exitcode}"
    return "crash", f"child exited {proc.exitcode} without an answer"


# ----------------------------------------------------------------------------- scenarios
def _net():
    data = ssdref.sym.Variable("data")
    return ssdref.sym.Convolution(data=data, kernel=(3, 3), num_filter=2, name="conv")


def _bound():
    return _net().simple_bind(grad_req="write", data=(1, 2, 5, 5))


def _args(**over):
    a = {"data": np.zeros((1, 2, 5, 5), np.float32), "conv_weight": np.zeros((2, 2, 3, 3), np.float32),
         "conv_bias": np.zeros((2,), np.float32)}
    a.update(over)
    return {k: v for k, v in a.items() if v is not None}


def _run_json(path):
    s = ssdref.sym.load(path)
    ex = s.simple_bind(grad_req="null", data=(1, 2, 5, 5))
    return ex.forward(is_train=False, data=np.ones((1, 2, 5, 5), np.float32))


SCENARIOS = {
    "nd_unknown_op": lambda: ssdref.nd.NoSuchOp(np.zeros(2, np.float32)),
    "sym_var_name_none": lambda: ssdref.sym.Variable(None),
    "sym_var_name_int": lambda: ssdref.sym.Variable(5),
    "sym_var_shape_str": lambda: ssdref.sym.Variable("data", shape="abc").infer_shape(),
    "sym_var_shape_neg": lambda: ssdref.sym.Variable("data", shape=(-2, 3)).infer_shape(),
    "sym_conv_kernel_zero_infer": lambda: ssdref.sym.Convolution(
        data=ssdref.sym.Variable("data"), kernel=(0, 0), num_filter=2).infer_shape(data=(1, 2, 5, 5)),
    "sym_conv_missing_num_filter": lambda: ssdref.sym.Convolution(
        data=ssdref.sym.Variable("data"), kernel=(3, 3)).infer_shape(data=(1, 2, 5, 5)),
    "sym_conv_data_not_symbol": lambda: ssdref.sym.Convolution(data=np.zeros(3), kernel=(3, 3), num_filter=2),
    "sym_conv_unknown_kwarg": lambda: ssdref.sym.Convolution(
        data=ssdref.sym.Variable("data"), kernel=(3, 3), num_filter=2, foo=3),
    "sym_bind_neg_shape": lambda: _net().simple_bind(data=(-1, 2, 5, 5)),
    "sym_bind_no_shapes": lambda: _net().simple_bind(),
    "sym_bind_wrong_rank": lambda: _net().simple_bind(data=(1, 2)),
    "sym_bind_grad_req_bad": lambda: _net().simple_bind(grad_req="sometimes", data=(1, 2, 5, 5)),
    "sym_bind_type_int": lambda: _net().simple_bind(type_dict={"data": np.int32}, data=(1, 2, 5, 5)).forward(),
    "sym_bind_type_f16": lambda: _net().simple_bind(type_dict={"data": np.float16}, data=(1, 2, 5, 5)).forward(),
    "sym_var_shape_neg_bind": lambda: ssdref.sym.Variable("data", shape=(-2, 3)).simple_bind(),
    "sym_bind_shape_str": lambda: _net().simple_bind(data="big"),
    "sym_bind_unknown_name": lambda: _net().simple_bind(data=(1, 2, 5, 5), bogus=(3,)),
    "sym_bind_missing_weight": lambda: _net().bind(None, _args(conv_weight=None)),
    "sym_bind_wrong_weight_shape": lambda: _net().bind(None, _args(conv_weight=np.zeros((2, 2, 2, 2), np.float32))),
    "sym_bind_int_weight": lambda: _net().bind(None, _args(conv_weight=np.zeros((2, 2, 3, 3), np.int32))).forward(),
    "sym_bind_args_not_dict": lambda: _net().bind(None, 42),
    "sym_forward_wrong_shape": lambda: _bound().forward(data=np.zeros((1, 2, 6, 6), np.float32)),
    "sym_forward_unknown_arg": lambda: _bound().forward(bogus=np.zeros(3, np.float32)),
    "sym_backward_wrong_shape": lambda: (lambda ex: (ex.forward(is_train=True), ex.backward(
        out_grads=[np.zeros((9, 9), np.float32)])))(_bound()),
    "sym_infer_shape_rank": lambda: _net().infer_shape(data=(1, 2, 5)),
    "sym_group_non_symbol": lambda: ssdref.sym.Group([_net(), 3]),
    "sym_group_empty": lambda: ssdref.sym.Group([]).list_outputs(),
    "sym_sym_plus_str": lambda: _net() + "abc",
    "sym_getitem_out_of_range": lambda: _net()[5],
    "sym_getitem_bad_name": lambda: _net()["nosuch"],
    "sym_copy_params_wrong_shape": lambda: _bound().copy_params_from(
        {"conv_weight": np.zeros((5,), np.float32)}, {}),
    "json_load_and_bind": _run_json,
    "json_loads": lambda text: ssdref.sym.load_json(text),
    "params_load": lambda path: ssdref.io.load_params(path),
    "params_save": lambda d: ssdref.io.save_params(os.path.join(case_table.TMP, "out.params"), d, {}),
    "run_checkpoint": lambda *a, **k: ssdref.io.run_checkpoint(*a, **k),
}


# ----------------------------------------------------------------------------- main
def warm_up():
    """Compile the hot kernels in the parent, so that no forked child pays the first Numba compile."""
    x = np.ones((1, 2, 6, 6), np.float32)
    for dtype in (np.float32, np.float64):
        xs = x.astype(dtype)
        ssdref.nd.Convolution(xs, np.ones((2, 2, 3, 3), dtype), np.zeros(2, dtype), kernel=(3, 3), num_filter=2)
        for pt in ("max", "avg"):
            ssdref.nd.Pooling(xs, kernel=(2, 2), pool_type=pt)
    c = case_table
    ssdref.nd.contrib.MultiBoxPrior(c.fm, sizes=(0.5,))
    ssdref.nd.contrib.MultiBoxTarget(c.anchors, c.label, c.cls_pred, negative_mining_ratio=3.0)
    ssdref.nd.contrib.MultiBoxDetection(c.cls_prob, c.loc, c.anchors)
    ssdref.nd.contrib.box_nms(c.nms_data)
    try:
        ssdref.io.run_checkpoint(c.PREFIX, 2, c.img)
    except Exception:  # noqa: BLE001
        pass


def shown(case) -> str:
    """The case's call; for a scenario without arguments, its source (the exact calls it makes)."""
    call = case.call
    if call.target.startswith("fn.") and not call.args and not call.kwargs:
        try:
            source = inspect.getsource(SCENARIOS[call.target[3:]]).strip().rstrip(",")
            return " ".join(source.split(": ", 1)[-1].split())
        except (OSError, TypeError):
            pass
    return repr(call)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numba", choices=("numpy", "numba", "cuda"))
    ap.add_argument("--report", help="write the full per-case table here (TSV)")
    ap.add_argument("--only", help="run the cases whose id contains this")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--fast", action="store_true", help="only the cases marked fast")
    ap.add_argument("--warm-up-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    ssdref.set_backend(args.backend)
    chosen = [c for c in case_table.CASES if args.backend in c.backends
              and (not args.only or args.only in c.id) and (not args.fast or c.fast)]
    t0 = time.time()
    if args.warm_up_only:
        warm_up()
        return 0
    if args.backend == "numpy":
        warm_up()   # here: the forked children inherit every import and compiled function
    else:
        # numba (and cuda, which may fall back on CPU kernels): warm up (fill Numba's disk cache)
        # in a separate process. A parent that has run a parallel kernel has started libgomp's
        # pool, and Numba SIGTERMs a forked child that then uses it; each child loads the cache.
        # (The CUDA simulator compiles nothing; its warm-up would only be slow.)
        if args.backend == "numba":
            subprocess.run([sys.executable, os.path.abspath(__file__), "--warm-up-only", "--backend", args.backend],
                           check=False, timeout=1200)
        from ssdref.autograd import registry
        registry.load_all()
    print(f"backend {args.backend}: {len(chosen)} cases (warm-up {time.time() - t0:.1f} s)", flush=True)
    rows = []
    for case in chosen:
        t = time.time()
        outcome, detail = run_forked(case, args.timeout)
        rows.append((case, outcome, detail, time.time() - t))
        if outcome != "ok":
            print(f"  [{outcome}] {case.id}: {shown(case)}\n      -> {detail}", flush=True)
    counts = {o: sum(1 for r in rows if r[1] == o) for o in OUTCOMES}
    print(f"\n{'backend':8} {'cases':>5} " + " ".join(f"{o:>8}" for o in OUTCOMES))
    print(f"{args.backend:8} {len(rows):5d} " + " ".join(f"{counts[o]:8d}" for o in OUTCOMES))
    print(f"total {time.time() - t0:.1f} s")
    if args.report:
        with open(args.report, "w") as f:
            f.write("backend\tid\toutcome\tseconds\tcall\tdetail\n")
            for case, outcome, detail, secs in rows:
                f.write(f"{args.backend}\t{case.id}\t{outcome}\t{secs:.2f}\t{shown(case)}\t{detail}\n")
    return 0 if counts["ok"] == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
