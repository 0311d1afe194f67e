"""Compile every numba.cuda kernel ssdref launches to PTX and SASS, without a GPU; report GPU-only bugs.

The CUDA simulator runs kernels as Python, so it never types them the way the GPU compiler does:
typing errors, unsupported functions, libdevice calls, FMA contraction and launch resources only
show up on a real GPU. This script finds them on a CPU machine (libnvvm and libnvrtc for numba-cuda;
`ptxas` and `nvdisasm`, from the `nvidia-cuda-nvdisasm` wheel, for the SASS-level checks):

1. fake device memory (`cuda.device_array`, `to_device`, `as_cuda_array` -> zero-filled host arrays
   typed as a DeviceNDArray would be) and a fake launch (`kernel[grid, block](...)` records the
   dispatcher, argument types and block size instead of running);
2. real calls of every public cuda_* function (float32 and float64, host and device inputs, the
   parameter branches the tests use, SSD-sized inputs for the largest blocks), so the recorded types
   are exactly those of real calls;
3. `cuda.compile_ptx(dispatcher.py_func, argtypes, cc=...)` for every distinct (kernel, types), and
   the cuda_mathf device functions on their own (their real-GPU branch: libdevice, bit casts);
4. `ptxas -arch=sm_XX -v` on each PTX: registers x the largest block must fit 65536 registers;
   static shared memory <= 48 KiB; a plain `mul` feeding an `add`/`sub` (ptxas fuses it into an FMA
   by default, so the result is not the specification's rounded product then sum; with nvdisasm the
   FMAs ptxas adds are counted from the SASS of --fmad=true vs --fmad=false);
5. per-call recompiles: a kernel with several dispatcher objects or argument type sets per dtype.

    export LD_LIBRARY_PATH=/tmp/nvrtc-site/nvidia/cu13/lib:/usr/local/cuda-13.0/lib   # libnvrtc, libnvvm
    .venv/bin/python bench/cuda_compile_check.py [--cc 9.0] [--no-ptxas] [--nvdisasm PATH] [--only NAME] [-v]
    python3 bench/cuda_compile_check.py --gpu     # on a GPU machine: launch the scenarios for real,
                                                  # driver/NVVM versions and a traceback per failure

Exit status 0 when every kernel compiles and assembles and no problem is found, 1 otherwise.
"""
import argparse
import collections
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

if os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0"):
    sys.exit("cuda_compile_check: unset NUMBA_ENABLE_CUDASIM (this checks the real-GPU code paths)")

import numba  # noqa: E402
from numba import cuda, types  # noqa: E402
from numba.core.typing.typeof import Purpose, typeof  # noqa: E402

CC = (9, 0)


# ---------------------------------------------------------------------------------------------
# Fakes: device memory and kernel launches
# ---------------------------------------------------------------------------------------------
class FakeDeviceArray(np.ndarray):
    """Zero-filled host memory standing in for a DeviceNDArray (same typing, copy_to_host)."""

    def copy_to_host(self, ary=None, stream=0):
        return np.array(self)

    @property
    def _numba_type_(self):
        broadcast = 0 in self.strides and self.size != 0
        if self.flags["C_CONTIGUOUS"] and not broadcast:
            layout = "C"
        elif self.flags["F_CONTIGUOUS"] and not broadcast:
            layout = "F"
        else:
            layout = "A"
        return types.Array(numba.from_dtype(self.dtype), self.ndim, layout)


def _fake(host):
    return np.array(host, copy=True).view(FakeDeviceArray)


def fake_device_array(shape, dtype=np.float64, strides=None, order="C", stream=0):
    return _fake(np.zeros(shape, dtype, order=order))


def fake_to_device(obj, stream=0, copy=True, to=None):
    return _fake(np.asarray(obj))


def fake_as_cuda_array(obj, sync=True):
    return obj if isinstance(obj, FakeDeviceArray) else _fake(np.asarray(obj))


class FakeDevice:
    compute_capability = CC
    name = b"fake"
    id = 0


Launch = collections.namedtuple("Launch", "dispatcher argtypes values griddim blockdim site")
LAUNCHES = []


def argtype(value):
    if isinstance(value, FakeDeviceArray):
        return value._numba_type_
    return typeof(value, Purpose.argument)     # what CUDADispatcher.typeof_pyval does


def _caller_site():
    frame = sys._getframe(2)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno} {frame.f_code.co_name}"


def fake_getitem(self, config):
    griddim, blockdim = config[0], config[1]

    def launch(*args):
        LAUNCHES.append(Launch(self, tuple(argtype(a) for a in args), args, griddim, blockdim,
                               _caller_site()))
    return launch


def install_fakes():
    from numba.cuda import dispatcher as cuda_dispatcher
    cuda_dispatcher.get_current_device = lambda: FakeDevice()
    try:
        from numba.cuda import compiler as cuda_compiler
        cuda_compiler.get_current_device = lambda: FakeDevice()
    except ImportError:
        pass
    cuda_dispatcher.CUDADispatcher.__getitem__ = fake_getitem
    cuda.device_array = fake_device_array
    cuda.to_device = fake_to_device
    cuda.as_cuda_array = fake_as_cuda_array
    cuda.synchronize = lambda: None


# ---------------------------------------------------------------------------------------------
# Scenarios: real calls of the public functions (small inputs; values do not matter, types do)
# ---------------------------------------------------------------------------------------------
DTYPES = (np.float32, np.float64)


def _boxes(rng, n, dtype):
    lo = rng.uniform(0, .6, (n, 2))
    return np.concatenate([lo, lo + rng.uniform(.05, .4, (n, 2))], axis=1).astype(dtype)


def scenario_boxes(rng):
    from ssdref.kernels import cuda_boxes as g
    for dtype in DTYPES:
        a, b = _boxes(rng, 5, dtype), _boxes(rng, 3, dtype)
        for nonpositive in (False, True):
            g.iou_matrix(a, b, nonpositive)
        g.iou_matrix(cuda.to_device(a), cuda.to_device(b))
        g.encode(a, a[::-1].copy(), (0.1, 0.1, 0.2, 0.2))
        dec = g.decode(a, a, (0.3, 0.2, 0.1, 0.5))
        g.clip_boxes(dec)
        g.clip_boxes(cuda.to_device(dec))


def scenario_prior(rng):
    from ssdref.kernels import cuda_prior as g
    for dtype in DTYPES:
        data = np.zeros((1, 1, 2, 3), dtype)
        g.multibox_prior(data, sizes=(0.5, 0.25), ratios=(1, 2, 0.5))
        g.multibox_prior(data, sizes=(0.6,), ratios=(1, 3), steps=(0.3, 0.2), offsets=(0.2, 0.7),
                         clip=True)
        g.multibox_prior(cuda.to_device(data), sizes=(0.5,))


def scenario_target(rng):
    from ssdref.kernels import cuda_target as g
    ssd = dict(overlap_threshold=.5, negative_mining_ratio=3, negative_mining_thresh=.5)
    for dtype in DTYPES:
        anchors = _boxes(rng, 6, dtype)[None]
        label = np.array([[[1, .05, .05, .5, .55], [-1] * 5]], dtype)
        pred = rng.standard_normal((1, 3, 6)).astype(dtype)
        for params in ({}, ssd, dict(ssd, negative_mining_ratio=0.5), dict(overlap_threshold=0.0),
                       dict(ssd, ignore_label=-2.0)):
            try:
                g.multibox_target(anchors, label, pred, **params)
            except ValueError:      # zero-filled fake results may trip a host-side check
                pass
        g.multibox_target(cuda.to_device(anchors), cuda.to_device(label), cuda.to_device(pred))


def scenario_detection(rng):
    from ssdref.kernels import cuda_detection as g
    for dtype in DTYPES:
        prob = rng.uniform(0, 1, (1, 3, 5)).astype(dtype)
        loc = np.zeros((1, 20), dtype)
        anchor = _boxes(rng, 5, dtype)[None]
        for params in ({}, {"force_suppress": True}, {"nms_threshold": 0.0}, {"clip": False},
                       {"nms_topk": 2}, {"nms_comparator": ">"}, {"threshold": 0.55}):
            g.multibox_detection(prob, loc, anchor, **params)
        g.multibox_detection(cuda.to_device(prob), cuda.to_device(loc), cuda.to_device(anchor))


def scenario_nms(rng):
    from ssdref.kernels import cuda_nms as g
    for dtype in DTYPES:
        b = _boxes(rng, 70, dtype)
        s = rng.uniform(0, 1, 70).astype(dtype)
        ids = rng.integers(-1, 3, 70)
        for force, topk, comparator in ((False, -1, ">="), (True, 3, ">")):
            g.nms(b, s, ids, 0.5, force, topk, comparator)
        g.nms(cuda.to_device(b), cuda.to_device(s), cuda.to_device(ids.astype(dtype)), 0.5)


def scenario_conv(rng):
    from ssdref.kernels import cuda_conv as g
    for dtype in DTYPES:
        x = rng.standard_normal((2, 4, 6, 5)).astype(dtype)
        for groups, bias in ((1, True), (2, False)):
            w = rng.standard_normal((4, 4 // groups, 3, 3)).astype(dtype)
            b = rng.standard_normal(4).astype(dtype) if bias else None
            g.conv_forward(x, w, b, stride=2, pad=1, dilate=1, num_group=groups)


def scenario_mathf_test(rng):
    """The test-only kernel of tests/cuda/test_cuda_mathf.py (host arrays in, as the test does)."""
    sys.path.insert(0, os.getcwd())
    from tests.cuda import test_cuda_mathf as t
    x = np.ones(8, np.float32)
    t._apply[4, 32](x, np.zeros_like(x), np.zeros_like(x))


def scenario_large(rng):
    """SSD-sized calls (float32 and float64): per-image kernels get their largest blocks (1024)."""
    from ssdref.kernels import cuda_detection as det, cuda_nms as nms, cuda_target as tgt
    anchors_n = 2000
    for dtype in DTYPES:
        anchors = _boxes(rng, anchors_n, dtype)[None]
        label = np.full((2, 3, 5), -1, dtype)
        label[:, :2] = np.concatenate([np.zeros((2, 2, 1)), _boxes(rng, 4, dtype).reshape(2, 2, 4)], -1)
        pred = rng.standard_normal((2, 3, anchors_n)).astype(dtype)
        try:
            tgt.multibox_target(anchors, label, pred, overlap_threshold=.5, negative_mining_ratio=3,
                                negative_mining_thresh=.5)
        except ValueError:
            pass
        prob = rng.uniform(0, 1, (2, 3, anchors_n)).astype(dtype)
        det.multibox_detection(prob, np.zeros((2, anchors_n * 4), dtype), anchors, nms_topk=400)
        nms.nms(_boxes(rng, 3000, dtype), rng.uniform(0, 1, 3000).astype(dtype), np.zeros(3000), 0.5)


SCENARIOS = [scenario_boxes, scenario_prior, scenario_target, scenario_detection, scenario_nms,
             scenario_conv, scenario_mathf_test, scenario_large]


def mathf_device_jobs():
    """(label, dispatcher, argtypes) for the cuda_mathf device functions on their own."""
    from ssdref.kernels import cuda_mathf as m
    f32, f64, i64 = types.float32, types.float64, types.int64
    return [("mathf.mul32", m.mul32, (f32, f32)), ("mathf.mul64", m.mul64, (f64, f64)),
            ("mathf.float_bits", m.float_bits, (f32,)), ("mathf.bits_float", m.bits_float, (i64,)),
            ("mathf.double_bits", m.double_bits, (f64,)), ("mathf._ldexp1", m._ldexp1, (i64,)),
            ("mathf.expf32", m.expf32, (f32,)), ("mathf.logf32", m.logf32, (f32,)),
            ("mathf.exp64", m.exp64, (f64,)), ("mathf.log64", m.log64, (f64,))]


# ---------------------------------------------------------------------------------------------
# Compile and report
# ---------------------------------------------------------------------------------------------
REGS_PER_SM_BLOCK = 65536       # registers one block may use (every CUDA GPU since sm_50)
SMEM_STATIC_MAX = 48 * 1024     # static shared memory per block


def kernel_label(dispatcher):
    fn = dispatcher.py_func
    module = fn.__module__.rsplit(".", 1)[-1]
    return f"{module}.{fn.__qualname__.replace('.<locals>', '')}"


def short_types(argtypes):
    out = []
    for t in argtypes:
        s = str(t)
        s = s.replace("array(", "a(").replace("float", "f").replace("int", "i")
        out.append(s)
    return ", ".join(out)


def float_kinds(argtypes):
    """The float dtypes among a kernel's argument types (its 'dtype variant')."""
    kinds = set()
    for t in argtypes:
        dt = getattr(t, "dtype", t)
        if isinstance(dt, types.Float):
            kinds.add(str(dt))
    return tuple(sorted(kinds))


def threads(blockdim):
    dims = blockdim if isinstance(blockdim, tuple) else (blockdim,)
    total = 1
    for d in dims:
        total *= int(d)
    return total


_MUL = re.compile(r"^\s+mul\.(f32|f64)\s+(%fd?\d+),\s*([^,]+),\s*([^;]+);", re.M)


def _pow2_immediate(tok):
    tok = tok.strip()
    try:
        if tok.startswith("0f"):
            value = struct.unpack(">f", bytes.fromhex(tok[2:]))[0]
        elif tok.startswith("0d"):
            value = struct.unpack(">d", bytes.fromhex(tok[2:]))[0]
        else:
            return False
    except ValueError:
        return False
    return value != 0 and math.frexp(abs(value))[0] == 0.5


def contractible_pairs(ptx):
    """PTX `mul.fXX` (no rounding modifier, not by a power-of-two constant) whose result feeds an
    `add`/`sub`: ptxas (default --fmad=true, as the driver's JIT runs it) may fuse the pair into an
    FMA, so the product is no longer rounded on its own. `mul32`/`mul64` emit `mul.rn`, never fused."""
    hits = []
    for m in _MUL.finditer(ptx):
        ty, dst, a, b = m.groups()
        if _pow2_immediate(a) or _pow2_immediate(b):
            continue
        use = re.search(rf"^\s+(?:add|sub)\.{ty}\s+[^;]*{re.escape(dst)}\b[^;]*;", ptx[m.end():], re.M)
        if use:
            hits.append(f"{m.group(0).strip()} -> {use.group(0).strip()}")
    return hits


def _sass_fma_count(cubin, disasm):
    out = subprocess.run(disasm + [cubin], capture_output=True, text=True).stdout
    return len(re.findall(r"\b[FD]FMA\b", out))


def ptxas_check(ptx, cc, ptxas, disasm, max_registers=None):
    """dict: ok, seconds, regs, smem, spill, log, fused (FMAs ptxas adds with --fmad=true).

    `max_registers`: the kernel's cuda.jit(max_registers=...), which numba hands to the linker."""
    info = {"ok": False, "seconds": 0.0, "regs": None, "smem": 0, "spill": 0, "log": "",
            "fused": None}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        arch = f"-arch=sm_{cc[0]}{cc[1]}"
        if max_registers:
            arch = f"{arch} --maxrregcount={int(max_registers)}"
        start = time.perf_counter()
        proc = subprocess.run([ptxas, *arch.split(), "-v", src, "-o", os.path.join(tmp, "a.cubin")],
                              capture_output=True, text=True)
        info["seconds"] = time.perf_counter() - start
        text = proc.stderr + proc.stdout
        if proc.returncode:
            info["log"] = text.strip()[-2000:]
            return info
        info["ok"] = True
        m = re.search(r"Used (\d+) registers", text)
        info["regs"] = int(m.group(1)) if m else None
        m = re.search(r"(\d+) bytes smem", text)
        info["smem"] = int(m.group(1)) if m else 0
        info["spill"] = sum(int(x) for x in re.findall(r"(\d+) bytes spill stores", text))
        if disasm:
            subprocess.run([ptxas, *arch.split(), "--fmad=false", src, "-o", os.path.join(tmp, "b.cubin")],
                           capture_output=True, text=True)
            info["fused"] = (_sass_fma_count(os.path.join(tmp, "a.cubin"), disasm)
                             - _sass_fma_count(os.path.join(tmp, "b.cubin"), disasm))
    return info


def compile_one(pyfunc, argtypes, device, cc, ptxas, disasm, verbose, max_registers=None):
    """dict: ok, seconds, msg, ptx (None on failure), ptxas (dict or None)."""
    start = time.perf_counter()
    try:
        ptx, _ = cuda.compile_ptx(pyfunc, argtypes, device=device, cc=cc)
    except Exception as exc:     # noqa: BLE001 - every failure is reported
        msg = traceback.format_exc() if verbose else f"{type(exc).__name__}: {exc}"
        return {"ok": False, "seconds": time.perf_counter() - start, "msg": msg, "ptx": None,
                "ptxas": None}
    took = time.perf_counter() - start
    result = {"ok": True, "seconds": took, "msg": f"{len(ptx) // 1024} KiB PTX", "ptx": ptx,
              "ptxas": None}
    if ptxas and not device:
        info = ptxas_check(ptx, cc, ptxas, disasm, max_registers)
        result["ptxas"] = info
        if not info["ok"]:
            result.update(ok=False, msg="ptxas: " + info["log"])
    return result


def find_tool(name, extra=()):
    path = shutil.which(name)
    if path:
        return path
    for candidate in extra:
        if os.path.exists(candidate):
            return candidate
    return None


def recompile_warnings():
    """Kernels that would compile more than once per dtype variant in one process."""
    warnings = []
    per_code = collections.defaultdict(set)
    per_variant = collections.defaultdict(set)
    for launch in LAUNCHES:
        variant = float_kinds(launch.argtypes)
        per_code[(launch.dispatcher.py_func.__code__, variant)].add(id(launch.dispatcher))
        per_variant[(id(launch.dispatcher), variant)].add(launch.argtypes)
    for (code, variant), ids in per_code.items():
        if len(ids) > 1:
            warnings.append(f"{code.co_name} {variant}: {len(ids)} dispatcher objects for one kernel "
                            f"and dtype (a cuda.jit created per call: each one compiles again)")
    for (disp_id, variant), sigs in per_variant.items():
        if len(sigs) > 1:
            launch = next(l for l in LAUNCHES if id(l.dispatcher) == disp_id)
            warnings.append(f"{kernel_label(launch.dispatcher)} {variant}: {len(sigs)} argument type "
                            "sets (one compile each): " + " | ".join(short_types(t) for t in sigs))
    return warnings


def run_compile_check(args):
    install_fakes()
    from ssdref.kernels import cuda_mathf
    if cuda_mathf.SIMULATOR:
        sys.exit("cuda_compile_check: cuda_mathf took its simulator branch")
    ptxas = None if args.no_ptxas else find_tool("ptxas", ("/usr/local/cuda/bin/ptxas",
                                                           "/usr/local/cuda-13.0/bin/ptxas"))
    disasm = None
    if ptxas:
        nvdisasm = args.nvdisasm or find_tool("nvdisasm", ("/usr/local/cuda/bin/nvdisasm",))
        cuobjdump = find_tool("cuobjdump", ("/usr/local/cuda/bin/cuobjdump",))
        disasm = [nvdisasm] if nvdisasm else ([cuobjdump, "-sass"] if cuobjdump else None)
    print(f"numba {numba.__version__}, numba-cuda "
          f"{getattr(sys.modules.get('numba_cuda'), '__version__', '?')}, numpy {np.__version__}, "
          f"python {sys.version.split()[0]}, cc {CC}, ptxas {ptxas or 'not used'}, "
          f"disassembler {disasm[0] if disasm else 'none (no SASS FMA check)'}")
    failures = 0
    rng = np.random.default_rng(0)
    for scenario in SCENARIOS:
        try:
            scenario(rng)
        except Exception:       # noqa: BLE001 - a host-side failure is a finding too
            failures += 1
            print(f"HOST FAIL {scenario.__name__}:\n{traceback.format_exc()}")

    jobs = {}
    max_threads = collections.defaultdict(int)
    for launch in LAUNCHES:
        key = (id(launch.dispatcher), launch.argtypes)
        jobs.setdefault(key, launch)
        max_threads[key] = max(max_threads[key], threads(launch.blockdim))
    print(f"{len(LAUNCHES)} launches recorded, {len(jobs)} distinct (kernel, argument types)")
    warnings = recompile_warnings()
    print("Recompiles per call: " + ("none (one compile per kernel and dtype)" if not warnings else ""))
    for w in warnings:
        print("  WARN " + w)
    print()

    rows = []
    for label, disp, argtypes in mathf_device_jobs():
        if args.only in label:
            rows.append((label, argtypes, None, compile_one(disp.py_func, argtypes, True, CC, None,
                                                             None, args.verbose)))
    for key, launch in jobs.items():
        label = kernel_label(launch.dispatcher)
        if args.only in label:
            rows.append((label, launch.argtypes, max_threads[key],
                         compile_one(launch.dispatcher.py_func, launch.argtypes, False, CC, ptxas,
                                     disasm, args.verbose,
                                     launch.dispatcher.targetoptions.get("max_registers"))))

    total = 0.0
    problems = []
    for label, argtypes, block, r in rows:
        info = r["ptxas"]
        total += r["seconds"] + (info["seconds"] if info else 0)
        notes = []
        if r["ok"] and info:
            regs = info["regs"] or 0
            per_warp = -(-regs * 32 // 256) * 256            # allocation granularity: 256 / warp
            limit = REGS_PER_SM_BLOCK // max(per_warp, 1) * 32
            notes.append(f"{regs} regs (max {min(limit, 1024)} threads/block), launched with up to "
                         f"{block}")
            if info["smem"]:
                notes.append(f"{info['smem']} B smem")
            if block and block > limit:
                problems.append(f"{label} {float_kinds(argtypes)}: {regs} registers x {block} threads "
                                f"> {REGS_PER_SM_BLOCK}: launch fails (too many resources requested)")
                notes.append("TOO MANY REGISTERS")
            if info["smem"] > SMEM_STATIC_MAX:
                problems.append(f"{label}: {info['smem']} B static shared memory > 48 KiB")
            if info["spill"]:
                notes.append(f"{info['spill']} B spilled")
        contract = contractible_pairs(r["ptx"]) if r["ptx"] else []
        fused = info["fused"] if info else None
        if contract and (fused is None or fused > 0):
            problems.append(f"{label} {float_kinds(argtypes)}: {len(contract)} product(s) feeding a "
                            f"sum through a plain mul (ptxas fused {fused if fused is not None else '?'}"
                            f" into FMA): not bit-exact on a GPU; use mul32/mul64. e.g. {contract[0]}")
            notes.append("FMA CONTRACTION")
        elif fused:
            notes.append(f"ptxas fuses {fused} mul+add (power-of-two products only: exact)")
        status = "OK  " if r["ok"] else "FAIL"
        ptxas_txt = f" +ptxas {info['seconds']:4.2f}s" if info else ""
        print(f"{status} {r['seconds']:5.2f}s{ptxas_txt}  {label}({short_types(argtypes)})")
        detail = r["msg"] + ("; " + "; ".join(notes) if notes else "")
        print("       " + detail.replace("\n", "\n       "))
        failures += not r["ok"]
    print(f"\n{sum(r[3]['ok'] for r in rows)}/{len(rows)} compiled, {failures} failure(s), "
          f"{total:.1f}s compiling in all")
    if problems or warnings:
        print(f"\n{len(problems) + len(warnings)} real-GPU problem(s):")
        for p in problems + warnings:
            print("  PROBLEM " + p)
    return 1 if failures or problems or warnings else 0


# ---------------------------------------------------------------------------------------------
# --gpu: the same scenarios launched for real (a quick traceback per scenario on a GPU machine)
# ---------------------------------------------------------------------------------------------
def run_on_gpu(args):
    from numba.cuda.cudadrv import driver, nvvm, runtime
    print(f"numba {numba.__version__}, numba-cuda "
          f"{getattr(sys.modules.get('numba_cuda'), '__version__', '?')}, numpy {np.__version__}, "
          f"python {sys.version.split()[0]}")
    for what, fn in (("driver", lambda: driver.driver.get_version()),
                     ("runtime", lambda: runtime.runtime.get_version()),
                     ("NVVM", lambda: nvvm.NVVM().get_version()),
                     ("device", lambda: (cuda.get_current_device().name,
                                         cuda.get_current_device().compute_capability))):
        try:
            print(f"  {what}: {fn()}")
        except Exception as exc:    # noqa: BLE001
            print(f"  {what}: unknown ({type(exc).__name__}: {exc})")
    failures = 0
    rng = np.random.default_rng(0)
    for scenario in SCENARIOS:
        if args.only and args.only not in scenario.__name__:
            continue
        start = time.perf_counter()
        try:
            scenario(rng)
            cuda.synchronize()
            print(f"OK   {time.perf_counter() - start:6.2f}s  {scenario.__name__}")
        except Exception:       # noqa: BLE001
            failures += 1
            print(f"FAIL {time.perf_counter() - start:6.2f}s  {scenario.__name__}\n"
                  + traceback.format_exc(limit=-12))
    return 1 if failures else 0


def main(argv=None):
    global CC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", default="9.0", help="compute capability (default 9.0: H100/H200)")
    parser.add_argument("--no-ptxas", action="store_true", help="skip assembling with ptxas")
    parser.add_argument("--nvdisasm", default="", help="nvdisasm binary (SASS FMA check)")
    parser.add_argument("--only", default="", help="only kernels (scenarios with --gpu) matching")
    parser.add_argument("--gpu", action="store_true",
                        help="on a GPU machine: launch the scenarios for real, traceback per failure")
    parser.add_argument("-v", "--verbose", action="store_true", help="full tracebacks")
    args = parser.parse_args(argv)
    CC = tuple(int(p) for p in args.cc.split("."))
    FakeDevice.compute_capability = CC
    return run_on_gpu(args) if args.gpu else run_compile_check(args)


if __name__ == "__main__":
    sys.exit(main())
