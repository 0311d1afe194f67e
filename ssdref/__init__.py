"""ssdref: the reference implementation (oracle) of MXNet example/ssd's SSD detector.

`import ssdref as mx` works for SSD symbol code: `mx.sym` (= `mx.symbol`), `mx.nd` (= `mx.ndarray`),
`mx.contrib.symbol`, `mx.contrib.ndarray`, `mx.init`, `mx.name`, `mx.cpu()`. Arrays are NumPy
arrays. MXNet 1.9.1 is the semantics of record (see the spec); other frameworks' conventions are
presets (`ssdref.presets`), never silent changes.

The hot paths run on the backend chosen with `use_backend('numpy' | 'numba' | 'cuda')`; `numba` is
the default and gives the same results as the NumPy specification (bit for bit where the spec says).
`use_precision('portable')` makes float results the same bits on every machine and thread count
(fixed-order matrix products, im2col convolutions; the golden files are made in it); the default
'fast' lets BLAS and Winograd choose.
"""
import importlib
import os
import tempfile


def _default_numba_cache_dir() -> str:
    # Numba reads NUMBA_CACHE_DIR when it is first imported: set it before any kernel module loads,
    # to a writable place, so a read-only checkout (CI's, a site-packages install) still caches.
    home_cache = os.path.join(os.path.expanduser("~"), ".cache", "ssdref", "numba")
    for candidate in (home_cache, os.path.join(tempfile.gettempdir(), "ssdref-numba-cache")):
        try:
            os.makedirs(candidate, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    return tempfile.mkdtemp(prefix="ssdref-numba-")


os.environ.setdefault("NUMBA_CACHE_DIR", _default_numba_cache_dir())

__version__ = "0.1.0"

from ssdref.backend import (get_backend, get_precision, set_backend, set_precision,  # noqa: E402
                            use_backend, use_precision)

# Lazily imported namespaces: `import ssdref` stays cheap, and `ssdref.sym` etc. resolve on use.
_LAZY_MODULES = {
    "sym": "ssdref.symbol",
    "symbol": "ssdref.symbol",
    "nd": "ssdref.ndarray",
    "ndarray": "ssdref.ndarray",
    "contrib": "ssdref.contrib",
    "init": "ssdref.model.init",
    "initializer": "ssdref.model.init",
    "name": "ssdref.autograd.naming",
    "attribute": "ssdref.autograd.naming",
    "model": "ssdref.model",
    "layers": "ssdref.layers",
    "multibox": "ssdref.multibox",
    "autograd": "ssdref.autograd",
    "io": "ssdref.io",
    "golden": "ssdref.golden",
    "testing": "ssdref.testing",
    "presets": "ssdref.presets",
    "optimizer": "ssdref.optimizer",
    "mon": "ssdref.monitor",            # mx.mon.Monitor, as example/ssd's train_net writes it
    "monitor": "ssdref.monitor",
}
_LAZY_ATTRS = {
    "cpu": ("ssdref.context", "cpu"),
    "gpu": ("ssdref.context", "gpu"),
    "Context": ("ssdref.context", "Context"),
    "AttrScope": ("ssdref.autograd.naming", "AttrScope"),
}


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = module
        return module
    if name in _LAZY_ATTRS:
        module_name, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ssdref' has no attribute {name!r}")


__all__ = ["__version__", "get_backend", "set_backend", "use_backend", "get_precision",
           "set_precision", "use_precision", *_LAZY_MODULES, *_LAZY_ATTRS]
