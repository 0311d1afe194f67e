"""The emulation matrix: the golden set and the kernel tests under other machines' settings.

Users run ssdref on AVX2 and AVX-512 x86-64, with 1 to N threads and whatever OpenBLAS kernel their
NumPy wheel picks. Each configuration below emulates one of those on this machine through
environment variables (declared here once; `make test-matrix`, CI and tests/test_portability.py
read this table). For each, in a fresh process:
  1. `ssdref golden verify` of the committed set (every case, from the stored inputs);
  2. `ssdref golden generate` into a scratch folder, which must be byte-identical to the committed
     set: the strongest form of "generate anywhere, verify anywhere" (except where a
     configuration's `libm_differs`: there verify of the generated set under the plain process);
  3. the kernel == specification tests (`KERNEL_TESTS`).
The `numpy-spec` configuration recomputes with the NumPy specification instead of the kernels.
`python -m ssdref.golden.matrix [--quick] [--only NAME ...]` prints a table; exit 1 on any failure.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "manifest.json"
MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")   # exported here, never on users' machines
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
KERNEL_TESTS = ("tests/kernels", "tests/layers/test_gemm.py", "tests/layers/test_mathf.py",
                "tests/multibox/test_nms.py", "tests/multibox/test_target.py",
                "tests/multibox/test_detection.py")


class Config(NamedTuple):
    name: str
    set: dict                       # variables set for the run
    unset: tuple = ()               # variables removed for the run
    needs_flag: str = ""            # a /proc/cpuinfo flag the configuration needs (else: n/a)
    libm_differs: bool = False      # glibc takes other code for double libm functions
    verify_args: tuple = ()         # more arguments for `golden verify`
    what: str = ""


CONFIGS = (
    Config("as-is", {}, what="this machine's environment as it is"),
    Config("user-plain", {}, MACHINE_VARS, what="no OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, as users run"),
    Config("numpy-no-avx512", {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
           what="NumPy's AVX-512 dispatch off (an AVX2 machine)"),
    Config("one-thread", ONE_THREAD, what="OpenMP, OpenBLAS and Numba on one thread"),
    Config("openblas-haswell", {"OPENBLAS_CORETYPE": "Haswell"}, what="OpenBLAS's AVX2 kernels"),
    Config("openblas-skylakex", {"OPENBLAS_CORETYPE": "SkylakeX"}, needs_flag="avx512f",
           what="OpenBLAS's AVX-512 kernels"),
    Config("numba-generic", {"NUMBA_CPU_NAME": "generic"},
           what="Numba code for a generic x86-64 (no AVX)"),
    Config("numpy-spec", {}, verify_args=("--backend", "numpy"),
           what="the NumPy specification recomputes the set (no Numba kernel)"),
    Config("glibc-no-fma", {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F"},
           libm_differs=True, what="glibc's SSE2 libm code (a CPU without FMA)"),
)
QUICK = ("as-is", "user-plain", "numpy-no-avx512", "one-thread")


def config_env(config: Config, base=None) -> dict:
    """The environment of a run under `config` (its own Numba cache where the CPU name changes)."""
    env = dict(os.environ if base is None else base)
    for name in config.unset:
        env.pop(name, None)
    env.update(config.set)
    if "NUMBA_CPU_NAME" in config.set and env.get("NUMBA_CACHE_DIR"):
        env["NUMBA_CACHE_DIR"] = env["NUMBA_CACHE_DIR"].rstrip("/") + "-" + config.name
    return env


def cpu_flags() -> set:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def _run(cmd, env, log):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    log.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    tail = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return proc.returncode == 0, (tail[-1] if tail else ""), time.perf_counter() - start


def _same_files(a: Path, b: Path) -> list:
    names = sorted({p.name for p in a.iterdir() if p.is_file()} | {p.name for p in b.iterdir() if p.is_file()})
    return [n for n in names if not (a / n).is_file() or not (b / n).is_file()
            or (a / n).read_bytes() != (b / n).read_bytes()]


QUICK_CASES = ("MultiBoxTarget_random_ssd_float32", "MultiBoxDetection_random_float64",
               "Convolution_pad1_float32", "Activation_tanh_float64", "tiny_ssd_train_step_float32")


def _generate_check(config, golden, quick, env, log):
    """Regenerate (all cases, or QUICK_CASES) under `config` and compare with the committed set."""
    py = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "golden"
        cases = [arg for name in QUICK_CASES for arg in ("--case", name)] if quick else []
        ok, note, seconds = _run([py, "-m", "ssdref", "golden", "generate", "--out", str(out), *cases],
                                 env, log)
        if not ok:
            return ok, f"{note} ({seconds:.0f} s)"
        if quick:
            differ = [n for n in _same_files(out, golden) if n != MANIFEST and (out / n).is_file()]
            ok = config.libm_differs or not differ
            note = "generated cases byte-identical" if not differ else f"differ: {differ}"
        elif config.libm_differs:   # double libm bits may move within the tiers: verify it as-is
            ok, note, _ = _run([py, "-m", "ssdref", "golden", "verify", str(out)],
                               config_env(CONFIGS[0]), log)
            note = "generated set verifies in the plain process: " + note
        else:
            differ = _same_files(out, golden)
            ok, note = not differ, ("byte-identical to the committed set" if not differ
                                    else f"{len(differ)} file(s) differ: {differ[:4]}")
    return ok, f"{note} ({seconds:.0f} s)"


def run_config(config: Config, golden: Path, *, quick=False, tests=True, log=sys.stderr) -> dict:
    """Run the checks under `config`; returns {'verify', 'generate', 'tests'} -> (ok, note)
    ('generate' only where the configuration changes how the set is made)."""
    py = sys.executable
    env = config_env(config)
    verify = [py, "-m", "ssdref", "golden", "verify", str(golden), *config.verify_args]
    ok, note, seconds = _run(verify + (["--quick"] if quick else []), env, log)
    result = {"verify": (ok, f"{note} ({seconds:.0f} s)")}
    if not config.verify_args:
        result["generate"] = _generate_check(config, golden, quick, env, log)
    if tests:
        ok, note, seconds = _run([py, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                                  *KERNEL_TESTS], env, log)
        result["tests"] = (ok, f"{note} ({seconds:.0f} s)")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssdref.golden.matrix", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", default=str(ROOT / "golden"), help="the golden folder to check")
    parser.add_argument("--quick", action="store_true",
                        help=f"configurations {QUICK}, SSD300 skipped, a few cases generated")
    parser.add_argument("--only", nargs="+", choices=[c.name for c in CONFIGS], help="these only")
    parser.add_argument("--no-tests", action="store_true", help="skip the kernel tests")
    parser.add_argument("--log", default=None, help="write every command's output here")
    args = parser.parse_args(argv)
    names = args.only or (QUICK if args.quick else [c.name for c in CONFIGS])
    flags = cpu_flags()
    log = open(args.log, "w") if args.log else open(os.devnull, "w")
    failed, counts = False, [0, 0]
    print(f"emulation matrix on {'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'x86-64'}"
          f" CPU, golden {args.golden}")
    for config in (c for c in CONFIGS if c.name in names):
        if config.needs_flag and config.needs_flag not in flags:
            print(f"{config.name:<18} n/a: needs the CPU flag {config.needs_flag}")
            continue
        result = run_config(config, Path(args.golden), quick=args.quick, tests=not args.no_tests,
                            log=log)
        for check, (ok, note) in result.items():
            failed |= not ok
            counts[0 if ok else 1] += 1
            print(f"{config.name:<18} {check:<9} {'ok  ' if ok else 'FAIL'} {note}", flush=True)
    log.close()
    print(f"matrix: {counts[0]} passed, {counts[1]} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
