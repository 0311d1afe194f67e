"""Which implementation the hot paths use: the NumPy specification, Numba CPU kernels, or numba.cuda.

A NumPy function `ssdref.<package>.<module>.<name>` and its kernels share the name and signature;
the kernels live in `ssdref.kernels.cpu_<module>` (Numba) and `ssdref.kernels.cuda_<module>`
(numba.cuda). `dispatch(fn)` is the one lookup that picks between them. A backend that has no
kernel for a function falls back, in order, cuda -> numba -> numpy (documented, never silent about
*results*: every kernel is tested equal to its NumPy specification).

Beside the backend, a *precision* mode (`use_precision`): 'fast' (default) lets matrix products go
to BLAS, whose summation order (and so the last bits of float results) depends on the CPU kernel
OpenBLAS picks and on its thread count, and lets the Numba backend take Winograd convolutions;
'portable' computes every matrix product in an order ssdref fixes (`ssdref.layers.gemm`) with im2col
convolutions, so float results are bit-identical on every machine and thread count (the golden
files are made and verified in it). And the *convolution algorithm* (`use_conv_algorithm`): 'auto'
lets the Numba backend take Winograd where it applies (fast precision only), F(4x4, 3x3) on large
feature maps and F(2x2, 3x3) elsewhere (see ssdref.kernels.cpu_winograd); 'f2x2' F(2x2, 3x3) only
(a third of F(4x4)'s float32 rounding, slower); 'im2col' never. Its default comes from
SSDREF_WINOGRAD (1: auto, 2: f2x2, 0: im2col). All three are contextvars: per thread,
per async task, and nothing else switches them.
"""
import contextlib
import contextvars
import importlib
import os

BACKENDS = ("numpy", "numba", "cuda")
_FALLBACK = {"numpy": ("numpy",), "numba": ("numba", "numpy"), "cuda": ("cuda", "numba", "numpy")}
_PREFIX = {"numba": "cpu", "cuda": "cuda"}

PRECISIONS = ("fast", "portable")
CONV_ALGORITHMS = ("auto", "im2col", "f2x2")
_WINOGRAD_ENV = {"1": "auto", "0": "im2col", "2": "f2x2"}


def conv_algorithm_from_env() -> str:
    """SSDREF_WINOGRAD: '1' (default) -> 'auto', '0' -> 'im2col', '2' -> 'f2x2'; anything else is
    an error."""
    value = os.environ.get("SSDREF_WINOGRAD", "1")
    if value not in _WINOGRAD_ENV:
        raise ValueError(f"SSDREF_WINOGRAD must be 0 (im2col everywhere), 1 (Winograd where it "
                         f"applies, F(4x4, 3x3) on large feature maps) or 2 (Winograd F(2x2, 3x3) "
                         f"only), got {value!r}")
    return _WINOGRAD_ENV[value]

_current = contextvars.ContextVar("ssdref_backend", default="numba")
_precision = contextvars.ContextVar("ssdref_precision", default="fast")
_conv_algorithm = contextvars.ContextVar("ssdref_conv_algorithm", default=conv_algorithm_from_env())
_resolved: dict = {}


def get_backend() -> str:
    """The backend the hot paths use now ('numba' unless changed)."""
    return _current.get()


def _check_name(name):
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"use_backend: backend must be one of {BACKENDS}, got {name!r}")
    if name == "cuda":
        _require_cuda()


def _require_cuda():
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ValueError("use_backend: backend 'cuda' needs numba.cuda (pip install numba-cuda)") from exc
    if not cuda.is_available():
        raise ValueError(
            "use_backend: backend 'cuda' needs a CUDA GPU, or the simulator (NUMBA_ENABLE_CUDASIM=1)")


def set_backend(name: str) -> None:
    """Select the backend for this context ('numpy', 'numba' or 'cuda')."""
    _check_name(name)
    _current.set(name)


@contextlib.contextmanager
def _within(variable, value):
    """Set a contextvar for the block, and restore it after (the body of every use_* manager)."""
    token = variable.set(value)
    try:
        yield value
    finally:
        variable.reset(token)


def use_backend(name: str):
    """Context manager: `with ssdref.use_backend('numpy'): ...` runs the NumPy specification."""
    _check_name(name)
    return _within(_current, name)


def get_precision() -> str:
    """'fast' (BLAS matrix products, Winograd where it applies) or 'portable' (fixed order)."""
    return _precision.get()


def _check_precision(name):
    if not isinstance(name, str) or name not in PRECISIONS:
        raise ValueError(f"use_precision: precision must be one of {PRECISIONS}, got {name!r}")


def set_precision(name: str) -> None:
    """Select the precision mode for this context ('fast' or 'portable')."""
    _check_precision(name)
    _precision.set(name)


def use_precision(name: str):
    """Context manager: `with ssdref.use_precision('portable'): ...` gives results that are
    bit-identical on every machine (fixed-order matrix products, im2col convolutions)."""
    _check_precision(name)
    return _within(_precision, name)


def get_conv_algorithm() -> str:
    """'auto' (Winograd where it applies, in fast precision: F(4x4, 3x3) on large feature maps,
    else F(2x2, 3x3)), 'f2x2' (Winograd F(2x2, 3x3) only) or 'im2col'."""
    return _conv_algorithm.get()


def use_conv_algorithm(name: str):
    """Context manager: `with use_conv_algorithm('im2col'):` keeps the Numba Convolution on im2col
    (bit-identical to the NumPy specification); 'auto' allows Winograd where it applies (F(4x4, 3x3)
    where a layer has many tiles, else F(2x2, 3x3)); 'f2x2' keeps to F(2x2, 3x3) (a third of
    F(4x4)'s float32 rounding, slower: see ssdref.kernels.cpu_winograd)."""
    if not isinstance(name, str) or name not in CONV_ALGORITHMS:
        raise ValueError(f"use_conv_algorithm: algorithm must be one of {CONV_ALGORITHMS}, got {name!r}")
    return _within(_conv_algorithm, name)


def _kernel_for(fn, backend):
    if backend == "numpy":
        return fn
    module = fn.__module__.rsplit(".", 1)[-1]
    try:
        kernels = importlib.import_module(f"ssdref.kernels.{_PREFIX[backend]}_{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"ssdref.kernels.{_PREFIX[backend]}_{module}":
            raise
        return None
    return getattr(kernels, fn.__name__, None)


def dispatch(fn, backend: str | None = None):
    """Return the implementation of NumPy specification function `fn` for the current backend."""
    backend = backend or get_backend()
    key = (fn, backend)
    impl = _resolved.get(key)
    if impl is None:
        for candidate in _FALLBACK[backend]:
            impl = _kernel_for(fn, candidate)
            if impl is not None:
                break
        _resolved[key] = impl
    return impl
