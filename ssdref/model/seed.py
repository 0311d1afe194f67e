"""Run the seed's symbol_builder.py unmodified, with ssdref (or real MXNet) standing in for mxnet.

The seed (MXNet example/ssd's symbol_builder.py, ../shared/seed/) does `import mxnet as mx`,
`from common import multi_layer_feature, multibox_layer`, and at call time
`sys.path.append(dirname(__file__)); importlib.import_module('vgg16_reduced')`. We execute the file
as it is, with sys.modules entries standing in while it imports and while its builders run:
    mxnet  -> ssdref (or the module given as `mx`)
    common -> ssdref.model.common (bound to `mx` when that is not ssdref)
    vgg16_reduced, resnet, inceptionv3, tiny -> ssdref.model.networks.<name>
Previous sys.modules entries and sys.path are restored afterwards, so nothing leaks.

    seed = load_seed_builder()                   # finds ../shared/seed/symbol_builder.py
    net = seed.get_symbol_train(**get_config('vgg16_reduced', 300, 20))
"""
import contextlib
import functools
import importlib
import importlib.util
import itertools
import os
import sys

from ssdref.model import common as _common
from ssdref.model import networks as _networks
from ssdref.model.symbol_api import bound_module

__all__ = ["default_seed_path", "find_seed", "load_seed_builder"]

_counter = itertools.count()


def default_seed_path():
    """$SSDREF_SEED if set, else ../shared/seed/symbol_builder.py beside the repository root."""
    if os.environ.get("SSDREF_SEED"):
        return os.environ["SSDREF_SEED"]
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(os.path.dirname(repo_root), "shared", "seed", "symbol_builder.py")


def find_seed():
    """The seed's path if the file exists, else None."""
    path = default_seed_path()
    return path if os.path.isfile(path) else None


@contextlib.contextmanager
def _standing_in(modules):
    """Temporarily map module names to stand-ins in sys.modules; restore sys.modules and sys.path."""
    saved = {name: sys.modules.get(name) for name in modules}
    saved_path = list(sys.path)
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        sys.path[:] = saved_path  # the seed appends its own folder on every import_module call


def _stand_ins(mx):
    """name -> module: what the seed's imports must find for symbol module `mx`."""
    ssdref = importlib.import_module("ssdref")
    if mx is ssdref:
        common, nets = _common, dict(_networks.NETWORKS)
    else:
        common = bound_module(_common, mx, "common")
        nets = {name: bound_module(module, mx, name)
                for name, module in _networks.NETWORKS.items()}
    return {"mxnet": mx, "common": common, **nets}


def load_seed_builder(path=None, mx=None):
    """Import the seed symbol_builder.py at `path` (default: find_seed()) on symbol module `mx`.

    Returns the seed's module; its get_symbol_train / get_symbol run with the stand-ins in place.
    """
    path = path or default_seed_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_seed_builder: path must be the seed's symbol_builder.py, "
                                f"got {path!r} (no such file; set SSDREF_SEED)")
    mx = mx if mx is not None else importlib.import_module("ssdref")
    stand_ins = _stand_ins(mx)
    name = "ssdref_seed_symbol_builder_%d" % next(_counter)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with _standing_in(stand_ins):
        spec.loader.exec_module(module)

    def with_stand_ins(builder):
        @functools.wraps(builder)
        def run(*args, **kwargs):
            with _standing_in(stand_ins):
                return builder(*args, **kwargs)
        return run

    # Wrapping rebinds names in the loaded module only; the seed's code is untouched.
    for builder_name in ("get_symbol_train", "get_symbol", "import_module"):
        if hasattr(module, builder_name):
            setattr(module, builder_name, with_stand_ins(getattr(module, builder_name)))
    return module
