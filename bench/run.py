"""ssdref against MXNet 1.9.1 and PyTorch on SSD300 shapes, side by side: medians and ratios.

    OMP_NUM_THREADS=2 .venv/bin/python bench/run.py [--quick] [--rounds 3] [--scaling] [--no-rss]

Cases (issue 7): numpy float32 GEMM peak; VGG16-reduced SSD300 body (conv1_1 ... relu7) forward and
forward+backward at batch 1 and 8 (GFLOP/s counts direct-convolution FLOPs: 2*MACs forward, 3x
that for forward+backward, against the GEMM peak measured in the same rounds; ssdref's Winograd
layers do 2.25x fewer multiplies, so this effective rate may pass the peak); MultiBoxTarget at batch 8
(35 gt per image) and batch 1 with 200 gt; MultiBoxDetection at batch 8 with nms_topk 400 and -1;
NMS on the top 8000 of 8732 x 20 (box, class) candidates (ssdref with nms_comparator '>' against
MXNet's box_nms, also `>`, and torchvision's batched_nms, also `>`, in the PyTorch column when
.venv-torchvision exists: `make bench-venvs`); peak RSS of one ssdref SSD300 batch-8 training step
(forward + backward through the graph executor, separate process).

Fairness: every framework gets the same inputs (saved to a temporary .npz that each worker loads)
and 2 threads (MXNet as a second process with OMP_NUM_THREADS=2 - it uses one core otherwise -,
PyTorch as a third with torch.set_num_threads(2), ssdref with Numba's 2 threads and 2-thread
OpenBLAS). Rounds alternate ssdref / MXNet / PyTorch case by case, so machine drift hits all of
them; medians are over every timed call of every round. Each case is warmed up once first (JIT).
ssdref runs twice: in a plain worker process without any thread variable, as a user's script runs
(the main table's ssdref column), and in this process (OMP_WAIT_POLICY=PASSIVE,
OPENBLAS_THREAD_TIMEOUT=4, as before issue 16; the main table's column with --no-plain); a second
table compares the two. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are
unset for every process of the bench (users' machines do not export them). The header records what
decides speed: CPU flags, NumPy's SIMD dispatch, OpenBLAS's core and threads, Numba's pool.
--scaling writes bench/scaling.png: cost against anchors (8732 -> 100k) and gts (1 -> 200).
"""
from __future__ import annotations

import argparse
import json
import math
import os

# Users' machines do not export these: a machine that does (OPENBLAS_CORETYPE=Haswell turns off
# OpenBLAS's AVX-512 kernels) would measure another library. Dropped for every process of the bench,
# before numpy loads OpenBLAS; the header says what was dropped.
DROPPED_ENV = {name: os.environ.pop(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
               if name in os.environ}
# ssdref's own process: 2 threads, and idle threads that sleep instead of spinning (OpenBLAS and
# Numba's OpenMP pool alternate layer by layer). ssdref does the same by itself since issue 16
# (ssdref.kernels.threads); the plain-process side (PLAIN_SIDE) checks that without these variables.
# Set before numpy loads OpenBLAS and before Numba starts its pool; workers get only the thread count.
BENCH_ENV = (("OMP_NUM_THREADS", "2"), ("OPENBLAS_THREAD_TIMEOUT", "4"), ("OMP_WAIT_POLICY", "PASSIVE"))
for _name, _value in BENCH_ENV:
    os.environ.setdefault(_name, _value)
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from worker import BODY  # noqa: E402  (plain data; worker.py imports nothing heavy)
from ssdref_cases import SsdrefCases, timed  # noqa: E402

MXNET_PYTHON = ROOT / ".venv-mxnet" / "bin" / "python"
# torchvision's operators come only in CUDA builds next to a CUDA torch: its own venv (make bench-venvs)
TORCHVISION_PYTHON = ROOT / ".venv-torchvision" / "bin" / "python"
THREADS = "2"
# ssdref once more, in a worker process with none of the thread variables a user would not set
PLAIN_SIDE = "ssdref plain"
USER_UNSET = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS",
              "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "GOMP_SPINCOUNT",
              "SSDREF_THREAD_TUNING")


# ---------------------------------------------------------------------------------------- inputs
def ssd300_anchors():
    from ssdref.backend import dispatch
    from ssdref.multibox.prior import multibox_prior
    layers = ((38, (.1, .141), (1, 2, .5)), (19, (.2, .272), (1, 2, .5, 3, 1 / 3)),
              (10, (.37, .447), (1, 2, .5, 3, 1 / 3)), (5, (.54, .619), (1, 2, .5, 3, 1 / 3)),
              (3, (.71, .79), (1, 2, .5)), (1, (.88, .961), (1, 2, .5)))
    prior = dispatch(multibox_prior)
    return np.concatenate([prior(np.zeros((1, 1, s, s), np.float32), sizes=z, ratios=r)
                           for s, z, r in layers], axis=1)


def random_anchors(rng, count):
    """`count` SSD-like anchors (for the scaling sweep beyond SSD300's 8732)."""
    center = rng.uniform(0, 1, (count, 2))
    half = rng.uniform(.02, .3, (count, 2))
    return np.concatenate([center - half, center + half], 1).astype(np.float32)[None]


def gt_labels(rng, batch, num_gt, rows):
    label = np.full((batch, rows, 6), -1, np.float32)
    for image in range(batch):
        xy = rng.uniform(0, .8, (num_gt, 2))
        wh = rng.uniform(.03, .5, (num_gt, 2))
        label[image, :num_gt, 0] = rng.randint(0, 20, num_gt)
        label[image, :num_gt, 1:3] = xy
        label[image, :num_gt, 3:5] = np.minimum(xy + wh, 1)
        label[image, :num_gt, 5] = 0
    return label


def softmax_probs(rng, batch, num_anchors):
    logits = rng.randn(batch, 21, num_anchors).astype(np.float32)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def make_inputs(batches, seed=0):
    """Every input of every case, by the names the worker reads."""
    rng = np.random.RandomState(seed)
    d = {}
    for layer in BODY:
        if layer[0] != "pool":
            name, cin, cout, k = layer[:4]
            d[f"{name}_weight"] = (rng.randn(cout, cin, k, k) * math.sqrt(2 / (cin * k * k))
                                   ).astype(np.float32)
            d[f"{name}_bias"] = (rng.randn(cout) * .01).astype(np.float32)
    for batch in batches:
        d[f"body_x{batch}"] = rng.randn(batch, 3, 300, 300).astype(np.float32)
        d[f"body_dy{batch}"] = rng.randn(batch, 1024, 19, 19).astype(np.float32)
    anchors = ssd300_anchors()
    for key, batch, num_gt in (("t8", 8, 35), ("t200", 1, 200)):
        d[f"{key}_anchors"] = anchors
        d[f"{key}_label"] = gt_labels(rng, batch, num_gt, max(num_gt, 56))
        d[f"{key}_cls"] = rng.randn(batch, 21, anchors.shape[1]).astype(np.float32)
    for key, topk in (("d400", 400), ("dall", -1)):
        d[f"{key}_prob"] = softmax_probs(rng, 8, anchors.shape[1])
        d[f"{key}_loc"] = (rng.randn(8, anchors.shape[1] * 4) * .3).astype(np.float32)
        d[f"{key}_anchors"] = anchors
        d[f"{key}_topk"] = np.array(topk)
    # NMS: decoded boxes of one image x 20 class scores, the 8000 best (box, class) pairs
    from ssdref.multibox.boxes import decode
    boxes = decode(anchors[0], (rng.randn(anchors.shape[1], 4) * .3).astype(np.float32),
                   (.1, .1, .2, .2))
    scores = softmax_probs(rng, 1, anchors.shape[1])[0, 1:]            # (20, A)
    top = np.argsort(-scores.reshape(-1), kind="stable")[:8000]
    d["n8000_boxes"] = np.ascontiguousarray(boxes[top % anchors.shape[1]])
    d["n8000_scores"] = scores.reshape(-1)[top]
    d["n8000_class_ids"] = (top // anchors.shape[1]).astype(np.int64)
    return d


# ------------------------------------------------------------------------------------ ssdref side
def body_flops():
    flops, size = 0, 300
    for layer in BODY:
        if layer[0] == "pool":
            _, k, s, p, convention = layer
            span = size + 2 * p - k
            size = (-(-span // s) if convention == "full" else span // s) + 1
        else:
            _, cin, cout, k, pad, dilate = layer
            size = size + 2 * pad - dilate * (k - 1)
            flops += 2 * cin * cout * k * k * size * size
    return flops


def gemm_peak(size=2048, repeat=3):
    """numpy float32 GEMM GFLOP/s (best of `repeat`)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = min(timed(lambda: a @ b, repeat))
    return 2 * size ** 3 / best / 1e9


# ---------------------------------------------------------------------------------- other sides
class Worker:
    """A framework in its own process, answering timing requests (bench/worker.py)."""

    def __init__(self, framework, python, npz, plain=False):
        drop = USER_UNSET if plain else ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(PYTHONPATH="")
        if not plain:
            env.update(OMP_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS)
        self.framework = framework
        self.proc = subprocess.Popen([str(python), str(HERE / "worker.py"), framework, npz],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, cwd=str(HERE))

    def run(self, case, reps):
        self.proc.stdin.write(json.dumps({"case": case, "reps": reps}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.framework} worker died (see its stderr above)")
        answer = json.loads(line)
        if "error" in answer:
            raise KeyError(answer["error"])
        return answer["times"]

    def info(self):
        self.proc.stdin.write(json.dumps({"info": True}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line)["info"] if line else {}

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def mxnet_version():
    try:
        out = subprocess.run([str(MXNET_PYTHON), "-c", "import mxnet; print(mxnet.__version__)"],
                             capture_output=True, text=True, timeout=120)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def torchvision_version():
    try:
        out = subprocess.run([str(TORCHVISION_PYTHON), "-c", "import torch, torchvision; "
                              "print(torchvision.__version__, 'on torch', torch.__version__)"],
                             capture_output=True, text=True, timeout=300)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def torch_version():
    try:
        import importlib.metadata as md
        return md.version("torch")
    except Exception:
        return None


# -------------------------------------------------------------------------------------- the run
def case_list(quick):
    """(label, case key, reps per round, conv FLOPs or 0)."""
    flops = body_flops()
    batches = (1,) if quick else (1, 8)
    rows = []
    for batch in batches:
        rows.append((f"VGG16-reduced body fwd, batch {batch}", f"body_fwd:{batch}",
                     (2 if quick else 3) if batch == 1 else 1, flops * batch))
        rows.append((f"VGG16-reduced body fwd+bwd, batch {batch}", f"body_fwdbwd:{batch}",
                     (1 if quick else 2) if batch == 1 else 1, 3 * flops * batch))
    reps = 3 if quick else 10
    rows += [
        ("MultiBoxTarget batch 8, 35 gt", "target:t8", reps, 0),
        ("MultiBoxTarget batch 1, 200 gt", "target:t200", reps, 0),
        ("MultiBoxDetection batch 8, topk 400", "detection:d400", reps, 0),
        ("MultiBoxDetection batch 8, topk -1", "detection:dall", max(2, reps // 3), 0),
        ("NMS top 8000 of 8732x20 (IoU `>`)", "nms:n8000", reps, 0),
    ]
    return rows


def rss_of_training_step(batch=8):
    """Peak RSS (MB) and seconds of one ssdref SSD300 training step, in a fresh process."""
    code = f"""
import time, numpy as np
def peak_mb():   # VmHWM: this process's own high-water mark (ru_maxrss inherits the parent's)
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024
from ssdref.model.config import get_symbol_train
sym = get_symbol_train('vgg16_reduced', 300, num_classes=20)
exe = sym.simple_bind(grad_req={{n: 'write' for n in sym.list_arguments() if n not in ('data', 'label')}},
                      data=({batch}, 3, 300, 300), label=({batch}, 56, 6))
rng = np.random.RandomState(0)
for name, array in exe.arg_dict.items():
    if name not in ('data', 'label'):
        array[...] = rng.randn(*array.shape).astype(array.dtype) * 0.01
exe.arg_dict['data'][...] = rng.randn({batch}, 3, 300, 300)
label = np.full(({batch}, 56, 6), -1, np.float32)
label[:, :35, 0] = rng.randint(0, 20, ({batch}, 35))
xy = rng.uniform(0, .7, ({batch}, 35, 2)); label[:, :35, 1:3] = xy
label[:, :35, 3:5] = xy + rng.uniform(.05, .3, ({batch}, 35, 2)); label[:, :35, 5] = 0
exe.arg_dict['label'][...] = label
before = peak_mb()
start = time.perf_counter()
exe.forward(is_train=True)
exe.backward()
print(before, peak_mb(), time.perf_counter() - start)
"""
    env = dict(os.environ, OMP_NUM_THREADS=THREADS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=str(ROOT), timeout=1800)
    if out.returncode:
        return None, out.stderr.strip().splitlines()[-1:]
    bound, peak, seconds = (float(v) for v in out.stdout.split()[-3:])
    return (bound, peak, seconds), None


def fmt_ms(times):
    return f"{1000 * float(np.median(times)):9.1f}" if times else "        -"


def ratio(a, b):
    return f"{float(np.median(a)) / float(np.median(b)):6.2f}" if a and b else "     -"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 1 only, 1 round: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3)")
    parser.add_argument("--scaling", action="store_true", help="also write bench/scaling.png")
    parser.add_argument("--no-mxnet", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-rss", action="store_true", help="skip the training-step RSS")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip ssdref in a plain process (no thread variables set)")
    parser.add_argument("--only", default=None, metavar="TEXT",
                        help="only the cases whose key contains TEXT (e.g. body_fwdbwd:1, target)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    load_before = os.getloadavg()
    cases = case_list(args.quick)
    if args.only:
        cases = [c for c in cases if args.only in c[1]]
        if not cases:
            parser.error(f"--only {args.only!r} matches no case key")
    data = make_inputs((1,) if args.quick else (1, 8))
    tmp = tempfile.NamedTemporaryFile(suffix=".npz", delete=False)
    tmp.close()
    np.savez(tmp.name, **data)
    sides = {"ssdref": SsdrefCases(data)}
    versions = {}
    plain_info = None
    if not args.no_plain:
        sides[PLAIN_SIDE] = Worker("ssdref", sys.executable, tmp.name, plain=True)
        plain_info = sides[PLAIN_SIDE].info()
    if not args.no_mxnet and MXNET_PYTHON.exists():
        versions["MXNet"] = mxnet_version()
        if versions["MXNet"]:
            sides["MXNet"] = Worker("mxnet", MXNET_PYTHON, tmp.name)
    if not args.no_torch and torch_version():
        versions["PyTorch"] = torch_version()
        sides["PyTorch"] = Worker("torch", sys.executable, tmp.name)
    if not args.no_torch and TORCHVISION_PYTHON.exists() and any(c[1].startswith("nms") for c in cases):
        versions["torchvision"] = torchvision_version()
        if versions["torchvision"]:
            sides["torchvision"] = Worker("torchvision", TORCHVISION_PYTHON, tmp.name)
        else:
            del versions["torchvision"]
    times = {(side, c[1]): [] for side in sides for c in cases}
    unsupported = set()
    peaks = []
    try:
        for label, case, _, _ in cases:                    # warm-up (JIT, first-touch, caches)
            for side, runner in sides.items():
                try:
                    runner.run(case, 1)
                except KeyError:
                    unsupported.add((side, case))
        for r in range(rounds):
            peaks.append(gemm_peak())
            for label, case, reps, _ in cases:
                for side, runner in sides.items():
                    if (side, case) not in unsupported:
                        times[(side, case)] += runner.run(case, reps)
            print(f"round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        if args.scaling:
            scaling(sides.get("MXNet"), data)
    finally:
        for runner in sides.values():
            if isinstance(runner, Worker):
                runner.close()
        os.unlink(tmp.name)
    rss = (None, ["skipped"]) if args.no_rss or args.quick else rss_of_training_step()
    load_after = os.getloadavg()
    peak = float(np.median(peaks))
    report(cases, times, sides, versions, peak, rss, rounds, load_before, load_after, plain_info)


def cpu_facts():
    """(model name, the vector-instruction flags that decide GEMM and kernel speed)."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = cpuinfo.read().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        flags = next(line.split(":", 1)[1].split() for line in lines if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    wanted = [f for f in flags if f in ("avx", "avx2", "fma") or f.startswith("avx512")]
    return model, wanted


def numpy_simd():
    """NumPy's SIMD: the baseline it was built for and the dispatched targets this CPU has."""
    try:
        from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
    except ImportError:                      # numpy < 2
        from numpy.core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
    found = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    return f"baseline {' '.join(__cpu_baseline__)}, dispatch found {' '.join(found) or 'none'}"


def pools_line(info):
    """One line from ssdref.kernels.threads.describe(): BLAS core and threads, Numba's pool."""
    blas = "; ".join(f"{b['internal_api']} {b['version']} core {b['architecture']} "
                     f"{b['threading_layer']} {b['num_threads']} threads" for b in info.get("blas", []))
    tuning = ", ".join(f"{k} {v}" for k, v in info.get("tuning", {}).items())
    return (f"{blas or 'no BLAS found'}; Numba layer {info.get('numba_threading_layer')} "
            f"{info.get('numba_threads')} threads; ssdref thread tuning: {tuning}")


def report(cases, times, sides, versions, peak, rss, rounds, load_before, load_after,
           plain_info=None):
    import numba
    from ssdref.kernels import threads
    cpu, flags = cpu_facts()
    print(f"machine: {cpu}, {os.cpu_count()} cores, flags {' '.join(flags) or '?'}; load average "
          f"{load_before[0]:.2f} at start, {load_after[0]:.2f} at end")
    print(f"numpy SIMD: {numpy_simd()}; "
          + (f"unset for every bench process: {' '.join(f'{k}={v}' for k, v in DROPPED_ENV.items())}"
             if DROPPED_ENV else "no OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the environment"))
    print(f"ssdref process pools: {pools_line(threads.describe())}")
    if plain_info:
        print(f"plain process pools: {pools_line(plain_info)}")
    print(f"numpy {np.__version__}, numba {numba.__version__} (threads {numba.config.NUMBA_NUM_THREADS}"
          f"), " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + "; every framework on 2 threads; NMS row: MXNet box_nms, "
          + ("torchvision batched_nms (CPU tensors) in the PyTorch column" if "torchvision" in sides
             else "no torchvision (make bench-venvs installs it)"))
    print(f"medians over {rounds} alternating rounds; ms; ratio = ssdref time / other time; ssdref "
          f"env OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"numpy float32 GEMM peak (2048^3): {peak:.0f} GFLOP/s")
    from ssdref.backend import get_conv_algorithm
    algorithm = get_conv_algorithm()
    print("ssdref Convolution: " + {
        "auto": "Winograd on 3x3 stride-1 layers of >= 64 channels, F(4x4,3x3) where a call has "
                "many tiles per weight, else F(2x2,3x3); im2col elsewhere",
        "f2x2": "Winograd F(2x2,3x3) on 3x3 stride-1 layers of >= 64 channels, im2col elsewhere",
        "im2col": "im2col"}[algorithm]
          + f" (conv algorithm {algorithm!r}, SSDREF_WINOGRAD={os.environ.get('SSDREF_WINOGRAD', '1')})"
            "; GFLOP/s = direct-convolution FLOPs per second")
    has_mx, has_torch = "MXNet" in sides, "PyTorch" in sides or "torchvision" in sides
    # ssdref as a user runs it: the plain process where it ran (the brief's and issue 16's measure)
    main_side = PLAIN_SIDE if PLAIN_SIDE in sides else "ssdref"
    print("ssdref column: " + ("a plain process (no thread variables)" if main_side == PLAIN_SIDE
                               else "this process (bench env)"))
    header = f"| {'case':42s} | {'ssdref':>9s} | {'MXNet':>9s} | {'/MXNet':>6s} | {'PyTorch':>9s} | " \
             f"{'/torch':>6s} | {'ssdref GFLOP/s (% peak)':>23s} |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for label, case, _, flops in cases:
        ours = times[(main_side, case)]
        mx = times.get(("MXNet", case)) if has_mx else None
        pt = (times.get(("PyTorch", case)) or times.get(("torchvision", case))) if has_torch else None
        rate = ""
        if flops and ours:
            gf = flops / float(np.median(ours)) / 1e9
            rate = f"{gf:.0f} ({100 * gf / peak:.0f}%)"
        print(f"| {label:42s} | {fmt_ms(ours)} | {fmt_ms(mx)} | {ratio(ours, mx)} | {fmt_ms(pt)} | "
              f"{ratio(ours, pt)} | {rate:>23s} |")
    if PLAIN_SIDE in sides:
        print(f"\nssdref in a plain process (no {', '.join(n for n, _ in BENCH_ENV)}, as a user's "
              "script runs) against the bench's process:")
        # best-of too: on a shared machine other jobs' load gives single calls of several times the
        # median; the fastest call of each side is the one least disturbed
        head = (f"| {'case':42s} | {'bench env':>9s} | {'plain':>9s} | {'plain/bench':>11s} | "
                f"{'best env':>9s} | {'best plain':>10s} | {'best ratio':>10s} |")
        print(head)
        print("|" + "|".join("-" * len(part) for part in head.split("|")[1:-1]) + "|")
        for label, case, _, _ in cases:
            ours, plain = times[("ssdref", case)], times.get((PLAIN_SIDE, case))
            best = [min(ours)] if ours else [], [min(plain)] if plain else []
            print(f"| {label:42s} | {fmt_ms(ours)} | {fmt_ms(plain)} | {ratio(plain, ours):>11s} | "
                  f"{fmt_ms(best[0])} | {fmt_ms(best[1]):>10s} | {ratio(best[1], best[0]):>10s} |")
    result, error = rss
    if result:
        bound, peak_rss, seconds = result
        print(f"SSD300 batch-8 training step (ssdref graph executor, forward+backward): peak RSS "
              f"{peak_rss:.0f} MB ({bound:.0f} MB bound and initialised), {seconds:.1f} s")
    else:
        print(f"SSD300 batch-8 training step RSS: {' '.join(error)}")


# ------------------------------------------------------------------------------------- scaling
def scaling(mxnet, data, reps=3):
    """Cost of MultiBoxTarget and MultiBoxDetection against anchors and against gts -> PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ssd = SsdrefCases(data)
    rng = np.random.RandomState(1)
    anchor_counts = (8732, 20000, 50000, 100000)
    gt_counts = (1, 10, 50, 100, 200)
    series = {}
    sweep = {}
    for count in anchor_counts:
        anchors = ssd300_anchors() if count == 8732 else random_anchors(rng, count)
        sweep[f"sa{count}"] = ("target", anchors, gt_labels(rng, 1, 35, 56),
                               rng.randn(1, 21, count).astype(np.float32))
        sweep[f"sd{count}"] = ("detection", anchors, softmax_probs(rng, 1, count),
                               (rng.randn(1, count * 4) * .3).astype(np.float32))
    for gts in gt_counts:
        sweep[f"sg{gts}"] = ("target", ssd300_anchors(), gt_labels(rng, 1, gts, max(gts, 56)),
                             rng.randn(1, 21, 8732).astype(np.float32))
    side_data = {}
    for key, (kind, anchors, a, b) in sweep.items():
        if kind == "target":
            side_data.update({f"{key}_anchors": anchors, f"{key}_label": a, f"{key}_cls": b})
        else:
            side_data.update({f"{key}_anchors": anchors, f"{key}_prob": a, f"{key}_loc": b,
                              f"{key}_topk": np.array(400)})
    ssd.d = side_data
    mx = None
    if mxnet is not None:
        tmp = tempfile.NamedTemporaryFile(suffix=".npz", delete=False)
        tmp.close()
        np.savez(tmp.name, **side_data)
        mx = Worker("mxnet", MXNET_PYTHON, tmp.name)
    try:
        for key, (kind, *_rest) in sweep.items():
            for side, runner in (("ssdref", ssd), ("MXNet", mx)):
                if runner is None:
                    continue
                runner.run(f"{kind}:{key}", 1)
                series[(side, key)] = 1000 * float(np.median(runner.run(f"{kind}:{key}", reps)))
    finally:
        if mx is not None:
            mx.close()
            os.unlink(tmp.name)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for side, style in (("ssdref", "o-"), ("MXNet", "s--")):
        if (side, "sa8732") not in series:
            continue
        axes[0].plot(anchor_counts, [series[(side, f"sa{c}")] for c in anchor_counts], style,
                     label=f"{side} MultiBoxTarget (35 gt)")
        axes[0].plot(anchor_counts, [series[(side, f"sd{c}")] for c in anchor_counts], style,
                     label=f"{side} MultiBoxDetection (topk 400)")
        axes[1].plot(gt_counts, [series[(side, f"sg{g}")] for g in gt_counts], style,
                     label=f"{side} MultiBoxTarget")
    axes[0].set(xlabel="anchors", ylabel="ms (batch 1)", xscale="log", yscale="log",
                title="cost against anchors")
    axes[1].set(xlabel="gt boxes (8732 anchors)", ylabel="ms (batch 1)", yscale="log",
                title="cost against gts")
    for ax in axes:
        ax.grid(True, which="both", alpha=.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "scaling.png", dpi=110)
    print(f"scaling plot: {HERE / 'scaling.png'}", file=sys.stderr)
    for key in sweep:
        print(f"scaling {key}: " + ", ".join(f"{side} {series[(side, key)]:.1f} ms"
                                             for side in ("ssdref", "MXNet") if (side, key) in series),
              file=sys.stderr)


if __name__ == "__main__":
    main()
