"""How ssdref's two thread pools share the cores: Numba's OpenMP pool and NumPy's OpenBLAS pool.

Why: a convolution layer alternates Numba parallel kernels (im2col, Winograd transforms, pooling,
ReLU) with OpenBLAS GEMMs, thousands of hand-overs per training step. As shipped, each pool's idle
threads busy-wait after their work: libgomp's while OMP_WAIT_POLICY is unset, OpenBLAS's pthreads
build for 2**28 cycles (~0.1 s; on x86-64 its wait loop is a `nop` loop, no yield). With as many
threads as cores, the spinning idle thread of one pool takes a core from the working thread of the
other: the VGG16-reduced body ran fwd+bwd ~2.5x slower in a plain process than under the bench's
OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 (issue 16).

What `configure()` does, once, when `ssdref.kernels` is first imported (before any kernel runs):
  1. Numba's OpenMP pool: libgomp reads its environment once, when it loads, which is when Numba
     starts its pool (lazily, at the first parallel kernel). ssdref wraps Numba's pool launcher so
     that OMP_WAIT_POLICY=PASSIVE is set for that moment only, then os.environ is put back as it
     was: child processes and the user's environment see nothing, and the pool still starts no
     earlier than it would (a process that forks before its first parallel kernel keeps working
     children: libgomp is not fork-safe). Skipped when the user set OMP_WAIT_POLICY or
     GOMP_SPINCOUNT, when Numba's pool already runs, or when libgomp was already loaded by
     something else (it would not read the variable); a skipped launch starts as shipped.
  2. OpenBLAS (pthreads build, as NumPy's wheels ship it): it re-reads its environment with
     OPENBLAS_THREAD_TIMEOUT=4 set for that call only, and its idle threads are stopped
     (blas_thread_shutdown_, as OpenBLAS's own fork handler does); the next GEMM restarts them with
     the short timeout: idle threads sleep after ~16 cycles instead of ~0.1 s. Skipped when the
     user set OPENBLAS_THREAD_TIMEOUT or GOTO_THREAD_TIMEOUT, or for another BLAS (MKL, an OpenMP
     OpenBLAS), or when OpenBLAS runs single-threaded.
Thread counts are never changed. SSDREF_THREAD_TUNING=0 turns both steps off (as shipped).
Cost: a GEMM after a pause wakes OpenBLAS's thread by a condition variable (tens of microseconds);
step 2 assumes no other thread is inside a GEMM at the moment ssdref.kernels is imported.
"""
from __future__ import annotations

import os

OFF_SWITCH = "SSDREF_THREAD_TUNING"
_OMP_USER_KNOBS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_OPENBLAS_USER_KNOBS = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
PASSIVE_POLICY = "PASSIVE"
OPENBLAS_TIMEOUT = "4"         # 2**4 cycles of spinning, OpenBLAS's lower bound

# what configure() did, by step: 'applied' or why not (read by describe() and the bench header)
STATUS: dict[str, str] = {}


def _loaded_libraries() -> str:
    try:
        with open("/proc/self/maps") as maps:
            return maps.read()
    except OSError:
        return ""


class _EnvironmentFor:
    """Set environment variables for the duration of a `with` block, then restore them exactly."""

    def __init__(self, **values):
        self.values, self.saved = values, {}

    def __enter__(self):
        for name, value in self.values.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _passive_launch_conditions() -> str | None:
    """Why the pool must start as shipped, or None when it may start with PASSIVE."""
    if any(name in os.environ for name in _OMP_USER_KNOBS):
        return "skipped: the user set " + ", ".join(n for n in _OMP_USER_KNOBS if n in os.environ)
    if "libgomp" in _loaded_libraries():
        return "skipped: libgomp was already loaded (it reads OMP_WAIT_POLICY only when it loads)"
    return None


def _start_numba_pool_passive() -> str:
    # Numba starts its pool lazily, at the first parallel kernel it compiles or loads from its
    # cache (numba.np.ufunc.parallel._launch_threads, looked up by name at each of its call sites).
    # The pool is not started here: a process that forks before any parallel kernel ran must keep
    # a usable pool in its children (libgomp is not fork-safe; Numba kills such a child). The
    # launcher is wrapped instead, so that the environment holds PASSIVE during that one call.
    from numba.np.ufunc import parallel
    launch = getattr(parallel, "_launch_threads", None)
    if launch is None or not hasattr(parallel, "_is_initialized"):
        return "skipped: this Numba has no _launch_threads to wrap"
    if parallel._is_initialized:
        return "skipped: Numba's thread pool was already started"
    why_not = _passive_launch_conditions()
    if why_not:
        return why_not

    def launch_threads_sleeping_when_idle():
        if parallel._is_initialized or _passive_launch_conditions():
            return launch()
        with _EnvironmentFor(OMP_WAIT_POLICY=PASSIVE_POLICY):
            return launch()

    launch_threads_sleeping_when_idle.__wrapped__ = launch
    parallel._launch_threads = launch_threads_sleeping_when_idle
    return "applied"


def _openblas_symbol(lib, name):
    """An OpenBLAS function by its plain name, or as NumPy's scipy-openblas64 build exports it."""
    for prefix, suffix in (("", ""), ("", "64_"), ("scipy_", "64_"), ("scipy_", "")):
        function = getattr(lib, f"{prefix}{name}{suffix}", None)
        if function is not None:
            return function
    return None


def openblas_libraries() -> list:
    """(path, ctypes handle) of each OpenBLAS loaded in this process (found in /proc/self/maps;
    not through threadpoolctl, whose import sets KMP_DUPLICATE_LIB_OK in os.environ)."""
    import ctypes
    fields = (line.split(None, 5) for line in _loaded_libraries().splitlines())
    paths = sorted({f[5] for f in fields if len(f) == 6 and f[5].startswith("/")
                    and "openblas" in os.path.basename(f[5]) and ".so" in f[5]})
    return [(path, ctypes.CDLL(path)) for path in paths]


def _shorten_openblas_spin() -> str:
    if any(name in os.environ for name in _OPENBLAS_USER_KNOBS):
        return "skipped: the user set " + ", ".join(n for n in _OPENBLAS_USER_KNOBS if n in os.environ)
    import numpy  # noqa: F401  (loads NumPy's OpenBLAS)
    done = []
    for path, lib in openblas_libraries():
        get_parallel = _openblas_symbol(lib, "openblas_get_parallel")
        get_num_threads = _openblas_symbol(lib, "openblas_get_num_threads")
        read_env = getattr(lib, "openblas_read_env", None)
        shutdown = getattr(lib, "blas_thread_shutdown_", None)
        if None in (get_parallel, get_num_threads, read_env, shutdown):
            continue
        if get_parallel() != 1 or get_num_threads() < 2:     # 1: the pthreads build
            continue
        with _EnvironmentFor(OPENBLAS_THREAD_TIMEOUT=OPENBLAS_TIMEOUT):
            read_env()
        shutdown()                          # the next GEMM restarts the threads, short timeout
        done.append(os.path.basename(path))
    return "applied" if done else "not needed: no multi-threaded pthreads OpenBLAS loaded"


def configure() -> dict[str, str]:
    """Make the pools sleep when idle (see the module docstring); safe to call more than once."""
    if STATUS:
        return STATUS
    if os.environ.get(OFF_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        STATUS.update(numba_pool=f"skipped: {OFF_SWITCH}=0", openblas=f"skipped: {OFF_SWITCH}=0")
        return STATUS
    for step, tune in (("numba_pool", _start_numba_pool_passive), ("openblas", _shorten_openblas_spin)):
        try:
            STATUS[step] = tune()
        except Exception as error:      # a speed setting must never break `import ssdref.kernels`
            STATUS[step] = f"failed: {type(error).__name__}: {error}"
    return STATUS


def describe() -> dict:
    """The thread pools as they stand: Numba's layer and threads, each BLAS's threads and core."""
    import numba
    info = {"numba_threading_layer": None, "numba_threads": numba.get_num_threads(),
            "tuning": dict(STATUS)}
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{key: lib.get(key) for key in ("internal_api", "version", "architecture",
                                                        "threading_layer", "num_threads")}
                        for lib in threadpool_info() if lib.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = []
    return info
